import type pg from 'pg';
import type { ReadinessCheck } from '../http/readiness.js';
import { loadMigrations } from './migrate.js';

/**
 * Ready when the serving role can query and every migration this build ships
 * is applied (a daemon newer than its schema would answer with wrong SQL).
 */
export function databaseCheck(pool: pg.Pool): ReadinessCheck {
  let wanted: Promise<string[]> | undefined;
  return async () => {
    wanted ??= loadMigrations().then((ms) => ms.map((m) => m.version));
    const { rows } = await pool.query<{ version: string }>('SELECT version FROM schema_migrations');
    const have = new Set(rows.map((r) => r.version));
    const missing = (await wanted).filter((v) => !have.has(v));
    return missing.length
      ? { ok: false, detail: `reachable, but migrations ${missing.join(', ')} are not applied` }
      : { ok: true, detail: `reachable, ${have.size} migrations applied` };
  };
}
