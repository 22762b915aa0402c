// What a verified token says about its bearer. The tenant is named only here,
// by the token's signed tenantSlug: never by a body, query or path.

import { isSipDomain, isSlug } from '../../xml-handlers/fs-names.js';

export const ROLES = ['agent', 'tenant_admin', 'reseller_admin', 'superadmin'] as const;
export type Role = (typeof ROLES)[number];
export type TenantRole = Exclude<Role, 'superadmin'>;

/** A token's bearer after signature and claim checks (tenant not yet resolved). */
export type Principal =
  | { role: 'superadmin'; sub: string }
  | { role: TenantRole; sub: string; tenantSlug: string; sipDomain: string };

/** Reads the claims fs-tenantd needs; undefined names the first missing or malformed one. */
export function principalFromClaims(claims: Record<string, unknown>): { principal: Principal } | { problem: string } {
  const { sub, role, tenantSlug, sipDomain } = claims;
  if (typeof sub !== 'string' || sub.length < 1 || sub.length > 200) return { problem: 'sub' };
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return { problem: 'role' };
  if (role === 'superadmin') return { principal: { role, sub } };
  if (typeof tenantSlug !== 'string' || !isSlug(tenantSlug)) return { problem: 'tenantSlug' };
  if (typeof sipDomain !== 'string' || !isSipDomain(sipDomain.toLowerCase())) return { problem: 'sipDomain' };
  return { principal: { role: role as TenantRole, sub, tenantSlug, sipDomain: sipDomain.toLowerCase() } };
}
