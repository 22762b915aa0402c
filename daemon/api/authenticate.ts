// Turns the Authorization header into an ApiScope. The tenant comes from the
// verified token's tenantSlug (resolved with resolve_tenant_slug, whose
// sipDomain must belong to the same tenant), or for a superadmin from
// X-Tenant-Id. Failures are 401 with one generic message; the reason goes to
// the log and to fs_tenantd_api_auth_failures_total{reason}.
import type pg from 'pg';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { withReseller } from '../db/tenant-context.js';
import type { Principal } from '../auth/claims.js';
import type { AuthFailureReason, TokenVerifier } from '../auth/verify-token.js';
import { ApiError, badRequest, forbidden } from './errors.js';
import type { ApiScope } from './scope.js';

export const TENANT_HEADER = 'x-tenant-id';

export class AuthFailure extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    readonly detail: string,
  ) {
    super('invalid or missing bearer token');
    this.name = 'AuthFailure';
  }
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

interface Resolved {
  tenant_id: string;
  tenant_slug: string;
  tenant_status: string;
  domain_tenant: string | null;
}

async function resolveTenant(pool: pg.Pool, slug: string, sipDomain: string | null): Promise<Resolved | undefined> {
  const { rows } = await pool.query<Resolved>(
    `SELECT t.tenant_id, t.tenant_slug, t.tenant_status,
       (SELECT d.tenant_id FROM resolve_sip_domain($2) d) AS domain_tenant
     FROM resolve_tenant_slug($1) t`,
    [slug, sipDomain ?? ''],
  );
  return rows[0];
}

export async function authenticate(
  pool: pg.Pool,
  verifier: TokenVerifier,
  headers: Record<string, string | string[] | undefined>,
): Promise<ApiScope> {
  const auth = headers.authorization;
  if (typeof auth !== 'string' || auth === '') throw new AuthFailure('missing_token', 'no Authorization header');
  const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(auth);
  if (!m) throw new AuthFailure('malformed', 'Authorization is not "Bearer <compact JWT>"');
  const verified = await verifier.verify(m[1]!);
  if (!verified.ok) throw new AuthFailure(verified.reason, verified.detail);
  const principal: Principal = verified.principal;

  const header = headers[TENANT_HEADER];
  const requested = Array.isArray(header) ? header[0] : header;
  if (principal.role === 'superadmin') {
    if (requested === undefined || requested === '') return { kind: 'operator', principal };
    if (!SLUG.test(requested)) throw badRequest('X-Tenant-Id', 'expected a tenant slug');
    const t = await resolveTenant(pool, requested, null);
    if (!t) throw new ApiError(404, 'not_found', 'X-Tenant-Id: no such tenant');
    return {
      kind: 'tenant',
      principal,
      role: 'superadmin',
      tenantId: asTenantId(t.tenant_id),
      tenantSlug: t.tenant_slug,
      crossTenant: true,
    };
  }
  // The tenant is the token's; a tenant user cannot pick another one with a header.
  if (requested !== undefined && principal.role !== 'reseller_admin')
    throw forbidden('X-Tenant-Id is for superadmin and reseller_admin tokens only');
  const t = await resolveTenant(pool, principal.tenantSlug, principal.sipDomain);
  if (!t) throw new AuthFailure('unknown_tenant', `tenantSlug ${principal.tenantSlug} does not exist`);
  if (t.domain_tenant !== t.tenant_id)
    throw new AuthFailure(
      'tenant_mismatch',
      `sipDomain ${principal.sipDomain} is not a domain of tenant ${principal.tenantSlug}`,
    );
  // Decision: a suspended tenant's own users lose API access; the operator keeps it (to investigate or reactivate).
  if (t.tenant_status !== 'active') throw forbidden('tenant is suspended');
  if (principal.role === 'reseller_admin') return resellerScope(pool, principal, asTenantId(t.tenant_id), requested);
  return {
    kind: 'tenant',
    principal,
    role: principal.role,
    tenantId: asTenantId(t.tenant_id),
    tenantSlug: t.tenant_slug,
    crossTenant: false,
  };
}

/**
 * A reseller admin: its own account, or with X-Tenant-Id an account of its subtree. The child is looked up in the
 * reseller's tree context, so row-level security alone decides what exists: anything outside is a 404, exactly
 * like a slug nobody has.
 */
async function resellerScope(
  pool: pg.Pool,
  principal: Principal,
  own: TenantId,
  requested: string | undefined,
): Promise<ApiScope> {
  const base = { kind: 'tenant' as const, principal, role: 'reseller_admin' as const, reseller: own };
  const rows = await withReseller(
    pool,
    own,
    async ({ db }) =>
      (
        await db.query<{ id: string; slug: string; is_reseller: boolean }>(
          'SELECT id, slug, is_reseller FROM tenants WHERE id = $1 OR slug = $2',
          [own, requested ?? ''],
        )
      ).rows,
    { readOnly: true },
  );
  const self = rows.find((r) => r.id === own);
  if (!self?.is_reseller) throw forbidden('role reseller_admin: this account is not a reseller');
  if (requested === undefined || requested === '' || requested === self.slug)
    return { ...base, tenantId: own, tenantSlug: self.slug, crossTenant: false };
  if (!SLUG.test(requested)) throw badRequest('X-Tenant-Id', 'expected a tenant slug');
  const child = rows.find((r) => r.slug === requested);
  if (!child) throw new ApiError(404, 'not_found', 'X-Tenant-Id: no such tenant');
  return { ...base, tenantId: asTenantId(child.id), tenantSlug: child.slug, crossTenant: true };
}
