// Shared admission (issue 16): the decision in PostgreSQL, shared by every daemon.
// Two "daemons" here are two pools, two ledgers and two SharedAdmission objects
// over one database, as two processes on two hosts would be.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AdmissionRequest } from '../../daemon/calls/admission-types.js';
import type { DownNodePolicy } from '../../daemon/calls/call-ledger.js';
import { SharedAdmission } from '../../daemon/calls/shared-admission.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type CallDirection, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { ceilings, channelEvent, makeLedger } from './ledger-fixtures.js';

interface Ctx {
  db: TestDatabase;
  pools: pg.Pool[];
}
const test = suite<Ctx>('shared admission');
const quiet = pino({ level: 'silent' });

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pools = [];
});

test.after(async (ctx) => {
  await Promise.all(ctx.pools.map((p) => p.end()));
  await ctx.db.drop();
});

function daemon(ctx: Ctx, opts: { ttlMs?: number; policy?: DownNodePolicy; pool?: pg.Pool; timeoutMs?: number } = {}) {
  const pool = opts.pool ?? ctx.db.appPool(8);
  ctx.pools.push(pool);
  const { ledger } = makeLedger({ downNodePolicy: opts.policy ?? 'enforce' });
  const shared = new SharedAdmission({
    pool,
    ledger,
    log: quiet,
    reservationTtlMs: opts.ttlMs ?? 30_000,
    downPolicy: opts.policy ?? 'enforce',
    timeoutMs: opts.timeoutMs ?? 2000,
  });
  return { pool, ledger, shared };
}

let tenantNo = 0;
async function tenant(ctx: Ctx, max: { total?: number; inbound?: number; outbound?: number }): Promise<TenantId> {
  const id = asTenantId(randomUUID());
  const slug = `t${++tenantNo}`;
  const app = ctx.db.appPool(1);
  await withTenant(app, id, (c) =>
    c.query(
      'INSERT INTO tenants (id, slug, name, max_total, max_inbound, max_outbound) VALUES ($1, $2, $6, $3, $4, $5)',
      [id, slug, max.total ?? null, max.inbound ?? null, max.outbound ?? null, slug],
    ),
  );
  await app.end();
  return id;
}

const req = (tenantId: TenantId, callUuid = randomUUID(), direction: CallDirection = 'inbound'): AdmissionRequest => ({
  tenantId,
  callUuid,
  direction,
  ceilings: ceilings(null),
  node: 'fs1',
});

/** Slots held, as the tenant sees them under RLS; the kept counts must agree with the rows. */
async function held(pool: pg.Pool, t: TenantId): Promise<number> {
  // One statement, so one snapshot: releases committing meanwhile cannot split the two counts.
  return withTenant(pool, t, async (c) => {
    const { rows, kept } = (
      await c.query<{ rows: number; kept: number }>(`SELECT (SELECT count(*) FROM call_slots)::int AS rows,
        (SELECT coalesce(sum(inbound + outbound + internal), 0) FROM call_slot_counts)::int AS kept`)
    ).rows[0]!;
    assert.is(kept, rows, 'call_slot_counts agrees with call_slots');
    return rows;
  });
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.unreachable(`timed out waiting for ${what}`);
}

test('N+k simultaneous attempts through two daemons against a ceiling of N admit exactly N', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  for (const [n, k] of [
    [10, 30],
    [1, 20],
    [25, 5],
  ] as const) {
    const t = await tenant(ctx, { total: n });
    const results = await Promise.all(Array.from({ length: n + k }, (_, i) => (i % 2 ? a : b).shared.admit(req(t))));
    assert.is(results.filter((r) => r.admitted).length, n, `ceiling ${n}, ${n + k} attempts`);
    assert.equal(
      results.find((r) => !r.admitted),
      { admitted: false, sipCode: 503, reason: 'Tenant call limit reached' },
    );
    assert.is(await held(a.pool, t), n);
  }
});

test('per-direction ceilings: inbound and outbound limit their own direction, internal counts against total', async (ctx) => {
  const a = daemon(ctx);
  const t = await tenant(ctx, { total: 5, inbound: 2, outbound: 1 });
  const admitted = async (direction: CallDirection, n: number) =>
    (await Promise.all(Array.from({ length: n }, () => a.shared.admit(req(t, randomUUID(), direction))))).filter(
      (r) => r.admitted,
    ).length;
  assert.is(await admitted('inbound', 3), 2);
  assert.is(await admitted('outbound', 2), 1);
  assert.is(await admitted('internal', 3), 2);
  assert.is(await held(a.pool, t), 5);
});

test('the same uuid through both daemons (or retried) is admitted once and holds one slot', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const t = await tenant(ctx, { total: 3 });
  const uuids = [randomUUID(), randomUUID(), randomUUID()];
  const results = await Promise.all(uuids.flatMap((u) => [a.shared.admit(req(t, u)), b.shared.admit(req(t, u))]));
  assert.ok(results.every((r) => r.admitted));
  assert.is(await held(a.pool, t), 3);
  // At the ceiling a retry of an admitted call is still admitted; a new call is not.
  assert.ok((await b.shared.admit(req(t, uuids[0]))).admitted);
  assert.not.ok((await b.shared.admit(req(t))).admitted);
  assert.is(await held(a.pool, t), 3);
});

test('duplicated, reordered and late releases free a slot once; counts never go below zero', async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const t = await tenant(ctx, { total: 2 });
  const [x, y] = [randomUUID(), randomUUID()];
  assert.ok((await a.shared.admit(req(t, x))).admitted);
  assert.ok((await b.shared.admit(req(t, y))).admitted);
  const release = (p: pg.Pool, u: string) =>
    p.query<{ r: boolean }>('SELECT release_call($1, $2) AS r', [t, u]).then((r) => r.rows[0]!.r);
  // Both daemons see x's hangup (through their ledgers), and it is released twice more by each, concurrently:
  // exactly one release frees it.
  // The events carry the daemon's channel variables (set by the dialplan answer), so b's ledger knows the call too.
  const vars = { variable_fs_tenant_id: t, variable_fs_call_direction: 'inbound' };
  for (const d of [a, b]) d.ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', x, vars));
  for (const d of [a, b]) d.ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', x, vars));
  const freed = await Promise.all([release(a.pool, x), release(b.pool, x), release(a.pool, x), release(b.pool, x)]);
  assert.ok(freed.filter(Boolean).length <= 1);
  await until(async () => (await held(a.pool, t)) === 1, 'x to be released');
  // A hangup for a call never admitted changes nothing.
  assert.is(await release(a.pool, randomUUID()), false);
  assert.is(await held(a.pool, t), 1);
  // A late "live" for the ended call does not bring it back; nor does a late dialplan fetch of it count (either
  // daemon: both ledgers saw it end).
  await a.pool.query("SELECT mark_call_live($1, $2, 'fs1')", [t, x]);
  assert.ok((await b.shared.admit(req(t, x))).admitted);
  assert.ok((await a.shared.admit(req(t, x))).admitted);
  assert.is(await held(a.pool, t), 1);
  // One slot is free (not two): one new call fits, the next does not.
  assert.ok((await a.shared.admit(req(t))).admitted);
  assert.not.ok((await b.shared.admit(req(t))).admitted);
  await release(a.pool, y);
  await release(b.pool, y);
  assert.is(await held(a.pool, t), 1);
});

test("reservations that never become calls expire; a call's first ESL event makes it live, its hangup frees it", async (ctx) => {
  const a = daemon(ctx, { ttlMs: 150 });
  const b = daemon(ctx, { ttlMs: 150 });
  const t = await tenant(ctx, { total: 1 });
  // Each daemon's first admission (a new connection, the PL/pgSQL functions compiled) is not part of the 150 ms
  // under test: on a loaded machine it alone could outlast them.
  const warm = await tenant(ctx, {});
  for (const d of [a, b]) assert.ok((await d.shared.admit(req(warm))).admitted);
  const ghost = randomUUID();
  assert.ok((await a.shared.admit(req(t, ghost))).admitted);
  assert.not.ok((await b.shared.admit(req(t))).admitted);
  await new Promise((r) => setTimeout(r, 200));
  // The ghost's reservation has expired: a new call takes its place.
  const call = randomUUID();
  assert.ok((await b.shared.admit(req(t, call))).admitted);
  // Its first event reaches both daemons' ledgers: the slot is live and outlives the reservation TTL.
  b.ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', call));
  await until(
    async () =>
      (
        await withTenant(a.pool, t, (c) =>
          c.query("SELECT 1 FROM call_slots WHERE call_uuid = $1 AND state = 'live'", [call]),
        )
      ).rowCount === 1,
    'the slot to become live',
  );
  await new Promise((r) => setTimeout(r, 200));
  assert.not.ok((await a.shared.admit(req(t))).admitted, 'a live call does not expire');
  b.ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', call));
  await until(async () => (await held(a.pool, t)) === 0, 'the hangup to free the slot');
  assert.ok((await a.shared.admit(req(t))).admitted);
});

test('an authenticated call seen live before its admission (fs_tenant_id from the directory) still goes live', async (ctx) => {
  const a = daemon(ctx, { ttlMs: 150 });
  const t = await tenant(ctx, { total: 1 });
  const call = randomUUID();
  // A phone's channel carries fs_tenant_id from its CHANNEL_CREATE on (directory variables), before the dialplan
  // fetch: the ledger knows the call before PostgreSQL holds its reservation.
  a.ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', call, { variable_fs_tenant_id: t }));
  await new Promise((r) => setTimeout(r, 100)); // its "live" reaches PostgreSQL first, as on a loaded node
  assert.ok((await a.shared.admit(req(t, call, 'internal'))).admitted);
  await until(
    async () =>
      (
        await withTenant(a.pool, t, (c) =>
          c.query("SELECT 1 FROM call_slots WHERE call_uuid = $1 AND state = 'live'", [call]),
        )
      ).rowCount === 1,
    'the slot to become live',
  );
  await new Promise((r) => setTimeout(r, 200));
  // Past the reservation TTL the call still holds its slot.
  assert.not.ok((await a.shared.admit(req(t))).admitted, 'a live call does not expire');
  a.ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', call));
  await until(async () => (await held(a.pool, t)) === 0, 'the hangup to free the slot');
});

test("RLS: one tenant's context neither sees nor frees another's slots, and no context is left behind", async (ctx) => {
  const a = daemon(ctx);
  const ta = await tenant(ctx, { total: 2 });
  const tb = await tenant(ctx, { total: 2 });
  const u = randomUUID();
  assert.ok((await a.shared.admit(req(ta, u))).admitted);
  assert.is(await held(a.pool, tb), 0);
  // B releasing A's uuid (under B's own context) changes nothing of A's.
  assert.is((await a.pool.query('SELECT release_call($1, $2) AS r', [tb, u])).rows[0].r, false);
  assert.is(await held(a.pool, ta), 1);
  // The same uuid under B is B's own slot, counted against B only.
  assert.ok((await a.shared.admit(req(tb, u))).admitted);
  assert.is(await held(a.pool, ta), 1);
  assert.is(await held(a.pool, tb), 1);
  const c = await a.pool.connect();
  try {
    await c.query('BEGIN');
    await c.query("SELECT admit_call($1, $2, 'inbound', 'fs1', 1000)", [ta, randomUUID()]);
    assert.is((await c.query("SELECT current_setting('app.current_tenant', true) AS s")).rows[0].s, '');
    assert.is(Number((await c.query('SELECT count(*) AS n FROM call_slots')).rows[0].n), 0);
    await c.query('ROLLBACK');
  } finally {
    c.release();
  }
});

test('a tenant holding slots can be deleted; its slots and counts go with it', async (ctx) => {
  const a = daemon(ctx);
  const t = await tenant(ctx, {});
  for (const d of ['inbound', 'outbound', 'internal'] as const)
    assert.ok((await a.shared.admit(req(t, randomUUID(), d))).admitted);
  await withTenant(a.pool, t, (c) => c.query('DELETE FROM tenants WHERE id = $1', [t]));
  // As superuser: RLS (forced) would hide the rows from every other role.
  const { default: pgm } = await import('pg');
  const su = new pgm.Client({ connectionString: ctx.db.superuserUrl });
  await su.connect();
  try {
    const left = await su.query(
      `SELECT (SELECT count(*) FROM call_slots WHERE tenant_id = $1)
        + (SELECT count(*) FROM call_slot_counts WHERE tenant_id = $1) AS n`,
      [t],
    );
    assert.is(Number(left.rows[0].n), 0);
  } finally {
    await su.end();
  }
});

test('an ESL resync releases only the slots of its own node whose channels are gone', async (ctx) => {
  const a = daemon(ctx);
  const t = await tenant(ctx, {});
  const [kept, lost, other, fresh] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  for (const [u, node] of [
    [kept, 'fs1'],
    [lost, 'fs1'],
    [other, 'fs2'],
  ] as const) {
    assert.ok((await a.shared.admit({ ...req(t, u), node })).admitted);
    await a.pool.query('SELECT mark_call_live($1, $2, $3)', [t, u, node]);
  }
  const before = await a.shared.dbNow();
  // A call that went live after the list was requested is not judged by that list.
  assert.ok((await a.shared.admit(req(t, fresh))).admitted);
  await a.pool.query("SELECT mark_call_live($1, $2, 'fs1')", [t, fresh]);
  assert.is(await a.shared.reconcileNode('fs1', [kept], before), 1);
  const states = await withTenant(a.pool, t, async (c) =>
    Object.fromEntries(
      (await c.query<{ call_uuid: string; state: string }>('SELECT call_uuid, state FROM call_slots')).rows.map((r) => [
        r.call_uuid,
        r.state,
      ]),
    ),
  );
  assert.equal(states, { [kept]: 'live', [other]: 'live', [fresh]: 'live' });
});

test("a node's new Core-UUID releases the old core's slots, reserved or live, once, and nothing newer", async (ctx) => {
  const a = daemon(ctx);
  const b = daemon(ctx);
  const t = await tenant(ctx, {});
  const node = `fs-restart-${randomUUID().slice(0, 8)}`;
  assert.equal(await a.shared.nodeCoreSeen(node, 'core-1', new Date()), { previousCore: null, released: 0 });
  const [live, reserved, elsewhere, fresh] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  assert.ok((await a.shared.admit({ ...req(t, live), node })).admitted);
  await a.pool.query('SELECT mark_call_live($1, $2, $3)', [t, live, node]);
  assert.ok((await a.shared.admit({ ...req(t, reserved), node })).admitted);
  assert.ok((await a.shared.admit({ ...req(t, elsewhere), node: 'fs-other' })).admitted);
  // The new core's start as the daemon computes it; a call its fetches admitted after that is the new core's.
  const startedBefore = await a.shared.dbNow();
  assert.ok((await b.shared.admit({ ...req(t, fresh), node })).admitted);
  // Both daemons see the restart: one releases, the other finds it done.
  const seen = await Promise.all([
    a.shared.nodeCoreSeen(node, 'core-2', startedBefore),
    b.shared.nodeCoreSeen(node, 'core-2', startedBefore),
  ]);
  assert.equal(seen.map((r) => r.released).sort(), [0, 2]);
  assert.equal(seen.filter((r) => r.previousCore === 'core-1').length, 1);
  const left = await withTenant(a.pool, t, async (c) =>
    (await c.query<{ call_uuid: string }>('SELECT call_uuid FROM call_slots ORDER BY call_uuid')).rows.map(
      (r) => r.call_uuid,
    ),
  );
  assert.equal(left, [elsewhere, fresh].sort());
  assert.is(await held(a.pool, t), 2);
  // The same core again (a reconnect): nothing.
  assert.equal(await a.shared.nodeCoreSeen(node, 'core-2', new Date()), { previousCore: null, released: 0 });
  // The serving role cannot read or write the platform table itself.
  await a.pool.query('SELECT * FROM node_cores').then(
    () => assert.unreachable('node_cores readable by the serving role'),
    (err: Error) => assert.match(err.message, /permission denied/),
  );
});

test('PostgreSQL unreachable: the down policy decides (enforce from the ledger, admit, reject)', async (ctx) => {
  const t = await tenant(ctx, { total: 1 });
  const { default: pgm } = await import('pg');
  const deadPool = () => new pgm.Pool({ connectionString: 'postgresql://x:y@127.0.0.1:1/none', max: 2 });
  const enforce = daemon(ctx, { policy: 'enforce', pool: deadPool() });
  // Enforce: the ledger's last known state and the snapshot's ceilings (2 here).
  const local = { ...req(t), ceilings: ceilings(2) };
  const r = await Promise.all([0, 1, 2].map(() => enforce.shared.admit({ ...local, callUuid: randomUUID() })));
  assert.equal(r.map((x) => x.admitted).sort(), [false, true, true]);
  const admit = daemon(ctx, { policy: 'admit', pool: deadPool() });
  assert.ok((await admit.shared.admit(req(t))).admitted);
  assert.is(admit.ledger.active(t).total, 1, 'an admitted call is still counted locally');
  const reject = daemon(ctx, { policy: 'reject', pool: deadPool() });
  assert.not.ok((await reject.shared.admit(req(t))).admitted);
  // A database that does not answer in time counts as unreachable too.
  const slow = ctx.db.appPool(1);
  const hold = await slow.connect();
  const timed = daemon(ctx, { policy: 'reject', pool: slow, timeoutMs: 50 });
  const started = Date.now();
  assert.not.ok((await timed.shared.admit(req(t))).admitted);
  assert.ok(Date.now() - started < 1000);
  hold.release();
});

test.run();
