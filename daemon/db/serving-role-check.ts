import type pg from 'pg';

export interface ServingRoleReport {
  role: string;
  superuser: boolean;
  bypassRls: boolean;
  /** Tables the role owns or could act as owner of (membership in the owner role). */
  ownedTables: string[];
}

export async function inspectServingRole(pool: pg.Pool): Promise<ServingRoleReport> {
  const {
    rows: [role],
  } = await pool.query<{ role: string; superuser: boolean; bypass: boolean }>(
    'SELECT current_user AS role, rolsuper AS superuser, rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user',
  );
  const { rows: owned } = await pool.query<{ relname: string }>(`
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND pg_has_role(current_user, c.relowner, 'USAGE')
    ORDER BY c.relname`);
  return {
    role: role!.role,
    superuser: role!.superuser,
    bypassRls: role!.bypass,
    ownedTables: owned.map((r) => r.relname),
  };
}

/**
 * Refuses to serve through a role for which RLS would silently not apply:
 * superusers and BYPASSRLS roles skip policies, and a table's owner can turn RLS off.
 */
export async function assertServingRoleIsSafe(pool: pg.Pool): Promise<ServingRoleReport> {
  const report = await inspectServingRole(pool);
  const problems: string[] = [];
  if (report.superuser) problems.push('is a superuser');
  if (report.bypassRls) problems.push('has BYPASSRLS');
  if (report.ownedTables.length)
    problems.push(`owns (or is a member of the owner of) ${report.ownedTables.join(', ')}`);
  if (problems.length) {
    throw new Error(
      `refusing to serve: database role "${report.role}" ${problems.join('; ')}. ` +
        'Tenant isolation depends on row-level security, which does not bind such a role. ' +
        'Connect DATABASE_URL as a plain member of fs_tenantd_app and run migrations with DATABASE_MIGRATE_URL (see README).',
    );
  }
  return report;
}
