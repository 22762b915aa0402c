// What mod_callcenter should hold for one tenant, in FreeSWITCH-side names
// (callcenter-names.ts), derived once from the tenant model. Both consumers read
// it: the callcenter.conf answer (one queue with its agents and tiers, which
// `queue load` imports) and the ESL reconciler's planner (everything else). They
// must agree, or every `queue load` would import agents the next pass corrects.
//
// Suspended tenants, tenants without a primary SIP domain and agents whose
// extension is disabled hold nothing in FreeSWITCH: callers cannot reach them
// anyway, and a reconciliation then removes what is left of them.
import { agentContact, agentFsName, queueFsName } from './callcenter-names.js';
import type { AgentStatus, TenantId, TenantSnapshot } from './model.js';
import { resolveMohSound } from './moh.js';

/** Seconds mod_callcenter rings an agent's phone (leg_timeout in the contact). */
export const AGENT_LEG_TIMEOUT_S = 15;

/** The mod_callcenter agent type this daemon uses: mod_callcenter dials the contact. */
export const AGENT_TYPE = 'callback';

/** A queue's mod_callcenter settings, as the database holds them and `queue list` reports them. */
export interface QueueSettings {
  strategy: string;
  mohSound: string;
  timeBaseScore: string;
  tierRulesApply: boolean;
  discardAbandonedAfter: number;
  abandonedResumeAllowed: boolean;
  maxWaitTime: number;
  maxWaitTimeWithNoAgent: number;
}

export interface DesiredQueue extends QueueSettings {
  fsName: string;
}

export interface DesiredAgent {
  fsName: string;
  contact: string;
  status: AgentStatus;
  maxNoAnswer: number;
  wrapUpTime: number;
  rejectDelayTime: number;
  busyDelayTime: number;
  noAnswerDelayTime: number;
}

export interface DesiredTier {
  queue: string;
  agent: string;
  level: number;
  position: number;
}

export interface TenantCallcenter {
  tenantId: TenantId;
  slug: string;
  /** The tenant's primary SIP domain: the only domain its names may carry. */
  domain: string;
  queues: DesiredQueue[];
  /** By extension number. */
  agents: DesiredAgent[];
  /** By queue, level, position and extension. */
  tiers: DesiredTier[];
}

/**
 * What the call-center state is built from: a snapshot, or the slice of one that sql/020 callcenter_config reads
 * (the agents' extensions alone, for their enabled flag).
 */
export type CallcenterTenant = Pick<
  TenantSnapshot,
  'id' | 'slug' | 'status' | 'primaryDomain' | 'queues' | 'agents' | 'tiers' | 'mohStreams' | 'inheritedMoh'
> & { extensions: ReadonlyMap<string, { enabled: boolean }> };

/** The tenant's desired call-center state; undefined when it should hold nothing. */
export function desiredCallcenter(tenant: CallcenterTenant): TenantCallcenter | undefined {
  const domain = tenant.primaryDomain;
  if (tenant.status !== 'active' || !domain) return undefined;
  const enabled = (extension: string) => tenant.extensions.get(extension)?.enabled === true;
  return {
    tenantId: tenant.id,
    slug: tenant.slug,
    domain,
    queues: [...tenant.queues.values()].map((q) => ({
      fsName: queueFsName(q.name, domain),
      strategy: q.strategy,
      // Only the tenant's own streams, the stock ones or non-stream sources (moh.ts); `moh` inherits the tenant's.
      mohSound: resolveMohSound(tenant, q.mohSound),
      timeBaseScore: q.timeBaseScore,
      tierRulesApply: q.tierRulesApply,
      discardAbandonedAfter: q.discardAbandonedAfter,
      abandonedResumeAllowed: q.abandonedResumeAllowed,
      maxWaitTime: q.maxWaitTime,
      maxWaitTimeWithNoAgent: q.maxWaitTimeWithNoAgent,
    })),
    agents: tenant.agents
      .filter((a) => enabled(a.extension))
      .map((a) => ({
        fsName: agentFsName(a.extension, domain),
        contact: agentContact({
          tenantId: tenant.id,
          tenantSlug: tenant.slug,
          extension: a.extension,
          domain,
          legTimeoutS: AGENT_LEG_TIMEOUT_S,
        }),
        status: a.status,
        maxNoAnswer: a.maxNoAnswer,
        wrapUpTime: a.wrapUpTime,
        rejectDelayTime: a.rejectDelayTime,
        busyDelayTime: a.busyDelayTime,
        noAnswerDelayTime: a.noAnswerDelayTime,
      })),
    tiers: tenant.tiers
      .filter((t) => enabled(t.agentExtension))
      .map((t) => ({
        queue: queueFsName(t.queue, domain),
        agent: agentFsName(t.agentExtension, domain),
        level: t.level,
        position: t.position,
      })),
  };
}
