// Calls through a real FreeSWITCH, two tenants with the same extension numbers, queue and trunk names:
// internal calls, ceilings, DIDs from carriers, queues and outbound trunks never cross tenants.
import * as assert from 'uvu/assert';
import { demoPassword } from '../../daemon/db/demo-seed.js';
import { sippSuite, type Stack, callOutcomes, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: calls per tenant');
const ACME = 'acme.pbx.test';
const GLOBEX = 'globex.pbx.test';
const pw = demoPassword;

/** A SIPp answering at a carrier's address (the demo trunks point at 127.0.0.2:5090 and 127.0.0.3:5090). */
async function carrier(s: Stack, ip: string, port = 5090) {
  const run = await s.answerAt(ip, port);
  return {
    run,
    stop: async () => {
      run.child.kill('SIGKILL');
      return (await run.done).messages;
    },
  };
}

t.it('the call-center sync brought a fresh FreeSWITCH in step without a refused command', async (s) => {
  // Before: `queue load` imported agents and tiers, and the planned `agent add`/`tier add` failed ("already exist").
  await s.until(
    async () => /callcenter_reconciliations_total\{[^}]*outcome="ok"[^}]*\} [1-9]/.test(await s.metrics()),
    'a finished call-center reconciliation',
  );
  const text = await s.metrics();
  assert.match(text, /\nfs_tenantd_callcenter_sync_errors_total 0\n/);
  assert.not.match(text, /fs_tenantd_callcenter_commands_total\{[^}]*outcome="(error|rejected)"[^}]*\} [1-9]/);
  assert.not.ok(
    s.daemon.lines.some((l) => /already exist/.test(JSON.stringify(l))),
    'no "already exist" in the log',
  );
  const agents = await s.fs.api('callcenter_config agent list');
  for (const a of ['1001@acme.pbx.test', '1002@acme.pbx.test', '1001@globex.pbx.test'])
    assert.ok(agents.includes(a), a);
  const tiers = await s.fs.api('callcenter_config tier list');
  assert.match(tiers, /support@acme\.pbx\.test\|1002@acme\.pbx\.test/);
  assert.not.match(tiers, /support@acme\.pbx\.test\|1001@globex/);
});

t.it('acme 1000 calls 1001: acme 1001 answers, globex 1001 never rings', async (s) => {
  await withPhones(
    s,
    [
      ['1001', ACME, pw('acme', '1001')],
      ['1001', GLOBEX, pw('globex', '1001')],
    ],
    async ([acme, globex]) => {
      const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000'), holdMs: 1000 })
        .done;
      assert.equal(callOutcomes(r.messages), [200], r.output);
      assert.is(await acme!.invites(), 1);
      assert.is(await globex!.invites(), 0);
    },
  );
});

t.it("a call into the other tenant's domain is refused (403) and rings nobody", async (s) => {
  await withPhones(s, [['1001', GLOBEX, pw('globex', '1001')]], async ([globex]) => {
    // Authenticated as acme 1000, asking for 1001@globex: the dialplan checks the channel's tenant.
    const r = await s.sipp('call.xml', [
      '-s',
      '1001',
      '-key',
      'domain',
      GLOBEX,
      '-key',
      'from_user',
      '1000',
      '-au',
      '1000',
      '-ap',
      pw('acme', '1000'),
    ]).done;
    assert.ok(!callOutcomes(r.messages).includes(200), r.output);
    assert.is(await globex!.invites(), 0);
  });
});

t.it('globex 1000 dialling a number nobody has gets 404', async (s) => {
  const r = await s.call({ from: '1000', to: '2999', domain: GLOBEX, password: pw('globex', '1000') }).done;
  assert.equal(callOutcomes(r.messages), [404], r.output);
});

t.it('4 simultaneous calls against acme ceiling of 2: exactly 2 answered, 2 refused with 503', async (s) => {
  await withPhones(s, [['1001', ACME, pw('acme', '1001')]], async ([acme]) => {
    const r = await s.call({
      from: '1000',
      to: '1001',
      domain: ACME,
      password: pw('acme', '1000'),
      holdMs: 3000,
      calls: 4,
    }).done;
    const got = callOutcomes(r.messages).sort();
    assert.equal(got, [200, 200, 503, 503], r.output);
    assert.is(await acme!.invites(), 2);
    assert.match(
      await s.metrics(),
      /fs_tenantd_ceiling_rejections_total\{tenant="acme",direction="internal",level="own"\} [2-9]/,
    );
  });
});

t.it(
  "a DID from its own carrier's address reaches the owner; from another carrier's address it is refused",
  async (s) => {
    await withPhones(
      s,
      [
        ['1000', GLOBEX, pw('globex', '1000')],
        ['1000', ACME, pw('acme', '1000')],
      ],
      async ([globex, acme]) => {
        // +15550002000 is globex's, and globex's carrier sends from 127.0.0.3.
        const ok = await s.call({
          from: '+15557654321',
          to: '+15550002000',
          domain: '127.0.0.1',
          ip: '127.0.0.3',
          target: 'external',
          holdMs: 500,
        }).done;
        assert.equal(callOutcomes(ok.messages), [200], ok.output);
        assert.is(await globex!.invites(), 1);
        // The same DID from acme's carrier address: not globex's trunk, so refused.
        const bad = await s.call({
          from: '+15557654321',
          to: '+15550002000',
          domain: '127.0.0.1',
          ip: '127.0.0.2',
          target: 'external',
        }).done;
        assert.equal(callOutcomes(bad.messages), [403], bad.output);
        // From an address no trunk has, FreeSWITCH's own ACL (apply-inbound-acl) refuses it before any dialplan.
        const stranger = await s.call({
          from: '+15557654321',
          to: '+15550002000',
          domain: '127.0.0.1',
          ip: '127.0.0.9',
          target: 'external',
        }).done;
        assert.ok(!callOutcomes(stranger.messages).includes(200), stranger.output);
        assert.is(await globex!.invites(), 1);
        assert.is(await acme!.invites(), 0);
      },
    );
  },
);

t.it("a call to acme's queue rings only acme's agents", async (s) => {
  const setStatus = async (tenant: string, ext: string, status: string) => {
    const r = await s.api('PUT', '/me/agent/status', await s.token('agent', tenant, ext), { status });
    assert.is(r.status, 200, JSON.stringify(r.body));
  };
  await withPhones(
    s,
    [
      ['1001', ACME, pw('acme', '1001')],
      ['1002', ACME, pw('acme', '1002')],
      ['1001', GLOBEX, pw('globex', '1001')],
    ],
    async ([a1, a2, g1]) => {
      for (const [tenant, ext] of [
        ['acme', '1001'],
        ['acme', '1002'],
        ['globex', '1001'],
      ] as const)
        await setStatus(tenant, ext, 'Available');
      try {
        await s.until(
          async () => /Available/.test(await s.fs.api(`callcenter_config agent get status 1002@${ACME}`)),
          'agents Available',
        );
        const caller = s.call({ from: '1000', to: '7000', domain: ACME, password: pw('acme', '1000'), holdMs: 8000 });
        await s.until(async () => (await a1!.invites()) + (await a2!.invites()) > 0, 'an acme agent to ring', 15_000);
        const r = await caller.done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.is(await g1!.invites(), 0);
      } finally {
        for (const [tenant, ext] of [
          ['acme', '1001'],
          ['acme', '1002'],
          ['globex', '1001'],
        ] as const)
          await setStatus(tenant, ext, 'Logged Out');
      }
    },
  );
});

t.it("an outbound call leaves through the tenant's own carrier gateway only", async (s) => {
  const acmeCarrier = await carrier(s, '127.0.0.2');
  const globexCarrier = await carrier(s, '127.0.0.3');
  try {
    const r = await s.call({
      from: '1000',
      to: '+15551234567',
      domain: ACME,
      password: pw('acme', '1000'),
      holdMs: 500,
    }).done;
    assert.equal(callOutcomes(r.messages), [200], r.output);
  } finally {
    const acmeSaw = await acmeCarrier.stop();
    const globexSaw = await globexCarrier.stop();
    assert.match(acmeSaw, /INVITE sip:\+15551234567@127\.0\.0\.2/);
    assert.not.match(globexSaw, /INVITE/);
  }
});

t.it('the call record of an answered call appears with its duration and billsec', async (s) => {
  const since = new Date(Date.now() - 1000).toISOString();
  await withPhones(s, [['1003', GLOBEX, pw('globex', '1003')]], async () => {
    const r = await s.call({ from: '1002', to: '1003', domain: GLOBEX, password: pw('globex', '1002'), holdMs: 2200 })
      .done;
    assert.equal(callOutcomes(r.messages), [200], r.output);
  });
  const tok = await s.token('tenant_admin', 'globex');
  let rec: Record<string, unknown> | undefined;
  await s.until(async () => {
    const list = await s.api('GET', `/calls?from=${encodeURIComponent(since)}&number=1003`, tok);
    rec = (list.body.items as Array<Record<string, unknown>>).find((c) => c.caller === '1002' && c.callee === '1003');
    return rec !== undefined;
  }, 'the call record');
  assert.is(rec!.direction, 'internal');
  assert.is(rec!.hangupCause, 'NORMAL_CLEARING');
  // 2.2 s of talk: FreeSWITCH counts whole seconds (switch_channel_set_timestamps), so 2 or 3.
  assert.ok((rec!.billsec as number) >= 2 && (rec!.billsec as number) <= 3, `billsec ${String(rec!.billsec)}`);
  assert.ok((rec!.durationS as number) >= (rec!.billsec as number), `duration ${String(rec!.durationS)}`);
  const acmeView = await s.api(
    'GET',
    `/calls?from=${encodeURIComponent(since)}&number=1003`,
    await s.token('tenant_admin', 'acme'),
  );
  assert.is(acmeView.body.items.length, 0);
});

t.run();
