// The tenant model: what the core knows about one tenant. The daemon reads a
// snapshot in one transaction through withTenant (daemon/tenants/load-snapshot.ts)
// and caches it whole, so a cache hit answers any directory, dialplan or
// configuration fetch without touching PostgreSQL; the call-center reconciler
// derives its desired state from the same type (callcenter-state.ts). Plain data.

/** A tenant's primary key. Branded so a slug or a domain cannot be passed by mistake. */
export type TenantId = string & { readonly __brand: 'TenantId' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function asTenantId(value: string): TenantId {
  if (!UUID.test(value)) throw new TypeError(`not a tenant id: ${JSON.stringify(value)}`);
  return value as TenantId;
}

export type TenantStatus = 'active' | 'suspended';

/** Which way a call goes, as the dialplan decides: in from a trunk, out to a trunk, or between the tenant's users. */
export type CallDirection = 'inbound' | 'outbound' | 'internal';

/** Per-tenant concurrency ceilings; null = unlimited. */
export interface Ceilings {
  maxInbound: number | null;
  maxOutbound: number | null;
  maxTotal: number | null;
}

/** An ancestor account (reseller) whose ceilings a tenant's calls also count against (sql/016). */
export interface AncestorCeilings {
  id: TenantId;
  slug: string;
  ceilings: Ceilings;
}

/** mod_callcenter's agent statuses (AGENT_STATUS_CHART), the same set agents.status allows. */
export const AGENT_STATUSES = ['Logged Out', 'Available', 'Available (On Demand)', 'On Break'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const isAgentStatus = (v: unknown): v is AgentStatus => (AGENT_STATUSES as readonly unknown[]).includes(v);

export interface Extension {
  number: string;
  /**
   * Digest credentials by realm (sql/015): MD5(number:realm:password) for each of the tenant's SIP domains the
   * password was set for. The extension authenticates in exactly these domains.
   */
  credentials: ReadonlyMap<string, string>;
  callerIdName: string | null;
  callerIdNumber: string | null;
  enabled: boolean;
  variables: Readonly<Record<string, string>>;
  features: ExtensionFeatures;
  voicemail: Mailbox;
}

/** An extension's voicemail box (sql/011). */
export interface Mailbox {
  enabled: boolean;
  /** MD5(number:pinRealm:pin), checked by mod_voicemail as vm-a1-hash; null: no PIN, the box opens only as *97. */
  pinHash: string | null;
  pinRealm: string | null;
  /** Seconds of messages the box may hold; null: no limit. */
  quotaS: number | null;
  /** Unheard messages at which the box takes no more (dialplan/voicemail.ts); null: no limit (sql/018). */
  maxMessages: number | null;
  /** Seconds after which a message being left is cut (dialplan/voicemail.ts); null: the profile's max-record-len. */
  maxLengthS: number | null;
}

export const NO_MAILBOX: Mailbox = {
  enabled: false,
  pinHash: null,
  pinRealm: null,
  quotaS: null,
  maxMessages: null,
  maxLengthS: null,
};

/** Do-not-disturb and call forwarding (sql/007). Forward targets are numbers dialled in the tenant's own context. */
export interface ExtensionFeatures {
  dnd: boolean;
  forwardAlways: string | null;
  forwardBusy: string | null;
  forwardNoAnswer: string | null;
  forwardUnreachable: string | null;
  /** How long the extension rings before a no-answer forward. */
  noAnswerTimeoutS: number;
  /** Follow-me: after the extension itself, these ring one after the other (sql/009). */
  followMe: readonly FollowMeStep[];
}

/** One step of follow-me or one ring-group member: a number the tenant itself can dial. */
export interface FollowMeStep {
  number: string;
  timeoutS: number;
}

export const NO_FEATURES: ExtensionFeatures = {
  dnd: false,
  forwardAlways: null,
  forwardBusy: null,
  forwardNoAnswer: null,
  forwardUnreachable: null,
  noAnswerTimeoutS: 20,
  followMe: [],
};

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

export type DidDestination =
  | { type: 'extension'; extension: string }
  | { type: 'queue'; queue: string }
  | { type: 'flow'; node: FlowNodeId };

/** A call-flow node's primary key (call_flow_nodes.id). */
export type FlowNodeId = string & { readonly __brand: 'FlowNodeId' };

export const FLOW_NODE_KINDS = [
  'extension',
  'ring_group',
  'queue',
  'menu',
  'time_condition',
  'announcement',
  'hangup',
  'conference',
  'parking_lot',
  'voicemail',
] as const;
export type FlowNodeKind = (typeof FLOW_NODE_KINDS)[number];

/**
 * A node as stored (sql/009): edges are ids of the same tenant's nodes; `settings` is the kind's JSON, read by
 * that kind's parser (xml-handlers/dialplan/flow-nodes.ts) when a call reaches the node.
 */
export interface FlowNode {
  id: FlowNodeId;
  name: string;
  kind: FlowNodeKind;
  dialCode: string | null;
  /** kind extension: its number; kind queue: its name. */
  extension: string | null;
  queue: string | null;
  settings: Readonly<Record<string, unknown>>;
  next: FlowNodeId | null;
  /** A time condition's closed branch. */
  else: FlowNodeId | null;
  /** A menu's choices: DTMF digits → node. */
  choices: ReadonlyMap<string, FlowNodeId>;
}

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
  status: AgentStatus;
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

/**
 * A tenant without its rows: what a directory user answer needs besides the one extension, so a phone of a large
 * tenant can be answered from one extension row instead of a load of every row (daemon/tenants/tenant-store.ts).
 */
export interface TenantHead {
  id: TenantId;
  slug: string;
  status: TenantStatus;
  /** IANA zone for time conditions that name none (effective: own, else inherited down the account tree). */
  timezone: string;
  /** Effective language (own or inherited). */
  language?: string;
  /** Extension a disabled or unroutable DID lands on instead of being refused (own or inherited); null: refused. */
  unroutedDidExtension?: string | null;
  /** Hold music inherited from an ancestor's default stream, when the tenant has no default stream of its own. */
  inheritedMoh?: { tenant: TenantId; stream: string } | null;
  /**
   * The tenant's primary SIP domain: its dialplan context, the domain of every name it holds in FreeSWITCH's
   * node-wide namespaces (queues, agents, conference rooms, voicemail boxes) and of `user/<n>@<domain>` bridges.
   */
  primaryDomain: string | null;
  /** Every SIP domain of the tenant (the primary included), in name order: a phone registers under any of them. */
  domains: readonly string[];
  ceilings: Ceilings;
  /**
   * The account's ancestors, root first, with their ceilings (cascading ceilings, sql/016); absent or empty at the
   * top of the tree. Also what a change to an ancestor evicts by (its defaults are inherited: sql/014).
   */
  ancestors?: readonly AncestorCeilings[];
  /** Effective caller-ID defaults (own, else inherited). */
  defaultCallerIdName: string | null;
  defaultCallerIdNumber: string | null;
  /** Music-on-hold streams (sql/013) by name, with files; absent or empty: the tenant holds with the stock stream. */
  mohStreams?: readonly MohStream[];
}

/** A tenant and every row of it: what the dialplan and the per-tenant configuration files are decided from. */
export interface TenantSnapshot extends TenantHead {
  extensions: ReadonlyMap<string, Extension>;
  queues: ReadonlyMap<string, Queue>;
  dids: ReadonlyMap<string, Did>;
  trunks: readonly Trunk[];
  /** Enabled routes, by ascending priority then name. */
  outboundRoutes: readonly OutboundRoute[];
  agents: readonly Agent[];
  tiers: readonly Tier[];
  flowNodes: ReadonlyMap<FlowNodeId, FlowNode>;
  /** Enabled call-recording rules (sql/012); absent or empty: nothing is recorded. */
  recordingRules?: readonly RecordingRule[];
}

/** One of a tenant's music-on-hold streams (sql/013): a folder of WAV files mod_local_stream loops over. */
/**
 * What the platform-wide files (sofia.conf, acl.conf, local_stream.conf) and the gateway and hold-music syncs read
 * of every tenant: a slice of its snapshot, loaded without its extensions (daemon/tenants/platform-view.ts).
 */
export type PlatformTenant = Pick<TenantSnapshot, 'id' | 'slug' | 'status' | 'domains' | 'trunks' | 'mohStreams'>;

export interface MohStream {
  id: string;
  /** The tenant's name for it (local_stream://<name> in queues.moh_sound); unique per tenant only. */
  name: string;
  /** The tenant's hold music (at most one). */
  isDefault: boolean;
  /** Its files, by name (the ESL sync reloads the stream when this list, a size or a time changes). */
  files: readonly { name: string; sizeBytes: number; updatedAt: string }[];
}

/**
 * One enabled rule of a tenant's recording policy: a call is recorded when any rule matches it
 * (xml-handlers/dialplan/record-call.ts). `extension`: calls to or from that number; `queue`: calls into it.
 */
export type RecordingRule =
  | { scope: 'all' | 'inbound' | 'outbound' }
  | { scope: 'extension'; extension: string }
  | { scope: 'queue'; queue: string };

/** A tenant as list_tenants() reports it (no tenant context needed). */
export interface TenantRef {
  id: TenantId;
  slug: string;
  status: TenantStatus;
}
