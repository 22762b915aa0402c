import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { callRecordFromHangup, isoTime, type CallRecord } from '../../daemon/calls/call-record.js';
import { CdrWriter } from '../../daemon/calls/cdr-writer.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { createRegistry } from '../../daemon/metrics.js';
import { dedicatedCluster, tenantIdOf } from '../helpers/postgres.js';
import { asEslEvent, fixtureCall } from './ledger-fixtures.js';
import { ESL_FIXTURES, streamEvents } from '../helpers/esl-server.js';
import { readdirSync } from 'node:fs';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let cluster: Awaited<ReturnType<typeof dedicatedCluster>>;
let pool: pg.Pool;
let acme: TenantId;
let spoolDir: string;

test.before(async () => {
  cluster = await dedicatedCluster();
  pool = cluster.database.appPool(4);
  await seedDemo(pool);
  acme = await tenantIdOf(pool, 'acme');
  spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-spool-'));
});

test.after(async () => {
  await cluster.destroy();
  await fs.rm(spoolDir, { recursive: true, force: true });
});

const record = (callUuid = randomUUID()): CallRecord => ({
  tenantId: acme,
  callUuid,
  node: 'fs1',
  direction: 'internal',
  caller: '1000',
  callee: '1001',
  createdAt: '2026-11-22T21:42:03.023Z',
  answeredAt: '2026-11-22T21:42:03.063Z',
  endedAt: '2026-11-22T21:42:05.083Z',
  durationS: 2,
  billsec: 2,
  hangupCause: 'NORMAL_CLEARING',
  queue: null,
});

const writer = (queueMax: number) =>
  new CdrWriter({ pool, log, registry: createRegistry(), spoolDir, queueMax, retry: { initialMs: 20, maxMs: 100 } });

async function stored(uuids: string[]): Promise<number> {
  return withTenant(
    pool,
    acme,
    async (db) =>
      (await db.query<{ n: string }>('SELECT count(*) AS n FROM call_records WHERE call_uuid = ANY($1)', [uuids]))
        .rows[0]!.n,
  ).then(Number);
}

/** Until the writer has nothing queued or spooled (it retries on its own). */
async function drained(w: CdrWriter): Promise<void> {
  for (;;) {
    await w.idle();
    const s = w.stats();
    if (!s.queued && !s.spoolBytes) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("duration and billsec from the Caller-Channel times equal FreeSWITCH's own variables on every captured hangup", () => {
  const hangups = readdirSync(ESL_FIXTURES)
    .filter((f) => f.startsWith('stream-'))
    .flatMap((file) =>
      streamEvents(file)
        .map(asEslEvent)
        .filter((e) => e.name === 'CHANNEL_HANGUP_COMPLETE')
        // A call sofia refuses by its ACL (403, CF_NO_CDR) is never timestamped: no duration, no tenant, no record (stream-6).
        .filter((e) => e.header('variable_duration') !== undefined)
        .map((e) => ({ file, e })),
    );
  assert.ok(hangups.length >= 8, `${hangups.length} captured hangups`);
  for (const { file, e } of hangups) {
    const r = callRecordFromHangup(
      { key: e.header('Unique-ID')!, tenantId: acme, tenantSlug: 'acme', direction: 'internal', node: 'fs1' },
      e,
    );
    const where = `${file} ${e.header('Unique-ID')}`;
    assert.is(r.durationS, Number(e.header('variable_duration')), `${where}: duration`);
    assert.is(r.billsec, Number(e.header('variable_billsec')), `${where}: billsec`);
    assert.is(r.hangupCause, e.header('variable_hangup_cause'), `${where}: cause`);
  }
});

test('isoTime is toISOString, over second boundaries, every millisecond width, before 1970 and after 9999', () => {
  const times = [
    0, 1, 9, 10, 99, 100, 999, 1000, 1001, -1, -999, -1000, -1001, 1795383723023, 1795383723000, 1795383723999,
    253402300799999, 253402300800000, -62135596800001, 1795383723023.7, -1.5, -0.5, 8.64e15, -8.64e15,
  ];
  for (let i = 0; i < 2000; i++)
    times.push(Math.floor(1795383700000 + i * 7.3), Math.floor((i - 1000) * 86_400_000 * 3.7));
  for (const ms of times) assert.is(isoTime(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoTime(8.64e15 + 1));
});

test("the captured hangup becomes one record with the capture's times", async () => {
  const hangup = fixtureCall()
    .map(asEslEvent)
    .filter((e) => e.name === 'CHANNEL_HANGUP_COMPLETE' && e.headers['Call-Direction'] === 'inbound')[0]!;
  const key = hangup.headers['Unique-ID']!;
  const r = callRecordFromHangup(
    { key, tenantId: acme, tenantSlug: 'acme', direction: 'internal', node: 'fs1' },
    hangup,
  );
  assert.equal(
    { ...r, tenantId: 'x' },
    {
      tenantId: 'x',
      callUuid: key,
      node: 'fs1',
      direction: 'internal',
      caller: '1000',
      callee: '1001',
      createdAt: new Date(1795383723023).toISOString(),
      answeredAt: new Date(1795383723063).toISOString(),
      endedAt: new Date(1795383725083).toISOString(),
      durationS: 2,
      billsec: 2,
      hangupCause: 'NORMAL_CLEARING',
      queue: null,
    },
  );
  const w = writer(100);
  await w.start();
  w.submit(r);
  w.submit(r); // a duplicate is harmless
  await drained(w);
  await w.stop();
  assert.is(await stored([key]), 1);
});

test('PostgreSQL restart: queue, then spool, then everything written once it is back', async () => {
  const w = writer(5);
  await w.start();
  await cluster.stop();
  const uuids = Array.from({ length: 40 }, () => randomUUID());
  for (const u of uuids) w.submit(record(u));
  await w.idle();
  const during = w.stats();
  assert.is(during.queued, 5, 'memory holds the bound');
  assert.ok(during.spoolBytes > 0, 'the rest is on disk');
  await cluster.restart();
  await drained(w);
  await w.stop();
  assert.is(await stored(uuids), 40);
});

test('daemon restart: a stopped writer spools its queue, a new one replays the spool at start-up', async () => {
  await cluster.stop();
  const first = writer(1000);
  await first.start();
  const uuids = Array.from({ length: 25 }, () => randomUUID());
  for (const u of uuids) first.submit(record(u));
  await first.idle();
  await first.stop();
  assert.is(first.stats().queued, 0);
  assert.ok(first.stats().spoolBytes > 0);
  await fs.appendFile(path.join(spoolDir, 'cdr.spool'), '{"tenantId":"trunc'); // a crash mid-append
  await cluster.restart();
  const second = writer(1000);
  await second.start();
  await drained(second);
  await second.stop();
  assert.is(await stored(uuids), 25);
  assert.equal(
    (await fs.readdir(spoolDir)).filter((n) => n.startsWith('cdr.spool')),
    [],
  );
});

test('a record PostgreSQL refuses is dropped and logged, the rest of its batch is written', async () => {
  const w = writer(100);
  await w.start();
  const good = randomUUID();
  w.submit({ ...record(), callUuid: 'x'.repeat(65) }); // violates the length CHECK
  w.submit(record(good));
  await drained(w);
  await w.stop();
  assert.is(await stored([good]), 1);
});

test.run();
