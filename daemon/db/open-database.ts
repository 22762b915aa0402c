// Brings up the database side for the daemon: the embedded cluster (first start:
// initdb, roles, database, migrations, demo tenants) or an operator's server.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import { hasNoTenants, seedDemo } from './demo-seed.js';
import { startEmbeddedCluster, type EmbeddedCluster } from './embedded-postgres.js';
import { migrate, pendingMigrations } from './migrate.js';
import { provisionDatabase } from './provision.js';
import { assertServingRoleIsSafe } from './serving-role-check.js';

export interface Database {
  pool: pg.Pool;
  /** The serving role's URL (LISTEN connections use it too). */
  appUrl: string;
  mode: 'embedded' | 'external';
  /** Where the daemon's PostgreSQL listens, for the start-up log. */
  describe: string;
  stop(): Promise<void>;
}

interface Secrets {
  superuserPassword: string;
  ownerPassword: string;
  appPassword: string;
}

async function loadOrCreateSecrets(stateDir: string): Promise<Secrets> {
  const file = path.join(stateDir, 'embedded-secrets.json');
  if (existsSync(file)) return JSON.parse(await fs.readFile(file, 'utf8')) as Secrets;
  const pw = () => randomBytes(24).toString('base64url');
  const secrets: Secrets = { superuserPassword: pw(), ownerPassword: pw(), appPassword: pw() };
  // 0711: others (the database user, when we run as root) may pass through to pgdata/ but not list.
  await fs.mkdir(stateDir, { recursive: true, mode: 0o711 });
  await fs.writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

export function createPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle client's error (server restart) must not crash the process; the pool drops it.
  pool.on('error', () => undefined);
  return pool;
}

export async function openDatabase(
  config: Config,
  log: { info(o: object, m: string): void; warn(o: object, m: string): void },
): Promise<Database> {
  if (config.database.mode === 'external') {
    const { url, migrateUrl } = config.database;
    if (migrateUrl) {
      const applied = await migrate(migrateUrl, (m) => log.info({}, m));
      log.info({ applied: applied.length }, 'migrations checked');
    }
    const pool = createPool(url, config.poolMax);
    try {
      const missing = await pendingMigrations(pool);
      if (missing.length) {
        throw new Error(
          `database is not migrated (missing ${missing.join(', ')}): run "npm run migrate" with DATABASE_URL set to the schema owner, or set DATABASE_MIGRATE_URL`,
        );
      }
      await assertServingRoleIsSafe(pool);
    } catch (err) {
      await pool.end();
      throw err;
    }
    const u = new URL(url);
    return {
      pool,
      appUrl: url,
      mode: 'external',
      describe: `${u.hostname}:${u.port || 5432}${u.pathname}`,
      stop: () => pool.end(),
    };
  }

  const { dataDir, port } = config.database;
  const secrets = await loadOrCreateSecrets(config.stateDir);
  let cluster: EmbeddedCluster | undefined;
  try {
    cluster = await startEmbeddedCluster({
      dataDir,
      port,
      superuserPassword: secrets.superuserPassword,
      warn: (message) => log.warn({ dataDir }, `embedded PostgreSQL: ${message}`),
    });
    const db = await provisionDatabase({
      superuserUrl: cluster.superuserUrl,
      database: 'fs_tenantd',
      ownerPassword: secrets.ownerPassword,
      appPassword: secrets.appPassword,
    });
    const applied = await migrate(db.ownerUrl, (m) => log.info({}, m));
    const pool = createPool(db.appUrl, config.poolMax);
    await assertServingRoleIsSafe(pool);
    if (await hasNoTenants(pool)) {
      await seedDemo(pool);
      log.info({}, 'seeded demo tenants acme (acme.pbx.test) and globex (globex.pbx.test)');
    }
    const where = cluster.dataDir === dataDir ? dataDir : `${cluster.dataDir} (linked from ${dataDir})`;
    log.info(
      { dataDir: cluster.dataDir, port, created: cluster.created, migrationsApplied: applied.length },
      `embedded PostgreSQL ready, data in ${where}`,
    );
    const running = cluster;
    return {
      pool,
      appUrl: db.appUrl,
      mode: 'embedded',
      describe: `embedded 127.0.0.1:${port} (${cluster.dataDir})`,
      stop: async () => {
        await pool.end();
        await running.stop();
      },
    };
  } catch (err) {
    await cluster?.stop();
    throw err;
  }
}
