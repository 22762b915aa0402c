// The daemon dies with SIGKILL while calls are up: when it comes back it rebuilds its ledger from FreeSWITCH
// (`show channels`), so the tenant's ceiling still counts the calls that outlived it.
import * as assert from 'uvu/assert';
import { inviteAnswers, sippSuite } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: daemon killed mid-call');
const ACME = 'acme.pbx.test';

t.it('after kill -9 and a restart, acme (ceiling 2) with 2 live calls still refuses a third', async (s) => {
  const phone = await s.phone('1001', ACME, 'acme-1001-demo');
  try {
    // Two calls that outlive the daemon (ended below with hupall).
    const live = s.call({
      from: '1000',
      to: '1001',
      domain: ACME,
      password: 'acme-1000-demo',
      holdMs: 60_000,
      calls: 2,
    });
    await s.until(
      async () => /fs_tenantd_active_calls\{tenant="acme",direction="internal"\} 2\n/.test(await s.metrics()),
      'acme to have 2 live calls',
    );
    await s.restartDaemon('SIGKILL');
    await s.until(
      async () => /fs_tenantd_active_calls\{tenant="acme",direction="internal"\} 2\n/.test(await s.metrics()),
      'the restarted daemon to count the 2 calls again',
    );
    const third = await s.call({ from: '1002', to: '1001', domain: ACME, password: 'acme-1002-demo' }).done;
    assert.equal(
      inviteAnswers(third.messages).filter((c) => c !== 407),
      [503],
      third.output,
    );
    await s.fs.api('hupall NORMAL_CLEARING');
    await live.done;
    await s.until(
      async () => !/fs_tenantd_active_calls\{tenant="acme",direction="internal"\} [1-9]/.test(await s.metrics()),
      'the released calls to leave the ledger',
    );
  } finally {
    await phone.stop();
  }
});

t.run();
