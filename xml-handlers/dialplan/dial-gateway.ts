// Dials out through one of the tenant's own trunks (bridge
// sofia/gateway/<tenant>_<trunk>/<number>): the first enabled outbound route
// whose pattern matches, by priority, with its digit rewriting and caller-ID.
import { gatewayName } from '../gateway-name.js';
import { text } from '../xml.js';
import type { RouteKind } from './route-kind.js';

export interface GatewayTarget {
  type: 'gateway';
  gateway: string;
  number: string;
  callerIdNumber: string | null;
  callerIdName: string | null;
}

const DIALABLE = /^\+?[0-9]{1,32}$/;

export const dialGateway: RouteKind<GatewayTarget> = {
  type: 'gateway',
  dialled: (tenant, destination) => {
    for (const route of tenant.outboundRoutes) {
      if (!route.pattern.test(destination)) continue;
      const trunk = tenant.trunks.find((t) => t.name === route.trunk && t.enabled && t.proxy);
      if (!trunk) continue;
      const number = route.prepend + destination.slice(route.stripDigits);
      if (!DIALABLE.test(number)) continue;
      return {
        direction: 'outbound',
        target: {
          type: 'gateway',
          gateway: gatewayName(tenant.slug, trunk.name),
          number,
          callerIdNumber: route.callerIdNumber ?? tenant.defaultCallerIdNumber,
          callerIdName: route.callerIdName ?? tenant.defaultCallerIdName,
        },
      };
    }
    return undefined;
  },
  actions: (target, act, legVars) => {
    if (target.callerIdNumber) act('set', `effective_caller_id_number=${text(target.callerIdNumber, 20)}`);
    if (target.callerIdName) act('set', `effective_caller_id_name=${text(target.callerIdName, 80)}`);
    act('set', 'hangup_after_bridge=true');
    act('bridge', `${legVars}sofia/gateway/${target.gateway}/${target.number}`);
  },
};
