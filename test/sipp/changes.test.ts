// Changes made through the admin API reach a running FreeSWITCH at once: its user cache is flushed for a
// password change, a disabled extension and a suspended tenant, trunk gateways are started, restarted and
// killed in sofia without touching the other gateways, and a trunk's CIDRs reach its ACLs (reloadacl, sent only
// when acl.conf changed).
import * as assert from 'uvu/assert';
import { inviteAnswers, sippSuite, type Stack } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: changes reach FreeSWITCH at once');
const ACME = 'acme.pbx.test';

const register = (s: Stack, user: string, domain: string, password: string) =>
  s.sipp('register.xml', ['-s', user, '-key', 'domain', domain, '-au', user, '-ap', password]).done;
const refused = (s: Stack, user: string, domain: string, password: string) =>
  s.sipp('register_forbidden.xml', ['-s', user, '-key', 'domain', domain, '-au', user, '-ap', password]).done;

const counter = (text: string, name: string) =>
  [...text.matchAll(new RegExp(`^${name}\\{[^}]*outcome="ok"[^}]*\\} (\\d+)`, 'gm'))].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

/** Runs `change`, then waits until the daemon has sent FreeSWITCH at least one more `metricName` command. */
async function afterPush(s: Stack, metricName: string, change: () => Promise<void>): Promise<void> {
  const before = counter(await s.metrics(), metricName);
  await change();
  await s.until(
    async () => counter(await s.metrics(), metricName) > before,
    `the daemon to push the change (${metricName})`,
  );
}
const flushed = (s: Stack, change: () => Promise<void>) =>
  afterPush(s, 'fs_tenantd_esl_cache_flush_commands_total', change);

async function extensionId(s: Stack, tok: string, number: string): Promise<string> {
  const r = await s.api('GET', '/extensions?limit=100', tok);
  const ext = (r.body.items as Array<{ id: string; number: string }>).find((e) => e.number === number);
  if (!ext) throw new Error(`no extension ${number}: ${JSON.stringify(r.body)}`);
  return ext.id;
}

t.it('a password change takes effect at once: the old password is refused, the new one registers', async (s) => {
  const tok = await s.token('tenant_admin', 'acme');
  const id = await extensionId(s, tok, '1003');
  // Cached in FreeSWITCH first, so only an exact flush can make the change visible.
  assert.is((await register(s, '1003', ACME, 'acme-1003-demo')).code, 0);
  try {
    await flushed(s, async () => {
      assert.is((await s.api('PATCH', `/extensions/${id}`, tok, { password: 'changed-1003-pw' })).status, 200);
    });
    const old = await refused(s, '1003', ACME, 'acme-1003-demo');
    assert.is(old.code, 0, old.output);
    const fresh = await register(s, '1003', ACME, 'changed-1003-pw');
    assert.is(fresh.code, 0, fresh.output);
  } finally {
    await flushed(s, async () => {
      await s.api('PATCH', `/extensions/${id}`, tok, { password: 'acme-1003-demo' });
    });
    await s.fs.api(`sofia profile internal flush_inbound_reg 1003@${ACME}`);
  }
});

t.it('a disabled extension can neither register nor be called, at once', async (s) => {
  const tok = await s.token('tenant_admin', 'acme');
  const id = await extensionId(s, tok, '1002');
  assert.is((await register(s, '1002', ACME, 'acme-1002-demo')).code, 0);
  try {
    await flushed(s, async () => {
      assert.is((await s.api('PATCH', `/extensions/${id}`, tok, { enabled: false })).status, 200);
    });
    assert.is((await refused(s, '1002', ACME, 'acme-1002-demo')).code, 0);
    const call = await s.call({ from: '1002', to: '1000', domain: ACME, password: 'acme-1002-demo' }).done;
    assert.ok(!inviteAnswers(call.messages).includes(200), call.output);
  } finally {
    await flushed(s, async () => {
      await s.api('PATCH', `/extensions/${id}`, tok, { enabled: true });
    });
    await s.fs.api(`sofia profile internal flush_inbound_reg 1002@${ACME}`);
  }
  assert.is((await register(s, '1002', ACME, 'acme-1002-demo')).code, 0);
  await s.fs.api(`sofia profile internal flush_inbound_reg 1002@${ACME}`);
});

t.it("a suspended tenant's users are refused at once and come back on reactivation", async (s) => {
  const op = await s.token('superadmin');
  assert.is((await register(s, '1000', ACME, 'acme-1000-demo')).code, 0);
  try {
    await flushed(s, async () => {
      assert.is((await s.api('PATCH', '/tenant', op, { status: 'suspended' }, 'acme')).status, 200);
    });
    assert.is((await refused(s, '1000', ACME, 'acme-1000-demo')).code, 0);
    // The other tenant is untouched.
    assert.is((await register(s, '1000', 'globex.pbx.test', 'globex-1000-demo')).code, 0);
  } finally {
    await flushed(s, async () => {
      await s.api('PATCH', '/tenant', op, { status: 'active' }, 'acme');
    });
    // Suspension killed acme's gateways; the next cases need them back.
    await s.until(
      async () => /external::acme_carrier\s+gateway/.test(await s.fs.api('sofia status')),
      'acme_carrier back',
    );
  }

  assert.is((await register(s, '1000', ACME, 'acme-1000-demo')).code, 0);
  await s.fs.api(`sofia profile internal flush_inbound_reg 1000@${ACME}`);
  await s.fs.api('sofia profile internal flush_inbound_reg 1000@globex.pbx.test');
});

const gateways = async (s: Stack) => s.fs.api('sofia status');

t.it(
  'a trunk added, changed, disabled and deleted through the API is started, restarted and killed in sofia',
  async (s) => {
    const tok = await s.token('tenant_admin', 'acme');
    const trunk = await s.api('POST', '/trunks', tok, { name: 'backup', proxy: '127.0.0.4:5090', allowedCidrs: [] });
    assert.is(trunk.status, 201, JSON.stringify(trunk.body));
    const route = await s.api('POST', '/outbound-routes', tok, {
      name: 'backup',
      pattern: '^9[0-9]{4}$',
      priority: 1,
      trunkId: trunk.body.id,
    });
    assert.is(route.status, 201, JSON.stringify(route.body));
    const carrierAt = (ip: string) => s.answerAt(ip, 5090, 10);
    // A call up on acme's original gateway the whole time: killing and starting acme_backup must not touch it.
    const acmeCarrier = await s.answerAt('127.0.0.2', 5090, 1);
    const longCall = s.call({
      from: '1001',
      to: '+15551234567',
      domain: ACME,
      password: 'acme-1001-demo',
      holdMs: 60_000,
    });
    let longEnded = false;
    void longCall.done.then(() => {
      longEnded = true;
    });
    await s.until(
      async () => longEnded || /^1 total\./m.test(await s.fs.api('show calls count')),
      'the call over acme_carrier',
    );
    if (longEnded) {
      const r = await longCall.done;
      assert.unreachable(
        `the call over acme_carrier ended: ${inviteAnswers(r.messages)}; ${await s.metrics().then((m) =>
          m
            .split('\n')
            .filter((l) => /active_calls\{tenant="acme"|ceiling_rejections/.test(l))
            .join(' | '),
        )}\n${r.output}`,
      );
    }
    // acme's ceiling is 2 and the long call holds one slot: each dial waits until the previous call's slot is free
    // (its carrier is killed right after; FreeSWITCH finishes that call's hangup on its own schedule).
    const acmeCalls = async () =>
      (await s.metrics())
        .split('\n')
        .filter((l) => l.startsWith('fs_tenantd_active_calls{') && l.includes('tenant="acme"'))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    const dial = async () => {
      await s.until(async () => (await acmeCalls()) <= 1, "acme's earlier call to end");
      return await s.call({ from: '1000', to: '91234', domain: ACME, password: 'acme-1000-demo', holdMs: 300 }).done;
    };
    try {
      await s.until(
        async () => /external::acme_backup\s+gateway\s+sip:\S*@127\.0\.0\.4:5090/.test(await gateways(s)),
        'sofia to hold acme_backup',
      );
      assert.match(await gateways(s), /external::acme_carrier\s+gateway/, 'the other gateways stay');
      const first = await carrierAt('127.0.0.4');
      const r1 = await dial();
      first.child.kill('SIGKILL');
      assert.equal(
        inviteAnswers(r1.messages).filter((c) => c !== 407),
        [200],
        r1.output,
      );
      assert.match((await first.done).messages, /INVITE sip:91234@127\.0\.0\.4/);

      assert.is((await s.api('PATCH', `/trunks/${trunk.body.id}`, tok, { proxy: '127.0.0.5:5090' })).status, 200);
      await s.until(
        async () => /external::acme_backup\s+gateway\s+sip:\S*@127\.0\.0\.5:5090/.test(await gateways(s)),
        'sofia to restart acme_backup with its new proxy',
      );
      const second = await carrierAt('127.0.0.5');
      const r2 = await dial();
      second.child.kill('SIGKILL');
      assert.equal(
        inviteAnswers(r2.messages).filter((c) => c !== 407),
        [200],
        r2.output,
      );
      assert.match((await second.done).messages, /INVITE sip:91234@127\.0\.0\.5/);

      assert.is((await s.api('PATCH', `/trunks/${trunk.body.id}`, tok, { enabled: false })).status, 200);
      await s.until(async () => !/acme_backup/.test(await gateways(s)), 'sofia to drop the disabled gateway');
      assert.match(await gateways(s), /external::acme_carrier\s+gateway/);
      assert.match(await gateways(s), /external::globex_carrier\s+gateway/);
      // The call on acme_carrier outlived every change to acme_backup.
      await s.until(
        async () => /^1 total\./m.test(await s.fs.api('show calls count')),
        'the acme_carrier call alone, still up',
      );
    } finally {
      await s.fs.api('hupall NORMAL_CLEARING');
      await longCall.done;
      acmeCarrier.child.kill('SIGKILL');
      await acmeCarrier.done;
      await s.api('DELETE', `/outbound-routes/${route.body.id}`, tok);
      await s.api('DELETE', `/trunks/${trunk.body.id}`, tok);
    }
    await s.until(async () => !/acme_backup/.test(await gateways(s)), 'no acme_backup after the delete');
  },
);

t.it(
  "a trunk's new CIDR reaches FreeSWITCH's ACLs; a new password restarts its gateway and reloads no ACL",
  async (s) => {
    const tok = await s.token('tenant_admin', 'acme');
    const items = (await s.api('GET', '/trunks', tok)).body.items as Array<{
      id: string;
      name: string;
      allowedCidrs: string[];
    }>;
    const carrier = items.find((x) => x.name === 'carrier')!;
    const sent = async (name: string, command: string) =>
      Number(
        new RegExp(`^${name}\\{[^}]*command="${command}"[^}]*outcome="ok"[^}]*\\} (\\d+)`, 'm').exec(
          await s.metrics(),
        )?.[1] ?? 0,
      );
    const allowed = async (list: string) => (await s.fs.api(`acl 203.0.113.7 ${list}`)).trim() === 'true';
    assert.not.ok(await allowed('acme_trunks'));
    try {
      const r0 = await sent('fs_tenantd_esl_cache_flush_commands_total', 'reloadacl');
      const cidrs = [...carrier.allowedCidrs, '203.0.113.0/24'];
      assert.is((await s.api('PATCH', `/trunks/${carrier.id}`, tok, { allowedCidrs: cidrs })).status, 200);
      await s.until(
        async () => (await allowed('acme_trunks')) && (await allowed('trunks')),
        'the new CIDR in the ACLs',
      );
      assert.not.ok(await allowed('globex_trunks'));
      await s.until(
        async () => (await sent('fs_tenantd_esl_cache_flush_commands_total', 'reloadacl')) > r0,
        'reloadacl answered',
      );
      const r1 = await sent('fs_tenantd_esl_cache_flush_commands_total', 'reloadacl');
      const g0 = await sent('fs_tenantd_gateway_sync_commands_total', 'startgw');
      assert.is((await s.api('PATCH', `/trunks/${carrier.id}`, tok, { password: 'rotated-pw' })).status, 200);
      await s.until(
        async () => (await sent('fs_tenantd_gateway_sync_commands_total', 'startgw')) > g0,
        'acme_carrier restarted',
      );
      // Both follow the same notification after the same debounce; give the flusher as long again.
      await new Promise((r) => setTimeout(r, 1000));
      assert.is(await sent('fs_tenantd_esl_cache_flush_commands_total', 'reloadacl'), r1);
      assert.ok(await allowed('acme_trunks'));
    } finally {
      await s.api('PATCH', `/trunks/${carrier.id}`, tok, { allowedCidrs: carrier.allowedCidrs, password: null });
      await s.until(async () => !(await allowed('acme_trunks')), 'the CIDR gone again');
    }
  },
);

t.run();
