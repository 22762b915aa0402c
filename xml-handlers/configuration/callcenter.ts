// callcenter.conf (mod_callcenter.c). load_config fetches it without CC-Queue at
// module load: settings and empty queues/agents/tiers (the ESL reconciler owns
// agents and tiers; truncate-*-on-load drops what a previous run left).
// load_queue fetches it with CC-Queue=<name>@<domain> whenever a queue is first
// used or reloaded: that queue only, with its agents and tiers.
import { parseFsName } from '../callcenter-names.js';
import { AGENT_TYPE, desiredCallcenter } from '../callcenter-state.js';
import type { TenantSnapshot } from '../model.js';
import { params, section, serialize } from '../xml.js';
import type { ConfigurationFile } from './file.js';

function root() {
  return section('configuration', { description: 'fs-tenantd' }).ele('configuration', {
    name: 'callcenter.conf',
    description: 'CallCenter',
  });
}

export function renderCallcenterSettings(): string {
  const cfg = root();
  params(cfg, 'settings', [
    ['truncate-tiers-on-load', 'true'],
    ['truncate-agents-on-load', 'true'],
  ]);
  cfg.ele('queues');
  cfg.ele('agents');
  cfg.ele('tiers');
  return serialize(cfg);
}

/**
 * The one queue `<queueName>@<domain>` of `tenant` with the agents and tiers the reconciler wants for it
 * (callcenter-state.ts); undefined if the tenant has no such queue or holds nothing in mod_callcenter. Queue names
 * carry the primary domain only: another domain of the tenant is not the same queue.
 */
export function renderCallcenterQueue(tenant: TenantSnapshot, domain: string, queueName: string): string | undefined {
  const state = desiredCallcenter(tenant);
  const fsName = `${queueName}@${domain}`;
  const q = state?.domain === domain ? state.queues.find((x) => x.fsName === fsName) : undefined;
  if (!state || !q) return undefined;
  const cfg = root();
  params(cfg, 'settings', []);
  const queue = cfg.ele('queues').ele('queue', { name: fsName });
  for (const [name, value] of [
    ['strategy', q.strategy],
    ['moh-sound', q.mohSound],
    ['time-base-score', q.timeBaseScore],
    ['max-wait-time', String(q.maxWaitTime)],
    ['max-wait-time-with-no-agent', String(q.maxWaitTimeWithNoAgent)],
    ['tier-rules-apply', String(q.tierRulesApply)],
    ['discard-abandoned-after', String(q.discardAbandonedAfter)],
    ['abandoned-resume-allowed', String(q.abandonedResumeAllowed)],
  ] as const)
    queue.ele('param', { name, value });

  const tiers = state.tiers.filter((t) => t.queue === fsName);
  const inQueue = new Set(tiers.map((t) => t.agent));
  const agents = cfg.ele('agents');
  for (const a of state.agents) {
    if (!inQueue.has(a.fsName)) continue;
    agents.ele('agent', {
      name: a.fsName,
      type: AGENT_TYPE,
      contact: a.contact,
      status: a.status,
      'max-no-answer': String(a.maxNoAnswer),
      'wrap-up-time': String(a.wrapUpTime),
      'reject-delay-time': String(a.rejectDelayTime),
      'busy-delay-time': String(a.busyDelayTime),
      'no-answer-delay-time': String(a.noAnswerDelayTime),
    });
  }
  const tierEl = cfg.ele('tiers');
  for (const t of tiers) {
    tierEl.ele('tier', { agent: t.agent, queue: t.queue, level: String(t.level), position: String(t.position) });
  }
  return serialize(cfg);
}

export const callcenterConf: ConfigurationFile<{ file: 'callcenter.conf'; queue: string | undefined }> = {
  name: 'callcenter.conf',
  parse: (get) => ({ file: 'callcenter.conf', queue: get('CC-Queue') || undefined }),
  needs: (req) => {
    const name = req.queue === undefined ? undefined : parseFsName(req.queue, 'queue');
    return name ? { domain: name.domain } : 'none';
  },
  render: (req, [tenant]) => {
    if (req.queue === undefined) return { xml: renderCallcenterSettings() };
    const name = parseFsName(req.queue, 'queue');
    if (!name || !tenant) return undefined;
    const xml = renderCallcenterQueue(tenant, name.domain, name.local);
    return xml === undefined ? undefined : { xml };
  },
};
