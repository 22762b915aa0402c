// Extension features on the real FreeSWITCH: feature codes dialled from the phone change the extension at once
// (do-not-disturb answers busy without ringing; forward-always rings the target instead), a forward stays inside
// the forwarding tenant, and the unreachable forward continues a failed bridge by its cause. Every case puts the
// extension back as it found it: the stack is shared with the other SIPp suites.
import * as assert from 'uvu/assert';
import { demoPassword } from '../../daemon/db/demo-seed.js';
import { sippSuite, type Stack, callOutcomes, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: extension features (DND, call forwarding, feature codes)');
const ACME = 'acme.pbx.test';
const GLOBEX = 'globex.pbx.test';
const pw = demoPassword;

/** acme `ext` dials a feature code; FreeSWITCH answers (confirmation tone) and the change is stored. */
async function dialCode(s: Stack, ext: string, code: string): Promise<void> {
  const r = await s.call({ from: ext, to: code, domain: ACME, password: pw('acme', ext), holdMs: 100 }).done;
  assert.equal(callOutcomes(r.messages), [200], r.output);
}

async function features(s: Stack, ext: string): Promise<Record<string, unknown>> {
  const r = await s.api('GET', '/me/features', await s.token('agent', 'acme', ext));
  assert.is(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const flushCommands = (text: string) =>
  [...text.matchAll(/^fs_tenantd_esl_cache_flush_commands_total\{[^}]*outcome="ok"[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

/** Runs an API write, then waits until its NOTIFY reached the daemon (it flushed FreeSWITCH's user cache). */
async function flushed(s: Stack, change: () => Promise<void>): Promise<void> {
  const before = flushCommands(await s.metrics());
  await change();
  await s.until(async () => flushCommands(await s.metrics()) > before, 'the change to reach the daemon');
}

const CLEAR = { dnd: false, forwardAlways: null, forwardBusy: null, forwardNoAnswer: null, forwardUnreachable: null };
const restore = async (s: Stack, ext: string) =>
  assert.is((await s.api('PUT', '/me/features', await s.token('agent', 'acme', ext), CLEAR)).status, 200);

t.it('*78 from 1001: a call to 1001 is busy (486) and its phone never rings; *79 restores it', async (s) => {
  await withPhones(s, [['1001', ACME, pw('acme', '1001')]], async ([phone]) => {
    try {
      await dialCode(s, '1001', '*78');
      assert.is((await features(s, '1001')).dnd, true);
      const busy = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
      assert.equal(callOutcomes(busy.messages), [486], busy.output);
      assert.is(await phone!.invites(), 0);
      await dialCode(s, '1001', '*79');
      assert.is((await features(s, '1001')).dnd, false);
      const ok = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
      assert.equal(callOutcomes(ok.messages), [200], ok.output);
      assert.is(await phone!.invites(), 1);
      assert.match(await s.metrics(), /fs_tenantd_extension_feature_rejections_total\{reason="dnd"\} [1-9]/);
    } finally {
      await restore(s, '1001');
    }
  });
});

t.it("*72 1002 from 1001: a call to 1001 rings acme 1002, never 1001 nor globex's 1002; *73 ends it", async (s) => {
  await withPhones(
    s,
    [
      ['1001', ACME, pw('acme', '1001')],
      ['1002', ACME, pw('acme', '1002')],
      ['1002', GLOBEX, pw('globex', '1002')],
    ],
    async ([a1001, a1002, g1002]) => {
      try {
        await dialCode(s, '1001', '*721002');
        assert.is((await features(s, '1001')).forwardAlways, '1002');
        const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.equal([await a1001!.invites(), await a1002!.invites(), await g1002!.invites()], [0, 1, 0]);
        await dialCode(s, '1001', '*73');
        assert.is((await features(s, '1001')).forwardAlways, null);
        const back = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
        assert.equal(callOutcomes(back.messages), [200], back.output);
        assert.equal([await a1001!.invites(), await a1002!.invites(), await g1002!.invites()], [1, 1, 0]);
      } finally {
        await restore(s, '1001');
      }
    },
  );
});

t.it('a forward names a number in its own tenant only: a SIP URI of another domain is refused at write', async (s) => {
  const agent = await s.token('agent', 'acme', '1001');
  for (const forwardAlways of ['1002@globex.pbx.test', 'sip:1002@globex.pbx.test', 'globex.pbx.test/1002']) {
    const r = await s.api('PUT', '/me/features', agent, { forwardAlways });
    assert.is(r.status, 400, forwardAlways);
    assert.match(r.body.message, /^(body\/)?forwardAlways\b/);
  }
  assert.is((await features(s, '1001')).forwardAlways, null);
});

t.it('unreachable forward: 1001 not registered, the failed bridge continues to acme 1002', async (s) => {
  await withPhones(
    s,
    [
      ['1002', ACME, pw('acme', '1002')],
      ['1002', GLOBEX, pw('globex', '1002')],
    ],
    async ([a1002, g1002]) => {
      const agent = await s.token('agent', 'acme', '1001');
      try {
        await flushed(s, async () => {
          assert.is((await s.api('PUT', '/me/features', agent, { forwardUnreachable: '1002' })).status, 200);
        });
        await s.fs.api(`sofia profile internal flush_inbound_reg 1001@${ACME}`);
        const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000') }).done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.equal([await a1002!.invites(), await g1002!.invites()], [1, 0]);
      } finally {
        await restore(s, '1001');
      }
    },
  );
});

t.run();
