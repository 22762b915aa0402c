// A stand-in for one node's mod_callcenter store, answering `callcenter_config`
// exactly as mod_callcenter.c does (cc_config_api_function: argument
// splitting, reply texts, list formats, and the side effects that matter here:
// `agent del` drops the agent's tiers, `queue unload`/`reload` keep them,
// `tier add` needs a loaded queue and an existing agent, `queue load` and
// `queue reload` ask the configuration (xml_curl) for that one queue and also
// import the agents and tiers of that answer, while a queue loaded on first
// use (`tier add`) imports nothing). Its list output is checked byte for byte
// against the captured replies in test/fixtures/freeswitch/esl.

import type { DesiredQueue, QueueSettings, TenantCallcenter } from '../../xml-handlers/callcenter-state.js';

/** An `<agent>` of a callcenter.conf answer, with the attributes load_agent reads. */
export interface ConfigAgent {
  name: string;
  type: string;
  contact?: string;
  status?: string;
  maxNoAnswer?: number;
  wrapUpTime?: number;
  rejectDelayTime?: number;
  busyDelayTime?: number;
  noAnswerDelayTime?: number;
}

/** A `<tier>` of a callcenter.conf answer (load_tier: level and position default to 1). */
export interface ConfigTier {
  queue: string;
  agent: string;
  level?: number;
  position?: number;
}

/** callcenter.conf for one CC-Queue: the queue's settings, and the `<agents>`/`<tiers>` the answer carries. */
export type QueueConfig = QueueSettings & { agents?: ConfigAgent[]; tiers?: ConfigTier[] };

/**
 * What fs-tenantd's callcenter.conf answer for CC-Queue holds
 * (xml-handlers/configuration/callcenter.ts): the queue, the agents with a
 * tier in it and those tiers.
 */
export function ccQueueAnswer(tenant: TenantCallcenter, queue: DesiredQueue): QueueConfig {
  const tiers = tenant.tiers.filter((t) => t.queue === queue.fsName);
  const inQueue = new Set(tiers.map((t) => t.agent));
  const agents = tenant.agents
    .filter((a) => inQueue.has(a.fsName))
    .map(
      (a): ConfigAgent => ({
        name: a.fsName,
        type: 'callback',
        contact: a.contact,
        status: a.status,
        maxNoAnswer: a.maxNoAnswer,
        wrapUpTime: a.wrapUpTime,
        rejectDelayTime: a.rejectDelayTime,
        busyDelayTime: a.busyDelayTime,
        noAnswerDelayTime: a.noAnswerDelayTime,
      }),
    );
  return { ...queue, agents, tiers };
}

interface Queue extends QueueSettings {
  name: string;
  callsAnswered: number;
  callsAbandoned: number;
}

export interface EmuAgent {
  name: string;
  instance_id: string;
  uuid: string;
  type: string;
  contact: string;
  status: string;
  state: string;
  max_no_answer: number;
  wrap_up_time: number;
  reject_delay_time: number;
  busy_delay_time: number;
  no_answer_delay_time: number;
  last_bridge_start: number;
  last_bridge_end: number;
  last_offered_call: number;
  last_status_change: number;
  no_answer_count: number;
  calls_answered: number;
  talk_time: number;
  ready_time: number;
  external_calls_count: number;
}

export interface EmuTier {
  queue: string;
  agent: string;
  state: string;
  level: number;
  position: number;
}

export interface EmuMember {
  queue: string;
  instance_id: string;
  uuid: string;
  session_uuid: string;
  cid_number: string;
  cid_name: string;
  system_epoch: number;
  joined_epoch: number;
  rejoined_epoch: number;
  bridge_epoch: number;
  abandoned_epoch: number;
  base_score: number;
  skill_score: number;
  serving_agent: string;
  serving_system: string;
  state: string;
}

const AGENT_STATUSES = ['Logged Out', 'Available', 'Available (On Demand)', 'On Break'];
const AGENT_STATES = ['Waiting', 'Receiving', 'In a queue call', 'Idle', 'Reserved'];
const TIER_STATES = ['No Answer', 'Ready', 'Offering', 'Active Inbound', 'Standby'];
const ci = (list: string[], v: string) => list.some((x) => x.toLowerCase() === v.toLowerCase());

/** switch_separate_string(buf, ' ', argv, 8): single quotes group and are removed, backslash escapes. */
export function separateBlank(buf: string, max = 8): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  while (i < buf.length && buf[i] === ' ') i++;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === '\\' && i + 1 < buf.length) {
      cur += buf[++i];
      continue;
    }
    if (c === "'") {
      quoted = !quoted;
      continue;
    }
    if (c === ' ' && !quoted && out.length < max - 1) {
      out.push(cur);
      cur = '';
      while (buf[i + 1] === ' ') i++;
      continue;
    }
    cur += c;
  }
  if (cur !== '' || out.length) out.push(cur);
  return out;
}

export class ModCallcenterEmulator {
  readonly queues = new Map<string, Queue>();
  readonly agents: EmuAgent[] = [];
  private readonly agentIndex = new Map<string, EmuAgent>();
  tiers: EmuTier[] = [];
  readonly members: EmuMember[] = [];
  /** Every command received, in order (without the leading "callcenter_config "). */
  readonly received: string[] = [];
  clock = 1795383731;

  /** config: what callcenter.conf over xml_curl answers for one CC-Queue (undefined = not found). */
  constructor(private readonly config: (queue: string) => QueueConfig | undefined) {}

  /** The api/response body for `api <command>`, or undefined for anything but callcenter_config. */
  api(command: string): string | undefined {
    const m = /^callcenter_config(?: (.*))?$/s.exec(command);
    if (!m) return undefined;
    this.received.push(m[1] ?? '');
    return this.run(separateBlank(m[1] ?? ''));
  }

  loadQueue(name: string, cfg: QueueConfig): void {
    const { agents: _agents, tiers: _tiers, ...settings } = cfg;
    this.queues.set(name, { name, ...settings, callsAnswered: 0, callsAbandoned: 0 });
  }

  addAgent(name: string, type: string, fields: Partial<EmuAgent> = {}): void {
    const agent: EmuAgent = {
      name,
      instance_id: 'single_box',
      uuid: '',
      type,
      contact: '',
      status: 'Logged Out',
      state: 'Waiting',
      max_no_answer: 0,
      wrap_up_time: 0,
      reject_delay_time: 0,
      busy_delay_time: 0,
      no_answer_delay_time: 0,
      last_bridge_start: 0,
      last_bridge_end: 0,
      last_offered_call: 0,
      last_status_change: 0,
      no_answer_count: 0,
      calls_answered: 0,
      talk_time: 0,
      ready_time: 0,
      external_calls_count: 0,
      ...fields,
    };
    this.agents.push(agent);
    this.agentIndex.set(name, agent);
  }

  private agent(name: string): EmuAgent | undefined {
    return this.agentIndex.get(name);
  }

  private getQueue(name: string): Queue | undefined {
    // get_queue(): loads the queue from the configuration when it is not in memory yet,
    // load_queue(name, SWITCH_FALSE, SWITCH_FALSE): its agents and tiers are not imported.
    const q = this.queues.get(name);
    if (q) return q;
    const cfg = this.config(name);
    if (!cfg) return undefined;
    this.loadQueue(name, cfg);
    return this.queues.get(name);
  }

  /** load_queue(name, SWITCH_TRUE, SWITCH_TRUE), behind `queue load` and `queue reload`; false if not configured. */
  private loadQueueAndImport(name: string): boolean {
    const cfg = this.config(name);
    if (!cfg) return false;
    this.loadQueue(name, cfg);
    for (const a of cfg.agents ?? []) this.importAgent(a);
    for (const t of cfg.tiers ?? []) this.importTier(t);
    return true;
  }

  /** load_agent: add the agent (or keep the one there), then set every attribute given; the type too if it existed. */
  private importAgent(a: ConfigAgent): void {
    const added = this.agentCmd('add', [a.name, a.type]);
    if (added !== '+OK\n' && added !== '-ERR Agent already exist!\n') return;
    const set = (key: string, value: string | number | undefined) => {
      if (value !== undefined) this.agentCmd('set', [key, a.name, String(value)]);
    };
    set('contact', a.contact);
    set('status', a.status);
    set('wrap_up_time', a.wrapUpTime);
    set('max_no_answer', a.maxNoAnswer);
    set('reject_delay_time', a.rejectDelayTime);
    set('busy_delay_time', a.busyDelayTime);
    set('no_answer_delay_time', a.noAnswerDelayTime);
    if (added !== '+OK\n') set('type', a.type);
  }

  /** load_tier: add the tier if there is none, otherwise set its level and position. */
  private importTier(t: ConfigTier): void {
    const [level, position] = [String(t.level ?? 1), String(t.position ?? 1)];
    if (!this.tiers.some((x) => x.queue === t.queue && x.agent === t.agent)) {
      this.tierCmd('add', [t.queue, t.agent, level, position]);
      return;
    }
    this.tierCmd('set', ['level', t.queue, t.agent, level]);
    this.tierCmd('set', ['position', t.queue, t.agent, position]);
  }

  private run(argv: string[]): string {
    if (argv.length < 2) return '-ERR Invalid!\n';
    const [section, action] = [argv[0]!.toLowerCase(), argv[1]!.toLowerCase()];
    const args = argv.slice(2);
    if (section === 'agent') return this.agentCmd(action, args);
    if (section === 'tier') return this.tierCmd(action, args);
    if (section === 'queue') return this.queueCmd(action, args);
    return '';
  }

  private agentCmd(action: string, a: string[]): string {
    switch (action) {
      case 'add': {
        if (a.length < 2) return '-ERR Invalid!\n';
        if (!ci(['Callback', 'uuid-standby'], a[1]!)) return '-ERR Agent type invalid!\n';
        if (this.agent(a[0]!)) return '-ERR Agent already exist!\n';
        this.addAgent(a[0]!, a[1]!);
        return '+OK\n';
      }
      case 'del':
        if (a.length < 1) return '-ERR Invalid!\n';
        for (let i = this.agents.length - 1; i >= 0; i--) if (this.agents[i]!.name === a[0]) this.agents.splice(i, 1);
        this.agentIndex.delete(a[0]!);
        this.tiers = this.tiers.filter((t) => t.agent !== a[0]);
        return '+OK\n';
      case 'set': {
        if (a.length < 3) return '-ERR Invalid!\n';
        const [key, name, value] = [a[0]!.toLowerCase(), a[1]!, a[2]!];
        const ag = this.agent(name);
        if (!ag) return '-ERR Agent not found!\n';
        switch (key) {
          case 'status':
            if (!ci(AGENT_STATUSES, value)) return '-ERR Invalid Agent Status!\n';
            ag.status = value;
            ag.last_status_change = this.clock;
            return '+OK\n';
          case 'state':
            if (!ci(AGENT_STATES, value)) return '-ERR Invalid Agent State!\n';
            ag.state = value;
            return '+OK\n';
          case 'contact':
            ag.contact = value;
            return '+OK\n';
          case 'type':
            if (!ci(['Callback', 'uuid-standby'], value)) return '-ERR Invalid Agent Type!\n';
            ag.type = value;
            return '+OK\n';
          case 'uuid':
            ag.uuid = value;
            return '+OK\n';
          case 'max_no_answer':
          case 'wrap_up_time':
          case 'reject_delay_time':
          case 'busy_delay_time':
          case 'no_answer_delay_time':
          case 'ready_time':
            ag[key] = parseInt(value, 10) || 0;
            return '+OK\n';
          default:
            return '-ERR Invalid Agent Update KEY!\n';
        }
      }
      case 'list': {
        if (a.length > 1) return '-ERR Invalid!\n';
        const rows = a.length ? this.agents.filter((x) => x.name === a[0]) : this.agents;
        return `${this.table(rows as unknown as Array<Record<string, unknown>>, AGENT_COLUMNS)}+OK\n`;
      }
      default:
        return '';
    }
  }

  private tierCmd(action: string, a: string[]): string {
    switch (action) {
      case 'add': {
        if (a.length < 2) return '-ERR Invalid!\n';
        const [queue, agent] = [a[0]!, a[1]!];
        if (!this.getQueue(queue)) return '-ERR Queue not found!\n';
        if (!this.agent(agent)) return '-ERR Agent not found!\n';
        if (this.tiers.some((t) => t.queue === queue && t.agent === agent)) return '-ERR Tier already exist!\n';
        this.tiers.push({
          queue,
          agent,
          state: 'Ready',
          level: a[2] ? parseInt(a[2], 10) || 0 : 1,
          position: a[3] ? parseInt(a[3], 10) || 0 : 1,
        });
        return '+OK\n';
      }
      case 'set': {
        if (a.length < 4) return '-ERR Invalid!\n';
        const [key, queue, agent, value] = [a[0]!.toLowerCase(), a[1]!, a[2]!, a[3]!];
        const tier = this.tiers.find((t) => t.queue === queue && t.agent === agent);
        if (!tier) return '-ERR Unknown Error!\n'; // CC_STATUS_TIER_NOT_FOUND has no message of its own
        if (!this.agent(agent)) return '-ERR Agent not found!\n';
        if (!this.getQueue(queue)) return '-ERR Agent not found!\n'; // sic: mod_callcenter's text for a missing queue
        if (key === 'state') {
          if (!ci(TIER_STATES, value)) return '-ERR Invalid Tier State!\n';
          tier.state = value;
        } else if (key === 'level') tier.level = parseInt(value, 10) || 0;
        else if (key === 'position') tier.position = parseInt(value, 10) || 0;
        else return '-ERR Invalid Tier Update KEY!\n';
        return '+OK\n';
      }
      case 'del':
        if (a.length < 2) return '-ERR Invalid!\n';
        this.tiers = this.tiers.filter((t) => !(t.queue === a[0] && t.agent === a[1]));
        return '+OK\n';
      case 'list': {
        const rows = [...this.tiers].sort((x, y) => x.level - y.level || x.position - y.position);
        return `${this.table(rows as unknown as Array<Record<string, unknown>>, ['queue', 'agent', 'state', 'level', 'position'])}+OK\n`;
      }
      default:
        return '';
    }
  }

  private queueCmd(action: string, a: string[]): string {
    switch (action) {
      case 'load': {
        if (a.length < 1) return '-ERR Invalid!\n';
        return this.loadQueueAndImport(a[0]!) ? '+OK\n' : '-ERR Invalid Queue not found!\n';
      }
      case 'unload':
        if (a.length < 1) return '-ERR Invalid!\n';
        this.queues.delete(a[0]!);
        return '+OK\n';
      case 'reload': {
        if (a.length < 1) return '-ERR Invalid!\n';
        this.queues.delete(a[0]!);
        return this.loadQueueAndImport(a[0]!) ? '+OK\n' : '-ERR Invalid Queue not found!\n';
      }
      case 'list': {
        if (a.length === 0) {
          let out = `${QUEUE_HEADER}\n`;
          for (const q of this.queues.values()) {
            out += `${[
              q.name,
              q.strategy,
              q.mohSound,
              q.timeBaseScore,
              String(q.tierRulesApply),
              300,
              'true',
              'false',
              q.discardAbandonedAfter,
              String(q.abandonedResumeAllowed),
              q.maxWaitTime,
              q.maxWaitTimeWithNoAgent,
              5,
              '',
              q.callsAnswered,
              q.callsAbandoned,
              0,
              'true',
              'On Break',
            ].join('|')}\n`;
          }
          return `${out}+OK\n`;
        }
        if (a[0]!.toLowerCase() === 'members') {
          const rows = this.members
            .filter((m) => a[1] === undefined || m.queue === a[1])
            .map((m) => ({ ...m, score: this.clock - m.joined_epoch + m.base_score + m.skill_score }));
          return `${this.table(rows as unknown as Array<Record<string, unknown>>, MEMBER_COLUMNS)}+OK\n`;
        }
        return '-ERR Invalid!\n';
      }
      default:
        return '';
    }
  }

  /** list_result_callback: a header line before the first row only, "|" between fields. */
  private table(rows: Array<Record<string, unknown>>, columns: readonly string[]): string {
    if (rows.length === 0) return '';
    return `${[columns.join('|'), ...rows.map((r) => columns.map((c) => String(r[c] ?? '')).join('|'))].join('\n')}\n`;
  }
}

const AGENT_COLUMNS = [
  'name',
  'instance_id',
  'uuid',
  'type',
  'contact',
  'status',
  'state',
  'max_no_answer',
  'wrap_up_time',
  'reject_delay_time',
  'busy_delay_time',
  'no_answer_delay_time',
  'last_bridge_start',
  'last_bridge_end',
  'last_offered_call',
  'last_status_change',
  'no_answer_count',
  'calls_answered',
  'talk_time',
  'ready_time',
  'external_calls_count',
] as const;

const MEMBER_COLUMNS = [
  'queue',
  'instance_id',
  'uuid',
  'session_uuid',
  'cid_number',
  'cid_name',
  'system_epoch',
  'joined_epoch',
  'rejoined_epoch',
  'bridge_epoch',
  'abandoned_epoch',
  'base_score',
  'skill_score',
  'serving_agent',
  'serving_system',
  'state',
  'score',
] as const;

const QUEUE_HEADER =
  'name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|tier_rule_wait_multiply_level|' +
  'tier_rule_no_agent_no_wait|discard_abandoned_after|abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|' +
  'max_wait_time_with_no_agent_time_reached|record_template|calls_answered|calls_abandoned|ring_progressively_delay|' +
  'skip_agents_with_external_calls|agent_no_answer_status';
