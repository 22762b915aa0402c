import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { migrate } from '../../daemon/db/migrate.js';
import { withReseller, withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { databaseBefore, freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  addSums,
  createAccount,
  expectedSums,
  insertBatch,
  insertOne,
  insertWhileHeld,
  makeRecords,
  type Rec,
  type Sums,
  sumsOf,
} from '../helpers/usage.js';

interface Ctx {
  db: TestDatabase;
  app: pg.Pool;
  t: Record<'r1' | 'c1' | 'c2' | 's1' | 'd1' | 'r2' | 'c3', TenantId>;
  recs: Rec[];
}
const test = suite<Ctx>('usage roll-up');

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.app = ctx.db.appPool(6);
  const r1 = await createAccount(ctx.app, 'r1', { reseller: true });
  const r2 = await createAccount(ctx.app, 'r2', { reseller: true });
  const s1 = await createAccount(ctx.app, 's1', { parent: r1, reseller: true });
  ctx.t = {
    r1,
    c1: await createAccount(ctx.app, 'c1', { parent: r1 }),
    c2: await createAccount(ctx.app, 'c2', { parent: r1 }),
    s1,
    d1: await createAccount(ctx.app, 'd1', { parent: s1 }),
    r2,
    c3: await createAccount(ctx.app, 'c3', { parent: r2 }),
  };
  ctx.recs = makeRecords(Object.values(ctx.t), { n: 420, dupes: 60, firstDay: '2026-11-28', days: 6, seed: 17 });
  const originals = ctx.recs.slice(0, 420);
  const dupes = ctx.recs.slice(420);
  // Originals: multi-tenant batches (a few identical records twice in one batch), concurrently, and single rows.
  const batches: Rec[][] = [];
  for (let i = 0; i < 300; i += 50) batches.push(originals.slice(i, i + 50));
  batches[0]!.push(...originals.slice(0, 5));
  const stored = await Promise.all(batches.map((b) => insertBatch(ctx.app, b)));
  assert.is(
    stored.reduce((a, b) => a + b, 0),
    300,
  );
  const single = await Promise.all(originals.slice(300).map((x) => insertOne(ctx.app, x)));
  assert.ok(single.every(Boolean));
  // Then the duplicates, other numbers under the same uuids, through both paths: none is stored.
  assert.is(await insertBatch(ctx.app, dupes.slice(0, 30)), 0);
  for (const x of dupes.slice(30)) assert.is(await insertOne(ctx.app, x), false);
  // And every original replayed as one more batch (a spool replay).
  assert.is(await insertBatch(ctx.app, originals), 0);
});

test.after(async (ctx) => {
  await ctx.db.drop();
});

const ids = (ctx: Ctx, ...names: Array<keyof Ctx['t']>) => names.map((n) => ctx.t[n]);

test('usage_daily equals the call records, per account, UTC day and direction (duplicates counted once)', async (ctx) => {
  let rows = 0;
  for (const [name, id] of Object.entries(ctx.t)) {
    const truth = await sumsOf(ctx.app, id, 'call_records');
    assert.ok(Object.keys(truth).length >= 10, `${name} has records on several days and directions`);
    assert.equal(await sumsOf(ctx.app, id, 'usage_daily'), truth, `${name}: roll-up = GROUP BY`);
    assert.equal(truth, expectedSums(ctx.recs, id), `${name}: the first record of each uuid, nothing else`);
    rows += Object.values(truth).reduce((a, v) => a + v[0], 0);
  }
  assert.is(rows, 420);
});

test('concurrent batches over the same accounts, days and directions neither deadlock nor lose a call', async (ctx) => {
  // Every batch holds every account's rows for one hot day, in a different order: the roll-up's row locks are
  // taken per account in id order, then by day and direction, whatever order the batch lists them in.
  const accounts = [...Object.values(ctx.t)];
  for (let i = 0; i < 60; i++) accounts.push(await createAccount(ctx.app, `hot${i}`));
  const before = await Promise.all(accounts.map((id) => sumsOf(ctx.app, id, 'usage_daily')));
  const batches = Array.from({ length: 24 }, (_, i) => {
    // Batches of different sizes over different sets of accounts (a hash aggregate's order differs with them).
    const some = accounts.filter((_, j) => j % ((i % 5) + 1) === 0 || j === i % accounts.length);
    const recs = makeRecords(some, { n: 20 + ((i * 37) % 300), dupes: 0, firstDay: '2026-12-24', days: 1, seed: i });
    return i % 2 ? recs.reverse() : recs;
  });
  const stored = await Promise.all(batches.map((b) => insertBatch(ctx.app, b)));
  assert.is(
    stored.reduce((a, b) => a + b, 0),
    batches.flat().length,
  );
  for (const [i, id] of accounts.entries()) {
    assert.equal(await sumsOf(ctx.app, id, 'usage_daily'), await sumsOf(ctx.app, id, 'call_records'));
    const added = await sumsOf(ctx.app, id, 'usage_daily', '2026-12-24', '2026-12-25');
    assert.equal(added, expectedSums(batches.flat(), id));
    assert.equal(await sumsOf(ctx.app, id, 'usage_daily', '1970-01-01', '2026-12-23'), before[i]);
  }
});

test('a write while another holds the row takes a second row of the group; the sums stay exact', async (ctx) => {
  const [x, y] = makeRecords([ctx.t.c2], { n: 2, dupes: 0, firstDay: '2027-01-05', days: 1, seed: 9 });
  y!.direction = x!.direction;
  await insertWhileHeld(ctx.app, x!, y!);
  const rows = await withTenant(ctx.app, ctx.t.c2, async (db) =>
    (await db.query("SELECT shard FROM usage_daily WHERE day = '2027-01-05'")).rows.map((r) => r.shard),
  );
  assert.is(rows.length, 2, 'two rows for one day and direction');
  assert.equal(await sumsOf(ctx.app, ctx.t.c2, 'usage_daily'), await sumsOf(ctx.app, ctx.t.c2, 'call_records'));
});

test('the day is the UTC date of the start, whatever the session time zone', async (ctx) => {
  const edge = await createAccount(ctx.app, 'edge');
  const at = (iso: string, uuid: string): Rec => ({
    tenant: edge,
    callUuid: uuid,
    direction: 'inbound',
    created: new Date(iso),
    answered: null,
    ended: new Date(iso),
    durationS: 0,
    billsec: 0,
  });
  // UTC+14: a created_at::date in the session's zone would put both calls on 2026-12-01.
  for (const x of [at('2026-11-30T23:59:59.500Z', 'edge-1'), at('2026-12-01T00:00:00.000Z', 'edge-2')])
    await withTenant(ctx.app, edge, async (db) => {
      await db.query("SELECT set_config('TimeZone', 'Pacific/Kiritimati', true)");
      await db.query(
        `INSERT INTO call_records (tenant_id, call_uuid, node, direction, created_at, ended_at, duration_s, billsec,
          hangup_cause) VALUES ($1, $2, 'fs1', 'inbound', $3, $3, 0, 0, 'NO_ANSWER')`,
        [edge, x.callUuid, x.created],
      );
    });
  assert.equal(await sumsOf(ctx.app, edge, 'usage_daily'), {
    '2026-11-30|inbound': [1, 0, 0, 0, 0],
    '2026-12-01|inbound': [1, 0, 0, 0, 0],
  });
});

test("a reseller's tree context reads its subtree's rows only; a customer its own", async (ctx) => {
  const seen = async (root: TenantId) =>
    withReseller(ctx.app, root, async ({ db }) => {
      const tenants = (await db.query('SELECT DISTINCT tenant_id AS t FROM usage_daily ORDER BY 1')).rows.map(
        (r) => r.t,
      );
      const { rows } = await db.query(
        `SELECT day::text || '|' || direction AS k, sum(calls)::float8 AS c, sum(answered)::float8 AS a,
          sum(billsec)::float8 AS b, sum(billed_minutes)::float8 AS m, sum(duration_s)::float8 AS d
        FROM usage_daily GROUP BY 1`,
      );
      return { tenants, sums: Object.fromEntries(rows.map((x) => [x.k, [x.c, x.a, x.b, x.m, x.d]])) as Sums };
    });
  const truth = async (...names: Array<keyof Ctx['t']>) =>
    addSums(...(await Promise.all(ids(ctx, ...names).map((id) => sumsOf(ctx.app, id, 'call_records')))));
  const sorted = (...names: Array<keyof Ctx['t']>) => ids(ctx, ...names).sort();

  const r1 = await seen(ctx.t.r1);
  assert.equal(r1.tenants, sorted('r1', 'c1', 'c2', 's1', 'd1'));
  assert.equal(r1.sums, await truth('r1', 'c1', 'c2', 's1', 'd1'));
  const s1 = await seen(ctx.t.s1);
  assert.equal(s1.tenants, sorted('s1', 'd1'));
  assert.equal(s1.sums, await truth('s1', 'd1'));
  const r2 = await seen(ctx.t.r2);
  assert.equal(r2.tenants, sorted('r2', 'c3'));
  assert.equal(r2.sums, await truth('r2', 'c3'));
  // A customer as a "tree" is itself; in its own tenant context, itself.
  assert.equal((await seen(ctx.t.c1)).tenants, [ctx.t.c1]);
  const own = await withTenant(ctx.app, ctx.t.c1, async (db) =>
    (await db.query('SELECT DISTINCT tenant_id AS t FROM usage_daily')).rows.map((r) => r.t),
  );
  assert.equal(own, [ctx.t.c1]);
  // Asking for another tree's rows by id finds nothing.
  await withReseller(ctx.app, ctx.t.r1, async ({ db }) => {
    const n = (
      await db.query('SELECT count(*)::int AS n FROM usage_daily WHERE tenant_id = ANY($1)', [ids(ctx, 'r2', 'c3')])
    ).rows[0].n;
    assert.is(n, 0);
  });
});

test('entering an account from a tree: one of its own shows that account, another tree nothing', async (ctx) => {
  const count = (db: pg.PoolClient) =>
    db.query('SELECT count(DISTINCT tenant_id)::int AS n, min(tenant_id::text) AS t FROM usage_daily');
  await withReseller(ctx.app, ctx.t.r1, async (tx) => {
    await tx.enter(ctx.t.d1);
    assert.equal((await count(tx.db)).rows[0], { n: 1, t: ctx.t.d1 });
    await tx.enter(ctx.t.c3);
    assert.equal((await count(tx.db)).rows[0], { n: 0, t: null });
  });
});

test('no context reads nothing; the serving role cannot write usage_daily at all, even its own rows', async (ctx) => {
  assert.is((await ctx.app.query('SELECT count(*)::int AS n FROM usage_daily')).rows[0].n, 0);
  for (const stmt of [
    "INSERT INTO usage_daily VALUES ($1, '2026-11-28', 'inbound', 1, 1, 60, 1, 60)",
    'UPDATE usage_daily SET calls = calls + 1 WHERE tenant_id = $1',
    'DELETE FROM usage_daily WHERE tenant_id = $1',
  ]) {
    const err = await withTenant(ctx.app, ctx.t.c1, (db) => db.query(stmt, [ctx.t.c1])).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.is(err?.code, '42501', stmt);
    assert.match(err!.message, /permission denied/);
  }
  const fns = (
    await ctx.app.query(
      `SELECT proname, prosecdef, has_function_privilege(oid, 'EXECUTE') AS may FROM pg_proc
      WHERE proname IN ('roll_up_call_records', 'rebuild_usage_daily') ORDER BY 1`,
    )
  ).rows;
  assert.equal(fns, [
    { proname: 'rebuild_usage_daily', prosecdef: false, may: false },
    { proname: 'roll_up_call_records', prosecdef: true, may: false },
  ]);
});

test('the trigger writes only under the context the records were inserted in (RLS judges the definer too)', async (ctx) => {
  // The schema owner (the trigger's definer) is subject to FORCE ROW LEVEL SECURITY: without a context it may not
  // insert a call record (call_records' policy), and a usage row written in another tenant's context is refused.
  const owner = ctx.db.ownerPool(1);
  const c = await owner.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT set_config('app.current_tenant', $1, true)", [ctx.t.c1]);
    const err = await c
      .query(
        `INSERT INTO usage_daily VALUES ($1, '2026-11-28', 'inbound', 1, 1, 60, 1, 60)
        ON CONFLICT (tenant_id, day, direction, shard) DO UPDATE SET calls = usage_daily.calls + 1`,
        [ctx.t.c3],
      )
      .then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
    assert.is(err?.code, '42501');
    assert.match(err!.message, /row-level security/);
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
});

test('rebuild_usage_daily (the backfill) gives back the same rows; a bad row is repaired', async (ctx) => {
  const before = await Promise.all(Object.values(ctx.t).map((id) => sumsOf(ctx.app, id, 'usage_daily')));
  const owner = ctx.db.ownerPool(1);
  const c = await owner.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT set_config('app.current_tenant', $1, true)", [ctx.t.c2]);
    assert.ok((await c.query('UPDATE usage_daily SET calls = calls + 1000')).rowCount! > 0);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  assert.not.equal(await sumsOf(ctx.app, ctx.t.c2, 'usage_daily'), before[Object.keys(ctx.t).indexOf('c2')]);
  await owner.query('SELECT rebuild_usage_daily(id) FROM tenants');
  assert.equal(await Promise.all(Object.values(ctx.t).map((id) => sumsOf(ctx.app, id, 'usage_daily'))), before);
});

test('migrating a database that already holds call records backfills usage_daily', async () => {
  const db = await databaseBefore('017', 'usage');
  const app = new pg.Pool({ connectionString: db.appUrl, max: 2 });
  try {
    const a = await createAccount(app, 'old-a', { reseller: true });
    const b = await createAccount(app, 'old-b', { parent: a });
    const recs = makeRecords([a, b], { n: 150, dupes: 20, firstDay: '2026-10-30', days: 4, seed: 5 });
    assert.is(await insertBatch(app, recs), 150);
    await migrate(db.ownerUrl);
    for (const id of [a, b]) {
      const truth = await sumsOf(app, id, 'call_records');
      assert.ok(Object.keys(truth).length > 5);
      assert.equal(await sumsOf(app, id, 'usage_daily'), truth);
    }
    // And from here on the trigger keeps it.
    const more = makeRecords([b], { n: 10, dupes: 0, firstDay: '2026-11-02', days: 1, seed: 6 });
    assert.is(await insertBatch(app, more), 10);
    assert.equal(await sumsOf(app, b, 'usage_daily'), await sumsOf(app, b, 'call_records'));
  } finally {
    await app.end();
    await db.drop();
  }
});

test.run();
