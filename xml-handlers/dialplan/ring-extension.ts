// Rings one of the tenant's own users (bridge user/<number>@<domain>): dialled
// by number, a DID's destination, or an `extension` call-flow node. DND and
// forward-always are decided before this (index.ts); what is left here is
// follow-me and the busy, no-answer and unreachable forwards, which depend on
// how the bridge ends.
import type { ExtensionFeatures, TenantSnapshot } from '../model.js';
import { legTo, userDomain } from './dial-legs.js';
import type { RouteKind } from './route-kind.js';
import { VOICEMAIL_CODES } from './voicemail.js';

/** Where a failed bridge goes: a destination dialled again in the tenant's own context, by hangup cause. */
export interface ForwardOnFail {
  /** The tenant's context (its primary domain), so the transfer is routed like any call the tenant makes. */
  context: string;
  /** Q.850 cause name (switch_channel_cause2str) → destination. */
  byCause: Readonly<Record<string, string>>;
}

export interface ExtensionTarget {
  type: 'extension';
  number: string;
  domain: string;
  /** Seconds the extension itself rings. */
  timeoutS: number;
  /** Follow-me legs rung one after the other once the extension did not answer (dial-legs.ts). */
  followMe?: readonly string[];
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

/** `fallback`: where every cause the extension does not forward itself goes (a call flow's next node). */
function forwardOnFail(f: ExtensionFeatures, context: string | null, fallback?: string): ForwardOnFail | undefined {
  if (!context) return undefined;
  const byCause: Record<string, string> = {};
  for (const [field, causes] of Object.entries(CAUSES) as [keyof typeof CAUSES, readonly string[]][]) {
    const to = f[field] ?? fallback;
    if (to) for (const c of causes) byCause[c] = to;
  }
  return Object.keys(byCause).length ? { context, byCause } : undefined;
}

export interface RingOptions {
  timeoutS?: number;
  fallback?: string;
}

/** The target ringing extension `number`, or undefined if the tenant has no such enabled extension. */
export function extensionTarget(
  tenant: TenantSnapshot,
  number: string,
  opts: RingOptions = {},
): ExtensionTarget | undefined {
  const ext = tenant.extensions.get(number);
  if (!ext?.enabled) return undefined;
  const f = ext.features;
  // With its box on, what nothing else catches goes to voicemail (a call flow's next comes first).
  const fallback = opts.fallback ?? (ext.voicemail.enabled ? `${VOICEMAIL_CODES.leave}${ext.number}` : undefined);
  const forward = forwardOnFail(f, tenant.primaryDomain, fallback);
  const followMe = f.followMe
    .filter((s) => s.number !== ext.number)
    .map((s) => legTo(tenant, s.number, s.timeoutS)?.dial)
    .filter((d) => d !== undefined);
  const domain = userDomain(tenant);
  if (!domain) return undefined;
  return {
    type: 'extension',
    number: ext.number,
    domain,
    timeoutS: opts.timeoutS ?? (forward || followMe.length ? f.noAnswerTimeoutS : 30),
    ...(followMe.length ? { followMe } : {}),
    ...(forward ? { forward } : {}),
  };
}

export const ringExtension: RouteKind<ExtensionTarget> = {
  type: 'extension',
  dialled: (tenant, destination) => {
    const target = extensionTarget(tenant, destination);
    return target && { direction: 'internal', target };
  },
  fromDid: (tenant, d) => (d.type === 'extension' ? extensionTarget(tenant, d.extension) : undefined),
  actions: (target, act, legVars) => {
    act('set', 'hangup_after_bridge=true');
    const user = `user/${target.number}@${target.domain}`;
    // Follow-me: `|` tries each leg in turn once the previous one failed (switch_ivr_originate.c).
    const dial = target.followMe ? [`[leg_timeout=${target.timeoutS}]${user}`, ...target.followMe].join('|') : user;
    const fwd = target.forward;
    if (fwd) {
      // Only the forwarded causes continue; any other failure hangs up with its cause (switch_channel_handle_cause).
      act('set', `continue_on_fail=${Object.keys(fwd.byCause).join(',')}`);
      for (const [cause, to] of Object.entries(fwd.byCause)) act('set', `fs_tenantd_forward_${cause}=${to}`);
    }
    act('set', `call_timeout=${target.timeoutS}`);
    // Without it a leg that times out ends the whole `|` list (switch_ivr_originate.c continue_on_timeout).
    if (target.followMe) act('set', 'originate_continue_on_timeout=true');
    act('bridge', `${legVars}${dial}`);
    // The bridge sets originate_disposition to the cause's name (switch_ivr_originate.c); the nested variable
    // picks that cause's target. The transfer re-enters the daemon's dialplan in the tenant's context with the
    // same Unique-ID, so routing, ceilings and checks apply again and admission does not count it twice.
    if (fwd) act('transfer', `\${fs_tenantd_forward_\${originate_disposition}} XML ${fwd.context}`);
  },
};
