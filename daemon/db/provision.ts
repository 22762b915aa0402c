// Creates the database, the roles and the two logins a fresh cluster needs. Used
// by embedded mode and by the test harness; on an operator's own server a DBA
// does the same by hand (README, "Using your own PostgreSQL").
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { sqlDir } from '../paths.js';

export interface ProvisionedDatabase {
  /** The schema owner: runs migrations, owns every table. */
  ownerUrl: string;
  /** The serving login: member of fs_tenantd_app, owns nothing. */
  appUrl: string;
}

export interface ProvisionOptions {
  superuserUrl: (database?: string) => string;
  database: string;
  ownerPassword: string;
  appPassword: string;
  ownerRole?: string;
  appRole?: string;
  /** Copy from this database (already migrated) instead of starting empty. */
  template?: string;
}

export async function provisionDatabase(opts: ProvisionOptions): Promise<ProvisionedDatabase> {
  const ownerRole = opts.ownerRole ?? 'fs_tenantd_owner';
  const appRole = opts.appRole ?? 'fs_tenantd';
  const su = new pg.Client({ connectionString: opts.superuserUrl('postgres') });
  await su.connect();
  const ident = (s: string) => su.escapeIdentifier(s);
  const lit = (s: string) => su.escapeLiteral(s);
  try {
    await su.query(await readFile(path.join(sqlDir, '000_roles.sql'), 'utf8'));
    const roles = new Set(
      (await su.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname),
    );
    await su.query(
      `${roles.has(ownerRole) ? 'ALTER' : 'CREATE'} ROLE ${ident(ownerRole)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD ${lit(opts.ownerPassword)}`,
    );
    await su.query(
      `${roles.has(appRole) ? 'ALTER' : 'CREATE'} ROLE ${ident(appRole)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOINHERIT PASSWORD ${lit(opts.appPassword)}`,
    );
    await su.query(`ALTER ROLE ${ident(appRole)} INHERIT`);
    await su.query(`GRANT fs_tenantd_app TO ${ident(appRole)}`);
    const exists = (await su.query('SELECT 1 FROM pg_database WHERE datname = $1', [opts.database])).rowCount;
    if (!exists) {
      await su.query(
        `CREATE DATABASE ${ident(opts.database)} OWNER ${ident(ownerRole)} ENCODING 'UTF8'` +
          (opts.template ? ` TEMPLATE ${ident(opts.template)}` : ''),
      );
    }
  } finally {
    await su.end();
  }
  const url = (role: string, password: string) => {
    const u = new URL(opts.superuserUrl(opts.database));
    u.username = role;
    u.password = password;
    return u.toString();
  };
  return { ownerUrl: url(ownerRole, opts.ownerPassword), appUrl: url(appRole, opts.appPassword) };
}
