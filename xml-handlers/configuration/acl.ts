// acl.conf (switch_core.c switch_load_network_lists): one default-deny list per
// tenant from its enabled trunks' allowed_cidrs, plus `trunks`, the union the
// external sofia profile applies (apply-inbound-acl). A CIDR that does not parse
// is left out and reported, never written.
import { parseCidr } from '../cidr.js';
import { TRUNKS_ACL, tenantAclName } from '../gateway-name.js';
import type { PlatformTenant } from '../model.js';
import { section, serialize } from '../xml.js';
import type { ConfigurationFile } from './file.js';

export interface AclRender {
  xml: string;
  skipped: Array<{ tenant: string; cidr: string }>;
}

export function renderAcl(tenants: readonly PlatformTenant[]): AclRender {
  const skipped: AclRender['skipped'] = [];
  const lists = section('configuration', { description: 'fs-tenantd' })
    .ele('configuration', { name: 'acl.conf', description: 'Network Lists' })
    .ele('network-lists');
  const all = new Set<string>();
  const perTenant: Array<[string, string[]]> = [];
  for (const t of tenants) {
    if (t.status !== 'active') continue;
    const cidrs: string[] = [];
    for (const trunk of t.trunks) {
      if (!trunk.enabled) continue;
      for (const c of trunk.allowedCidrs) {
        if (parseCidr(c)) {
          cidrs.push(c);
          all.add(c);
        } else skipped.push({ tenant: t.slug, cidr: c });
      }
    }
    perTenant.push([tenantAclName(t.slug), [...new Set(cidrs)]]);
  }
  const list = (name: string, cidrs: Iterable<string>) => {
    const l = lists.ele('list', { name, default: 'deny' });
    for (const cidr of cidrs) l.ele('node', { type: 'allow', cidr });
  };
  list(TRUNKS_ACL, [...all].sort());
  for (const [name, cidrs] of perTenant) list(name, cidrs.sort());
  return { xml: serialize(lists), skipped };
}

export const aclConf: ConfigurationFile<{ file: 'acl.conf' }, PlatformTenant> = {
  name: 'acl.conf',
  parse: () => ({ file: 'acl.conf' }),
  needs: () => 'platform',
  render: (_req, tenants) => {
    const { xml, skipped } = renderAcl(tenants);
    return { xml, warnings: skipped.map((s) => ({ ...s, msg: 'acl.conf: left out a CIDR that does not parse' })) };
  },
};
