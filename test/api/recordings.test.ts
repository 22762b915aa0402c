// Call recordings end to end below FreeSWITCH: a recorded call's record (mod_json_cdr)
// links its file, the API lists, streams and deletes it (another tenant's is a 404),
// the retention job expires files and rows, and disk errors keep the row that still
// has a file. Files live in the harness's recordings directory, as FreeSWITCH would
// write them: <dir>/<tenant id>/<call uuid>.wav.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { recordingFile } from '../../daemon/recordings/files.js';
import { createRecordingRetention } from '../../daemon/recordings/retention.js';
import { loadSnapshot } from '../../daemon/tenants/load-snapshot.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { cdrFor, postCdr, startCdrEndpoint, type CdrEndpoint } from '../json-cdr/harness.js';
import { counterValue, startApi, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let ep: CdrEndpoint;
let acme: TenantId;
let globex: TenantId;
let owner: pg.Pool | undefined;

test.before(async () => {
  h = await startApi();
  acme = h.tenants.acme;
  globex = h.tenants.globex;
  ep = await startCdrEndpoint(h.pool, { recordingsDir: h.recordingsDir });
});
test.after(async () => {
  await ep.close();
  await h.close();
});

const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4000, 7)]);
const fileOf = (tenant: TenantId, uuid: string) => path.join(h.recordingsDir, tenant, `${uuid}.wav`);
async function writeFile(tenant: TenantId, uuid: string, data = WAV) {
  await fs.mkdir(path.join(h.recordingsDir, tenant), { recursive: true });
  await fs.writeFile(fileOf(tenant, uuid), data);
}
const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );

/** A recorded call as mod_json_cdr posts it: the dialplan's fs_recording and FreeSWITCH's record_ms. */
function recordedCdr(tenant: TenantId, uuid = randomUUID(), mark: string | null = `${tenant}/${uuid}.wav`) {
  const c = cdrFor(tenant, uuid);
  if (mark !== null) c.doc.variables.fs_recording = mark;
  c.doc.variables.record_ms = '2240';
  return { uuid, body: JSON.stringify(c.doc) };
}

async function recordingRows(tenant: TenantId, uuid?: string) {
  return h.inTenant(
    tenant,
    async (db) =>
      (
        await db.query(
          `SELECT call_uuid, relative_path, size_bytes::int AS size, duration_ms, started_at, ended_at
          FROM call_recordings${uuid ? ' WHERE call_uuid = $1' : ''}`,
          uuid ? [uuid] : [],
        )
      ).rows,
  );
}
const callIdOf = (tenant: TenantId, uuid: string) =>
  h.inTenant(
    tenant,
    async (db) => (await db.query('SELECT id FROM call_records WHERE call_uuid = $1', [uuid])).rows[0]?.id,
  );
const recordingIdOf = (tenant: TenantId, uuid: string) =>
  h.inTenant(
    tenant,
    async (db) => (await db.query('SELECT id FROM call_recordings WHERE call_uuid = $1', [uuid])).rows[0]?.id as string,
  );
const links = (outcome: string) => counterValue(ep.registry, 'fs_tenantd_recording_links_total', { outcome });

test("a recorded call's record links its file: path from tenant and uuid, size from the disk, one row", async () => {
  const { uuid, body } = recordedCdr(acme);
  await writeFile(acme, uuid);
  const res = await postCdr(ep.url, body, { uuid });
  assert.is(res.status, 200, res.text);
  const [row, ...more] = await recordingRows(acme, uuid);
  assert.is(more.length, 0);
  assert.is(row.relative_path, `${acme}/${uuid}.wav`);
  assert.is(row.size, WAV.length);
  assert.is(row.duration_ms, 2240);
  // Recording starts at the answer (execute_on_answer) and ends with the call: the record's own times.
  assert.is(new Date(row.started_at).getTime(), Math.floor(1796181941996989 / 1000));
  assert.is(new Date(row.ended_at).getTime(), Math.floor(1796181944236913 / 1000));
  // Posted again (mod_json_cdr retries, cdr-replay): still one row.
  assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
  assert.is((await recordingRows(acme, uuid)).length, 1);
  assert.is((await recordingRows(globex, uuid)).length, 0, 'invisible to globex');
  assert.ok((await links('linked')) >= 2);
});

test('no file (never answered, discarded), a path that is not its own, a call not recorded: no row', async () => {
  const before = { noFile: await links('no_file'), bad: await links('bad_path') };
  const missing = recordedCdr(acme);
  assert.is((await postCdr(ep.url, missing.body, { uuid: missing.uuid })).status, 200);
  assert.is((await recordingRows(acme, missing.uuid)).length, 0);
  assert.ok(await callIdOf(acme, missing.uuid), 'the call record itself is stored');
  assert.is(await links('no_file'), before.noFile + 1);

  // A variable naming another tenant's file (or anything else) is refused, even if that file exists.
  const other = randomUUID();
  await writeFile(globex, other);
  for (const mark of [`${globex}/${other}.wav`, `${acme}/../${globex}/${other}.wav`, '/etc/passwd']) {
    const c = recordedCdr(acme, randomUUID(), mark);
    assert.is((await postCdr(ep.url, c.body, { uuid: c.uuid })).status, 200);
    assert.is((await recordingRows(acme, c.uuid)).length, 0, mark);
  }
  assert.is(await links('bad_path'), before.bad + 3);

  const plain = recordedCdr(acme, randomUUID(), null);
  await writeFile(acme, plain.uuid);
  assert.is((await postCdr(ep.url, plain.body, { uuid: plain.uuid })).status, 200);
  assert.is((await recordingRows(acme, plain.uuid)).length, 0, 'no fs_recording: not a recorded call');
});

test('a file the daemon cannot stat (EACCES, EIO…): linked without a size, counted, logged', async () => {
  const { uuid, body } = recordedCdr(acme);
  // A path component that is a file: stat fails with ENOTDIR for a sibling, so use a file we make unreadable
  // the one way that works as root too: the file's name is a directory entry of a symlink loop.
  await fs.mkdir(path.join(h.recordingsDir, acme), { recursive: true });
  await fs.symlink(fileOf(acme, uuid), fileOf(acme, uuid)); // ELOOP
  const before = await links('stat_failed');
  assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
  const [row] = await recordingRows(acme, uuid);
  assert.ok(row, 'the link is kept: the file may well be there');
  assert.is(row.size, null);
  assert.is(await links('stat_failed'), before + 1);
  await fs.unlink(fileOf(acme, uuid));
});

test('API: list per call and list, read; another tenant gets 404 for the call and the recording', async () => {
  const { uuid, body } = recordedCdr(acme);
  await writeFile(acme, uuid);
  assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
  const callId = await callIdOf(acme, uuid);
  const recId = await recordingIdOf(acme, uuid);
  const admin = await h.token('tenant_admin', 'acme');
  const other = await h.token('tenant_admin', 'globex');

  const perCall = await h.call('GET', `/api/calls/${callId}/recordings`, { token: admin });
  assert.is(perCall.status, 200, perCall.text);
  assert.equal(
    perCall.body.items.map((r: Record<string, unknown>) => [r.id, r.callId, r.callUuid, r.sizeBytes, r.durationMs]),
    [[recId, callId, uuid, WAV.length, 2240]],
  );
  assert.not.ok(perCall.text.includes(h.recordingsDir), 'paths are never shown');
  const all = await h.call('GET', '/api/recordings?limit=500', { token: admin });
  assert.ok(all.body.items.some((r: { id: string }) => r.id === recId));
  const one = await h.call('GET', `/api/recordings/${recId}`, { token: admin });
  assert.is(one.body.callId, callId);

  for (const url of [`/api/calls/${callId}/recordings`, `/api/recordings/${recId}`, `/api/recordings/${recId}/audio`]) {
    const res = await h.call('GET', url, { token: other });
    assert.is(res.status, 404, `${url}: ${res.text}`);
    assert.not.ok(res.text.includes(uuid));
  }
  const theirs = await h.call('GET', '/api/recordings?limit=500', { token: other });
  assert.not.ok(theirs.body.items.some((r: { id: string }) => r.id === recId));
  // Agents have no access to recordings.
  const agent = await h.call('GET', `/api/recordings/${recId}/audio`, { token: await h.token('agent', 'acme') });
  assert.is(agent.status, 403);
});

test('API: download streams the file; a missing file is a clear 404; another tenant cannot download it', async () => {
  const { uuid, body } = recordedCdr(acme);
  const data = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(200_000, 3)]);
  await writeFile(acme, uuid, data);
  assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
  const recId = await recordingIdOf(acme, uuid);
  const admin = await h.token('tenant_admin', 'acme');
  const res = await h.app.inject({
    method: 'GET',
    url: `/api/recordings/${recId}/audio`,
    headers: { authorization: `Bearer ${admin}` },
  });
  assert.is(res.statusCode, 200);
  assert.is(res.headers['content-type'], 'audio/wav');
  assert.is(Number(res.headers['content-length']), data.length);
  assert.ok(res.rawPayload.equals(data), 'the bytes on disk');

  await fs.unlink(fileOf(acme, uuid));
  const gone = await h.call('GET', `/api/recordings/${recId}/audio`, { token: admin });
  assert.is(gone.status, 404);
  assert.is(gone.body.error, 'file_missing');
  assert.match(gone.body.message, /file is missing from the recordings directory/);
  assert.is(
    await counterValue(h.registry, 'fs_tenantd_recording_requests_total', {
      action: 'download',
      outcome: 'file_missing',
    }),
    1,
  );
});

test("agents: /api/me/recordings lists and plays their own calls' recordings only; another's is a 404", async () => {
  // The fixture's call is 1000 -> 1001 (caller and dialled number); a second one 2000 -> 3000 is no one's here.
  const mine = recordedCdr(acme);
  await writeFile(acme, mine.uuid);
  assert.is((await postCdr(ep.url, mine.body, { uuid: mine.uuid })).status, 200);
  const other = recordedCdr(acme);
  other.body = other.body.replaceAll('"1000"', '"2000"').replaceAll('"1001"', '"3000"');
  await writeFile(acme, other.uuid);
  assert.is((await postCdr(ep.url, other.body, { uuid: other.uuid })).status, 200);
  const mineId = await recordingIdOf(acme, mine.uuid);
  const otherId = await recordingIdOf(acme, other.uuid);
  assert.ok(mineId && otherId);

  const listed = async (token: string) =>
    ((await h.call('GET', '/api/me/recordings?limit=500', { token })).body.items as { id: string }[]).map((r) => r.id);
  const callee = await h.token('agent', 'acme', { sub: '1001' });
  const caller = await h.token('agent', 'acme', { sub: '1000' });
  const stranger = await h.token('agent', 'acme', { sub: '1002' });
  for (const t of [callee, caller]) {
    const ids = await listed(t);
    assert.ok(ids.includes(mineId), 'caller and callee both see it');
    assert.not.ok(ids.includes(otherId), "not someone else's call");
    const res = await h.app.inject({
      method: 'GET',
      url: `/api/me/recordings/${mineId}/audio`,
      headers: { authorization: `Bearer ${t}` },
    });
    assert.is(res.statusCode, 200);
    assert.ok(res.rawPayload.equals(WAV));
  }
  assert.is((await listed(stranger)).length, 0);
  for (const [t, id] of [
    [stranger, mineId],
    [callee, otherId],
  ] as const) {
    const res = await h.call('GET', `/api/me/recordings/${id}/audio`, { token: t });
    assert.is(res.status, 404, res.text);
    assert.is(res.body.error, 'not_found');
  }
  // globex's agent 1001: the same numbers, another tenant: nothing.
  const globex1001 = await h.token('agent', 'globex', { sub: '1001' });
  assert.not.ok((await listed(globex1001)).includes(mineId));
  assert.is((await h.call('GET', `/api/me/recordings/${mineId}/audio`, { token: globex1001 })).status, 404);
  // Admin routes stay admin-only.
  assert.is((await h.call('GET', '/api/recordings', { token: callee })).status, 403);
});

test('API: delete removes file and row, audited; an unremovable file keeps its row; B cannot delete', async () => {
  const admin = await h.token('tenant_admin', 'acme');
  const { uuid, body } = recordedCdr(acme);
  await writeFile(acme, uuid);
  assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
  const recId = await recordingIdOf(acme, uuid);

  const theirs = await h.call('DELETE', `/api/recordings/${recId}`, { token: await h.token('tenant_admin', 'globex') });
  assert.is(theirs.status, 404);
  assert.ok(await exists(fileOf(acme, uuid)));
  assert.is((await recordingRows(acme, uuid)).length, 1);

  const res = await h.call('DELETE', `/api/recordings/${recId}`, { token: admin });
  assert.is(res.status, 204, res.text);
  assert.not.ok(await exists(fileOf(acme, uuid)));
  assert.is((await recordingRows(acme, uuid)).length, 0);
  assert.ok(await callIdOf(acme, uuid), 'the call record stays');
  const audit = await h.inTenant(
    acme,
    async (db) =>
      (
        await db.query("SELECT actor, summary FROM audit_logs WHERE action = 'recording.delete' AND target = $1", [
          `recordings/${recId}`,
        ])
      ).rows,
  );
  assert.is(audit.length, 1);
  assert.is(audit[0].summary.file, 'removed');
  assert.is((await h.call('DELETE', `/api/recordings/${recId}`, { token: admin })).status, 404);

  // unlink fails (here: the name is a directory, EISDIR; EACCES or EROFS take the same path): 500 naming the
  // problem, the row stays, and nothing is audited as deleted.
  const stuck = recordedCdr(acme);
  await fs.mkdir(path.join(h.recordingsDir, acme), { recursive: true });
  assert.is((await postCdr(ep.url, stuck.body, { uuid: stuck.uuid })).status, 200); // no file yet: no row
  await writeFile(acme, stuck.uuid);
  assert.is((await postCdr(ep.url, stuck.body, { uuid: stuck.uuid })).status, 200); // posted again: linked
  const stuckId = await recordingIdOf(acme, stuck.uuid);
  await fs.unlink(fileOf(acme, stuck.uuid));
  await fs.mkdir(fileOf(acme, stuck.uuid));
  const failed = await h.call('DELETE', `/api/recordings/${stuckId}`, { token: admin });
  assert.is(failed.status, 500);
  assert.is(failed.body.error, 'storage_error');
  assert.match(failed.body.message, /cannot delete/);
  assert.is((await recordingRows(acme, stuck.uuid)).length, 1, 'the row that still has a file stays');
  assert.is(
    await counterValue(h.registry, 'fs_tenantd_recording_requests_total', { action: 'delete', outcome: 'disk_error' }),
    1,
  );
  await fs.rmdir(fileOf(acme, stuck.uuid));
  assert.is((await h.call('DELETE', `/api/recordings/${stuckId}`, { token: admin })).status, 204);
});

test('paths: only <dir>/<tenant>/<uuid>.wav of that very tenant resolve', () => {
  const u = randomUUID();
  assert.is(recordingFile('/r', acme, `${acme}/${u}.wav`), `/r/${acme}/${u}.wav`);
  for (const bad of [`${globex}/${u}.wav`, `${acme}/../${globex}/${u}.wav`, `/${acme}/${u}.wav`, `${acme}/${u}.mp3`])
    assert.is(recordingFile('/r', acme, bad), undefined, bad);
});

test('retention: expired recordings go, file and row, audited; a disk error keeps the row', async () => {
  const admin = await h.token('tenant_admin', 'acme');
  const set = await h.call('PATCH', '/api/tenant', { token: admin, body: { recordingRetentionDays: 3 } });
  assert.is(set.status, 200, set.text);
  assert.is(set.body.recordingRetentionDays, 3);
  // Rows as the CDR endpoint writes them, ended 10 days ago (old) or now (recent), for both tenants.
  const make = async (tenant: TenantId, daysAgo: number, file: 'file' | 'none' | 'stuck') => {
    const { uuid, body } = recordedCdr(tenant);
    await writeFile(tenant, uuid);
    assert.is((await postCdr(ep.url, body, { uuid })).status, 200);
    // Recordings are never updated by the serving role: the schema owner ages this one.
    owner ??= h.database.ownerPool(1);
    await withTenant(owner, tenant, (db) =>
      db.query(
        `UPDATE call_recordings SET started_at = now() - make_interval(days => $1) - interval '1 minute',
          ended_at = now() - make_interval(days => $1) WHERE call_uuid = $2`,
        [daysAgo, uuid],
      ),
    );
    if (file !== 'file') await fs.unlink(fileOf(tenant, uuid));
    if (file === 'stuck') await fs.mkdir(fileOf(tenant, uuid));
    return uuid;
  };
  const old = await make(acme, 10, 'file');
  const oldNoFile = await make(acme, 10, 'none');
  const stuck = await make(acme, 10, 'stuck');
  const recent = await make(acme, 0, 'file');
  const globexOld = await make(globex, 400, 'file');
  const acmeBefore = (await recordingRows(acme)).length;

  const retention = createRecordingRetention({
    pool: h.pool,
    log: pino({ level: 'silent' }),
    registry: h.registry,
    recordingsDir: h.recordingsDir,
    intervalMs: 3_600_000,
    firstRunMs: 3_600_000,
    batchSize: 2, // several batches
  });
  try {
    const run = await retention.runOnce();
    // The demo seed's recording (November 2026, no file) is expired too.
    assert.equal(
      { deleted: run.deleted, fileMissing: run.fileMissing, failed: run.failed },
      {
        deleted: 1,
        fileMissing: 2,
        failed: 1,
      },
    );
    assert.not.ok(await exists(fileOf(acme, old)));
    assert.is((await recordingRows(acme, old)).length, 0);
    assert.is((await recordingRows(acme, oldNoFile)).length, 0);
    assert.is((await recordingRows(acme, stuck)).length, 1, 'not removable: kept, with its file');
    assert.is((await recordingRows(acme, recent)).length, 1);
    assert.ok(await exists(fileOf(acme, recent)));
    assert.is((await recordingRows(acme)).length, acmeBefore - 3);
    assert.is((await recordingRows(globex, globexOld)).length, 1, 'globex keeps recordings: no retention set');
    assert.ok(await exists(fileOf(globex, globexOld)));
    const audit = await h.inTenant(
      acme,
      async (db) =>
        (await db.query("SELECT actor, actor_role, summary FROM audit_logs WHERE action = 'recording.expire'")).rows,
    );
    assert.ok(audit.length >= 1);
    assert.ok(audit.every((a) => a.actor === 'fs-tenantd' && a.actor_role === 'system'));
    assert.ok(audit.flatMap((a) => a.summary.callUuids).includes(old));
    const expired = (outcome: string) => counterValue(h.registry, 'fs_tenantd_recordings_expired_total', { outcome });
    assert.equal([await expired('deleted'), await expired('file_missing'), await expired('failed')], [1, 2, 1]);

    // Fixed on disk: the next pass deletes it.
    await fs.rmdir(fileOf(acme, stuck));
    await writeFile(acme, stuck);
    const again = await retention.runOnce();
    assert.is(again.deleted, 1);
    assert.is(again.failed, 0);
    assert.is((await recordingRows(acme, stuck)).length, 0);
    assert.not.ok(await exists(fileOf(acme, stuck)));
  } finally {
    await retention.stop();
  }
});

test("orphan sweep: old unlinked files and deleted tenants' folders go; linked, recent, unknown names stay", async () => {
  const DAY = 86_400_000;
  const age = (p: string, days: number) => {
    const t = new Date(Date.now() - days * DAY);
    return fs.lutimes(p, t, t);
  };
  const file = async (tenant: string, uuid: string, days: number) => {
    const p = path.join(h.recordingsDir, tenant, `${uuid}.wav`);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, WAV);
    await age(p, days);
    return p;
  };
  // acme: a file whose call never reached the daemon (old: goes; recent: stays).
  const orphan = await file(acme, randomUUID(), 10);
  const young = await file(acme, randomUUID(), 1);
  // A call record without a recording row (a node without the link), and a linked recording: both stay.
  const recorded = cdrFor(acme);
  assert.is((await postCdr(ep.url, recorded.body, { uuid: recorded.uuid })).status, 200);
  const unlinked = await file(acme, recorded.uuid, 10);
  const linked = recordedCdr(acme);
  await writeFile(acme, linked.uuid);
  assert.is((await postCdr(ep.url, linked.body, { uuid: linked.uuid })).status, 200);
  await age(fileOf(acme, linked.uuid), 10);
  // globex's old file named for acme's call: acme's record is invisible in globex's context (RLS), so it goes.
  const foreign = await file(globex, recorded.uuid, 10);
  // Names the daemon never derives are left alone: another name, a symlink, a folder that is not a tenant id.
  const notes = path.join(h.recordingsDir, acme, 'notes.wav');
  await fs.writeFile(notes, 'x');
  await age(notes, 10);
  const link = path.join(h.recordingsDir, acme, `${randomUUID()}.wav`);
  await fs.symlink(orphan, link);
  await age(link, 10);
  const stray = path.join(h.recordingsDir, 'lost+found', `${randomUUID()}.wav`);
  await fs.mkdir(path.dirname(stray), { recursive: true });
  await fs.writeFile(stray, WAV);
  await age(stray, 10);
  // Deleted tenants: one folder quiet for the grace period (removed), one with a recent file (kept).
  const gone = randomUUID();
  const goneFile = await file(gone, randomUUID(), 10);
  await age(path.join(h.recordingsDir, gone), 10);
  const goneRecent = randomUUID();
  const goneRecentFile = await file(goneRecent, randomUUID(), 1);
  // An empty folder made lately (FreeSWITCH creating it for a call under way) is not removed either.
  const fresh = path.join(h.recordingsDir, randomUUID());
  await fs.mkdir(fresh);

  const retention = createRecordingRetention({
    pool: h.pool,
    log: pino({ level: 'silent' }),
    registry: h.registry,
    recordingsDir: h.recordingsDir,
    intervalMs: 3_600_000,
    firstRunMs: 3_600_000,
  });
  const orphans = (outcome: string) => counterValue(h.registry, 'fs_tenantd_recording_orphans_total', { outcome });
  try {
    const before = await orphans('file_deleted');
    const run = await retention.runOnce();
    assert.equal(run.orphans, { files: 3, tenantDirs: 1, failed: 0 });
    assert.is(await orphans('file_deleted'), before + 3);
    assert.is(await orphans('tenant_dir_removed'), 1);
    for (const p of [orphan, foreign, goneFile]) assert.not.ok(await exists(p), p);
    assert.not.ok(await exists(path.join(h.recordingsDir, gone)));
    for (const p of [young, unlinked, fileOf(acme, linked.uuid), notes, stray, goneRecentFile, fresh])
      assert.ok(await exists(p), p);
    assert.ok(await fs.lstat(link).then((st) => st.isSymbolicLink()));
    // The linked recording is intact and still downloadable; the records are untouched.
    assert.is((await recordingRows(acme, linked.uuid)).length, 1);
    assert.ok(await callIdOf(acme, recorded.uuid));
    // Nothing more to do on a second pass.
    assert.equal((await retention.runOnce()).orphans, { files: 0, tenantDirs: 0, failed: 0 });
  } finally {
    await retention.stop();
    await fs.rm(link, { force: true });
    await fs.rm(notes, { force: true });
    await fs.rm(path.dirname(stray), { recursive: true, force: true });
    await fs.rm(path.join(h.recordingsDir, goneRecent), { recursive: true, force: true });
    await fs.rm(fresh, { recursive: true, force: true });
  }
});

test('recording rules: CRUD through the API, checked, and in the snapshot only when enabled', async () => {
  const admin = await h.token('tenant_admin', 'acme');
  const [ext, theirExt] = await Promise.all(
    [acme, globex].map((t) =>
      h.inTenant(t, async (db) => (await db.query("SELECT id FROM extensions WHERE number = '1001'")).rows[0].id),
    ),
  );
  assert.is((await h.call('POST', '/api/recording-rules', { token: admin, body: { scope: 'extension' } })).status, 400);
  assert.is(
    (await h.call('POST', '/api/recording-rules', { token: admin, body: { scope: 'all', extensionId: ext } })).status,
    400,
  );
  const cross = await h.call('POST', '/api/recording-rules', {
    token: admin,
    body: { scope: 'extension', extensionId: theirExt },
  });
  assert.is(cross.status, 404, "another tenant's extension does not exist here");
  const made = await h.call('POST', '/api/recording-rules', {
    token: admin,
    body: { scope: 'extension', extensionId: ext },
  });
  assert.is(made.status, 201, made.text);
  const snap = await loadSnapshot(h.pool, acme);
  assert.ok(snap!.recordingRules!.some((r) => r.scope === 'extension' && r.extension === '1001'));
  // The demo's queue rule is disabled: not in the snapshot.
  assert.not.ok(snap!.recordingRules!.some((r) => r.scope === 'queue'));
  const off = await h.call('PATCH', `/api/recording-rules/${made.body.id}`, { token: admin, body: { enabled: false } });
  assert.is(off.status, 200);
  assert.not.ok((await loadSnapshot(h.pool, acme))!.recordingRules!.some((r) => r.scope === 'extension'));
  const toAll = await h.call('PATCH', `/api/recording-rules/${made.body.id}`, { token: admin, body: { scope: 'all' } });
  assert.is(toAll.status, 200, toAll.text);
  assert.is(toAll.body.extensionId, null, 'changing the scope clears what the old one named');
  assert.is((await h.call('DELETE', `/api/recording-rules/${made.body.id}`, { token: admin })).status, 204);
  assert.equal(
    (await loadSnapshot(h.pool, globex))!.recordingRules,
    [],
    "globex's snapshot never holds acme's rules (its own demo rule is disabled)",
  );
});

test.run();
