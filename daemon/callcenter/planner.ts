// Reconciliation planner: desired state (the database, every tenant) against
// what one FreeSWITCH node holds (its list replies) → the ordered
// callcenter_config commands that make the node match. Pure; the reconciler
// sends the commands.
//
// Order matters to mod_callcenter: `tier add` fails unless the queue is loaded
// and the agent exists, and `queue reload` never drops tiers, so removals come
// first (tiers, agents — `agent del` also deletes that agent's tiers —, queues),
// then queues, agents and finally tiers are created or corrected.
//
// Anything that could cross tenants is refused, logged and counted by the
// caller instead of being sent: a name whose domain is not its tenant's
// primary domain, a contact that dials anybody but the agent itself, a tier
// whose queue and agent belong to different tenants or to nothing the tenant
// owns, and a domain claimed by two tenants. A refused object is also treated
// as not desired, so a copy already on the node is removed.
import { NamingError, domainOf, parseFsName } from '../../xml-handlers/callcenter-names.js';
import {
  AGENT_TYPE,
  type DesiredAgent,
  type DesiredQueue,
  type DesiredTier,
  type TenantCallcenter,
} from '../../xml-handlers/callcenter-state.js';
import type { TenantId } from '../../xml-handlers/model.js';
import type { AgentRow, QueueRow, TierRow } from './list-parsers.js';

export interface ActualState {
  queues: QueueRow[];
  agents: AgentRow[];
  tiers: TierRow[];
}

export type CommandKind =
  | 'tier del'
  | 'agent del'
  | 'queue unload'
  | 'queue load'
  | 'queue reload'
  | 'agent add'
  | 'agent set'
  | 'tier add'
  | 'tier set';

export interface PlannedCommand {
  kind: CommandKind;
  /** The full api command, e.g. `callcenter_config agent add 1001@acme.pbx.test callback`. */
  command: string;
  /** The tenant the object belongs to; undefined for removals of names no tenant owns. */
  tenantId: TenantId | undefined;
}

export type RefusalReason =
  | 'name-not-of-tenant'
  | 'contact-not-own-user'
  | 'tier-cross-tenant'
  | 'tier-unknown-queue'
  | 'tier-unknown-agent'
  | 'domain-claimed-twice'
  | 'unsafe-value';

export interface Refusal {
  tenantId: TenantId;
  object: 'queue' | 'agent' | 'tier' | 'tenant';
  name: string;
  reason: RefusalReason;
}

export interface Plan {
  commands: PlannedCommand[];
  refusals: Refusal[];
  /** Names on the node that no tenant owns and that cannot be passed to the API (spaces, quotes): left in place. */
  unremovable: string[];
}

export interface PlanOptions {
  /**
   * Incremental pushes plan for a few tenants only: then just the node's objects
   * whose names carry one of these domains are compared (and possibly removed).
   */
  scope?: ReadonlySet<string>;
}

/**
 * Quotes one callcenter_config argument. The API splits its arguments on spaces
 * with single quotes grouping (switch_separate_string), so a value with a space
 * ("On Break") goes in single quotes; values holding a quote or backslash are
 * refused rather than escaped, since none of ours can contain one.
 */
export function apiArg(value: string): string {
  if (value === '' || /['\\\n\r]/.test(value)) {
    throw new NamingError(`cannot pass ${JSON.stringify(value)} to callcenter_config`);
  }
  return value.includes(' ') ? `'${value}'` : value;
}

const cc = (...args: string[]): string => `callcenter_config ${args.map(apiArg).join(' ')}`;

/** `{...}` and `[...]` variable blocks, then exactly one `user/<agent>` target: nothing else can be dialled. */
const CONTACT = /^(?:\{[^{}[\]|]*\})?(?:\[[^{}[\]|]*\])?user\/([^\s,|{}[\]]+)$/;

const tierKey = (queue: string, agent: string): string => `${queue}\u0000${agent}`;

interface Accepted {
  queues: Map<string, { tenantId: TenantId; q: DesiredQueue }>;
  agents: Map<string, { tenantId: TenantId; a: DesiredAgent }>;
  tiers: Map<string, { tenantId: TenantId; t: DesiredTier }>;
  /** domain → tenant, for attributing removals. */
  domains: Map<string, TenantId>;
}

function isSafe(...values: string[]): boolean {
  try {
    values.forEach(apiArg);
    return true;
  } catch {
    return false;
  }
}

/** Validates the desired state; what passes is the only thing any node may hold. */
export function acceptDesired(tenants: readonly TenantCallcenter[]): { accepted: Accepted; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const accepted: Accepted = { queues: new Map(), agents: new Map(), tiers: new Map(), domains: new Map() };
  const claims = new Map<string, number>();
  for (const t of tenants) claims.set(t.domain, (claims.get(t.domain) ?? 0) + 1);

  for (const t of tenants) {
    const refuse = (object: Refusal['object'], name: string, reason: RefusalReason) =>
      refusals.push({ tenantId: t.tenantId, object, name, reason });
    if (claims.get(t.domain)! > 1) {
      refuse('tenant', t.domain, 'domain-claimed-twice');
      continue;
    }
    accepted.domains.set(t.domain, t.tenantId);
    const ownQueues = new Set<string>();
    const ownAgents = new Set<string>();
    for (const q of t.queues) {
      if (parseFsName(q.fsName, 'queue')?.domain !== t.domain) refuse('queue', q.fsName, 'name-not-of-tenant');
      else if (!isSafe(q.strategy, q.timeBaseScore)) refuse('queue', q.fsName, 'unsafe-value');
      else {
        accepted.queues.set(q.fsName, { tenantId: t.tenantId, q });
        ownQueues.add(q.fsName);
      }
    }
    for (const a of t.agents) {
      if (parseFsName(a.fsName, 'agent')?.domain !== t.domain) refuse('agent', a.fsName, 'name-not-of-tenant');
      else if (CONTACT.exec(a.contact)?.[1] !== a.fsName) refuse('agent', a.fsName, 'contact-not-own-user');
      else if (!isSafe(a.contact, a.status)) refuse('agent', a.fsName, 'unsafe-value');
      else {
        accepted.agents.set(a.fsName, { tenantId: t.tenantId, a });
        ownAgents.add(a.fsName);
      }
    }
    for (const tier of t.tiers) {
      const name = `${tier.queue} ${tier.agent}`;
      const qd = domainOf(tier.queue);
      const ad = domainOf(tier.agent);
      if (qd !== ad || qd !== t.domain) refuse('tier', name, 'tier-cross-tenant');
      else if (!ownQueues.has(tier.queue)) refuse('tier', name, 'tier-unknown-queue');
      else if (!ownAgents.has(tier.agent)) refuse('tier', name, 'tier-unknown-agent');
      else accepted.tiers.set(tierKey(tier.queue, tier.agent), { tenantId: t.tenantId, t: tier });
    }
  }
  return { accepted, refusals };
}

const queueDiffers = (q: DesiredQueue, r: QueueRow): boolean =>
  q.strategy !== r.strategy ||
  q.mohSound !== r.mohSound ||
  q.timeBaseScore !== r.timeBaseScore ||
  q.tierRulesApply !== r.tierRulesApply ||
  q.discardAbandonedAfter !== r.discardAbandonedAfter ||
  q.abandonedResumeAllowed !== r.abandonedResumeAllowed ||
  q.maxWaitTime !== r.maxWaitTime ||
  q.maxWaitTimeWithNoAgent !== r.maxWaitTimeWithNoAgent;

/** `agent set` commands for every field of `a` that differs from `r` (all of them for a new agent). */
/** What `agent add` leaves in mod_callcenter's agents table (cc_agent_add and the column defaults). */
const NEW_AGENT: Omit<AgentRow, 'name'> = {
  type: AGENT_TYPE,
  contact: '',
  status: 'Logged Out',
  state: 'Waiting',
  maxNoAnswer: 0,
  wrapUpTime: 0,
  rejectDelayTime: 0,
  busyDelayTime: 0,
  noAnswerDelayTime: 0,
};

export function agentSetCommands(a: DesiredAgent, existing: AgentRow | undefined): string[] {
  const r = existing ?? NEW_AGENT;
  const out: string[] = [];
  const set = (key: string, want: string | number, have: string | number) => {
    if (String(want) !== String(have)) out.push(cc('agent', 'set', key, a.fsName, String(want)));
  };
  if (r.type.toLowerCase() !== AGENT_TYPE) out.push(cc('agent', 'set', 'type', a.fsName, AGENT_TYPE));
  set('contact', a.contact, r.contact);
  set('max_no_answer', a.maxNoAnswer, r.maxNoAnswer);
  set('wrap_up_time', a.wrapUpTime, r.wrapUpTime);
  set('reject_delay_time', a.rejectDelayTime, r.rejectDelayTime);
  set('busy_delay_time', a.busyDelayTime, r.busyDelayTime);
  set('no_answer_delay_time', a.noAnswerDelayTime, r.noAnswerDelayTime);
  // Status last: an agent becomes Available only once its contact and timers are right.
  set('status', a.status, r.status);
  return out;
}

export function planReconciliation(
  tenants: readonly TenantCallcenter[],
  all: ActualState,
  options: PlanOptions = {},
): Plan {
  const { accepted, refusals } = acceptDesired(tenants);
  const { scope } = options;
  const inScope = (...names: string[]) => !scope || names.every((n) => scope.has(domainOf(n) ?? ''));
  const actual: ActualState = {
    queues: all.queues.filter((q) => inScope(q.name)),
    agents: all.agents.filter((a) => inScope(a.name)),
    tiers: all.tiers.filter((t) => inScope(t.queue) || inScope(t.agent)),
  };
  const owner = (name: string): TenantId | undefined => {
    const d = domainOf(name);
    return d === undefined ? undefined : accepted.domains.get(d);
  };
  const commands: PlannedCommand[] = [];
  const push = (kind: CommandKind, command: string, tenantId: TenantId | undefined) =>
    commands.push({ kind, command, tenantId });
  const byName = <T extends { name: string }>(rows: T[]) => new Map(rows.map((r) => [r.name, r]));
  const haveQueues = byName(actual.queues);
  const haveAgents = byName(actual.agents);
  const haveTiers = new Map(actual.tiers.map((t) => [tierKey(t.queue, t.agent), t]));
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // A name we cannot quote (a foreign leftover with a space or quote) cannot be removed through the API either.
  const unremovable = new Set<string>();
  const removable = (...names: string[]) => {
    if (isSafe(...names)) return true;
    for (const n of names) unremovable.add(n);
    return false;
  };

  const agentsToDelete = new Set([...haveAgents.keys()].filter((n) => !accepted.agents.has(n) && removable(n)));
  for (const [key, t] of sorted(haveTiers)) {
    if (!accepted.tiers.has(key) && !agentsToDelete.has(t.agent) && removable(t.queue, t.agent)) {
      push('tier del', cc('tier', 'del', t.queue, t.agent), owner(t.queue));
    }
  }
  for (const name of [...agentsToDelete].sort()) push('agent del', cc('agent', 'del', name), owner(name));
  for (const [name] of sorted(haveQueues)) {
    if (!accepted.queues.has(name) && removable(name)) push('queue unload', cc('queue', 'unload', name), owner(name));
  }

  for (const [name, { tenantId, q }] of sorted(accepted.queues)) {
    const have = haveQueues.get(name);
    if (!have) push('queue load', cc('queue', 'load', name), tenantId);
    else if (queueDiffers(q, have)) push('queue reload', cc('queue', 'reload', name), tenantId);
  }

  for (const [name, { tenantId, a }] of sorted(accepted.agents)) {
    const have = haveAgents.get(name);
    if (!have) push('agent add', cc('agent', 'add', name, AGENT_TYPE), tenantId);
    for (const command of agentSetCommands(a, have)) push('agent set', command, tenantId);
  }

  for (const [key, { tenantId, t }] of sorted(accepted.tiers)) {
    const have = haveTiers.get(key);
    if (!have) {
      push('tier add', cc('tier', 'add', t.queue, t.agent, String(t.level), String(t.position)), tenantId);
      continue;
    }
    if (have.level !== t.level)
      push('tier set', cc('tier', 'set', 'level', t.queue, t.agent, String(t.level)), tenantId);
    if (have.position !== t.position)
      push('tier set', cc('tier', 'set', 'position', t.queue, t.agent, String(t.position)), tenantId);
  }
  return { commands, refusals, unremovable: [...unremovable].sort() };
}
