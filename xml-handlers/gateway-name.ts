// sofia has one gateway namespace per node. Tenant slugs and trunk names are
// both slugs ([a-z0-9-], no `_`), so `<tenant>_<trunk>` can be split back
// unambiguously and two tenants' "carrier" trunks never share a name.
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function gatewayName(tenantSlug: string, trunkName: string): string {
  if (!SLUG.test(tenantSlug) || !SLUG.test(trunkName)) throw new TypeError(`not slugs: ${tenantSlug}, ${trunkName}`);
  return `${tenantSlug}_${trunkName}`;
}

/** The ACL list holding one tenant's trunk CIDRs. */
export function tenantAclName(tenantSlug: string): string {
  if (!SLUG.test(tenantSlug)) throw new TypeError(`not a slug: ${tenantSlug}`);
  return `${tenantSlug}_trunks`;
}

/** The list the external profile applies to all trunk traffic (apply-inbound-acl). */
export const TRUNKS_ACL = 'trunks';
