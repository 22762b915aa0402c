// Reads what mod_callcenter should hold from the database, one tenant at a
// time through withTenant (RLS), and turns it into FreeSWITCH-side names.
// Suspended tenants, tenants without a primary SIP domain and agents whose
// extension is disabled hold nothing in FreeSWITCH: callers cannot reach
// them anyway, and a reconciliation then removes what is left of them.
import type pg from 'pg';
import { withTenant, asTenantId, type TenantId } from '../db/tenant-context.js';
import { agentContact, agentFsName, queueFsName } from './naming.js';
import { isAgentStatus, type TenantCallcenter } from './types.js';

/** Seconds mod_callcenter rings an agent's phone (the fixture's responder used 15). */
export const DEFAULT_AGENT_LEG_TIMEOUT_S = 15;

export interface TenantRef {
  tenantId: TenantId;
  slug: string;
  status: string;
}

export async function listTenants(pool: pg.Pool): Promise<TenantRef[]> {
  const { rows } = await pool.query<{ tenant_id: string; tenant_slug: string; tenant_status: string }>('SELECT * FROM list_tenants()');
  return rows.map((r) => ({ tenantId: asTenantId(r.tenant_id), slug: r.tenant_slug, status: r.tenant_status }));
}

interface QueueDbRow {
  name: string; strategy: string; moh_sound: string; time_base_score: string; tier_rules_apply: boolean;
  discard_abandoned_after: number; abandoned_resume_allowed: boolean; max_wait_time: number; max_wait_time_with_no_agent: number;
}
interface AgentDbRow {
  number: string; status: string; max_no_answer: number; wrap_up_time: number; reject_delay_time: number;
  busy_delay_time: number; no_answer_delay_time: number;
}
interface TierDbRow { queue: string; number: string; level: number; position: number }

/** One tenant's desired call-center state; undefined when it should hold nothing (suspended, no primary domain, gone). */
export async function loadTenantCallcenter(pool: pg.Pool, tenantId: TenantId, legTimeoutS = DEFAULT_AGENT_LEG_TIMEOUT_S): Promise<TenantCallcenter | undefined> {
  return withTenant(pool, tenantId, async (db) => {
    const { rows: [tenant] } = await db.query<{ slug: string; status: string; domain: string | null }>(
      `SELECT t.slug, t.status, d.domain FROM tenants t
       LEFT JOIN sip_domains d ON d.tenant_id = t.id AND d.is_primary`);
    if (!tenant || tenant.status !== 'active' || !tenant.domain) return undefined;
    const domain = tenant.domain;
    // One client runs one query at a time: sequential on purpose.
    const queues = await db.query<QueueDbRow>(`SELECT name, strategy, moh_sound, time_base_score, tier_rules_apply, discard_abandoned_after,
        abandoned_resume_allowed, max_wait_time, max_wait_time_with_no_agent FROM queues ORDER BY name`);
    const agents = await db.query<AgentDbRow>(`SELECT e.number, a.status, a.max_no_answer, a.wrap_up_time, a.reject_delay_time,
        a.busy_delay_time, a.no_answer_delay_time
        FROM agents a JOIN extensions e ON e.tenant_id = a.tenant_id AND e.id = a.extension_id
        WHERE e.enabled ORDER BY e.number`);
    const tiers = await db.query<TierDbRow>(`SELECT q.name AS queue, e.number, t.level, t.position
        FROM tiers t
        JOIN queues q ON q.tenant_id = t.tenant_id AND q.id = t.queue_id
        JOIN agents a ON a.tenant_id = t.tenant_id AND a.id = t.agent_id
        JOIN extensions e ON e.tenant_id = a.tenant_id AND e.id = a.extension_id
        WHERE e.enabled ORDER BY q.name, e.number`);
    return {
      tenantId,
      slug: tenant.slug,
      domain,
      queues: queues.rows.map((q) => ({
        fsName: queueFsName(q.name, domain),
        strategy: q.strategy,
        mohSound: q.moh_sound,
        timeBaseScore: q.time_base_score,
        tierRulesApply: q.tier_rules_apply,
        discardAbandonedAfter: q.discard_abandoned_after,
        abandonedResumeAllowed: q.abandoned_resume_allowed,
        maxWaitTime: q.max_wait_time,
        maxWaitTimeWithNoAgent: q.max_wait_time_with_no_agent,
      })),
      agents: agents.rows.map((a) => {
        if (!isAgentStatus(a.status)) throw new Error(`agent ${a.number}: unknown status ${JSON.stringify(a.status)}`);
        return {
          fsName: agentFsName(a.number, domain),
          contact: agentContact({ tenantId, tenantSlug: tenant.slug, extension: a.number, domain, legTimeoutS }),
          status: a.status,
          maxNoAnswer: a.max_no_answer,
          wrapUpTime: a.wrap_up_time,
          rejectDelayTime: a.reject_delay_time,
          busyDelayTime: a.busy_delay_time,
          noAnswerDelayTime: a.no_answer_delay_time,
        };
      }),
      tiers: tiers.rows.map((t) => ({
        queue: queueFsName(t.queue, domain),
        agent: agentFsName(t.number, domain),
        level: t.level,
        position: t.position,
      })),
    };
  }, { readOnly: true });
}

/**
 * Every active tenant's desired state (the database side of a full
 * reconciliation). Tenants are read `concurrency` at a time: each is its own
 * short transaction, so this is round-trip bound, not CPU bound.
 */
export async function loadAllCallcenters(pool: pg.Pool, legTimeoutS = DEFAULT_AGENT_LEG_TIMEOUT_S, concurrency = 4): Promise<TenantCallcenter[]> {
  const tenants = (await listTenants(pool)).filter((t) => t.status === 'active');
  const out: Array<TenantCallcenter | undefined> = new Array(tenants.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tenants.length; i = next++) out[i] = await loadTenantCallcenter(pool, tenants[i]!.tenantId, legTimeoutS);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out.filter((t): t is TenantCallcenter => t !== undefined);
}
