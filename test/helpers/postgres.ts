// Test databases. test/run.ts starts one throwaway cluster per test run and
// migrates a template database; each suite gets its own copy of the template,
// so suites never see each other's rows.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedCluster, type EmbeddedCluster } from '../../daemon/db/embedded-postgres.js';
import { loadMigrations, migrate } from '../../daemon/db/migrate.js';
import { provisionDatabase } from '../../daemon/db/provision.js';
import { createPool } from '../../daemon/db/open-database.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';

export interface TestCluster {
  port: number;
  superuserPassword: string;
  ownerPassword: string;
  appPassword: string;
  template: string;
}

export const TEMPLATE_DB = 'fs_tenantd_template';

export function superuserUrlFor(c: { port: number; superuserPassword: string }) {
  return (database = 'postgres') =>
    `postgresql://postgres:${encodeURIComponent(c.superuserPassword)}@127.0.0.1:${c.port}/${database}`;
}

const secret = () => randomBytes(12).toString('hex');

/** A private directory the database user can enter, also when the tests run as root. */
export async function makeClusterDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, 0o755);
  return dir;
}

/**
 * Removes a directory from makeClusterDir (or a daemon's state dir) and, when the cluster's data was kept
 * elsewhere because the database user could not reach it (as root; <dir>/pgdata is then a link), that too.
 */
export async function removeClusterDir(dir: string): Promise<void> {
  const linked = await fs.readlink(path.join(dir, 'pgdata')).catch(() => undefined);
  if (linked !== undefined) await fs.rm(path.resolve(dir, linked), { recursive: true, force: true });
  await fs.rm(dir, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Starts a cluster with a migrated template database. */
export async function startTestCluster(dir: string): Promise<{ cluster: EmbeddedCluster; info: TestCluster }> {
  const info: TestCluster = {
    port: await freePort(),
    superuserPassword: secret(),
    ownerPassword: secret(),
    appPassword: secret(),
    template: TEMPLATE_DB,
  };
  const cluster = await startEmbeddedCluster({
    dataDir: path.join(dir, 'pgdata'),
    port: info.port,
    superuserPassword: info.superuserPassword,
  });
  const db = await provisionDatabase({
    superuserUrl: cluster.superuserUrl,
    database: TEMPLATE_DB,
    ownerPassword: info.ownerPassword,
    appPassword: info.appPassword,
  });
  await migrate(db.ownerUrl);
  return { cluster, info };
}

export interface TestDatabase {
  name: string;
  appUrl: string;
  ownerUrl: string;
  superuserUrl: string;
  /** A pool as the serving role (RLS applies), closed by drop(). */
  appPool(max?: number): pg.Pool;
  /** A pool as the schema owner (migrations; RLS is forced on it too). */
  ownerPool(max?: number): pg.Pool;
  drop(): Promise<void>;
}

export function testCluster(): TestCluster {
  const raw = process.env.FS_TENANTD_TEST_PG;
  if (!raw)
    throw new Error('FS_TENANTD_TEST_PG is not set: run tests through `npm test` (test/run.ts starts PostgreSQL)');
  return JSON.parse(raw) as TestCluster;
}

let counter = 0;

/** A new database copied from the migrated template, for one suite. */
export async function freshDatabase(info: TestCluster = testCluster()): Promise<TestDatabase> {
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const db = await provisionDatabase({
    superuserUrl: superuserUrlFor(info),
    database: name,
    ownerPassword: info.ownerPassword,
    appPassword: info.appPassword,
    template: info.template,
  });
  const pools: pg.Pool[] = [];
  const open = (url: string, max: number) => {
    const p = createPool(url, max);
    pools.push(p);
    return p;
  };
  return {
    name,
    appUrl: db.appUrl,
    ownerUrl: db.ownerUrl,
    superuserUrl: superuserUrlFor(info)(name),
    appPool: (max = 4) => open(db.appUrl, max),
    ownerPool: (max = 2) => open(db.ownerUrl, max),
    drop: async () => {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      const su = new pg.Client({ connectionString: superuserUrlFor(info)('postgres') });
      await su.connect();
      try {
        await su.query(`DROP DATABASE IF EXISTS ${su.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await su.end();
      }
    },
  };
}

/**
 * A cluster of the suite's own, for tests that stop and restart PostgreSQL
 * (stale-if-error, CDR spool). Slower (initdb): use only where an outage is the point.
 */
export async function dedicatedCluster(): Promise<{
  info: TestCluster;
  database: TestDatabase;
  stop(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}> {
  const dir = await makeClusterDir('fs-tenantd-outage-');
  let { cluster, info } = await startTestCluster(dir);
  const database = await freshDatabase(info);
  let running = true;
  return {
    info,
    database,
    stop: async () => {
      if (running) {
        await cluster.stop();
        running = false;
      }
    },
    restart: async () => {
      if (running) await cluster.stop();
      cluster = await startEmbeddedCluster({
        dataDir: path.join(dir, 'pgdata'),
        port: info.port,
        superuserPassword: info.superuserPassword,
      });
      running = true;
    },
    destroy: async () => {
      await database.drop().catch(() => undefined);
      if (running) await cluster.stop();
      await removeClusterDir(dir);
    },
  };
}

/** A tenant's id by slug, through the resolver the daemon uses (e.g. after seedDemo). */
export async function tenantIdOf(pool: pg.Pool, slug: string): Promise<TenantId> {
  const { rows } = await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM resolve_tenant_slug($1)', [slug]);
  if (!rows[0]) throw new Error(`no tenant ${slug}`);
  return asTenantId(rows[0].tenant_id);
}

/**
 * A database of its own, migrated up to (not including) migration `before`: how a test puts data in an older schema
 * and then checks what the next migration does with it (`migrate(db.ownerUrl)` applies the rest). `drop()` removes it.
 */
export async function databaseBefore(
  before: string,
  prefix: string,
): Promise<{ ownerUrl: string; appUrl: string; superuserUrl: string; drop(): Promise<void> }> {
  const info = testCluster();
  const name = `${prefix}_${Date.now().toString(36)}`;
  const db = await provisionDatabase({
    superuserUrl: superuserUrlFor(info),
    database: name,
    ownerPassword: info.ownerPassword,
    appPassword: info.appPassword,
  });
  const older = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-sql-'));
  const drop = async () => {
    await fs.rm(older, { recursive: true, force: true });
    const su = new pg.Client({ connectionString: superuserUrlFor(info)('postgres') });
    await su.connect();
    await su.query(`DROP DATABASE ${su.escapeIdentifier(name)} WITH (FORCE)`);
    await su.end();
  };
  try {
    for (const m of await loadMigrations()) if (m.version < before) await fs.writeFile(path.join(older, m.file), m.sql);
    await migrate(db.ownerUrl, undefined, older);
  } catch (err) {
    await drop();
    throw err;
  }
  return { ownerUrl: db.ownerUrl, appUrl: db.appUrl, superuserUrl: superuserUrlFor(info)(name), drop };
}
