// One leg of a bridge that rings several numbers (ring groups, follow-me): a
// number the tenant itself can dial becomes its own extension (user/N@domain)
// or, through the tenant's outbound routes and gateways, an external call. The
// `[...]` block carries the leg's own timing (switch_ivr_originate.c:
// leg_timeout counts from the start of the originate, leg_delay_start delays
// the leg's own start).
import type { TenantSnapshot } from '../model.js';
import { dialGateway } from './dial-gateway.js';

export interface Leg {
  dial: string;
  /** Leaves through a trunk: the call then counts as outbound for the ceilings. */
  external: boolean;
}

/**
 * The domain `user/<n>@<domain>` names: the primary, whatever domain the phone registered under, since the user's
 * dial-string looks its contacts up in every domain of the tenant (directory.ts dialString).
 */
export const userDomain = (tenant: TenantSnapshot): string | undefined => tenant.primaryDomain ?? tenant.domains[0];

/** The leg ringing `number` for `timeoutS` after `delayS`, or undefined when nothing the tenant owns answers to it. */
export function legTo(tenant: TenantSnapshot, number: string, timeoutS: number, delayS = 0): Leg | undefined {
  const timing = delayS > 0 ? `leg_delay_start=${delayS},leg_timeout=${delayS + timeoutS}` : `leg_timeout=${timeoutS}`;
  const ext = tenant.extensions.get(number);
  if (ext) {
    // A member on do-not-disturb is skipped, not rung.
    const domain = userDomain(tenant);
    return ext.enabled && !ext.features.dnd && domain
      ? { dial: `[${timing}]user/${ext.number}@${domain}`, external: false }
      : undefined;
  }
  const out = dialGateway.dialled?.(tenant, number)?.target;
  if (!out) return undefined;
  const cid =
    out.callerIdNumber && /^\+?[0-9]{1,20}$/.test(out.callerIdNumber)
      ? `,origination_caller_id_number=${out.callerIdNumber}`
      : '';
  return { dial: `[${timing}${cid}]sofia/gateway/${out.gateway}/${out.number}`, external: true };
}
