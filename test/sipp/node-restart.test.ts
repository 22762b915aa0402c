// FreeSWITCH itself dies (kill -9) with calls up and starts again: a new Core-UUID. The daemon sees it on the ESL
// reconnect and releases the old core's calls at once (ledger and shared slots), instead of waiting for a lease or
// guessing, so acme (ceiling 2), whose two calls died with the node, can call again right away.
import * as assert from 'uvu/assert';
import { callOutcomes, sippSuite } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: FreeSWITCH restarted mid-call');
const ACME = 'acme.pbx.test';
const restarts = async (metrics: string) =>
  Number(/\nfs_tenantd_node_core_checks_total\{node="fs1",outcome="restarted"\} (\d+)/.exec(metrics)?.[1] ?? 0);

t.it('kill -9 of FreeSWITCH with 2 acme calls up: a new core releases them on reconnect', async (s) => {
  const phone = await s.phone('1001', ACME, 'acme-1001-demo');
  const live = s.call({ from: '1000', to: '1001', domain: ACME, password: 'acme-1000-demo', holdMs: 60_000, calls: 2 });
  try {
    await s.until(
      async () => /fs_tenantd_active_calls\{tenant="acme",direction="internal"\} 2\n/.test(await s.metrics()),
      'acme to have 2 live calls',
    );
    const before = await restarts(await s.metrics());
    const coreBefore = (await s.fs.api('eval ${core_uuid}')).trim();
    await s.restartFreeswitch('SIGKILL');
    const reconnected = Date.now();
    assert.is.not((await s.fs.api('eval ${core_uuid}')).trim(), coreBefore, 'a new Core-UUID');
    await s.until(async () => (await restarts(await s.metrics())) > before, 'the daemon to see the new core');
    await s
      .until(
        async () =>
          !/fs_tenantd_active_calls\{tenant="acme",direction="internal"\} [1-9]/.test(await s.metrics()) &&
          (await s.slots()).length === 0,
        "the old core's calls to leave the ledger and PostgreSQL",
        10_000,
      )
      .catch(async (err: Error) => {
        const active = (await s.metrics())
          .split('\n')
          .filter((l) => l.startsWith('fs_tenantd_active_calls{tenant="acme"'));
        throw new Error(`${err.message}\nslots: ${JSON.stringify(await s.slots())}\n${active.join('\n')}`);
      });
    // Released on the reconnect, not after the node lease (5 s) ran out.
    assert.ok(Date.now() - reconnected < 4000, `released ${Date.now() - reconnected} ms after the reconnect`);
  } finally {
    live.child.kill('SIGKILL');
    await live.done.catch(() => undefined);
    await phone.stop();
  }
  // The registrations died with the node: a new phone, and both of acme's slots are free again.
  const again = await s.phone('1001', ACME, 'acme-1001-demo');
  const since = new Date(Date.now() - 1000).toISOString();
  try {
    const calls = await s.call({ from: '1000', to: '1001', domain: ACME, password: 'acme-1000-demo', calls: 2 }).done;
    assert.equal(callOutcomes(calls.messages), [200, 200], calls.output);
  } finally {
    await again.stop();
  }
  // Their records are in before the next suite, whose calls-since windows (1 s back) must not catch them.
  const tok = await s.token('tenant_admin', 'acme');
  await s.until(
    async () => (await s.api('GET', `/calls?from=${encodeURIComponent(since)}`, tok)).body.items.length >= 2,
    'the two calls to be recorded',
  );
  await new Promise((r) => setTimeout(r, 1100));
});

t.run();
