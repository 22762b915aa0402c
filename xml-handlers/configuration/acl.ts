// acl.conf (switch_core.c switch_load_network_lists): one default-deny list per
// tenant from its enabled trunks' allowed_cidrs, plus `trunks`, the union the
// external sofia profile applies (apply-inbound-acl). A CIDR that does not parse
// is left out and reported, never written. Each tenant's list is serialized apart
// (aclFragment) and the document assembled from them; `trunks` is the sorted
// union of their nodes.
import { parseCidr } from '../cidr.js';
import { TRUNKS_ACL, tenantAclName } from '../gateway-name.js';
import type { PlatformTenant } from '../model.js';
import { fill, section, serialize, serializeAt, slot } from '../xml.js';
import type { ConfigurationFile, PerTenant } from './file.js';

type Skipped = Array<{ tenant: string; cidr: string }>;

export interface AclRender {
  xml: string;
  skipped: Skipped;
}

/** One tenant's part of acl.conf. */
export interface AclFragment {
  /** Its serialized list; undefined for a tenant that is not active (no list). */
  list: string | undefined;
  /** Its valid CIDRs, sorted and unique, each with its serialized <node> (the `trunks` list holds the same). */
  nodes: ReadonlyArray<readonly [cidr: string, xml: string]>;
  skipped: Skipped;
}

/** document > section > configuration > network-lists > list > node */
const LIST_DEPTH = 4;

export function aclFragment(t: PlatformTenant): AclFragment {
  if (t.status !== 'active') return { list: undefined, nodes: [], skipped: [] };
  const skipped: Skipped = [];
  const valid = new Set<string>();
  for (const trunk of t.trunks) {
    if (!trunk.enabled) continue;
    for (const c of trunk.allowedCidrs) {
      if (parseCidr(c)) valid.add(c);
      else skipped.push({ tenant: t.slug, cidr: c });
    }
  }
  const cidrs = [...valid].sort();
  const list = serializeAt(LIST_DEPTH, 'list', { name: tenantAclName(t.slug), default: 'deny' }, (l) => {
    for (const cidr of cidrs) l.ele('node', { type: 'allow', cidr });
  });
  // Line i + 1 is the node of cidrs[i] (one line each: a CIDR has no newline); one serialization, not one per node.
  const lines = list.split('\n');
  return { list, nodes: cidrs.map((c, i) => [c, lines[i + 1]!]), skipped };
}

export function renderAcl(tenants: readonly PlatformTenant[]): AclRender {
  return assembleAcl(tenants.map(aclFragment));
}

/** renderAcl from each tenant's aclFragment (in tenant order). */
export function assembleAcl(fragments: readonly AclFragment[]): AclRender {
  const union = new Map<string, string>();
  for (const f of fragments) for (const [cidr, xml] of f.nodes) union.set(cidr, xml);
  const all = [...union.keys()].sort().map((c) => union.get(c)!);
  const lists = [
    fill(
      serializeAt(LIST_DEPTH, 'list', { name: TRUNKS_ACL, default: 'deny' }, (l) => slot(l, all)),
      all,
    ),
  ];
  for (const f of fragments) if (f.list !== undefined) lists.push(f.list);
  const frame = section('configuration', { description: 'fs-tenantd' })
    .ele('configuration', { name: 'acl.conf', description: 'Network Lists' })
    .ele('network-lists');
  slot(frame, lists);
  return { xml: fill(serialize(frame), lists), skipped: fragments.flatMap((f) => f.skipped) };
}

const answer = ({ xml, skipped }: AclRender) => ({
  xml,
  warnings: skipped.map((s) => ({ ...s, msg: 'acl.conf: left out a CIDR that does not parse' })),
});

const perTenant: PerTenant<{ file: 'acl.conf' }, PlatformTenant, AclFragment> = {
  fragment: aclFragment,
  assemble: (_req, fragments) => answer(assembleAcl(fragments)),
};

export const aclConf: ConfigurationFile<{ file: 'acl.conf' }, PlatformTenant, AclFragment> = {
  name: 'acl.conf',
  parse: () => ({ file: 'acl.conf' }),
  needs: () => 'platform',
  render: (_req, tenants) => answer(renderAcl(tenants)),
  perTenant,
};
