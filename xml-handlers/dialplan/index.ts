// dialplan section: the daemon decides the route and answers with a one-extension
// context for this call only. The tenant comes from the channel (registered
// users: the fs_tenant_id the directory set, which must agree with the context's
// domain) or, in context `public`, from the DID's owner, and only when the call
// comes from one of that tenant's trunks. No route is an explicit rejection, so
// a call never falls through to anything else.
import { CHANNEL_VARS } from '../channel-vars.js';
import { CidrSet } from '../cidr.js';
import type { DialplanRequest } from '../fetch-request.js';
import type { CallDirection, TenantSnapshot } from '../model.js';
import { tenantHoldMusic } from '../moh.js';
import { section, serialize, text } from '../xml.js';
import { flowNodeDialled, runFlow } from './call-flow.js';
import { dialGateway } from './dial-gateway.js';
import { enterQueue } from './enter-queue.js';
import { type FeatureChange, featureCode } from './feature-codes.js';
import { playAnnouncement } from './nodes/announcement.js';
import { joinConference } from './nodes/conference.js';
import { runMenu } from './nodes/menu.js';
import { parkCall } from './nodes/parking-lot.js';
import { ringGroup } from './nodes/ring-group.js';
import { recordingCondition, shouldRecord } from './record-call.js';
import { ringExtension } from './ring-extension.js';
import type { Act, RouteKind } from './route-kind.js';
import { checkMessages, takeVoicemail } from './voicemail.js';

export const PUBLIC_CONTEXT = 'public';

/**
 * Every kind of target. A number a user dialled is tried against the kinds with `dialled` in this order, with the
 * tenant's call-flow dial codes after the queues (index.ts `dialled`); the node kinds' targets come from flows only.
 */
export const ROUTE_KINDS = [
  ringExtension,
  enterQueue,
  dialGateway,
  ringGroup,
  runMenu,
  playAnnouncement,
  joinConference,
  parkCall,
  takeVoicemail,
] as const;

type TargetOf<K> = K extends RouteKind<infer T> ? T : never;
export type RouteTarget = TargetOf<(typeof ROUTE_KINDS)[number]>;

/** The kind that produced `target`. Each kind only ever renders targets it made itself. */
const kindOf = (target: RouteTarget) =>
  ROUTE_KINDS.find((k) => k.type === target.type) as unknown as RouteKind<RouteTarget>;

export interface Rejection {
  sipCode: number;
  /** SIP reason phrase (respond's second argument). */
  reason: string;
  /** Why, for the log. */
  detail: string;
  /** Set when an extension's features refused the call: the reason it is counted under. */
  feature?:
    | 'dnd'
    | 'forward_loop'
    | 'forward_no_route'
    | 'feature_code_invalid'
    | 'feature_code_not_a_user'
    | 'flow_unusable'
    | 'flow_loop';
}

export type DialplanDecision =
  /** `record`: the tenant's recording policy records this call (record-call.ts). */
  | { kind: 'route'; tenant: TenantSnapshot; direction: CallDirection; target: RouteTarget; record?: true }
  /** A feature code dialled by `extension`: the daemon applies `change`, then answers renderFeatureDone. */
  | { kind: 'feature'; tenant: TenantSnapshot; extension: string; change: FeatureChange }
  /** `known`: false when nobody owns the context/DID (counted as not_found). */
  | { kind: 'reject'; tenant: TenantSnapshot | null; known: boolean; rejection: Rejection };

/** A number, or flow-<node uuid> (how a call flow's transfers continue, call-flow.ts). */
const DESTINATION = /^(\+?[0-9*#]{1,32}|flow-[0-9a-f-]{36})$/;

const reject = (
  tenant: TenantSnapshot | null,
  known: boolean,
  sipCode: number,
  reason: string,
  detail: string,
  feature?: Rejection['feature'],
): DialplanDecision => ({
  kind: 'reject',
  tenant,
  known,
  rejection: feature ? { sipCode, reason, detail, feature } : { sipCode, reason, detail },
});

/** The E.164 key a public-context destination is looked up by (carriers may omit the `+`). */
export function didKey(destination: string): string | undefined {
  const m = /^\+?([1-9][0-9]{1,14})$/.exec(destination);
  return m ? `+${m[1]}` : undefined;
}

/**
 * A call from a registered user, or one continuing in its tenant's context after a transfer, in the context of
 * `tenant` (the owner of the Hunt-Context domain, or null). `now` decides time conditions.
 */
export function decideTenantCall(req: DialplanRequest, tenant: TenantSnapshot | null, now: Date): DialplanDecision {
  if (!tenant) return reject(null, false, 404, 'Not Found', `no tenant owns context ${req.context}`);
  if (req.channelTenantId !== tenant.id) {
    return reject(
      tenant,
      true,
      403,
      'Forbidden',
      req.channelTenantId === undefined
        ? 'channel carries no fs_tenant_id'
        : "channel fs_tenant_id does not match the context's tenant",
    );
  }
  if (tenant.status !== 'active') return reject(tenant, true, 403, 'Forbidden', 'tenant suspended');
  const dest = req.destination;
  if (!DESTINATION.test(dest)) return reject(tenant, true, 404, 'Not Found', 'destination is not a dialable number');

  const feature = featureCode(dest);
  if (feature) return decideFeatureCode(req, tenant, feature);
  const check = checkMessages(tenant, dest, req.callerUser);
  if (check) return { kind: 'route', tenant, direction: 'internal', target: check };
  const routed = dialled(tenant, dest, now);
  if (!routed) return reject(tenant, true, 404, 'Not Found', 'no route for the destination');
  if ('rejection' in routed) return { kind: 'reject', tenant, known: true, rejection: routed.rejection };
  // A call continuing after a transfer (forward, call flow) keeps the direction it was admitted with, unless it
  // now leaves through a trunk.
  const direction = routed.direction === 'outbound' ? 'outbound' : (req.channelDirection ?? routed.direction);
  return withRecording(applyForwards(tenant, direction, routed.target, now), req.callerUser);
}

/** Marks a route the tenant's recording policy records; `callerUser`: the calling extension, if a phone. */
function withRecording(d: DialplanDecision, callerUser: string | undefined): DialplanDecision {
  return d.kind === 'route' && shouldRecord(d.tenant, d.direction, d.target, callerUser) ? { ...d, record: true } : d;
}

type Routed = { direction: CallDirection; target: RouteTarget } | { rejection: Rejection };

/** What the tenant's own routing makes of a number one of its users dialled (feature codes aside). */
function dialled(tenant: TenantSnapshot, dest: string, now: Date): Routed | undefined {
  for (const kind of [ringExtension, enterQueue, takeVoicemail]) {
    const routed = kind.dialled?.(tenant, dest);
    if (routed) return routed;
  }
  const node = flowNodeDialled(tenant, dest);
  if (node) return runFlow(tenant, node, now, dest);
  return dialGateway.dialled?.(tenant, dest);
}

/** Forward-always chains longer than this are refused, as are loops (A → B → A). */
export const MAX_FORWARD_HOPS = 5;

/**
 * Do-not-disturb and forward-always of the extension a call reaches, decided before anything rings: DND answers
 * busy (or follows the busy forward), forward-always routes the call as if the tenant had dialled the target, so
 * only the tenant's own extensions and outbound routes (with its ceilings) are reachable. A target that no longer
 * routes is a clean rejection, never a fall-through.
 */
function applyForwards(
  tenant: TenantSnapshot,
  direction: CallDirection,
  target: RouteTarget,
  now: Date,
): DialplanDecision {
  const seen = new Set<string>();
  let current = target;
  let dir = direction;
  for (;;) {
    if (current.type !== 'extension') return { kind: 'route', tenant, direction: dir, target: current };
    const f = tenant.extensions.get(current.number)?.features;
    const next = f?.dnd ? f.forwardBusy : f?.forwardAlways;
    if (!next) {
      if (f?.dnd) return reject(tenant, true, 486, 'Busy Here', `extension ${current.number}: do not disturb`, 'dnd');
      return { kind: 'route', tenant, direction: dir, target: current };
    }
    seen.add(current.number);
    if (seen.has(next) || seen.size > MAX_FORWARD_HOPS) {
      return reject(
        tenant,
        true,
        482,
        'Loop Detected',
        `forward loop or chain over ${MAX_FORWARD_HOPS} hops`,
        'forward_loop',
      );
    }
    const routed = dialled(tenant, next, now);
    if (routed && 'rejection' in routed) return { kind: 'reject', tenant, known: true, rejection: routed.rejection };
    if (!routed) {
      return reject(
        tenant,
        true,
        480,
        'Temporarily Unavailable',
        `extension ${current.number}: forward target ${next} has no route`,
        'forward_no_route',
      );
    }
    // A forward to a trunk is an outbound call for the ceilings, whoever placed it.
    if (routed.direction === 'outbound') dir = 'outbound';
    current = routed.target;
  }
}

function decideFeatureCode(req: DialplanRequest, tenant: TenantSnapshot, change: FeatureChange): DialplanDecision {
  const ext = req.callerUser === undefined ? undefined : tenant.extensions.get(req.callerUser);
  if (!ext?.enabled) {
    return reject(
      tenant,
      true,
      403,
      'Forbidden',
      "feature code from a channel that is not one of the tenant's users",
      'feature_code_not_a_user',
    );
  }
  if (change.invalid)
    return reject(tenant, true, 484, 'Address Incomplete', `feature code: ${change.invalid}`, 'feature_code_invalid');
  return { kind: 'feature', tenant, extension: ext.number, change };
}

const trunkSources = new WeakMap<TenantSnapshot, CidrSet>();
function sourcesOf(tenant: TenantSnapshot): CidrSet {
  let set = trunkSources.get(tenant);
  if (!set) {
    set = new CidrSet(tenant.trunks.filter((t) => t.enabled).flatMap((t) => t.allowedCidrs));
    trunkSources.set(tenant, set);
  }
  return set;
}

/** A call in context `public` to DID `e164`, owned by `tenant` (or null). */
export function decidePublicCall(
  req: DialplanRequest,
  tenant: TenantSnapshot | null,
  e164: string,
  now: Date,
): DialplanDecision {
  if (!tenant) return reject(null, false, 404, 'Not Found', `no tenant owns ${e164}`);
  const did = tenant.dids.get(e164);
  if (!did) return reject(tenant, true, 404, 'Not Found', 'DID disabled');
  if (!sourcesOf(tenant).has(req.sourceIp)) {
    return reject(
      tenant,
      true,
      403,
      'Forbidden',
      `source ${req.sourceIp ?? '(none)'} is not inside the tenant's trunk CIDRs`,
    );
  }
  if (tenant.status !== 'active') return reject(tenant, true, 403, 'Forbidden', 'tenant suspended');
  if (!did.enabled) return unrouted(tenant, 'DID disabled', now);
  if (did.destination.type === 'flow') {
    const routed = runFlow(tenant, did.destination.node, now);
    if ('rejection' in routed) return { kind: 'reject', tenant, known: true, rejection: routed.rejection };
    // A call from a trunk has no calling extension: only the target and direction decide recording.
    const direction = routed.direction === 'outbound' ? 'outbound' : 'inbound';
    return withRecording(applyForwards(tenant, direction, routed.target, now), undefined);
  }
  for (const kind of [ringExtension, enterQueue]) {
    const target = kind.fromDid?.(tenant, did.destination);
    if (target) return withRecording(applyForwards(tenant, 'inbound', target, now), undefined);
  }
  return unrouted(tenant, 'DID destination unavailable', now);
}

/** A DID the tenant owns but that routes nowhere: its (own or inherited, sql/014) unrouted extension, else refused. */
function unrouted(tenant: TenantSnapshot, why: string, now: Date): DialplanDecision {
  const to = tenant.unroutedDidExtension;
  const target = to ? ringExtension.fromDid?.(tenant, { type: 'extension', extension: to }) : undefined;
  if (!target) return reject(tenant, true, 404, 'Not Found', why);
  return withRecording(applyForwards(tenant, 'inbound', target, now), undefined);
}

// Q.850 causes matching the SIP answers (switch_channel.c / sofia_glue sip_cause_to_freeswitch).
const CAUSES: Record<number, string> = {
  403: 'CALL_REJECTED',
  404: 'UNALLOCATED_NUMBER',
  480: 'NO_USER_RESPONSE',
  482: 'EXCHANGE_ROUTING_ERROR',
  484: 'INVALID_NUMBER_FORMAT',
  486: 'USER_BUSY',
  603: 'CALL_REJECTED',
  503: 'NORMAL_TEMPORARY_FAILURE',
};

function context(name: string) {
  return section('dialplan', { description: 'fs-tenantd' }).ele('context', { name: text(name, 253) });
}

/** respond <code> <reason>, then hangup with the matching cause: nothing after it can run. */
export function renderRejection(contextName: string, r: Rejection): string {
  const code = Number.isInteger(r.sipCode) && r.sipCode >= 400 && r.sipCode <= 699 ? r.sipCode : 503;
  const cond = context(contextName).ele('extension', { name: 'fs-tenantd-reject' }).ele('condition');
  cond.ele('action', { application: 'respond', data: `${code} ${text(r.reason, 80)}`.trim() });
  cond.ele('action', { application: 'hangup', data: CAUSES[code] ?? 'CALL_REJECTED' });
  return serialize(cond);
}

export interface RouteRenderOptions {
  /** Where recordings are written (FS_TENANTD_RECORDINGS_DIR, record-call.ts RECORDINGS_DIR); without it none is. */
  recordingsDir?: string;
}

export function renderRoute(
  contextName: string,
  d: Extract<DialplanDecision, { kind: 'route' }>,
  opts: RouteRenderOptions = {},
): string {
  const { tenant, target } = d;
  const extension = context(contextName).ele('extension', { name: `fs-tenantd-${target.type}` });
  if (d.record && opts.recordingsDir) recordingCondition(extension, tenant.id, opts.recordingsDir);
  const kind = kindOf(target);
  const gate = kind.gate?.(target);
  const cond = extension.ele('condition', gate ? { field: gate.field, expression: gate.expression } : {});
  const element =
    (name: 'action' | 'anti-action'): Act =>
    (application, data) => {
      cond.ele(name, data === undefined ? { application } : { application, data });
    };
  const act = element('action');
  const antiAct = element('anti-action');
  // The tenant's variables come first on either branch of a gate: a refused call is still the tenant's (its CDR).
  const both: Act = (application, data) => {
    act(application, data);
    if (gate) antiAct(application, data);
  };
  both('export', `${CHANNEL_VARS.tenantId}=${tenant.id}`);
  both('export', `${CHANNEL_VARS.tenantSlug}=${tenant.slug}`);
  both('export', `${CHANNEL_VARS.direction}=${d.direction}`);
  // Exported, so a bridged B-leg holds with it too: the tenant's default stream or the stock one (moh.ts), never a
  // name from the request. What the other party hears when either leg holds (switch_channel_get_hold_music).
  both('export', `hold_music=${tenantHoldMusic(tenant)}`);
  const legVars =
    `{${CHANNEL_VARS.tenantId}=${tenant.id},${CHANNEL_VARS.tenantSlug}=${tenant.slug},` +
    `${CHANNEL_VARS.direction}=${d.direction}}`;
  kind.actions(target, act, legVars);
  gate?.otherwise(antiAct);
  return serialize(cond);
}
