// GET /security/isolation-proof: a live attestation read from the catalog, for
// an operator to hand to a security reviewer. For every table: RLS enabled and
// forced, its policies and whether they bind the serving role, the serving
// role's privileges; the serving role's superuser/BYPASSRLS flags (its own and
// those of every role it can become); row counts only, never contents.
//
// Counts come from each tenant's own withTenant transaction, which also counts
// rows of *other* tenants it can see (must be 0), and from each reseller's tree
// context, counting rows outside its subtree (must be 0). One probe runs with no tenant
// context at all, deliberately outside withTenant: it proves that a query which
// forgot withTenant sees nothing (count(*) only, read-only).
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { asTenantId } from '../../../xml-handlers/model.js';
import { inspectServingRole } from '../../db/serving-role-check.js';
import { withReseller, withTenant } from '../../db/tenant-context.js';
import { errorBody } from '../schema-types.js';

interface TableRow {
  name: string;
  tenant_key: string | null;
  rls_enabled: boolean;
  rls_forced: boolean;
  privileges: string[];
  policies: Array<{
    name: string;
    command: string;
    permissive: boolean;
    roles: string[];
    using: string | null;
    withCheck: string | null;
    bindsServingRole: boolean;
  }>;
}

const CATALOG = `
SELECT c.relname AS name,
  CASE WHEN c.relname = 'tenants' THEN 'id'
       WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) THEN 'tenant_id' END AS tenant_key,
  c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
  ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p WHERE has_table_privilege(current_user, c.oid, p)) AS privileges,
  (SELECT coalesce(json_agg(json_build_object(
     'name', p.polname,
     'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
     'permissive', p.polpermissive,
     'roles', ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END FROM unnest(p.polroles) r),
     'using', pg_get_expr(p.polqual, p.polrelid),
     'withCheck', pg_get_expr(p.polwithcheck, p.polrelid),
     'bindsServingRole', 0 = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) r WHERE r <> 0 AND pg_has_role(current_user, r, 'MEMBER'))
   ) ORDER BY p.polname), '[]') FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY c.relname`;

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

export async function isolationProof(pool: pg.Pool) {
  const role = await inspectServingRole(pool);
  const { rows: roles } = await pool.query<{ name: string; superuser: boolean; bypass_rls: boolean }>(
    `SELECT rolname AS name, rolsuper AS superuser, rolbypassrls AS bypass_rls FROM pg_roles
     WHERE pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname`,
  );
  const { rows: tables } = await pool.query<TableRow>(CATALOG);
  const tenantTables = tables.filter((t) => t.tenant_key && t.privileges.includes('SELECT'));
  const rows = new Map(tenantTables.map((t) => [t.name, { total: 0, foreignVisible: 0, visibleWithoutTenant: 0 }]));

  // What a row outside the context is: another tenant's (tenant context), outside the subtree (reseller context).
  const FOREIGN = {
    tenant: (key: string) => `${key} IS DISTINCT FROM app_current_tenant()`,
    reseller: (key: string) => `NOT tenant_in_subtree(app_current_reseller(), ${key})`,
    none: () => 'false',
  };
  const counts = (context: keyof typeof FOREIGN) =>
    `SELECT ${tenantTables
      .map(
        (t, i) =>
          `(SELECT json_build_array(count(*), count(*) FILTER (WHERE ${FOREIGN[context](ident(t.tenant_key!))})) FROM ${ident(t.name)}) AS c${i}`,
      )
      .join(', ')}`;
  const add = (r: Record<string, [number | string, number | string]>, into?: 'total' | 'visibleWithoutTenant') =>
    tenantTables.forEach((t, i) => {
      const [all, foreign] = r[`c${i}`]!;
      if (into) rows.get(t.name)![into] += Number(all);
      rows.get(t.name)!.foreignVisible += Number(foreign);
    });

  const { rows: tenants } = await pool.query<{ tenant_id: string; is_reseller: boolean }>(
    'SELECT tenant_id, is_reseller FROM list_tenants()',
  );
  for (const t of tenants) {
    const id = asTenantId(t.tenant_id);
    add(
      await withTenant(pool, id, async (db) => (await db.query(counts('tenant'))).rows[0], { readOnly: true }),
      'total',
    );
    // A reseller's tree context: every row it sees must belong to its subtree.
    if (t.is_reseller)
      add(
        await withReseller(pool, id, async ({ db }) => (await db.query(counts('reseller'))).rows[0], {
          readOnly: true,
        }),
      );
  }
  const probe = await pool.connect();
  // A checked-out client's 'error' is ours to handle (see withTenant); the failed query answers the request.
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  probe.on('error', onError);
  try {
    await probe.query('BEGIN READ ONLY');
    await probe.query("SELECT set_config('app.current_tenant', '', true)");
    add((await probe.query(counts('none'))).rows[0], 'visibleWithoutTenant');
    await probe.query('COMMIT');
  } finally {
    probe.off('error', onError);
    probe.release(broken);
  }

  const problems: string[] = [];
  if (role.superuser) problems.push(`serving role ${role.role} is a superuser`);
  if (role.bypassRls) problems.push(`serving role ${role.role} has BYPASSRLS`);
  for (const r of roles)
    if (r.name !== role.role && (r.superuser || r.bypass_rls))
      problems.push(`serving role can become ${r.name}, which bypasses RLS`);
  if (role.ownedTables.length) problems.push(`serving role owns ${role.ownedTables.join(', ')}`);
  const report = tables.map((t) => {
    const holdsTenantData = t.tenant_key !== null;
    const binding = t.policies.filter((p) => p.bindsServingRole);
    if (holdsTenantData) {
      if (!t.rls_enabled) problems.push(`${t.name}: RLS is not enabled`);
      if (!t.rls_forced) problems.push(`${t.name}: RLS is not forced`);
      if (binding.length === 0) problems.push(`${t.name}: no policy binds the serving role`);
      for (const p of binding) {
        // A tenant's own rows, or (sql/014) a reseller's subtree.
        const bound = (p.using ?? p.withCheck ?? '').match(/app_current_(tenant|reseller)\(\)/);
        if (p.permissive && !bound)
          problems.push(
            `${t.name}: policy ${p.name} compares with neither app_current_tenant() nor app_current_reseller()`,
          );
      }
    } else if (t.privileges.some((p) => p !== 'SELECT')) {
      // Shared tables (schema_migrations) may be readable; writable ones would be a channel between tenants.
      problems.push(`${t.name}: has no tenant key but the serving role may ${t.privileges.join(', ')}`);
    }
    const counted = rows.get(t.name);
    if (counted?.foreignVisible)
      problems.push(
        `${t.name}: ${counted.foreignVisible} rows of other tenants were visible inside a tenant's context`,
      );
    if (counted?.visibleWithoutTenant)
      problems.push(`${t.name}: ${counted.visibleWithoutTenant} rows visible without a tenant context`);
    return {
      table: t.name,
      holdsTenantData,
      rlsEnabled: t.rls_enabled,
      rlsForced: t.rls_forced,
      policies: t.policies,
      servingRolePrivileges: t.privileges,
      ...(counted
        ? {
            rows: counted.total,
            rowsVisibleWithoutTenant: counted.visibleWithoutTenant,
            foreignRowsVisibleInTenantContext: counted.foreignVisible,
          }
        : {}),
    };
  });
  return {
    generatedAt: new Date().toISOString(),
    verdict: problems.length ? 'at_risk' : 'isolated',
    problems,
    servingRole: {
      name: role.role,
      superuser: role.superuser,
      bypassRls: role.bypassRls,
      ownsTables: role.ownedTables,
      memberOf: roles.map((r) => ({ name: r.name, superuser: r.superuser, bypassRls: r.bypass_rls })),
    },
    tenants: tenants.length,
    tables: report,
  };
}

export function isolationProofRoute(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/security/isolation-proof',
    {
      schema: { tags: ['operator'], response: { 401: errorBody, 403: errorBody } },
      config: { roles: ['superadmin'] },
    },
    async () => isolationProof(pool),
  );
}
