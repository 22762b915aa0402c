// Per-tenant queue metrics from what mod_callcenter reports. Members waiting
// are tracked as a set of member uuids per queue (joined, not yet bridged to an
// agent nor gone), because mod_callcenter's own members-count event also counts
// members that are already being bridged. Agents available are the agents with
// a tier in the queue whose status is Available or Available (On Demand). Each
// FreeSWITCH node has its own mod_callcenter, so state is kept per node: members
// add up across nodes, an agent counts once if it is available on any node.
// Every full reconciliation replaces a node's state with the node's own lists,
// so events missed across an ESL reconnect cannot leave a gauge wrong for long.
import client from 'prom-client';
import { domainOf } from '../../xml-handlers/callcenter-names.js';
import { metric, TenantLabels, type MetricsRegistry } from '../metrics.js';
import type { CcEvent } from './cc-events.js';

const AVAILABLE = new Set(['Available', 'Available (On Demand)']);
/** Member states that mod_callcenter itself counts as waiting (cc_queue_count). */
const WAITING_STATES = new Set(['Waiting', 'Trying']);

export interface QueueOwner {
  tenantSlug: string;
}

export interface NodeSnapshot {
  /** queue → agents with a tier in it. */
  tiers: ReadonlyArray<{ queue: string; agent: string }>;
  agents: ReadonlyArray<{ name: string; status: string }>;
  members: ReadonlyArray<{ queue: string; uuid: string; state: string }>;
}

interface NodeState {
  waiting: Map<string, Set<string>>;
  status: Map<string, string>;
  tiers: Map<string, Set<string>>;
}

const emptyNode = (): NodeState => ({ waiting: new Map(), status: new Map(), tiers: new Map() });

export class QueueStats {
  private readonly nodes = new Map<string, NodeState>();
  /** queue fs name → owner, for labels; filled by snapshots and attributed events. */
  private readonly owners = new Map<string, QueueOwner>();
  private readonly exported = new Map<string, { tenant: string; queue: string }>();
  private readonly waitingGauge: client.Gauge<'tenant' | 'queue'>;
  private readonly availableGauge: client.Gauge<'tenant' | 'queue'>;
  private readonly abandoned: client.Counter<'tenant' | 'queue'>;

  constructor(
    registry: MetricsRegistry,
    private readonly tenantLabels: TenantLabels,
  ) {
    this.waitingGauge = metric(
      registry,
      'fs_tenantd_callcenter_members_waiting',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_callcenter_members_waiting',
          help: 'Callers waiting in a mod_callcenter queue (all nodes)',
          labelNames: ['tenant', 'queue'],
          registers: [registry],
        }),
    );
    this.availableGauge = metric(
      registry,
      'fs_tenantd_callcenter_agents_available',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_callcenter_agents_available',
          help: 'Agents with a tier in the queue whose status is Available',
          labelNames: ['tenant', 'queue'],
          registers: [registry],
        }),
    );
    this.abandoned = metric(
      registry,
      'fs_tenantd_callcenter_abandoned_total',
      () =>
        new client.Counter({
          name: 'fs_tenantd_callcenter_abandoned_total',
          help: 'Callers that left a queue without being served (CC-Cause Cancel)',
          labelNames: ['tenant', 'queue'],
          registers: [registry],
        }),
    );
  }

  private node(name: string): NodeState {
    let n = this.nodes.get(name);
    if (!n) this.nodes.set(name, (n = emptyNode()));
    return n;
  }

  private labels(queue: string): { tenant: string; queue: string } | undefined {
    const owner = this.owners.get(queue);
    if (!owner) return undefined;
    const tenant = this.tenantLabels.label(owner.tenantSlug);
    // Past the tenant-label bound, queue names collapse too, or they would carry the cardinality instead.
    const local = tenant === TenantLabels.OTHER ? TenantLabels.OTHER : queue.slice(0, queue.lastIndexOf('@'));
    return { tenant, queue: local };
  }

  /** Replaces one node's state with its own lists (after a full reconciliation); owners is keyed by SIP domain. */
  replaceNode(node: string, snap: NodeSnapshot, owners: ReadonlyMap<string, QueueOwner>): void {
    const n = emptyNode();
    for (const t of snap.tiers) {
      let set = n.tiers.get(t.queue);
      if (!set) n.tiers.set(t.queue, (set = new Set()));
      set.add(t.agent);
    }
    for (const a of snap.agents) n.status.set(a.name, a.status);
    for (const m of snap.members) {
      if (!WAITING_STATES.has(m.state)) continue;
      let set = n.waiting.get(m.queue);
      if (!set) n.waiting.set(m.queue, (set = new Set()));
      set.add(m.uuid);
    }
    this.nodes.set(node, n);
    for (const queue of new Set([...n.tiers.keys(), ...n.waiting.keys()])) {
      const owner = owners.get(domainOf(queue) ?? '');
      if (owner) this.owners.set(queue, owner);
    }
    this.refreshAll();
  }

  /** Applies one event already attributed to `owner` (its domain's tenant). */
  apply(node: string, e: CcEvent, owner: QueueOwner): void {
    const n = this.node(node);
    if ('queue' in e && e.queue) this.owners.set(e.queue, owner);
    switch (e.action) {
      case 'member-queue-start':
      case 'member-queue-resume': {
        let set = n.waiting.get(e.queue);
        if (!set) n.waiting.set(e.queue, (set = new Set()));
        set.add(e.member);
        this.refresh(e.queue);
        return;
      }
      case 'bridge-agent-start':
        n.waiting.get(e.queue)?.delete(e.member);
        this.refresh(e.queue);
        return;
      case 'member-queue-end': {
        n.waiting.get(e.queue)?.delete(e.member);
        if (e.cause === 'Cancel') {
          const l = this.labels(e.queue);
          if (l) this.abandoned.inc(l);
        }
        this.refresh(e.queue);
        return;
      }
      case 'agent-status-change': {
        n.status.set(e.agent, e.status);
        for (const [queue, agents] of n.tiers) if (agents.has(e.agent)) this.refresh(queue);
        return;
      }
      default:
        return;
    }
  }

  /** Current values for one queue (tests, and the gauges). */
  values(queue: string): { waiting: number; available: number } {
    let waiting = 0;
    const available = new Set<string>();
    for (const n of this.nodes.values()) {
      waiting += n.waiting.get(queue)?.size ?? 0;
      for (const a of n.tiers.get(queue) ?? []) if (AVAILABLE.has(n.status.get(a) ?? '')) available.add(a);
    }
    return { waiting, available: available.size };
  }

  private refresh(queue: string): void {
    const l = this.labels(queue);
    if (!l) return;
    this.exported.set(queue, l);
    // Several queues share one series once collapsed into "_other": the series is their sum.
    let waiting = 0;
    let available = 0;
    const sharing =
      l.tenant === TenantLabels.OTHER
        ? [...this.exported].filter(([, ql]) => ql.tenant === l.tenant)
        : [[queue, l] as const];
    for (const [q] of sharing) {
      const v = this.values(q);
      waiting += v.waiting;
      available += v.available;
    }
    this.waitingGauge.set(l, waiting);
    this.availableGauge.set(l, available);
  }

  private refreshAll(): void {
    const live = new Set<string>();
    for (const n of this.nodes.values()) for (const q of [...n.tiers.keys(), ...n.waiting.keys()]) live.add(q);
    for (const [queue, l] of this.exported) {
      if (!live.has(queue)) {
        this.waitingGauge.remove(l);
        this.availableGauge.remove(l);
        this.exported.delete(queue);
      }
    }
    for (const q of live) this.refresh(q);
  }
}
