// sofia has one gateway namespace per node (mod_sofia_globals.gateway_hash; it
// also holds each gateway's register_from/contact, "<sip:...@...>", never a
// slug). Tenant slugs and trunk names are both slugs ([a-z0-9-], no `_`), so
// `<tenant>_<trunk>` can be split back unambiguously and two tenants' "carrier"
// trunks never share a name. ACL lists share one namespace per node too
// (switch_core.c switch_load_network_lists): `<tenant>_trunks` has one `_`,
// `trunks` none, and FreeSWITCH's own lists (rfc1918.auto, loopback.auto, ...)
// a `.`, which slugs lack.
import { isSlug } from './fs-names.js';

export function gatewayName(tenantSlug: string, trunkName: string): string {
  if (!isSlug(tenantSlug) || !isSlug(trunkName)) throw new TypeError(`not slugs: ${tenantSlug}, ${trunkName}`);
  return `${tenantSlug}_${trunkName}`;
}

/** The ACL list holding one tenant's trunk CIDRs. */
export function tenantAclName(tenantSlug: string): string {
  if (!isSlug(tenantSlug)) throw new TypeError(`not a slug: ${tenantSlug}`);
  return `${tenantSlug}_trunks`;
}

/** The list the external profile applies to all trunk traffic (apply-inbound-acl). */
export const TRUNKS_ACL = 'trunks';
