// Who a request acts as, and the one way a route touches tenant data: a
// withTenant transaction that also writes the audit trail.
import type { FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { TenantId } from '../../xml-handlers/model.js';
import type { Principal, Role } from '../auth/claims.js';
import { withReseller, withTenant } from '../db/tenant-context.js';
import { ApiError } from './errors.js';

export type ApiScope =
  /**
   * Acting inside one tenant: a tenant's own token, or (crossTenant) a superadmin or a reseller admin with
   * X-Tenant-Id. `reseller`: a reseller admin's own account, whose subtree bounds what it may enter (sql/014).
   */
  | {
      kind: 'tenant';
      principal: Principal;
      role: Role;
      tenantId: TenantId;
      tenantSlug: string;
      crossTenant: boolean;
      reseller?: TenantId;
    }
  /** A superadmin without X-Tenant-Id: no tenant context, so RLS shows no tenant data. */
  | { kind: 'operator'; principal: Principal & { role: 'superadmin' } };

export interface AuditEntry {
  action: string;
  target: string;
  /** Before/after summary; never secrets (callers pass API-shaped rows, which have none). */
  summary?: Record<string, unknown>;
}

export interface Tx {
  db: pg.PoolClient;
  audit(entry: AuditEntry): Promise<void>;
}

export type TenantScope = Extract<ApiScope, { kind: 'tenant' }>;

export function requireTenant(scope: ApiScope | null): TenantScope {
  if (scope?.kind === 'tenant') return scope;
  throw new ApiError(
    400,
    'tenant_required',
    'this route acts on one tenant: a superadmin names it with the X-Tenant-Id header',
  );
}

export async function insertAudit(db: pg.PoolClient, scope: TenantScope, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_logs (tenant_id, actor, actor_role, action, target, cross_tenant, summary)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      scope.tenantId,
      scope.principal.sub,
      scope.role,
      e.action,
      e.target.slice(0, 300),
      scope.crossTenant,
      JSON.stringify(e.summary ?? {}),
    ],
  );
}

/**
 * Runs fn in the scope's tenant, in one transaction with its audit rows. A
 * superadmin's cross-tenant request always leaves a row ("operator accessed
 * your account"), reads included: `target` names the request when fn wrote none.
 */
export async function inScope<T>(
  pool: pg.Pool,
  scope: TenantScope,
  target: string,
  fn: (tx: Tx) => Promise<T>,
  opts: { write: boolean },
): Promise<T> {
  return withTenant(
    pool,
    scope.tenantId,
    async (db) => {
      let audited = false;
      const result = await fn({
        db,
        audit: async (e) => {
          audited = true;
          await insertAudit(db, scope, e);
        },
      });
      if (scope.crossTenant && !audited) await insertAudit(db, scope, { action: 'operator.read', target });
      return result;
    },
    {
      readOnly: !opts.write && !scope.crossTenant,
      // A reseller inside a child: PostgreSQL checks the child is in its subtree on every statement.
      viaReseller: scope.crossTenant ? scope.reseller : undefined,
    },
  );
}

/** inScope for a request: its tenant (400 without one), audited as "GET /api/..." when nothing else is. */
export function inTenant<T>(
  pool: pg.Pool,
  req: FastifyRequest,
  fn: (tx: Tx & { scope: TenantScope }) => Promise<T>,
  opts: { write: boolean },
): Promise<T> {
  const scope = requireTenant(req.apiScope);
  return inScope(pool, scope, `${req.method} ${req.url}`, (tx) => fn({ ...tx, scope }), opts);
}

/**
 * fn in the request's account as a reseller tree (withReseller): RLS shows the account and, for a reseller, its
 * subtree; nothing of any other tenant. A superadmin's cross-tenant read is audited in that account's own log, in
 * the same transaction (entered after fn, so fn's reads stay in the tree context).
 */
export function inTree<T>(
  pool: pg.Pool,
  req: FastifyRequest,
  fn: (db: pg.PoolClient, scope: TenantScope) => Promise<T>,
): Promise<T> {
  const scope = requireTenant(req.apiScope);
  return withReseller(
    pool,
    scope.tenantId,
    async (tx) => {
      const result = await fn(tx.db, scope);
      if (scope.crossTenant) {
        await tx.enter(scope.tenantId);
        await insertAudit(tx.db, scope, { action: 'operator.read', target: `${req.method} ${req.url}` });
      }
      return result;
    },
    { readOnly: !scope.crossTenant },
  );
}
