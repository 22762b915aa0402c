// Rings one of the tenant's own users (bridge user/<number>@<domain>): dialled
// by number, or the destination of a DID.
import type { TenantSnapshot } from '../model.js';
import type { RouteKind } from './route-kind.js';

export interface ExtensionTarget {
  type: 'extension';
  number: string;
  domain: string;
}

function enabled(tenant: TenantSnapshot, number: string): ExtensionTarget | undefined {
  const ext = tenant.extensions.get(number);
  // The domain the user is known by in the directory (its a1 realm), so user/ finds it.
  return ext?.enabled ? { type: 'extension', number: ext.number, domain: ext.a1Realm } : undefined;
}

export const ringExtension: RouteKind<ExtensionTarget> = {
  type: 'extension',
  dialled: (tenant, destination) => {
    const target = enabled(tenant, destination);
    return target && { direction: 'internal', target };
  },
  fromDid: (tenant, d) => (d.type === 'extension' ? enabled(tenant, d.extension) : undefined),
  actions: (target, act, legVars) => {
    act('set', 'hangup_after_bridge=true');
    act('set', 'call_timeout=30');
    act('bridge', `${legVars}user/${target.number}@${target.domain}`);
  },
};
