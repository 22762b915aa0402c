// callcenter.conf (mod_callcenter.c). load_config fetches it without CC-Queue at
// module load: settings and empty queues/agents/tiers (the ESL reconciler owns
// agents and tiers; truncate-*-on-load drops what a previous run left).
// load_queue fetches it with CC-Queue=<name>@<domain> whenever a queue is first
// used or reloaded: that queue only, with its agents and tiers.
import { agentContact, agentFsName, queueFsName } from '../../daemon/callcenter/naming.js';
import type { TenantSnapshot } from '../../daemon/tenants/snapshot.js';
import { params, section, serialize } from '../xml.js';

/** Seconds mod_callcenter rings an agent (leg_timeout in the contact). */
export const AGENT_LEG_TIMEOUT_S = 15;

function root() {
  return section('configuration', { description: 'fs-tenantd' }).ele('configuration', { name: 'callcenter.conf', description: 'CallCenter' });
}

export function renderCallcenterSettings(): string {
  const cfg = root();
  params(cfg, 'settings', [['truncate-tiers-on-load', 'true'], ['truncate-agents-on-load', 'true']]);
  cfg.ele('queues'); cfg.ele('agents'); cfg.ele('tiers');
  return serialize(cfg);
}

/** The one queue `queueName` of `tenant`, named `<queue>@<domain>`; undefined if the tenant has no such queue. */
export function renderCallcenterQueue(tenant: TenantSnapshot, domain: string, queueName: string): string | undefined {
  const q = tenant.queues.get(queueName);
  if (!q || tenant.status !== 'active') return undefined;
  const cfg = root();
  params(cfg, 'settings', []);
  const queue = cfg.ele('queues').ele('queue', { name: queueFsName(q.name, domain) });
  for (const [name, value] of [
    ['strategy', q.strategy], ['moh-sound', q.mohSound], ['time-base-score', q.timeBaseScore],
    ['max-wait-time', String(q.maxWaitTime)], ['max-wait-time-with-no-agent', String(q.maxWaitTimeWithNoAgent)],
    ['tier-rules-apply', String(q.tierRulesApply)], ['discard-abandoned-after', String(q.discardAbandonedAfter)],
    ['abandoned-resume-allowed', String(q.abandonedResumeAllowed)],
  ] as const) queue.ele('param', { name, value });

  const tiers = tenant.tiers.filter((t) => t.queue === q.name);
  const inQueue = new Set(tiers.map((t) => t.agentExtension));
  const agents = cfg.ele('agents');
  const rendered = new Set<string>();
  for (const a of tenant.agents) {
    const ext = tenant.extensions.get(a.extension);
    if (!inQueue.has(a.extension) || !ext?.enabled) continue;
    rendered.add(a.extension);
    agents.ele('agent', {
      name: agentFsName(a.extension, domain), type: 'callback',
      contact: agentContact({ tenantId: tenant.id, tenantSlug: tenant.slug, extension: a.extension, domain, legTimeoutS: AGENT_LEG_TIMEOUT_S }),
      status: a.status, 'max-no-answer': String(a.maxNoAnswer), 'wrap-up-time': String(a.wrapUpTime),
      'reject-delay-time': String(a.rejectDelayTime), 'busy-delay-time': String(a.busyDelayTime),
      'no-answer-delay-time': String(a.noAnswerDelayTime),
    });
  }
  const tierEl = cfg.ele('tiers');
  for (const t of tiers) {
    if (!rendered.has(t.agentExtension)) continue;
    tierEl.ele('tier', { agent: agentFsName(t.agentExtension, domain), queue: queueFsName(q.name, domain), level: String(t.level), position: String(t.position) });
  }
  return serialize(cfg);
}
