// Rings one of the tenant's own users (bridge user/<number>@<domain>): dialled
// by number, or the destination of a DID. Do-not-disturb and forward-always are
// decided before this (index.ts); what is left here is the busy, no-answer and
// unreachable forwards, which depend on how the bridge ends.
import type { ExtensionFeatures, TenantSnapshot } from '../model.js';
import type { RouteKind } from './route-kind.js';

/** Where a failed bridge goes: a number dialled again in the tenant's own context, by hangup cause. */
export interface ForwardOnFail {
  /** The tenant's context (its primary domain), so the transfer is routed like any call the tenant makes. */
  context: string;
  /** Seconds to ring (bridge call_timeout). */
  timeoutS: number;
  /** Q.850 cause name (switch_channel_cause2str) → number dialled. */
  byCause: Readonly<Record<string, string>>;
}

export interface ExtensionTarget {
  type: 'extension';
  number: string;
  domain: string;
  forward?: ForwardOnFail;
}

/**
 * The causes a failed bridge to user/N@domain ends with, per kind of forward. user_outgoing_channel
 * (mod_dptools.c) fails with USER_NOT_REGISTERED when the user has no contact; a phone's 486 is USER_BUSY,
 * call_timeout expiring is NO_ANSWER (switch_ivr_originate.c), a phone's 480 NO_USER_RESPONSE.
 */
const CAUSES = {
  forwardBusy: ['USER_BUSY'],
  forwardNoAnswer: ['NO_ANSWER', 'NO_USER_RESPONSE'],
  forwardUnreachable: ['USER_NOT_REGISTERED', 'SUBSCRIBER_ABSENT', 'DESTINATION_OUT_OF_ORDER'],
} as const;

function forwardOnFail(f: ExtensionFeatures, context: string | null): ForwardOnFail | undefined {
  if (!context) return undefined;
  const byCause: Record<string, string> = {};
  for (const [field, causes] of Object.entries(CAUSES) as [keyof typeof CAUSES, readonly string[]][]) {
    const to = f[field];
    if (to) for (const c of causes) byCause[c] = to;
  }
  return Object.keys(byCause).length ? { context, timeoutS: f.noAnswerTimeoutS, byCause } : undefined;
}

function enabled(tenant: TenantSnapshot, number: string): ExtensionTarget | undefined {
  const ext = tenant.extensions.get(number);
  if (!ext?.enabled) return undefined;
  // The domain the user is known by in the directory (its a1 realm), so user/ finds it.
  const target: ExtensionTarget = { type: 'extension', number: ext.number, domain: ext.a1Realm };
  const forward = forwardOnFail(ext.features, tenant.primaryDomain);
  return forward ? { ...target, forward } : target;
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
    const fwd = target.forward;
    if (!fwd) {
      act('set', 'call_timeout=30');
      act('bridge', `${legVars}user/${target.number}@${target.domain}`);
      return;
    }
    // Only the forwarded causes continue; any other failure hangs up with its cause (switch_channel_handle_cause).
    act('set', `continue_on_fail=${Object.keys(fwd.byCause).join(',')}`);
    for (const [cause, to] of Object.entries(fwd.byCause)) act('set', `fs_tenantd_forward_${cause}=${to}`);
    act('set', `call_timeout=${fwd.timeoutS}`);
    act('bridge', `${legVars}user/${target.number}@${target.domain}`);
    // The bridge sets originate_disposition to the cause's name (switch_ivr_originate.c); the nested variable
    // picks that cause's target. The transfer re-enters the daemon's dialplan in the tenant's context with the
    // same Unique-ID, so routing, ceilings and checks apply again and admission does not count it twice.
    act('transfer', `\${fs_tenantd_forward_\${originate_disposition}} XML ${fwd.context}`);
  },
};
