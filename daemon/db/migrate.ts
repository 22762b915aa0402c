import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { sqlDir } from '../paths.js';

export interface Migration {
  version: string;
  file: string;
  sql: string;
  checksum: string;
}

/** Ordered migrations: sql/NNN_name.sql, except 000_* (cluster bootstrap, run by a superuser). */
export async function loadMigrations(dir = sqlDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f) && !f.startsWith('000_')).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(path.join(dir, file), 'utf8');
      return { version: file.slice(0, 3), file, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

// Serialises concurrent migrators (two daemons starting at once).
const LOCK_KEY = 0x66737464; // 'fstd'

/**
 * Applies pending migrations, each in its own transaction, as the schema owner.
 * Re-running is a no-op; an applied file whose content changed is an error,
 * because the database no longer matches the source. `dir` is for tests that
 * start from an older schema (a copy of the first few files of sql/).
 */
export async function migrate(
  ownerUrl: string,
  log: (msg: string) => void = () => undefined,
  dir = sqlDir,
): Promise<string[]> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY, file text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    await client.query('GRANT SELECT ON schema_migrations TO fs_tenantd_app').catch(() => {
      throw new Error('role fs_tenantd_app does not exist: run sql/000_roles.sql as a superuser first (see README)');
    });
    const applied = new Map(
      (
        await client.query<{ version: string; checksum: string; file: string }>(
          'SELECT version, checksum, file FROM schema_migrations',
        )
      ).rows.map((r) => [r.version, r]),
    );
    const done: string[] = [];
    for (const m of await loadMigrations(dir)) {
      const prior = applied.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new Error(
            `migration ${m.file} was changed after it was applied (as ${prior.file}); add a new migration instead`,
          );
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, file, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.file,
          m.checksum,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.file} failed: ${(err as Error).message}`);
      }
      log(`applied migration ${m.file}`);
      done.push(m.file);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

/** Versions the source has that the database has not applied (empty = up to date). */
export async function pendingMigrations(pool: pg.Pool): Promise<string[]> {
  const wanted = (await loadMigrations()).map((m) => m.version);
  let have: Set<string>;
  try {
    have = new Set(
      (await pool.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
  } catch (err) {
    // Only "no such table" means nothing is applied; an unreachable server must say so.
    if ((err as { code?: string }).code === '42P01') return wanted;
    throw new Error(`cannot read schema_migrations: ${(err as Error).message}`);
  }
  return wanted.filter((v) => !have.has(v));
}
