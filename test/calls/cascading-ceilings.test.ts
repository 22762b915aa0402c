// Cascading ceilings (issue 17, sql/016_cascading_ceilings.sql): a call counts against its account's ceilings and
// every ancestor's, in the one admission step. Two "daemons" are two pools and two SharedAdmission objects over one
// database, as in shared-admission.test.ts; the in-process ledger (local admission, down policy "enforce") is
// checked against the same cases.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AdmissionRequest } from '../../daemon/calls/admission-types.js';
import { SharedAdmission } from '../../daemon/calls/shared-admission.js';
import { migrate } from '../../daemon/db/migrate.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { createRegistry } from '../../daemon/metrics.js';
import { loadSnapshot } from '../../daemon/tenants/load-snapshot.js';
import { TenantStore } from '../../daemon/tenants/tenant-store.js';
import { type AncestorCeilings, asTenantId, type CallDirection, type TenantId } from '../../xml-handlers/model.js';
import { databaseBefore, freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { ceilings, makeLedger } from './ledger-fixtures.js';

interface Ctx {
  db: TestDatabase;
  pools: pg.Pool[];
  su: pg.Client;
}
const test = suite<Ctx>('cascading ceilings');
const quiet = pino({ level: 'silent' });

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pools = [];
  ctx.su = new pg.Client({ connectionString: ctx.db.superuserUrl });
  await ctx.su.connect();
});

test.after(async (ctx) => {
  await ctx.su.end();
  await Promise.all(ctx.pools.map((p) => p.end()));
  await ctx.db.drop();
});

function daemon(ctx: Ctx, ttlMs = 30_000) {
  const pool = ctx.db.appPool(8);
  ctx.pools.push(pool);
  const { ledger, registry } = makeLedger();
  const shared = new SharedAdmission({
    pool,
    ledger,
    log: quiet,
    reservationTtlMs: ttlMs,
    downPolicy: 'enforce',
    timeoutMs: 5000,
  });
  return { pool, ledger, registry, shared };
}

let tenantNo = 0;
/** An account (as the API would create it, in its own context), optionally under `parent`. */
async function account(ctx: Ctx, maxTotal: number | null, parent?: TenantId, reseller = false): Promise<TenantId> {
  const id = asTenantId(randomUUID());
  const slug = `c${++tenantNo}`;
  const app = ctx.db.appPool(1);
  await withTenant(app, id, (c) =>
    c.query(
      'INSERT INTO tenants (id, slug, name, max_total, parent_id, is_reseller) VALUES ($1, $2::text, $2::text, $3, $4, $5)',
      [id, slug, maxTotal, parent ?? null, reseller],
    ),
  );
  await app.end();
  return id;
}

async function setParent(ctx: Ctx, t: TenantId, parent: TenantId | null): Promise<void> {
  await ctx.su.query('UPDATE tenants SET parent_id = $2 WHERE id = $1', [t, parent]);
}

const req = (tenantId: TenantId, callUuid = randomUUID(), direction: CallDirection = 'inbound'): AdmissionRequest => ({
  tenantId,
  callUuid,
  direction,
  ceilings: ceilings(null),
  node: 'fs1',
});

/** Subtree totals as kept (call_slot_counts.tree_*), read as superuser. */
async function tree(ctx: Ctx, t: TenantId): Promise<number> {
  const r = await ctx.su.query(
    'SELECT tree_inbound + tree_outbound + tree_internal AS n FROM call_slot_counts WHERE tenant_id = $1',
    [t],
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * Every kept count (own and subtree, per direction) recomputed from the slot rows and the tree as it is now: the
 * number of accounts where they differ (0 = exact).
 */
async function mismatches(su: pg.Client): Promise<string[]> {
  const r = await su.query<{ id: string; kept: string; want: string }>(`
    WITH RECURSIVE anc (t, a) AS (
      SELECT id, id FROM tenants
      UNION ALL SELECT anc.t, p.parent_id FROM anc JOIN tenants p ON p.id = anc.a WHERE p.parent_id IS NOT NULL
    ),
    own AS (SELECT tenant_id AS id, count(*) FILTER (WHERE direction = 'inbound') AS i,
              count(*) FILTER (WHERE direction = 'outbound') AS o, count(*) FILTER (WHERE direction = 'internal') AS n
            FROM call_slots GROUP BY tenant_id),
    sub AS (SELECT anc.a AS id, sum(own.i) AS i, sum(own.o) AS o, sum(own.n) AS n
            FROM own JOIN anc ON anc.t = own.id GROUP BY anc.a),
    want AS (SELECT t.id, concat_ws(',', coalesce(own.i, 0), coalesce(own.o, 0), coalesce(own.n, 0),
                coalesce(sub.i, 0), coalesce(sub.o, 0), coalesce(sub.n, 0)) AS w
             FROM tenants t LEFT JOIN own ON own.id = t.id LEFT JOIN sub ON sub.id = t.id)
    SELECT want.id, want.w AS want, concat_ws(',', coalesce(c.inbound, 0), coalesce(c.outbound, 0),
      coalesce(c.internal, 0), coalesce(c.tree_inbound, 0), coalesce(c.tree_outbound, 0),
      coalesce(c.tree_internal, 0)) AS kept
    FROM want LEFT JOIN call_slot_counts c ON c.tenant_id = want.id`);
  return r.rows.filter((x) => x.kept !== x.want).map((x) => `${x.id}: kept ${x.kept}, want ${x.want}`);
}

async function metricValue(registry: ReturnType<typeof createRegistry>, name: string, labels: Record<string, string>) {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((s, v) => s + v.value, 0);
}

const release = (p: pg.Pool, t: TenantId, u: string) =>
  p.query<{ r: boolean }>('SELECT release_call($1, $2) AS r', [t, u]).then((r) => r.rows[0]!.r);

test('reseller max_total 10 over two customers of 8: N+k attempts across both customers and two daemons admit exactly 10', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  for (const attempts of [30, 12, 60]) {
    const r = await account(ctx, 10, undefined, true);
    const [c1, c2] = [await account(ctx, 8, r), await account(ctx, 8, r)];
    const tries = Array.from({ length: attempts }, (_, i) => ({ t: i % 4 < 2 ? c1 : c2, d: i % 2 ? a : b }));
    const results = await Promise.all(tries.map((x) => x.d.shared.admit(req(x.t))));
    const admittedFor = (t: TenantId) => results.filter((x, i) => x.admitted && tries[i]!.t === t).length;
    assert.is(admittedFor(c1) + admittedFor(c2), 10, `${attempts} attempts: the reseller's ceiling holds`);
    assert.ok(admittedFor(c1) <= 8 && admittedFor(c2) <= 8, 'each customer within its own ceiling');
    assert.is(await tree(ctx, r), 10);
    assert.is((await tree(ctx, c1)) + (await tree(ctx, c2)), 10);
  }
  assert.equal(await mismatches(ctx.su), []);
});

test("a rejection names the level that refused: the customer's own ceiling, or the reseller's", async (ctx) => {
  const a = daemon(ctx);
  const r = await account(ctx, 10, undefined, true);
  const [c1, c2] = [await account(ctx, 8, r), await account(ctx, 8, r)];
  const admit = (t: TenantId) =>
    a.pool
      .query('SELECT * FROM admit_call($1, $2, $3, $4, $5)', [t, randomUUID(), 'inbound', 'fs1', 60_000])
      .then((x) => x.rows[0]);
  for (let i = 0; i < 8; i++) assert.is((await admit(c1)).admitted, true);
  const own = await admit(c1);
  assert.equal(
    { ...own },
    {
      admitted: false,
      limit_name: 'max_total',
      active: 8,
      ceiling: 8,
      refused_by: c1,
      refused_slug: own.refused_slug,
      level: 'own',
    },
  );
  for (let i = 0; i < 2; i++) assert.is((await admit(c2)).admitted, true);
  const up = await admit(c2);
  const { rows } = await ctx.su.query('SELECT slug FROM tenants WHERE id = $1', [r]);
  assert.equal(
    { ...up },
    {
      admitted: false,
      limit_name: 'max_total',
      active: 10,
      ceiling: 10,
      refused_by: r,
      refused_slug: rows[0].slug,
      level: 'ancestor',
    },
  );
  // Through the daemon: the rejection metric is labelled by level (bounded), never by the refusing account's slug.
  assert.not.ok((await a.shared.admit({ ...req(c2), tenantSlug: 'c2slug' })).admitted);
  assert.not.ok((await a.shared.admit({ ...req(c1), tenantSlug: 'c1slug' })).admitted);
  const value = (labels: Record<string, string>) =>
    metricValue(a.registry, 'fs_tenantd_ceiling_rejections_total', labels);
  assert.is(await value({ tenant: 'c2slug', level: 'ancestor' }), 1);
  assert.is(await value({ tenant: 'c1slug', level: 'own' }), 1);
  const series = (await a.registry.getSingleMetric('fs_tenantd_ceiling_rejections_total')!.get()).values;
  assert.ok(series.every((v) => ['own', 'ancestor', 'none'].includes(String(v.labels.level))));
});

test('the same uuid through both daemons is admitted once and counted once at every level', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const r = await account(ctx, 3, undefined, true);
  const c = await account(ctx, null, r);
  const uuids = [randomUUID(), randomUUID(), randomUUID()];
  const results = await Promise.all(uuids.flatMap((u) => [a.shared.admit(req(c, u)), b.shared.admit(req(c, u))]));
  assert.ok(results.every((x) => x.admitted));
  assert.is(await tree(ctx, r), 3);
  assert.ok((await b.shared.admit(req(c, uuids[1]))).admitted, 'a retry at the ceiling is still admitted');
  assert.not.ok((await b.shared.admit(req(c))).admitted);
  assert.is(await tree(ctx, r), 3);
  assert.equal(await mismatches(ctx.su), []);
});

test('duplicated releases free a slot once at every level; counts never go below zero', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const r = await account(ctx, 2, undefined, true);
  const s = await account(ctx, null, r, true);
  const c = await account(ctx, null, s);
  const [x, y] = [randomUUID(), randomUUID()];
  assert.ok((await a.shared.admit(req(c, x))).admitted);
  assert.ok((await b.shared.admit(req(c, y))).admitted);
  const freed = await Promise.all([a, b, a, b, a, b].map((d) => release(d.pool, c, x)));
  assert.is(freed.filter(Boolean).length, 1);
  assert.is(await tree(ctx, r), 1);
  assert.is(await tree(ctx, s), 1);
  // Releasing an unknown uuid, and x again: nothing moves; the CHECKs (>= 0) would fail any statement that tried.
  assert.is(await release(a.pool, c, randomUUID()), false);
  await Promise.all([release(a.pool, c, y), release(b.pool, c, y), release(a.pool, c, y)]);
  assert.is(await tree(ctx, r), 0);
  const { rows } = await ctx.su.query(
    'SELECT min(least(inbound, outbound, internal, tree_inbound, tree_outbound, tree_internal)) AS m FROM call_slot_counts',
  );
  assert.ok(rows[0].m >= 0);
  assert.equal(await mismatches(ctx.su), []);
});

test("a parent change with live slots moves the subtree's totals exactly (also under concurrent admissions and releases)", async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const r1 = await account(ctx, null, undefined, true);
  const r2 = await account(ctx, null, undefined, true);
  const sub = await account(ctx, null, r1, true);
  const c = await account(ctx, null, sub);
  const held: string[] = [];
  for (let i = 0; i < 3; i++) {
    const u = randomUUID();
    assert.ok((await a.shared.admit(req(c, u))).admitted);
    await a.pool.query("SELECT mark_call_live($1, $2, 'fs1')", [c, u]);
    held.push(u);
  }
  assert.ok((await a.shared.admit(req(sub))).admitted);
  assert.is(await tree(ctx, r1), 4);
  // The sub-reseller (with its customer) moves to r2: 4 slots leave r1 and reach r2.
  await setParent(ctx, sub, r2);
  assert.is(await tree(ctx, r1), 0);
  assert.is(await tree(ctx, r2), 4);
  assert.is(await tree(ctx, sub), 4);
  // Releases after the move are taken from the new ancestors.
  await release(a.pool, c, held.pop()!);
  assert.is(await tree(ctx, r2), 3);
  assert.equal(await mismatches(ctx.su), []);
  // r2 now limits the moved subtree.
  await ctx.su.query('UPDATE tenants SET max_total = 3 WHERE id = $1', [r2]);
  assert.not.ok((await b.shared.admit(req(c))).admitted);
  await ctx.su.query('UPDATE tenants SET max_total = NULL WHERE id = $1', [r2]);

  // Moves back and forth while both daemons admit and release in that subtree: the counts stay exact.
  let stop = false;
  const churn = async (d: ReturnType<typeof daemon>, t: TenantId) => {
    while (!stop) {
      const u = randomUUID();
      if ((await d.shared.admit(req(t, u))).admitted && Math.random() < 0.7) await release(d.pool, t, u);
    }
  };
  const workers = [churn(a, c), churn(b, c), churn(a, sub), churn(b, r1), churn(a, r2)];
  try {
    for (let i = 0; i < 20; i++) {
      await setParent(ctx, sub, i % 2 ? r2 : r1);
      await setParent(ctx, c, i % 3 ? sub : r2);
    }
  } finally {
    stop = true;
    await Promise.allSettled(workers);
  }
  await Promise.all(workers);
  assert.equal(await mismatches(ctx.su), []);
});

test("expired reservations under an ancestor are purged before it refuses (not only the caller's own)", async (ctx) => {
  const a = daemon(ctx, 400);
  const r = await account(ctx, 2, undefined, true);
  const [c1, c2] = [await account(ctx, null, r), await account(ctx, null, r)];
  // The daemon's first admission (a new connection, functions compiled) is not part of the 400 ms under test.
  assert.ok((await a.shared.admit(req(await account(ctx, null)))).admitted);
  assert.ok((await a.shared.admit(req(c1))).admitted);
  assert.ok((await a.shared.admit(req(c1))).admitted);
  assert.not.ok((await a.shared.admit(req(c2))).admitted);
  await new Promise((res) => setTimeout(res, 450));
  // c1's two reservations expired unused: c2 gets the reseller's slots.
  assert.ok((await a.shared.admit(req(c2))).admitted);
  assert.ok((await a.shared.admit(req(c2))).admitted);
  assert.not.ok((await a.shared.admit(req(c2))).admitted);
  assert.equal(await mismatches(ctx.su), []);
});

test("deleting a customer that holds slots takes its calls out of its reseller's count", async (ctx) => {
  const a = daemon(ctx);
  const r = await account(ctx, null, undefined, true);
  const c = await account(ctx, null, r);
  const other = await account(ctx, null, r);
  for (const t of [c, c, other]) assert.ok((await a.shared.admit(req(t))).admitted);
  assert.is(await tree(ctx, r), 3);
  await withTenant(a.pool, c, (x) => x.query('DELETE FROM tenants WHERE id = $1', [c]));
  assert.is(await tree(ctx, r), 1);
  assert.equal(await mismatches(ctx.su), []);
});

test('RLS: a customer context reads neither its reseller nor the reseller counts; the serving role cannot move counts', async (ctx) => {
  const app = daemon(ctx).pool;
  const r = await account(ctx, 5, undefined, true);
  const c = await account(ctx, null, r);
  assert.ok(
    (await app.query("SELECT admitted FROM admit_call($1, $2, 'inbound', 'fs1', 60000)", [c, randomUUID()])).rows[0]
      .admitted,
  );
  const seen = await withTenant(app, c, async (x) => ({
    tenants: (await x.query('SELECT id FROM tenants')).rows.map((y) => y.id),
    counts: (await x.query('SELECT tenant_id FROM call_slot_counts')).rows.map((y) => y.tenant_id),
  }));
  assert.equal(seen, { tenants: [c], counts: [c] });
  for (const f of ['SELECT add_slot_counts($1, 1, 0, 0, true)']) {
    const err = await app.query(f, [r]).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.is(err?.code, '42501', `${f}: not executable by the serving role`);
  }
});

test('resyncs and node restarts free slots at every level; two at once over crossing trees do not deadlock', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  for (let round = 0; round < 5; round++) {
    const [r1, r2] = [await account(ctx, null, undefined, true), await account(ctx, null, undefined, true)];
    // Customers alternate between the resellers in slug order (the order resyncs used to visit tenants in).
    const customers = [];
    for (let i = 0; i < 6; i++) customers.push(await account(ctx, null, i % 2 ? r2 : r1));
    const [fs1, fs2] = [`fs1-${round}`, `fs2-${round}`];
    for (const node of [fs1, fs2])
      for (const c of customers)
        for (let i = 0; i < 2; i++) {
          const u = randomUUID();
          assert.ok((await a.shared.admit({ ...req(c, u), node })).admitted);
          await a.pool.query('SELECT mark_call_live($1, $2, $3)', [c, u, node]);
        }
    assert.is((await tree(ctx, r1)) + (await tree(ctx, r2)), 24);
    const before = await a.shared.dbNow();
    const core = `core-${randomUUID()}`;
    await a.shared.nodeCoreSeen(fs2, core, before);
    const [n1, seen] = await Promise.all([
      a.shared.reconcileNode(fs1, [], before),
      b.shared.nodeCoreSeen(fs2, `${core}-new`, before),
    ]);
    assert.is(n1 + seen.released, 24);
    assert.is(await tree(ctx, r1), 0);
    assert.is(await tree(ctx, r2), 0);
  }
  assert.equal(await mismatches(ctx.su), []);
});

test("the snapshot carries the ancestors' ceilings; an ancestor's change evicts its descendants' snapshots", async (ctx) => {
  const app = daemon(ctx).pool;
  const top = await account(ctx, 20, undefined, true);
  const r = await account(ctx, 10, top, true);
  const c = await account(ctx, 8, r);
  const snap = await loadSnapshot(app, c);
  assert.equal(
    snap?.ancestors?.map((x) => [x.id, x.ceilings.maxTotal]),
    [
      [top, 20],
      [r, 10],
    ],
  );
  const store = new TenantStore({
    pool: app,
    log: quiet,
    registry: createRegistry(),
    ttlMs: 60_000,
    maxTenants: 100,
    maxUsers: 1000,
    maxNegative: 100,
    negativeTtlMs: 60_000,
  });
  const first = await store.byId(c);
  assert.is(await store.byId(c), first, 'cached');
  await ctx.su.query('UPDATE tenants SET max_total = 4 WHERE id = $1', [top]);
  store.applyChange({ table: 'tenants', op: 'UPDATE', tenantId: top, id: top, keys: {} });
  const next = await store.byId(c);
  assert.is.not(next, first, "the descendant's snapshot was evicted");
  assert.is(next?.ancestors?.[0]?.ceilings.maxTotal, 4);
  // An unrelated tenant's change leaves it cached.
  store.applyChange({ table: 'tenants', op: 'UPDATE', tenantId: asTenantId(randomUUID()), id: null, keys: {} });
  assert.is(await store.byId(c), next);
});

test('016 on a database with slots held under a tree: the subtree counts start exact', async () => {
  const db = await databaseBefore('016', 'cascade');
  const app = new pg.Pool({ connectionString: db.appUrl, max: 2 });
  const su = new pg.Client({ connectionString: db.superuserUrl });
  try {
    const make = async (max: number | null, parent?: TenantId, reseller = false) => {
      const id = asTenantId(randomUUID());
      await withTenant(app, id, (c) =>
        c.query(
          'INSERT INTO tenants (id, slug, name, max_total, parent_id, is_reseller) VALUES ($1, $2::text, $2::text, $3, $4, $5)',
          [id, `u${randomUUID().slice(0, 8)}`, max, parent ?? null, reseller],
        ),
      );
      return id;
    };
    const r = await make(7, undefined, true);
    const [c1, sub] = [await make(null, r), await make(null, r, true)];
    const [c2, c3] = [await make(null, r), await make(null, sub)];
    // Admitted by 008's admit_call, which knew nothing of the tree: 3 + 2 + 1 slots.
    for (const t of [c1, c1, c1, c3, c3, r])
      await app.query("SELECT admit_call($1, $2, 'inbound', 'fs1', 600000)", [t, randomUUID()]);
    await migrate(db.ownerUrl);
    await su.connect();
    assert.equal(await mismatches(su), []);
    const admit = async (t: TenantId) =>
      (await app.query("SELECT * FROM admit_call($1, $2, 'inbound', 'fs1', 600000)", [t, randomUUID()])).rows[0];
    assert.is((await admit(c2)).admitted, true, 'the 7th slot under the reseller');
    const refused = await admit(c2);
    assert.equal([refused.admitted, refused.level, refused.refused_by, refused.active], [false, 'ancestor', r, 7]);
  } finally {
    await su.end().catch(() => undefined);
    await app.end();
    await db.drop();
  }
});

test('in-process ledger (local admission, down policy "enforce"): the same cascade', async () => {
  const { ledger, registry } = makeLedger();
  const R = asTenantId(randomUUID());
  const [C1, C2] = [asTenantId(randomUUID()), asTenantId(randomUUID())];
  const up: AncestorCeilings[] = [{ id: R, slug: 'reseller', ceilings: ceilings(10) }];
  const ask = (t: TenantId) =>
    ledger.admit({ ...req(t), tenantSlug: t === C1 ? 'one' : 'two', ceilings: ceilings(8), ancestors: up });
  const tries = Array.from({ length: 30 }, (_, i) => (i % 2 ? C1 : C2));
  const results = await Promise.all(tries.map(ask));
  const admittedFor = (t: TenantId) => results.filter((x, i) => x.admitted && tries[i] === t).length;
  assert.is(admittedFor(C1) + admittedFor(C2), 10);
  assert.ok(admittedFor(C1) <= 8 && admittedFor(C2) <= 8);
  assert.is(await metricValue(registry, 'fs_tenantd_ceiling_rejections_total', { level: 'ancestor' }), 20);
  // Own level first: C1 alone at 8.
  const { ledger: l2, registry: r2 } = makeLedger();
  const one = await Promise.all(
    Array.from({ length: 12 }, () => l2.admit({ ...req(C1), ceilings: ceilings(8), ancestors: up })),
  );
  assert.is(one.filter((x) => x.admitted).length, 8);
  assert.is(await metricValue(r2, 'fs_tenantd_ceiling_rejections_total', { level: 'own' }), 4);
  // C1 moves under another reseller (its next snapshot says so): its 8 calls leave R, so C2 gets R's 10.
  const other: AncestorCeilings[] = [{ id: asTenantId(randomUUID()), slug: 'other', ceilings: ceilings(8) }];
  assert.not.ok((await l2.admit({ ...req(C1), ceilings: ceilings(null), ancestors: other })).admitted, 'other is full');
  const two = await Promise.all(
    Array.from({ length: 12 }, () => l2.admit({ ...req(C2), ceilings: ceilings(null), ancestors: up })),
  );
  assert.is(two.filter((x) => x.admitted).length, 10);
});

test.run();
