// Leases with fencing for once-per-node work (sql/010_node_leases.sql, daemon/ha/node-leases.ts): two "daemons"
// are two NodeLeases on two pools over one database, as two processes on two hosts would be.
import type pg from 'pg';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { NodeLeases, type LeaseJob } from '../../daemon/ha/node-leases.js';
import { createRegistry } from '../../daemon/metrics.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

interface Ctx {
  db: TestDatabase;
  cleanup: Array<() => Promise<unknown>>;
}
const test = suite<Ctx>('node leases');
const quiet = pino({ level: 'silent' });
let nodeNo = 0;

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.cleanup = [];
});
test.after.each(async (ctx) => {
  for (const fn of ctx.cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});
test.after(async (ctx) => {
  await ctx.db.drop();
});

function daemon(ctx: Ctx, holder: string, nodes: string[], ttlMs = 1000, connected?: (n: string) => boolean) {
  const pool = ctx.db.appPool(2);
  const leases = new NodeLeases({ pool, log: quiet, registry: createRegistry(), nodes, ttlMs, holder, connected });
  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    await pool.end();
  };
  ctx.cleanup.push(end, () => leases.stop());
  return { pool, leases, end };
}

const acquired = (l: NodeLeases, node: string, job: LeaseJob) =>
  new Promise<void>((resolve) => {
    const fn = (n: string, j: LeaseJob) => {
      if (n === node && j === job) {
        l.off('acquired', fn);
        resolve();
      }
    };
    l.on('acquired', fn);
  });

test('one holder per (node, job); the other daemon gets no fence', async (ctx) => {
  const node = `fs-l${++nodeNo}`;
  const a = daemon(ctx, 'A', [node]);
  const b = daemon(ctx, 'B', [node]);
  await a.leases.start();
  await b.leases.start();
  for (const job of ['callcenter', 'gateways', 'resync'] as const) {
    assert.ok(a.leases.fence(node, job), `A holds ${job}`);
    assert.is(b.leases.fence(node, job), undefined, `B does not hold ${job}`);
    assert.ok(await a.leases.fence(node, job)!.still());
  }
  // The serving role reaches the table only through the functions.
  await a.pool.query('SELECT * FROM node_leases').then(
    () => assert.unreachable('node_leases readable by the serving role'),
    (err: Error) => assert.match(err.message, /permission denied/),
  );
});

test('the owner dies (no renewal, no release): the lease moves within ttl + ttl/3 with a higher epoch', async (ctx) => {
  const node = `fs-l${++nodeNo}`;
  const ttlMs = 1000;
  const a = daemon(ctx, 'A', [node], ttlMs);
  const b = daemon(ctx, 'B', [node], ttlMs);
  await a.leases.start();
  await b.leases.start();
  const old = a.leases.fence(node, 'callcenter')!;
  const moved = acquired(b.leases, node, 'callcenter');
  const diedAt = performance.now();
  await a.end(); // like kill -9: its renewals stop, nothing is released
  await moved;
  const tookMs = performance.now() - diedAt;
  console.log(`    lease moved ${Math.round(tookMs)} ms after its owner died (ttl ${ttlMs} ms)`);
  assert.ok(tookMs <= ttlMs + ttlMs / 3 + 500, `moved after ${tookMs} ms`);
  const now = b.leases.fence(node, 'callcenter')!;
  assert.ok(now.epoch > old.epoch, 'fencing token grew');
  // The old owner, were it only paused, is refused: locally (its pool is gone) and by PostgreSQL.
  assert.not.ok(await old.still());
  const valid = await b.pool.query('SELECT node_lease_valid($1, $2, $3, $4) AS ok', [
    node,
    'callcenter',
    'A',
    old.epoch,
  ]);
  assert.is(valid.rows[0].ok, false);
});

test('a paused owner: its stale epoch is refused by the fenced write, the new one goes through', async (ctx) => {
  const node = `fs-l${++nodeNo}`;
  const a = daemon(ctx, 'A', [node], 1000);
  await a.leases.start();
  const old = a.leases.fence(node, 'resync')!;
  // A stops renewing without handing over (paused); B takes the lease once it has expired.
  await a.end();
  const b = daemon(ctx, 'B', [node], 1000);
  await b.leases.start();
  if (!b.leases.fence(node, 'resync')) await acquired(b.leases, node, 'resync');
  const fresh = b.leases.fence(node, 'resync')!;
  const fencedReconcile = (pool: pg.Pool, holder: string, epoch: number) =>
    pool
      .query('SELECT reconcile_node_slots_fenced($1, $2, clock_timestamp(), $3, $4) AS n', [node, [], holder, epoch])
      .then((r) => r.rows[0].n as number | null);
  assert.is(await fencedReconcile(b.pool, 'A', old.epoch), null, 'stale (holder, epoch): nothing done');
  assert.is(await fencedReconcile(b.pool, 'B', fresh.epoch), 0, 'the holder reconciles');
});

test('a clean stop hands the lease over at once; a daemon without ESL to the node takes none', async (ctx) => {
  const node = `fs-l${++nodeNo}`;
  const a = daemon(ctx, 'A', [node], 30_000);
  let bConnected = false;
  const b = daemon(ctx, 'B', [node], 30_000, () => bConnected);
  await a.leases.start();
  await b.leases.start();
  assert.is(b.leases.fence(node, 'gateways'), undefined);
  await a.leases.stop();
  // Free now, but B has no ESL connection to the node: it leaves the lease to a daemon that has.
  await b.leases.renewNow();
  assert.is(b.leases.fence(node, 'gateways'), undefined);
  bConnected = true;
  await b.leases.renewNow(); // long before the 30 s ttl: A released it
  assert.ok(b.leases.fence(node, 'gateways'));
  // B's ESL goes down: it hands the lease back rather than sit on it.
  bConnected = false;
  await b.leases.renewNow();
  assert.is(b.leases.fence(node, 'gateways'), undefined);
  const c = daemon(ctx, 'C', [node], 30_000);
  await c.leases.start();
  assert.ok(c.leases.fence(node, 'gateways'), 'taken over at once');
});

test.run();
