// Music on hold through the admin API: streams, WAV uploads checked for format and
// size, files on disk at <dir>/<tenant id>/<stream id>/<name> with a row each (and
// never one without the other), another tenant's stream a 404, queues that may
// only name the tenant's own streams or the stock ones.
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pcmWav } from '../../daemon/moh/wav.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { counterValue, startApi, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let acme: TenantId;
let acmeToken: string;
let globexToken: string;

test.before(async () => {
  h = await startApi();
  acme = h.tenants.acme;
  acmeToken = await h.token('tenant_admin', 'acme');
  globexToken = await h.token('tenant_admin', 'globex');
});
test.after(async () => {
  await h.close();
});

const upload = (token: string, stream: string, name: string, body: Buffer | string, type = 'audio/wav') =>
  h.app.inject({
    method: 'PUT',
    url: `/api/moh-streams/${stream}/files/${name}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    payload: body,
  });
const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );
const fileRows = async (stream: string) =>
  h.inTenant(
    acme,
    async (db) => (await db.query('SELECT name FROM moh_stream_files WHERE stream_id = $1', [stream])).rows,
  );
const tmpFiles = async () => fs.readdir(path.join(h.mohDir, '.tmp')).catch(() => [] as string[]);

async function newStream(token: string, name: string): Promise<string> {
  const r = await h.call('POST', '/api/moh-streams', { token, body: { name } });
  assert.is(r.status, 201, r.text);
  return r.body.id;
}

test('a valid WAV lands in the stream folder with its row; a second upload of the name replaces it', async () => {
  const id = await newStream(acmeToken, 'waiting');
  const wav = pcmWav(8000, 8000, 100);
  const r = await upload(acmeToken, id, 'tune.wav', wav);
  assert.is(r.statusCode, 200, r.body);
  const body = r.json();
  assert.equal([body.name, body.sizeBytes, body.sampleRate, body.durationMs], ['tune.wav', wav.length, 8000, 1000]);
  const file = path.join(h.mohDir, acme, id, 'tune.wav');
  assert.equal(await fs.readFile(file), wav);
  const wide = pcmWav(48000, 4800);
  assert.is((await upload(acmeToken, id, 'tune.wav', wide)).statusCode, 200);
  assert.equal(await fs.readFile(file), wide);
  const list = await h.call('GET', `/api/moh-streams/${id}/files`, { token: acmeToken });
  assert.equal(
    list.body.items.map((f: { name: string; sampleRate: number }) => [f.name, f.sampleRate]),
    [['tune.wav', 48000]],
  );
  assert.equal(await tmpFiles(), []);
});

test('anything but PCM 16-bit mono at 8/16/48 kHz is a 400 naming the field; no row, no file', async () => {
  const id = await newStream(acmeToken, 'checked');
  const stereo = pcmWav(8000, 100);
  stereo.writeUInt16LE(2, 22);
  const cd = pcmWav(44100, 100);
  const eight = pcmWav(8000, 100);
  eight.writeUInt16LE(8, 34);
  const alaw = pcmWav(8000, 100);
  alaw.writeUInt16LE(6, 20);
  const truncated = pcmWav(8000, 100).subarray(0, 60);
  const cases: Array<[Buffer | string, RegExp, string?]> = [
    [stereo, /^body: 2 channels/],
    [cd, /^body: sample rate 44100 Hz/],
    [eight, /^body: 8-bit/],
    [alaw, /^body: audio format 6 is not PCM/],
    [truncated, /^body: the data chunk is truncated/],
    [Buffer.from('ID3 not a wav at all'), /^body: not a WAV file/],
    [pcmWav(8000, 0), /^body: no audio/],
    ['{"file":"x"}', /^body: must be the WAV file itself/, 'application/json'],
  ];
  const before = await counterValue(h.registry, 'fs_tenantd_moh_file_requests_total', {
    action: 'upload',
    outcome: 'invalid',
  });
  for (const [body, why, type] of cases) {
    const r = await upload(acmeToken, id, 'bad.wav', body, type);
    assert.is(r.statusCode, 400, r.body);
    assert.match(r.json().message, why);
  }
  assert.is(
    await counterValue(h.registry, 'fs_tenantd_moh_file_requests_total', { action: 'upload', outcome: 'invalid' }),
    before + cases.length,
  );
  for (const name of ['../etc.wav', '.hidden.wav', 'x.mp3', 'UPPER.wav']) {
    const r = await upload(acmeToken, id, encodeURIComponent(name), pcmWav(8000, 10));
    assert.is(r.statusCode, 400, `${name}: ${r.body}`);
    assert.match(r.json().message, /^name: /);
  }
  // Larger than FS_TENANTD_MOH_MAX_FILE_BYTES (256 KiB in the harness).
  assert.is((await upload(acmeToken, id, 'big.wav', pcmWav(16000, 200_000))).statusCode, 413);
  assert.equal(await fileRows(id), []);
  assert.equal(await fs.readdir(path.join(h.mohDir, acme, id)).catch(() => []), []);
  assert.equal(await tmpFiles(), []);
});

test("another tenant's stream is a 404 for listing, upload and delete, and nothing of it changes", async () => {
  const id = await newStream(acmeToken, 'private');
  assert.is((await upload(acmeToken, id, 'mine.wav', pcmWav(16000, 1600))).statusCode, 200);
  const file = path.join(h.mohDir, acme, id, 'mine.wav');
  const before = await fs.readFile(file);
  assert.is((await h.call('GET', `/api/moh-streams/${id}/files`, { token: globexToken })).status, 404);
  assert.is((await upload(globexToken, id, 'mine.wav', pcmWav(8000, 10))).statusCode, 404);
  assert.is((await upload(globexToken, id, 'new.wav', pcmWav(8000, 10))).statusCode, 404);
  assert.is((await h.call('DELETE', `/api/moh-streams/${id}/files/mine.wav`, { token: globexToken })).status, 404);
  assert.is(
    (await h.call('PATCH', `/api/moh-streams/${id}`, { token: globexToken, body: { isDefault: true } })).status,
    404,
  );
  assert.equal(await fs.readFile(file), before);
  assert.equal(await fileRows(id), [{ name: 'mine.wav' }]);
  assert.not.ok(await exists(path.join(h.mohDir, h.tenants.globex, id)), 'no folder made for the other tenant');
});

test('delete: file and row go; a stream with files cannot be deleted until they are', async () => {
  const id = await newStream(acmeToken, 'short-lived');
  assert.is((await upload(acmeToken, id, 'a.wav', pcmWav(8000, 80))).statusCode, 200);
  const del = (url: string) => h.call('DELETE', url, { token: acmeToken });
  assert.is((await del(`/api/moh-streams/${id}`)).status, 409);
  assert.is((await del(`/api/moh-streams/${id}/files/a.wav`)).status, 204);
  assert.not.ok(await exists(path.join(h.mohDir, acme, id, 'a.wav')));
  assert.equal(await fileRows(id), []);
  assert.is((await del(`/api/moh-streams/${id}/files/a.wav`)).status, 404);
  // A row whose file vanished outside the daemon: the delete still clears the row.
  assert.is((await upload(acmeToken, id, 'b.wav', pcmWav(8000, 80))).statusCode, 200);
  await fs.rm(path.join(h.mohDir, acme, id, 'b.wav'));
  assert.is((await del(`/api/moh-streams/${id}/files/b.wav`)).status, 204);
  assert.is((await del(`/api/moh-streams/${id}`)).status, 204);
});

test('a file that cannot be put in place is a 500 naming the problem; no row and no temporary file stay', async () => {
  const id = await newStream(acmeToken, 'broken-disk');
  // The target is a directory: rename(2) fails (EISDIR), as a full or read-only disk would fail the write.
  await fs.mkdir(path.join(h.mohDir, acme, id, 'blocked.wav'), { recursive: true });
  const r = await upload(acmeToken, id, 'blocked.wav', pcmWav(8000, 80));
  assert.is(r.statusCode, 500, r.body);
  assert.is(r.json().error, 'storage_error');
  assert.match(r.json().message, /cannot move the file into the stream folder/);
  assert.equal(await fileRows(id), []);
  assert.equal(await tmpFiles(), []);
});

test('a full disk is a 507 storage_full: no new row, the old file and row kept, no partial file left', async () => {
  const id = await newStream(acmeToken, 'full-disk');
  const old = pcmWav(8000, 80);
  assert.is((await upload(acmeToken, id, 'kept.wav', old)).statusCode, 200);
  const rowsBefore = await h.inTenant(
    acme,
    async (db) => (await db.query('SELECT * FROM moh_stream_files WHERE stream_id = $1 ORDER BY name', [id])).rows,
  );
  const full = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const write = h.mohDisk.writeFile;
  // As write(2) on a full disk: part of the body lands in the temporary file, then ENOSPC.
  h.mohDisk.writeFile = async (file, data) => {
    await write(file, data.subarray(0, data.length >> 1));
    throw full();
  };
  const before = await counterValue(h.registry, 'fs_tenantd_moh_file_requests_total', {
    action: 'upload',
    outcome: 'disk_full',
  });
  try {
    for (const name of ['new.wav', 'kept.wav']) {
      const r = await upload(acmeToken, id, name, pcmWav(16000, 160));
      assert.is(r.statusCode, 507, r.body);
      assert.equal(
        [r.json().error, r.json().message],
        ['storage_full', 'cannot write the file: no space left on the device'],
      );
    }
  } finally {
    h.mohDisk.writeFile = write;
  }
  assert.is(
    await counterValue(h.registry, 'fs_tenantd_moh_file_requests_total', { action: 'upload', outcome: 'disk_full' }),
    before + 2,
  );
  const rowsAfter = await h.inTenant(
    acme,
    async (db) => (await db.query('SELECT * FROM moh_stream_files WHERE stream_id = $1 ORDER BY name', [id])).rows,
  );
  assert.equal(rowsAfter, rowsBefore, 'no row added or changed');
  assert.equal(await fs.readdir(path.join(h.mohDir, acme, id)), ['kept.wav']);
  assert.ok((await fs.readFile(path.join(h.mohDir, acme, id, 'kept.wav'))).equals(old), 'the old file untouched');
  assert.equal(await tmpFiles(), [], 'no partial temporary file');
  // A disk that fills up while the file is moved into place (another filesystem's rename): the same answer.
  const rename = h.mohDisk.rename;
  h.mohDisk.rename = async () => {
    throw full();
  };
  try {
    const r = await upload(acmeToken, id, 'late.wav', pcmWav(8000, 80));
    assert.is(r.statusCode, 507, r.body);
    assert.match(r.json().message, /cannot move the file into the stream folder: no space left on the device/);
  } finally {
    h.mohDisk.rename = rename;
  }
  assert.equal(
    (await fileRows(id)).map((r) => r.name),
    ['kept.wav'],
  );
  assert.equal(await tmpFiles(), []);
  // The disk has room again: the upload works.
  assert.is((await upload(acmeToken, id, 'new.wav', pcmWav(8000, 80))).statusCode, 200);
});

test('one default stream per tenant: choosing another unsets the old', async () => {
  const a = await newStream(acmeToken, 'first');
  const b = await newStream(acmeToken, 'second');
  const patch = (id: string) =>
    h.call('PATCH', `/api/moh-streams/${id}`, { token: acmeToken, body: { isDefault: true } });
  assert.is((await patch(a)).status, 200);
  assert.is((await patch(b)).status, 200);
  const defaults = await h.inTenant(
    acme,
    async (db) => (await db.query('SELECT id FROM moh_streams WHERE is_default')).rows,
  );
  assert.equal(defaults, [{ id: b }]);
  for (const reserved of ['moh', 'default']) {
    const r = await h.call('POST', '/api/moh-streams', { token: acmeToken, body: { name: reserved } });
    assert.is(r.status, 400, reserved);
  }
});

test("queues: moh-sound names the tenant's own stream or a stock one, never another tenant's", async () => {
  await newStream(acmeToken, 'queue-tune');
  await newStream(globexToken, 'globex-only');
  const queue = (await h.call('GET', '/api/queues', { token: acmeToken })).body.items[0].id;
  const set = (mohSound: string) => h.call('PATCH', `/api/queues/${queue}`, { token: acmeToken, body: { mohSound } });
  for (const ok of ['local_stream://queue-tune', 'local_stream://moh', 'local_stream://default', 'silence_stream://-1'])
    assert.is((await set(ok)).status, 200, ok);
  for (const bad of ['local_stream://globex-only', 'local_stream://nope']) {
    const r = await set(bad);
    assert.is(r.status, 400, bad);
    assert.match(r.body.message, /^mohSound: /);
  }
  // Editing something else keeps working after the stream is gone (the renderer falls back to the hold music).
  assert.is(
    (await h.call('PATCH', `/api/queues/${queue}`, { token: acmeToken, body: { maxWaitTime: 9 } })).status,
    200,
  );
});

test.run();
