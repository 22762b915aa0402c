// Call recordings on real FreeSWITCH: with acme's policy recording extension 1001, a call from 1000 to 1001
// leaves a stereo WAV under acme's own directory (<recordings>/<acme id>/<call uuid>.wav), written by
// record_session from the daemon's dialplan answer and linked to acme's call record by the call's mod_json_cdr
// record; globex sees no recording and cannot fetch it. Without the rule, the same call records nothing. A
// carrier call a menu answered and transferred to a recorded extension starts recording at the transfer.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { callOutcomes, sippSuite, type Stack, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: call recordings');
const ACME = 'acme.pbx.test';
/** RFC 2833 captures shipped with SIPp (Debian's sip-tester). */
const DTMF_DIR = '/usr/share/sip-tester';

/** Every file under the recordings directory, relative to it. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

const notifications = async (s: Stack) =>
  [...(await s.metrics()).matchAll(/^fs_tenantd_change_feed_notifications_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

/** Runs `change` through the API, then waits until the daemon has heard of it (its tenant cache is evicted then). */
async function afterChange(s: Stack, change: () => Promise<void>): Promise<void> {
  const before = await notifications(s);
  await change();
  await s.until(async () => (await notifications(s)) > before, 'the change feed to deliver the policy change');
}

type Call = { id: string; callUuid: string; caller: string; callee: string };
async function callsSince(s: Stack, tok: string, since: string): Promise<Call[]> {
  const r = await s.api('GET', `/calls?from=${encodeURIComponent(since)}&limit=500`, tok);
  return (r.body.items as Call[]).filter((c) => c.caller === '1000' && c.callee === '1001');
}

async function placeCall(s: Stack): Promise<void> {
  await s.quiet();
  const phone = await s.phone('1001', ACME, 'acme-1001-demo');
  try {
    const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: 'acme-1000-demo', holdMs: 2500 }).done;
    assert.equal(callOutcomes(r.messages), [200], r.output);
  } finally {
    await phone.stop();
  }
}

t.it("a recorded acme call: a WAV under acme's directory, linked to acme's call record only", async (s) => {
  const acme = await s.token('tenant_admin', 'acme');
  const globex = await s.token('tenant_admin', 'globex');
  const acmeId = (await s.api('GET', '/tenant', acme)).body.id as string;
  const exts = (await s.api('GET', '/extensions?limit=100', acme)).body.items as Array<{ id: string; number: string }>;
  const ext1001 = exts.find((e) => e.number === '1001')!.id;

  // Policy off (the demo's rule is disabled): the call is not recorded.
  const offSince = new Date(Date.now() - 1000).toISOString();
  await placeCall(s);
  await s.until(async () => (await callsSince(s, acme, offSince)).length === 1, "the unrecorded call's record");
  const [plain] = await callsSince(s, acme, offSince);
  assert.equal((await s.api('GET', `/calls/${plain!.id}/recordings`, acme)).body.items, []);
  assert.equal(await files(s.recordingsDir), []);

  let ruleId: string | undefined;
  try {
    await afterChange(s, async () => {
      const r = await s.api('POST', '/recording-rules', acme, { scope: 'extension', extensionId: ext1001 });
      assert.is(r.status, 201, JSON.stringify(r.body));
      ruleId = r.body.id;
    });
    const since = new Date(Date.now() - 1000).toISOString();
    await placeCall(s);
    // The call record and its recording are written in one transaction from the CDR.
    await s.until(async () => (await callsSince(s, acme, since)).length === 1, "the recorded call's record");
    const [rec] = await callsSince(s, acme, since);
    const list = (await s.api('GET', `/calls/${rec!.id}/recordings`, acme)).body.items as Array<{
      id: string;
      callUuid: string;
      sizeBytes: number;
      durationMs: number | null;
    }>;
    assert.is(list.length, 1, JSON.stringify(list));
    const recording = list[0]!;
    assert.is(recording.callUuid, rec!.callUuid);

    // On disk: exactly one file, acme's, named by the call's uuid.
    const rel = `${acmeId}/${rec!.callUuid}.wav`;
    assert.equal(await files(s.recordingsDir), [rel]);
    const bytes = await fs.readFile(path.join(s.recordingsDir, rel));
    assert.is(recording.sizeBytes, bytes.length);
    assert.is(bytes.subarray(0, 4).toString(), 'RIFF');
    assert.is(bytes.subarray(8, 12).toString(), 'WAVE');
    assert.is(bytes.readUInt16LE(22), 2, 'stereo (RECORD_STEREO): caller and callee apart');
    // 2.5 s of talk at 8 kHz, 16-bit, 2 channels is ~80 kB; the header alone is 44 bytes.
    assert.ok(bytes.length > 16_000, `${bytes.length} bytes`);
    assert.ok((recording.durationMs ?? 0) >= 1500, `record_ms ${recording.durationMs}`);

    // Downloaded through the API: the same bytes.
    const url = `http://127.0.0.1:${s.daemon.httpPort}/api/recordings/${recording.id}/audio`;
    const dl = await fetch(url, { headers: { authorization: `Bearer ${acme}` } });
    assert.is(dl.status, 200);
    assert.is(dl.headers.get('content-type'), 'audio/wav');
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(bytes));

    // Globex: no such call, no such recording, nothing in its listing.
    const theirs = await fetch(url, { headers: { authorization: `Bearer ${globex}` } });
    assert.is(theirs.status, 404);
    await theirs.arrayBuffer();
    assert.is((await s.api('GET', `/calls/${rec!.id}/recordings`, globex)).status, 404);
    const globexList = (await s.api('GET', '/recordings?limit=500', globex)).body.items as Array<{ callUuid: string }>;
    assert.not.ok(globexList.some((r) => r.callUuid === rec!.callUuid));

    // Deleted through the API: file and row gone.
    assert.is((await s.api('DELETE', `/recordings/${recording.id}`, acme)).status, 204);
    assert.equal(await files(s.recordingsDir), []);
    assert.equal((await s.api('GET', `/calls/${rec!.id}/recordings`, acme)).body.items, []);
  } finally {
    if (ruleId) await afterChange(s, async () => void (await s.api('DELETE', `/recording-rules/${ruleId}`, acme)));
  }
});

t.it('a call a menu answered, then transferred to a recorded extension: recorded from the transfer on', async (s) => {
  if (!existsSync(path.join(DTMF_DIR, 'dtmf_2833_1.pcap'))) {
    console.log(`  note: ${DTMF_DIR}/dtmf_2833_1.pcap (SIPp's RFC 2833 capture) absent: case not run`);
    return;
  }
  // SIPp plays a pcap through a raw socket, which only root (CAP_NET_RAW) may open: as another user no key is sent.
  if (process.getuid?.() !== 0) {
    console.log('  note: SIPp needs root to play RFC 2833 captures (raw socket): case not run as this user');
    return;
  }
  const acme = await s.token('tenant_admin', 'acme');
  const acmeId = (await s.api('GET', '/tenant', acme)).body.id as string;
  const nodes = (await s.api('GET', '/call-flow-nodes?limit=100', acme)).body.items as { id: string; name: string }[];
  const menu = nodes.find((n) => n.name === 'main-menu')!;
  const exts = (await s.api('GET', '/extensions?limit=100', acme)).body.items as Array<{ id: string; number: string }>;
  const did = await s.api('POST', '/dids', acme, {
    e164: '+15550001997',
    destinationType: 'flow',
    flowNodeId: menu.id,
  });
  assert.is(did.status, 201, JSON.stringify(did.body));
  let ruleId: string | undefined;
  const seen = async () =>
    ((await s.api('GET', '/recordings?limit=500', acme)).body.items as Array<{ id: string; callUuid: string }>).map(
      (r) => r.callUuid,
    );
  try {
    // Only 1000's calls are recorded: the menu's own route (a trunk call to a menu) is not, so when the caller
    // presses 1 the channel is already answered and the transfer's answer must start record_session itself.
    await afterChange(s, async () => {
      const r = await s.api('POST', '/recording-rules', acme, {
        scope: 'extension',
        extensionId: exts.find((e) => e.number === '1000')!.id,
      });
      assert.is(r.status, 201, JSON.stringify(r.body));
      ruleId = r.body.id;
    });
    const before = new Set(await seen());
    await withPhones(s, [['1000', ACME, 'acme-1000-demo']], async ([a1000]) => {
      await fs.copyFile(path.join(DTMF_DIR, 'dtmf_2833_1.pcap'), path.join(s.dir, 'dtmf.pcap'));
      const r = await s.sipp(
        'dtmf_call.xml',
        ['-s', '+15550001997', '-key', 'from_user', '+15557654321', '-d', '3000', '-key', 'domain', '127.0.0.1'],
        { ip: '127.0.0.2', target: 'external' },
      ).done;
      assert.equal(callOutcomes(r.messages), [200], r.output);
      assert.is(await a1000!.invites(), 1, 'key 1 rang acme 1000');
    });
    await s.until(async () => (await seen()).some((u) => !before.has(u)), 'the recording of the menu call');
    const uuid = (await seen()).find((u) => !before.has(u))!;
    const bytes = await fs.readFile(path.join(s.recordingsDir, acmeId, `${uuid}.wav`));
    assert.is(bytes.subarray(0, 4).toString(), 'RIFF');
    assert.ok(bytes.length > 1000, `${bytes.length} bytes`);
    const rec = ((await s.api('GET', '/recordings?limit=500', acme)).body.items as Array<Record<string, string>>).find(
      (r) => r.callUuid === uuid,
    )!;
    const call = (await s.api('GET', `/calls/${rec.callId}`, acme)).body;
    assert.is(call.direction, 'inbound');
    assert.is((await s.api('DELETE', `/recordings/${rec.id}`, acme)).status, 204);
  } finally {
    if (ruleId) await afterChange(s, async () => void (await s.api('DELETE', `/recording-rules/${ruleId}`, acme)));
    await s.api('DELETE', `/dids/${did.body.id}`, acme);
  }
});

t.run();
