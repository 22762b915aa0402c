// POST /freeswitch/cdr against a real PostgreSQL (stopped and restarted in one case): 200 only with the row
// committed, one row per call however often it is posted, a clear 4xx for what can never be stored, 5xx while
// the database is away, and a tenant's record never visible to another tenant.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callRecordFromHangup } from '../../daemon/calls/call-record.js';
import { CdrWriter } from '../../daemon/calls/cdr-writer.js';
import { parseJsonCdr } from '../../daemon/calls/json-cdr.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { createRegistry } from '../../daemon/metrics.js';
import { projectRoot } from '../../daemon/paths.js';
import { dedicatedCluster, tenantIdOf } from '../helpers/postgres.js';
import { BASIC, cdrFixture, cdrFor, postCdr, startCdrEndpoint, type CdrEndpoint } from './harness.js';

let cluster: Awaited<ReturnType<typeof dedicatedCluster>>;
let pool: pg.Pool;
let ep: CdrEndpoint;
let acme: TenantId;
let globex: TenantId;

test.before(async () => {
  cluster = await dedicatedCluster();
  pool = cluster.database.appPool(4);
  await seedDemo(pool);
  acme = await tenantIdOf(pool, 'acme');
  globex = await tenantIdOf(pool, 'globex');
  ep = await startCdrEndpoint(pool);
});

test.after(async () => {
  await ep.close();
  await cluster.destroy();
});

type Row = Record<string, unknown>;
/** The rows of these call uuids that `tenant` can see (its own RLS context). */
async function rows(tenant: TenantId, uuids: string[]): Promise<Row[]> {
  return withTenant(
    pool,
    tenant,
    async (db) =>
      (
        await db.query(
          `SELECT tenant_id, call_uuid, node, direction, caller, callee,
    created_at, answered_at, ended_at, duration_s, billsec, hangup_cause, queue FROM call_records WHERE call_uuid = ANY($1)`,
          [uuids],
        )
      ).rows as Row[],
    { readOnly: true },
  );
}
const seen = async (uuids: string[]) => (await rows(acme, uuids)).length + (await rows(globex, uuids)).length;

test("an answered call is stored once, with FreeSWITCH's times, and only after that is the answer 200", async () => {
  const c = cdrFor(acme);
  const before = await ep.posts('written');
  const r = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.equal([r.status, r.text], [200, 'written']);
  const [row] = await rows(acme, [c.uuid]);
  assert.ok(row, 'the row is there when the 200 arrives');
  const iso = (k: string) => (row[k] as Date).toISOString();
  assert.equal(
    { ...row, created_at: iso('created_at'), answered_at: iso('answered_at'), ended_at: iso('ended_at') },
    {
      tenant_id: acme,
      call_uuid: c.uuid,
      node: 'fs1',
      direction: 'internal',
      caller: '1000',
      callee: '1001',
      created_at: '2026-12-02T03:25:41.957Z',
      answered_at: '2026-12-02T03:25:41.996Z',
      ended_at: '2026-12-02T03:25:44.236Z',
      duration_s: Number(c.doc.variables.duration),
      billsec: Number(c.doc.variables.billsec),
      hangup_cause: 'NORMAL_CLEARING',
      queue: null,
    },
  );
  assert.is(await ep.posts('written'), before + 1);
});

test('posted again, and five times at once: still one row, every answer 200', async () => {
  const c = cdrFor(acme);
  assert.is((await postCdr(ep.url, c.body, { uuid: c.uuid })).status, 200);
  const again = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.equal([again.status, again.text], [200, 'duplicate']);
  const d = cdrFor(globex);
  const burst = await Promise.all(Array.from({ length: 5 }, () => postCdr(ep.url, d.body, { uuid: d.uuid })));
  assert.equal(
    burst.map((b) => b.status),
    [200, 200, 200, 200, 200],
  );
  assert.equal(burst.map((b) => b.text).sort(), ['duplicate', 'duplicate', 'duplicate', 'duplicate', 'written']);
  assert.is((await rows(acme, [c.uuid])).length, 1);
  assert.is((await rows(globex, [d.uuid])).length, 1);
});

test('the ESL writer and mod_json_cdr recording one call leave one identical row, whichever comes first', async () => {
  const c = cdrFor(acme);
  const cdr = parseJsonCdr(c.body);
  // The ESL record of the same call (call-record.ts reads the same fields from the hangup event).
  const esl = callRecordFromHangup(
    { key: c.uuid, tenantId: acme, tenantSlug: 'acme', direction: 'internal', node: 'fs1' },
    cdr,
  );
  const spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-cdr-'));
  const w = new CdrWriter({ pool, log: pino({ level: 'silent' }), registry: createRegistry(), spoolDir, queueMax: 10 });
  await w.start();
  w.submit(esl);
  await w.idle();
  await w.stop();
  await fs.rm(spoolDir, { recursive: true, force: true });
  const first = await rows(acme, [c.uuid]);
  const r = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.equal([r.status, r.text], [200, 'duplicate']);
  assert.equal(await rows(acme, [c.uuid]), first);
  // And the other way round: the JSON row first, then the ESL insert a no-op; the ESL record equals that row.
  const d = cdrFor(acme);
  assert.is((await postCdr(ep.url, d.body, { uuid: d.uuid })).text, 'written');
  const e = callRecordFromHangup(
    { key: d.uuid, tenantId: acme, tenantSlug: 'acme', direction: 'internal', node: 'fs1' },
    parseJsonCdr(d.body),
  );
  const [row] = await rows(acme, [d.uuid]);
  assert.equal(row, {
    tenant_id: e.tenantId,
    call_uuid: e.callUuid,
    node: e.node,
    direction: e.direction,
    caller: e.caller,
    callee: e.callee,
    created_at: new Date(e.createdAt),
    answered_at: new Date(e.answeredAt!),
    ended_at: new Date(e.endedAt),
    duration_s: e.durationS,
    billsec: e.billsec,
    hangup_cause: e.hangupCause,
    queue: e.queue,
  });
});

test("a call without the daemon's tenant variable: 200, counted unattributed, no row", async () => {
  const c = cdrFor(null);
  const before = await ep.posts('unattributed');
  const r = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.equal([r.status, r.text], [200, 'unattributed']);
  assert.is(await ep.posts('unattributed'), before + 1);
  assert.is(await seen([c.uuid]), 0);
});

test('a tenant id that does not exist: 422 (FreeSWITCH keeps the file), no row', async () => {
  const c = cdrFor(randomUUID());
  const r = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.is(r.status, 422);
  assert.match(r.text, /does not exist/);
  assert.is(await ep.posts('unknown_tenant'), 1);
  assert.is(await seen([c.uuid]), 0);
});

test("RLS: acme's record is invisible in globex's context and the other way round", async () => {
  const a = cdrFor(acme);
  const g = cdrFor(globex);
  for (const c of [a, g]) assert.is((await postCdr(ep.url, c.body, { uuid: c.uuid })).status, 200);
  assert.equal(
    (await rows(acme, [a.uuid, g.uuid])).map((r) => r.call_uuid),
    [a.uuid],
  );
  assert.equal(
    (await rows(globex, [a.uuid, g.uuid])).map((r) => r.call_uuid),
    [g.uuid],
  );
  // No context at all sees nothing (fail closed).
  const bare = await pool.query('SELECT count(*)::int AS n FROM call_records WHERE call_uuid = ANY($1)', [
    [a.uuid, g.uuid],
  ]);
  assert.is(bare.rows[0].n, 0);
});

test("mod_json_cdr's bodies: raw JSON, `encode` (cdr=<url-encoded>), raw JSON that lost its Content-Type", async () => {
  const form = cdrFor(acme);
  // FreeSWITCH's switch_url_encode: every unsafe byte as %XX.
  const encoded = Buffer.from(form.body)
    .toString('latin1')
    .replace(/[^A-Za-z0-9\-_.!~*'()/,]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  const r1 = await postCdr(ep.url, `cdr=${encoded}`, { uuid: form.uuid, type: 'application/x-www-form-urlencoded' });
  assert.equal([r1.status, r1.text], [200, 'written']);
  // disable-100-continue replaces the header list: the raw JSON arrives labelled as a form (seen on FreeSWITCH 1.11).
  const quirk = cdrFor(acme, undefined, 'values-encoded-acme-1000-to-1001.cdr.json');
  const r2 = await postCdr(ep.url, quirk.body, { uuid: quirk.uuid, type: 'application/x-www-form-urlencoded' });
  assert.equal([r2.status, r2.text], [200, 'written']);
  assert.equal(
    (await rows(acme, [form.uuid, quirk.uuid])).map((r) => r.caller),
    ['1000', '1000'],
  );
});

test('without or with wrong credentials: 401; from outside the allow-list: 403; nothing stored, counted', async () => {
  const c = cdrFor(acme);
  const before = await ep.posts('unauthorized');
  const none = await postCdr(ep.url, c.body, { uuid: c.uuid, auth: null });
  assert.is(none.status, 401);
  assert.is(none.headers.get('www-authenticate'), 'Basic realm="fs-tenantd"');
  const wrongAuth = `Basic ${Buffer.from('freeswitch:nope-nope').toString('base64')}`;
  const wrong = await postCdr(ep.url, c.body, { uuid: c.uuid, auth: wrongAuth });
  assert.is(wrong.status, 401);
  const fenced = await startCdrEndpoint(pool, { allowFrom: ['10.0.0.0/8'] });
  try {
    assert.is((await postCdr(fenced.url, c.body, { uuid: c.uuid })).status, 403);
    assert.is(await fenced.posts('unauthorized'), 1);
  } finally {
    await fenced.close();
  }
  assert.is(await ep.posts('unauthorized'), before + 2);
  assert.is(await seen([c.uuid]), 0);
});

test('bad input: a clear 4xx naming the problem, logged and counted, nothing stored', async () => {
  const c = cdrFor(acme);
  const small = await startCdrEndpoint(pool, { bodyLimitBytes: 4096 });
  const before = await ep.posts('bad_request');
  try {
    const cases: Array<[Promise<{ status: number; text: string }>, number, RegExp]> = [
      [postCdr(ep.url, c.body.slice(0, 3000), { uuid: c.uuid }), 400, /not JSON/],
      [postCdr(ep.url, '{"hello":"world"}'), 400, /not a mod_json_cdr record/],
      [postCdr(ep.url, c.body, { uuid: randomUUID() }), 400, /in the url is not the record's/],
      [postCdr(ep.url, 'cdr=%7B%22a', { type: 'application/x-www-form-urlencoded' }), 400, /not JSON/],
      [postCdr(ep.url, 'nothing=here', { type: 'application/x-www-form-urlencoded' }), 400, /"cdr" field/],
      [postCdr(ep.url, c.body, { type: 'text/plain' }), 415, /Unsupported Media Type/i],
      [
        postCdr(ep.url, `cdr=${Buffer.from(c.body).toString('base64')}`, {
          type: 'application/x-www-form-base64-encoded',
        }),
        415,
        /./,
      ],
      [postCdr(small.url, c.body, { uuid: c.uuid }), 413, /too large/i],
    ];
    for (const [p, status, why] of cases) {
      const r = await p;
      assert.is(r.status, status, r.text);
      assert.match(r.text, why);
    }
    const empty = await fetch(ep.url, { method: 'POST', headers: { authorization: BASIC } });
    assert.is(empty.status, 415);
  } finally {
    await small.close();
  }
  assert.is(await ep.posts('bad_request'), before + 8);
  assert.is(await seen([c.uuid]), 0);
});

test('PostgreSQL down: 503, no row (FreeSWITCH retries, then keeps the file); back up: the same post stores it', async () => {
  const c = cdrFor(acme);
  await cluster.stop();
  try {
    const r = await postCdr(ep.url, c.body, { uuid: c.uuid });
    assert.is(r.status, 503);
    assert.is(await ep.posts('error'), 1);
  } finally {
    await cluster.restart();
  }
  assert.is(await seen([c.uuid]), 0);
  const again = await postCdr(ep.url, c.body, { uuid: c.uuid });
  assert.equal([again.status, again.text], [200, 'written']);
  assert.is((await rows(acme, [c.uuid])).length, 1);
});

test('cdr-replay, twice at once over one err-log-dir: every call stored once, every file gone, both exit 0', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-errdir-'));
  const calls = [cdrFor(acme), cdrFor(globex), cdrFor(acme), cdrFor(null)];
  // As backup_cdr writes them: the body and a newline, named <uuid>.cdr.json.
  for (const c of calls) await fs.writeFile(path.join(dir, `${c.uuid}.cdr.json`), `${c.body}\n`);
  await fs.writeFile(path.join(dir, 'notes.txt'), 'not a record');
  const run = () =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [path.join(projectRoot, 'dist/daemon/cli/cdr-replay.js'), '--dir', dir, '--url', ep.url, '--min-age-s', '0'],
        { env: { PATH: process.env.PATH ?? '', FS_TENANTD_XMLCURL_PASSWORD: 'demo-xmlcurl' } },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.on('exit', (code) => resolve({ code, out }));
    });
  try {
    const [a, b] = await Promise.all([run(), run()]);
    assert.is(a.code, 0, a.out);
    assert.is(b.code, 0, b.out);
    assert.equal(await fs.readdir(dir), ['notes.txt']);
    assert.is(
      (
        await rows(
          acme,
          calls.map((c) => c.uuid),
        )
      ).length,
      2,
    );
    assert.is(
      (
        await rows(
          globex,
          calls.map((c) => c.uuid),
        )
      ).length,
      1,
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the spooled file FreeSWITCH really wrote replays as the record it could not post', async () => {
  const text = cdrFixture('err-log-dir/796b13a7-96fe-4f26-a880-0cc8c1d4d9a6.cdr.json').replace(
    /"fs_tenant_id":"[^"]*"/,
    `"fs_tenant_id":"${globex}"`,
  );
  const r = await postCdr(ep.url, text, { uuid: '796b13a7-96fe-4f26-a880-0cc8c1d4d9a6' });
  assert.equal([r.status, r.text], [200, 'written']);
  const [row] = await rows(globex, ['796b13a7-96fe-4f26-a880-0cc8c1d4d9a6']);
  assert.equal([row?.caller, row?.callee, row?.hangup_cause], ['1002', '1003', 'NORMAL_CLEARING']);
});

test.run();
