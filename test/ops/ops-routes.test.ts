// /metrics, /readyz and the database instrumentation against a real PostgreSQL.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { databaseCheck } from '../../daemon/db/database-readiness.js';
import { createPool } from '../../daemon/db/open-database.js';
import { instrumentPool } from '../../daemon/db/pool-metrics.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { opsRoutes } from '../../daemon/http/ops-routes.js';
import { connectionsCheck, type ReadinessCheck } from '../../daemon/http/readiness.js';
import { createHttpServer } from '../../daemon/http/server.js';
import { createRegistry, type MetricsRegistry } from '../../daemon/metrics.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';

const test = suite('ops routes: /metrics, /readyz, database metrics');
const log = pino({ level: 'silent' });
let db: TestDatabase;

test.before(async () => {
  db = await freshDatabase();
});
test.after(async () => {
  await db.drop();
});

async function server(registry: MetricsRegistry, readiness: Map<string, ReadinessCheck>, checkTimeoutMs?: number) {
  const app = createHttpServer({ logger: log, bodyLimitBytes: 65536 });
  await app.register(opsRoutes, { registry, readiness, ...(checkTimeoutMs ? { checkTimeoutMs } : {}) });
  await app.ready();
  return app;
}

/** Value of one sample line in Prometheus text output, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('query latency, errors and pool gauges cover pool.query and withTenant', async () => {
  const registry = createRegistry();
  const pool = db.appPool(3);
  instrumentPool(pool, registry);
  await seedDemo(pool); // many statements, all through withTenant
  const acme = await tenantIdOf(pool, 'acme');
  const before = sample(await registry.metrics(), 'fs_tenantd_db_query_duration_seconds_count')!;
  assert.ok(before > 10, 'seeding was timed');
  // One tenant transaction: BEGIN with set_config (one query), the SELECT, COMMIT = 3 queries.
  await withTenant(pool, acme, (c) => c.query('SELECT count(*) FROM extensions'));
  await pool.query('SELECT no_such_column FROM tenants').then(
    () => assert.unreachable('bad SQL succeeded'),
    () => undefined,
  );
  // Callback style too (pg's other calling convention).
  await new Promise<void>((resolve, reject) => {
    pool.query('SELECT 1', (err) => (err ? reject(err) : resolve()));
  });

  const app = await server(registry, new Map());
  try {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.is(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    assert.is(sample(text, 'fs_tenantd_db_query_duration_seconds_count'), before + 3 + 1 + 1);
    assert.is(sample(text, 'fs_tenantd_db_query_errors_total'), 1);
    assert.ok((sample(text, 'fs_tenantd_db_pool_total_clients') ?? 0) >= 1, 'pool holds a client');
    assert.is(sample(text, 'fs_tenantd_db_pool_waiting_clients'), 0);
    // Event-loop lag and process metrics come from prom-client's defaults on the same registry.
    assert.ok(sample(text, 'nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag exported');
    assert.ok(sample(text, 'process_resident_memory_bytes') !== undefined);
  } finally {
    await app.close();
  }
});

test('waiting clients are counted while the pool is exhausted', async () => {
  const registry = createRegistry();
  const pool = db.appPool(1);
  instrumentPool(pool, registry);
  const held = await pool.connect();
  const queued = pool.query('SELECT 1');
  try {
    const text = await registry.metrics();
    assert.is(sample(text, 'fs_tenantd_db_pool_waiting_clients'), 1);
    assert.is(sample(text, 'fs_tenantd_db_pool_total_clients'), 1);
  } finally {
    held.release();
    await queued;
  }
});

test('/readyz: 200 with detail when the database is reachable and migrated and every node is connected', async () => {
  const readiness = new Map<string, ReadinessCheck>([
    ['database', databaseCheck(db.appPool(1))],
    [
      'esl',
      connectionsCheck(() => [
        { name: 'fs1', connected: true },
        { name: 'fs2', connected: true },
      ]),
    ],
  ]);
  const app = await server(createRegistry(), readiness);
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.is(res.statusCode, 200);
    const body = res.json();
    assert.is(body.status, 'ready');
    assert.is(body.checks.database.ok, true);
    assert.equal(body.checks.esl, { ok: true, detail: { fs1: 'connected', fs2: 'connected' } });
  } finally {
    await app.close();
  }
});

test('/readyz: 503 naming the disconnected ESL node', async () => {
  let fs2 = true;
  const readiness = new Map<string, ReadinessCheck>([
    [
      'esl',
      connectionsCheck(() => [
        { name: 'fs1', connected: true },
        { name: 'fs2', connected: fs2 },
      ]),
    ],
  ]);
  const app = await server(createRegistry(), readiness);
  try {
    assert.is((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    fs2 = false;
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.is(res.statusCode, 503);
    assert.equal(res.json().checks.esl, { ok: false, detail: { fs1: 'connected', fs2: 'disconnected' } });
    assert.is(res.json().status, 'not_ready');
  } finally {
    await app.close();
  }
});

test('/readyz: 503 when a migration is missing', async () => {
  const other = await freshDatabase();
  try {
    const owner = other.ownerPool(1);
    await owner.query("DELETE FROM schema_migrations WHERE version = '003'");
    const app = await server(createRegistry(), new Map([['database', databaseCheck(other.appPool(1))]]));
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      assert.is(res.statusCode, 503);
      assert.match(res.json().checks.database.detail, /migrations 003 are not applied/);
    } finally {
      await app.close();
    }
  } finally {
    await other.drop();
  }
});

test('/readyz: 503 when the database is unreachable, a check throws, or a check never answers', async () => {
  const nowhere = createPool('postgresql://nobody:nothing@127.0.0.1:1/none', 1);
  const readiness = new Map<string, ReadinessCheck>([
    ['database', databaseCheck(nowhere)],
    [
      'throws',
      () => {
        throw new Error('boom');
      },
    ],
    ['hangs', () => new Promise(() => undefined)],
    ['fine', () => ({ ok: true })],
  ]);
  const app = await server(createRegistry(), readiness, 200);
  try {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.is(res.statusCode, 503);
    const { checks } = res.json();
    assert.is(checks.database.ok, false);
    assert.match(checks.database.detail, /ECONNREFUSED/);
    assert.equal(checks.throws, { ok: false, detail: 'boom' });
    assert.equal(checks.hangs, { ok: false, detail: 'no answer within 200 ms' });
    assert.equal(checks.fine, { ok: true });
  } finally {
    await app.close();
    await nowhere.end();
  }
});

test('/readyz with no ESL nodes configured is ready (FS_TENANTD_ESL_NODES=none)', async () => {
  const app = await server(createRegistry(), new Map([['esl', connectionsCheck(() => [])]]));
  try {
    assert.is((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test.run();
