// What the xml_curl handlers know about one tenant: everything FreeSWITCH may
// ask about it, read in one transaction through withTenant and cached whole, so
// a cache hit answers any directory, dialplan or configuration fetch without
// touching PostgreSQL. Plain data: xml-handlers/ renders from it.
import type { Ceilings } from '../calls/admission-types.js';
import type { TenantId } from '../db/tenant-context.js';

export type TenantStatus = 'active' | 'suspended';

export interface Extension {
  number: string;
  a1Hash: string;
  /** The realm a1Hash was computed for; FreeSWITCH can only verify digests for this domain. */
  a1Realm: string;
  callerIdName: string | null;
  callerIdNumber: string | null;
  enabled: boolean;
  variables: Readonly<Record<string, string>>;
}

export interface Queue {
  name: string;
  dialCode: string | null;
  strategy: string;
  mohSound: string;
  timeBaseScore: string;
  maxWaitTime: number;
  maxWaitTimeWithNoAgent: number;
  tierRulesApply: boolean;
  discardAbandonedAfter: number;
  abandonedResumeAllowed: boolean;
}

export type DidDestination = { type: 'extension'; extension: string } | { type: 'queue'; queue: string };

export interface Did {
  e164: string;
  enabled: boolean;
  destination: DidDestination;
}

export interface Trunk {
  name: string;
  /** null: inbound-only trunk, no sofia gateway. */
  proxy: string | null;
  username: string | null;
  password: string | null;
  register: boolean;
  allowedCidrs: readonly string[];
  enabled: boolean;
}

export interface OutboundRoute {
  name: string;
  /** Compiled from outbound_routes.pattern; routes whose pattern JS cannot compile are left out at load. */
  pattern: RegExp;
  priority: number;
  trunk: string;
  stripDigits: number;
  prepend: string;
  callerIdNumber: string | null;
  callerIdName: string | null;
}

export interface Agent {
  extension: string;
  status: string;
  maxNoAnswer: number;
  wrapUpTime: number;
  rejectDelayTime: number;
  busyDelayTime: number;
  noAnswerDelayTime: number;
}

export interface Tier {
  queue: string;
  agentExtension: string;
  level: number;
  position: number;
}

export interface TenantSnapshot {
  id: TenantId;
  slug: string;
  status: TenantStatus;
  /** The tenant's primary SIP domain: its dialplan context and the domain part of its queue and agent names. */
  primaryDomain: string | null;
  domains: readonly string[];
  ceilings: Ceilings;
  defaultCallerIdName: string | null;
  defaultCallerIdNumber: string | null;
  extensions: ReadonlyMap<string, Extension>;
  queues: ReadonlyMap<string, Queue>;
  dids: ReadonlyMap<string, Did>;
  trunks: readonly Trunk[];
  /** Enabled routes, by ascending priority then name. */
  outboundRoutes: readonly OutboundRoute[];
  agents: readonly Agent[];
  tiers: readonly Tier[];
}

/** A tenant as list_tenants() reports it (no tenant context needed). */
export interface TenantRef {
  id: TenantId;
  slug: string;
  status: TenantStatus;
}
