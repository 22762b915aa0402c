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
import { section, serialize, text } from '../xml.js';
import { dialGateway } from './dial-gateway.js';
import { enterQueue } from './enter-queue.js';
import { ringExtension } from './ring-extension.js';
import type { Act, RouteKind } from './route-kind.js';

export const PUBLIC_CONTEXT = 'public';

/** Every kind of target, in the order a number a user dialled is tried. */
export const ROUTE_KINDS = [ringExtension, enterQueue, dialGateway] as const;

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
}

export type DialplanDecision =
  | { kind: 'route'; tenant: TenantSnapshot; direction: CallDirection; target: RouteTarget }
  /** `known`: false when nobody owns the context/DID (counted as not_found). */
  | { kind: 'reject'; tenant: TenantSnapshot | null; known: boolean; rejection: Rejection };

const DESTINATION = /^\+?[0-9*#]{1,32}$/;

const reject = (
  tenant: TenantSnapshot | null,
  known: boolean,
  sipCode: number,
  reason: string,
  detail: string,
): DialplanDecision => ({ kind: 'reject', tenant, known, rejection: { sipCode, reason, detail } });

/** The E.164 key a public-context destination is looked up by (carriers may omit the `+`). */
export function didKey(destination: string): string | undefined {
  const m = /^\+?([1-9][0-9]{1,14})$/.exec(destination);
  return m ? `+${m[1]}` : undefined;
}

/** A call from a registered user, in the context of `tenant` (the owner of the Hunt-Context domain, or null). */
export function decideTenantCall(req: DialplanRequest, tenant: TenantSnapshot | null): DialplanDecision {
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

  for (const kind of ROUTE_KINDS) {
    const routed = kind.dialled?.(tenant, dest);
    if (routed) return { kind: 'route', tenant, ...routed };
  }
  return reject(tenant, true, 404, 'Not Found', 'no route for the destination');
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
export function decidePublicCall(req: DialplanRequest, tenant: TenantSnapshot | null, e164: string): DialplanDecision {
  if (!tenant) return reject(null, false, 404, 'Not Found', `no tenant owns ${e164}`);
  const did = tenant.dids.get(e164);
  if (!did?.enabled) return reject(tenant, true, 404, 'Not Found', 'DID disabled');
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
  for (const kind of ROUTE_KINDS) {
    const target = kind.fromDid?.(tenant, did.destination);
    if (target) return { kind: 'route', tenant, direction: 'inbound', target };
  }
  return reject(tenant, true, 404, 'Not Found', 'DID destination unavailable');
}

// Q.850 causes matching the SIP answers (switch_channel.c / sofia_glue sip_cause_to_freeswitch).
const CAUSES: Record<number, string> = {
  403: 'CALL_REJECTED',
  404: 'UNALLOCATED_NUMBER',
  480: 'NO_USER_RESPONSE',
  486: 'USER_BUSY',
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

export function renderRoute(contextName: string, d: Extract<DialplanDecision, { kind: 'route' }>): string {
  const { tenant, target } = d;
  const cond = context(contextName)
    .ele('extension', { name: `fs-tenantd-${target.type}` })
    .ele('condition');
  const act: Act = (application, data) => {
    cond.ele('action', data === undefined ? { application } : { application, data });
  };
  act('export', `${CHANNEL_VARS.tenantId}=${tenant.id}`);
  act('export', `${CHANNEL_VARS.tenantSlug}=${tenant.slug}`);
  act('export', `${CHANNEL_VARS.direction}=${d.direction}`);
  const legVars =
    `{${CHANNEL_VARS.tenantId}=${tenant.id},${CHANNEL_VARS.tenantSlug}=${tenant.slug},` +
    `${CHANNEL_VARS.direction}=${d.direction}}`;
  kindOf(target).actions(target, act, legVars);
  return serialize(cond);
}
