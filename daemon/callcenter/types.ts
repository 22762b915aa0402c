// What the database wants mod_callcenter to hold, in FreeSWITCH-side names
// (naming.ts), grouped by tenant so the planner can check every name against
// the tenant it came from.
import type { TenantId } from '../db/tenant-context.js';

/** mod_callcenter's agent statuses (AGENT_STATUS_CHART), the same set agents.status allows. */
export const AGENT_STATUSES = ['Logged Out', 'Available', 'Available (On Demand)', 'On Break'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const isAgentStatus = (v: unknown): v is AgentStatus => (AGENT_STATUSES as readonly unknown[]).includes(v);

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
  agents: DesiredAgent[];
  tiers: DesiredTier[];
}
