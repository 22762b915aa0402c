// Puts the caller into one of the tenant's mod_callcenter queues
// (`callcenter <queue>@<primary domain>`): dialled by the queue's dial code, or
// the destination of a DID. A tenant without a primary domain has no queues in
// FreeSWITCH (callcenter-state.ts).
import { CHANNEL_VARS } from '../channel-vars.js';
import { queueFsName } from '../callcenter-names.js';
import type { RouteKind } from './route-kind.js';

export interface QueueTarget {
  type: 'queue';
  fsName: string;
}

export const enterQueue: RouteKind<QueueTarget> = {
  type: 'queue',
  dialled: (tenant, destination) => {
    if (!tenant.primaryDomain) return undefined;
    for (const q of tenant.queues.values()) {
      if (q.dialCode === destination) {
        return { direction: 'internal', target: { type: 'queue', fsName: queueFsName(q.name, tenant.primaryDomain) } };
      }
    }
    return undefined;
  },
  fromDid: (tenant, d) =>
    d.type === 'queue' && tenant.primaryDomain && tenant.queues.has(d.queue)
      ? { type: 'queue', fsName: queueFsName(d.queue, tenant.primaryDomain) }
      : undefined,
  actions: (target, act) => {
    act('answer');
    // mod_callcenter originates the agent leg itself: these make it carry the caller's tenant and direction.
    act('set', `cc_export_vars=${CHANNEL_VARS.tenantId},${CHANNEL_VARS.tenantSlug},${CHANNEL_VARS.direction}`);
    act('callcenter', target.fsName);
  },
};
