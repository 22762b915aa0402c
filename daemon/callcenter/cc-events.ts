// CUSTOM callcenter::info events (mod_callcenter.c, CALLCENTER_EVENT) as typed
// values, and the rule that attributes one to a tenant. These events carry no
// channel variables for agent-status/state changes, members-count and
// agent-offering (fixture README): the tenant is only in the names, whose
// domain part is the tenant's SIP domain (xml-handlers/callcenter-names.ts).
import { domainOf } from '../../xml-handlers/callcenter-names.js';

export type Headers = Readonly<Record<string, string | undefined>>;

export const CALLCENTER_SUBCLASS = 'callcenter::info';

export type CcEvent =
  | { action: 'members-count'; queue: string; count: number }
  | { action: 'member-queue-start' | 'member-queue-resume'; queue: string; member: string }
  /** cause: Terminated (served by an agent) or Cancel (abandoned: caller hung up, timeout, break-out). */
  | { action: 'member-queue-end'; queue: string; member: string; cause: string }
  | { action: 'bridge-agent-start'; queue: string; agent: string; member: string }
  | { action: 'agent-status-change'; agent: string; status: string }
  | { action: 'other'; name: string; queue: string | undefined; agent: string | undefined };

/** Undefined when the headers are not a callcenter::info event or lack what their action needs. */
export function parseCcEvent(h: Headers): CcEvent | undefined {
  if (h['Event-Subclass'] !== CALLCENTER_SUBCLASS) return undefined;
  const action = h['CC-Action'];
  const queue = h['CC-Queue'] || undefined;
  const agent = h['CC-Agent'] || undefined;
  const member = h['CC-Member-UUID'] || undefined;
  if (!action) return undefined;
  switch (action) {
    case 'members-count': {
      const count = Number(h['CC-Count']);
      return queue && Number.isInteger(count) && count >= 0 ? { action, queue, count } : undefined;
    }
    case 'member-queue-start':
    case 'member-queue-resume':
      return queue && member ? { action, queue, member } : undefined;
    case 'member-queue-end':
      return queue && member ? { action, queue, member, cause: h['CC-Cause'] ?? '' } : undefined;
    case 'bridge-agent-start':
      return queue && agent && member ? { action, queue, agent, member } : undefined;
    case 'agent-status-change': {
      const status = h['CC-Agent-Status'];
      return agent && status ? { action, agent, status } : undefined;
    }
    default:
      return { action: 'other', name: action, queue, agent };
  }
}

const namesOf = (e: CcEvent): string[] => {
  const out: string[] = [];
  if ('queue' in e && e.queue) out.push(e.queue);
  if ('agent' in e && e.agent) out.push(e.agent);
  return out;
};

export type DomainOutcome =
  | { ok: true; domain: string }
  | { ok: false; reason: 'no-name' | 'name-without-domain' | 'domains-disagree' };

/**
 * The one SIP domain an event belongs to. Every name it carries must have a
 * domain, and all must agree: an event joining support@acme with an agent of
 * globex is never attributed to either.
 */
export function eventDomain(e: CcEvent): DomainOutcome {
  const names = namesOf(e);
  if (names.length === 0) return { ok: false, reason: 'no-name' };
  const domains = names.map(domainOf);
  if (domains.some((d) => d === undefined)) return { ok: false, reason: 'name-without-domain' };
  if (new Set(domains).size > 1) return { ok: false, reason: 'domains-disagree' };
  return { ok: true, domain: domains[0]! };
}
