// Keeps every node's mod_callcenter equal to the database and turns its
// callcenter::info events into per-tenant metrics.
//
// - Full reconciliation of a node at start-up and after each ESL (re)connect
//   ('ready'), and of every node after the change feed resyncs: read the
//   node's queue, agent and tier lists, plan (planner.ts), send the commands.
// - Incremental: changes are batched for `debounceMs` and reconciled for the
//   touched tenants only (the node's objects in those tenants' domains, and in
//   a domain a tenant just left). A change to an account or its hold music
//   also covers the accounts under it, which inherit them. With 20,000 tenants
//   a full pass reads every tenant's queues (seconds); a tenant's edit must not.
// - Work for one node runs strictly one task at a time, so two plans never
//   interleave their commands. Requests that arrive while a pass runs are
//   merged into one follow-up pass (a full request absorbs incremental ones):
//   the running pass may have read the database before their change.
// - `queue load`/`queue reload` make mod_callcenter import that queue's agents
//   and tiers from our callcenter.conf answer, so after them the node's lists
//   are read again and the rest is planned from what is really there.
import type { Logger } from 'pino';
import type pg from 'pg';
import client from 'prom-client';
import { agentFsName } from '../../xml-handlers/callcenter-names.js';
import type { TenantCallcenter } from '../../xml-handlers/callcenter-state.js';
import { isAgentStatus, type AgentStatus, type TenantId } from '../../xml-handlers/model.js';
import type { ChangeEvent } from '../db/change-feed.js';
import { withTenant } from '../db/tenant-context.js';
import { metric, type MetricsRegistry, type TenantLabels } from '../metrics.js';
import { CALLCENTER_SUBCLASS, eventDomain, parseCcEvent, type Headers } from './cc-events.js';
import { DomainOwners } from './domain-owners.js';
import { parseAgentList, parseMemberList, parseQueueList, parseTierList } from './list-parsers.js';
import { loadAllCallcenters, loadDescendants, loadTenantCallcenters, type TenantScope } from './load-desired.js';
import type { CallcenterNode } from './node-port.js';
import {
  apiArg,
  planReconciliation,
  type ActualState,
  type CommandKind,
  type Plan,
  type PlannedCommand,
} from './planner.js';
import { QueueStats, type QueueOwner } from './queue-stats.js';
import type { LeaseGate, LeaseJob } from '../ha/node-leases.js';

/** The change feed as far as this module uses it. */
export interface ChangeSource {
  on(event: 'change', fn: (e: ChangeEvent) => void): unknown;
  on(event: 'resync', fn: () => void): unknown;
  off(event: 'change', fn: (e: ChangeEvent) => void): unknown;
  off(event: 'resync', fn: () => void): unknown;
}

export interface CallcenterSyncOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  tenantLabels: TenantLabels;
  nodes: readonly CallcenterNode[];
  changes?: ChangeSource;
  /** How long changes are collected before one incremental push (well under a second). */
  debounceMs?: number;
  /** Events queued for attribution per node before new ones are dropped (database slow or down). */
  maxEventBacklog?: number;
  /**
   * Several daemons: a node is reconciled only by the holder of its 'callcenter' lease, which is checked again
   * right before each batch of commands (daemon/ha/node-leases.ts). Without it, this daemon reconciles every node.
   */
  leases?: LeaseGate;
}

/** The lease was lost between two batches of a pass: the rest is left to the new holder. */
class LeaseLost extends Error {
  override name = 'LeaseLost';
}

export class AgentNotFoundError extends Error {
  override name = 'AgentNotFoundError';
}

export interface AgentStatusResult {
  agent: string;
  status: AgentStatus;
  nodes: Array<{ node: string; ok: boolean; reply: string }>;
}

// moh_streams: a queue's moh-sound is resolved against the tenant's streams (xml-handlers/moh.ts), so a new default
// or a deleted stream changes what its queues should play.
const TENANT_TABLES = new Set(['queues', 'agents', 'tiers', 'extensions', 'moh_streams', 'sip_domains', 'tenants']);
/** Inherited by the accounts under the changed one (tenant_effective_settings, sql/014). */
const TREE_TABLES = new Set(['tenants', 'moh_streams']);
/** Who owns a domain (the event attribution cache). */
const OWNER_TABLES = new Set(['sip_domains', 'tenants']);

const ok = (reply: string): boolean => reply.trimStart().startsWith('+OK');

/** Removals and queue (re)loads: the part of a plan that runs before the lists are read again. */
const QUEUE_PHASE = new Set<CommandKind>(['tier del', 'agent del', 'queue unload', 'queue load', 'queue reload']);

/** What an incremental pass covers. */
interface Increment {
  tenants: Set<TenantId>;
  /** Accounts whose descendants are covered too. */
  trees: Set<TenantId>;
  /** Domains a tenant has just left (its objects there are removed). */
  domains: Set<string>;
}
const noIncrement = (): Increment => ({ tenants: new Set(), trees: new Set(), domains: new Set() });
const isEmpty = (i: Increment) => i.tenants.size === 0;
const merge = (into: Increment, from: Increment) => {
  for (const t of from.tenants) into.tenants.add(t);
  for (const t of from.trees) into.trees.add(t);
  for (const d of from.domains) into.domains.add(d);
};

/** One node's queue of work; at most one pass or task runs at a time. */
interface NodeWork {
  running: boolean;
  /** The drain loop while `running` (idle() waits for it). */
  loop: Promise<void>;
  /** A full pass is wanted (then `inc` is empty: the full pass covers it). */
  full: boolean;
  /** What an incremental pass is wanted for. */
  inc: Increment;
  /** Resolved when the pass that serves the pending request ends. */
  waiters: Array<() => void>;
  /** One-off commands (agent status pushes), run before the next pass. */
  tasks: Array<() => Promise<void>>;
}

export class CallcenterSync {
  readonly stats: QueueStats;
  private readonly owners: DomainOwners;
  private readonly work = new Map<string, NodeWork>();
  private readonly eventChains = new Map<string, { tail: Promise<void>; backlog: number }>();
  private readonly listeners: Array<() => void> = [];
  private pending = noIncrement();
  private pendingFull = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly m: {
    syncErrors: client.Counter;
    refusals: client.Counter<'reason'>;
    commands: client.Counter<'kind' | 'outcome'>;
    runs: client.Counter<'mode' | 'outcome'>;
    events: client.Counter<'outcome'>;
  };

  constructor(private readonly o: CallcenterSyncOptions) {
    const r = o.registry;
    this.stats = new QueueStats(r, o.tenantLabels);
    this.owners = new DomainOwners(o.pool);
    this.m = {
      syncErrors: metric(
        r,
        'fs_tenantd_callcenter_sync_errors_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_callcenter_sync_errors_total',
            registers: [r],
            help: 'mod_callcenter sync problems: failed or refused commands, unreadable lists, failed reconciliations',
          }),
      ),
      refusals: metric(
        r,
        'fs_tenantd_callcenter_refusals_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_callcenter_refusals_total',
            labelNames: ['reason'],
            registers: [r],
            help: 'Desired call-center objects the planner refused because they could cross tenants',
          }),
      ),
      commands: metric(
        r,
        'fs_tenantd_callcenter_commands_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_callcenter_commands_total',
            labelNames: ['kind', 'outcome'],
            registers: [r],
            help: 'callcenter_config commands sent to FreeSWITCH, by kind and outcome (ok, error)',
          }),
      ),
      runs: metric(
        r,
        'fs_tenantd_callcenter_reconciliations_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_callcenter_reconciliations_total',
            labelNames: ['mode', 'outcome'],
            registers: [r],
            help: 'Reconciliations of a node, by mode (full, incremental) and outcome (ok, error)',
          }),
      ),
      events: metric(
        r,
        'fs_tenantd_callcenter_events_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_callcenter_events_total',
            labelNames: ['outcome'],
            registers: [r],
            help: 'callcenter::info events by outcome: attributed, or why they were dropped',
          }),
      ),
    };
  }

  /** Subscribes to the nodes and the change feed, and reconciles every node already connected. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const node of this.o.nodes) {
      const onReady = () => void this.requestPass(node);
      const onEvent = (h: Headers) => this.onEvent(node, h);
      node.on('ready', onReady);
      node.on('event', onEvent);
      this.listeners.push(() => {
        node.off('ready', onReady);
        node.off('event', onEvent);
      });
      if (node.connected) void this.requestPass(node);
    }
    const leases = this.o.leases;
    if (leases) {
      // A new holder reconciles at once: the previous one may have died half-way through a pass.
      const onAcquired = (name: string, job: LeaseJob) => {
        const node = this.o.nodes.find((n) => n.name === name);
        if (job === 'callcenter' && node?.connected) void this.requestPass(node);
      };
      leases.on('acquired', onAcquired);
      this.listeners.push(() => leases.off('acquired', onAcquired));
    }
    const changes = this.o.changes;
    if (changes) {
      const onChange = (e: ChangeEvent) => this.onChange(e);
      const onResync = () => {
        this.owners.clear();
        this.pendingFull = true;
        this.schedule();
      };
      changes.on('change', onChange);
      changes.on('resync', onResync);
      this.listeners.push(() => {
        changes.off('change', onChange);
        changes.off('resync', onResync);
      });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const off of this.listeners.splice(0)) off();
    await this.idle();
  }

  /** Resolves once every queued reconciliation and event has been processed (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.timer) {
        await new Promise((resolve) => setTimeout(resolve, this.o.debounceMs ?? 100));
        continue;
      }
      const loops = [...this.work.values()].filter((w) => w.running).map((w) => w.loop);
      const events = [...this.eventChains.values()];
      if (loops.length === 0 && events.every((c) => c.backlog === 0)) return;
      await Promise.all([...loops, ...events.map((c) => c.tail)]);
    }
  }

  /** Full reconciliation of every connected node; resolves once a pass that began after the call has ended. */
  async reconcileAll(): Promise<void> {
    await Promise.all(this.o.nodes.filter((n) => n.connected).map((n) => this.requestPass(n)));
  }

  /**
   * Sets an agent's status (Available, On Break, ...) in the database, through
   * withTenant, and pushes it to every connected node. Callers decide who may
   * do this; throws AgentNotFoundError when the tenant has no agent on that
   * extension.
   */
  async setAgentStatus(tenantId: TenantId, extension: string, status: AgentStatus): Promise<AgentStatusResult> {
    if (!isAgentStatus(status)) throw new TypeError(`unknown agent status ${JSON.stringify(status)}`);
    const found = await withTenant(
      this.o.pool,
      tenantId,
      async (db) =>
        (
          await db.query(
            `UPDATE agents a SET status = $2 FROM extensions e
       WHERE e.tenant_id = a.tenant_id AND e.id = a.extension_id AND e.number = $1`,
            [extension, status],
          )
        ).rowCount,
    );
    if (!found) throw new AgentNotFoundError(`no agent on extension ${JSON.stringify(extension)} in this tenant`);
    return this.pushAgentStatus(tenantId, extension, status);
  }

  /**
   * Pushes a status the caller has already committed (the admin API writes it
   * with its audit row) to every connected node at once, instead of waiting
   * for the change feed's incremental push, which follows anyway and finds
   * nothing left to do. A node that does not know the agent yet answers -ERR
   * here and gets the whole agent from that incremental push.
   */
  async pushAgentStatus(tenantId: TenantId, extension: string, status: AgentStatus): Promise<AgentStatusResult> {
    if (!isAgentStatus(status)) throw new TypeError(`unknown agent status ${JSON.stringify(status)}`);
    const row = await withTenant(
      this.o.pool,
      tenantId,
      async (db) =>
        (
          await db.query<{ domain: string; enabled: boolean }>(
            `SELECT d.domain, e.enabled FROM extensions e JOIN sip_domains d ON d.tenant_id = e.tenant_id AND d.is_primary
       WHERE e.number = $1`,
            [extension],
          )
        ).rows[0],
      { readOnly: true },
    );
    if (!row?.enabled) return { agent: '', status, nodes: [] };
    const agent = agentFsName(extension, row.domain);
    const command = `callcenter_config agent set status ${apiArg(agent)} ${apiArg(status)}`;
    const nodes = await Promise.all(
      this.o.nodes
        .filter((n) => n.connected)
        .map((node) =>
          this.exclusive(node, async () => {
            const reply = await this.send(node, 'agent set', command).catch((err: Error) => `-ERR ${err.message}`);
            return { node: node.name, ok: ok(reply), reply: reply.trim() };
          }),
        ),
    );
    this.o.log.info({ tenantId, agent, status, nodes }, 'callcenter: agent status pushed');
    return { agent, status, nodes };
  }

  // --- scheduling -------------------------------------------------------------

  private nodeWork(node: CallcenterNode): NodeWork {
    let w = this.work.get(node.name);
    if (!w) {
      w = { running: false, loop: Promise.resolve(), full: false, inc: noIncrement(), waiters: [], tasks: [] };
      this.work.set(node.name, w);
    }
    return w;
  }

  /**
   * Asks for a pass over `node`: full, or incremental for `inc`. While a
   * pass runs, requests only accumulate, into exactly one follow-up pass.
   * Resolves when a pass that began after the call has ended.
   */
  private requestPass(node: CallcenterNode, inc?: Increment): Promise<void> {
    const w = this.nodeWork(node);
    if (!inc) {
      w.full = true;
      w.inc = noIncrement();
    } else if (!w.full) {
      merge(w.inc, inc);
    }
    const done = new Promise<void>((resolve) => w.waiters.push(resolve));
    this.kick(node, w);
    return done;
  }

  /** Runs `task` on the node between passes, so its commands never interleave with a plan's. */
  private exclusive<T>(node: CallcenterNode, task: () => Promise<T>): Promise<T> {
    const w = this.nodeWork(node);
    const result = new Promise<T>((resolve, reject) => w.tasks.push(() => task().then(resolve, reject)));
    this.kick(node, w);
    return result;
  }

  private kick(node: CallcenterNode, w: NodeWork): void {
    if (w.running) return;
    w.running = true;
    w.loop = this.drain(node, w);
  }

  private async drain(node: CallcenterNode, w: NodeWork): Promise<void> {
    try {
      for (;;) {
        const task = w.tasks.shift();
        if (task) {
          await task();
          continue;
        }
        if (!w.full && isEmpty(w.inc)) return;
        const inc = w.full ? undefined : w.inc;
        const waiters = w.waiters.splice(0);
        w.full = false;
        w.inc = noIncrement();
        try {
          await this.reconcile(node, inc ? 'incremental' : 'full', inc);
        } finally {
          for (const resolve of waiters) resolve();
        }
      }
    } finally {
      // In the same tick as the last look at the queue: a request made after it starts a new loop.
      w.running = false;
    }
  }

  private onChange(e: ChangeEvent): void {
    if (!TENANT_TABLES.has(e.table)) return;
    if (OWNER_TABLES.has(e.table)) this.owners.clear();
    this.pending.tenants.add(e.tenantId);
    if (TREE_TABLES.has(e.table)) this.pending.trees.add(e.tenantId);
    // sip_domains notifies row by row, never in bulk (sql/021): a domain left behind is named here.
    if (e.table === 'sip_domains')
      for (const d of [e.keys.domain?.old, e.keys.domain?.new])
        if (typeof d === 'string') this.pending.domains.add(d.toLowerCase());
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const full = this.pendingFull;
      const inc = this.pending;
      this.pendingFull = false;
      this.pending = noIncrement();
      for (const node of this.o.nodes.filter((n) => n.connected)) {
        void this.requestPass(node, full ? undefined : inc);
      }
    }, this.o.debounceMs ?? 100);
  }

  // --- reconciliation ----------------------------------------------------------

  private async reconcile(
    node: CallcenterNode,
    mode: 'full' | 'incremental',
    inc: Increment | undefined,
  ): Promise<void> {
    if (this.stopped || !node.connected) return;
    const fence = this.o.leases?.fence(node.name, 'callcenter');
    if (this.o.leases && !fence) {
      this.o.log.debug({ node: node.name, mode }, 'callcenter: another daemon holds the lease for this node');
      return;
    }
    /** Right before each batch of commands: a paused former holder stops here. */
    const fenced = async () => {
      if (fence && !(await fence.still())) throw new LeaseLost();
    };
    const t0 = performance.now();
    try {
      let desired: TenantCallcenter[];
      let scope: Set<string> | undefined;
      if (inc) {
        const ids = new Set([...inc.tenants, ...(await loadDescendants(this.o.pool, [...inc.trees]))]);
        const loaded = await loadTenantCallcenters(this.o.pool, [...ids]);
        if (loaded.some((t) => t === undefined)) {
          // A tenant that no longer exists: its domain is unknown from here, so look at everything.
          return await this.reconcile(node, 'full', undefined);
        }
        const scopes = loaded as TenantScope[];
        desired = scopes.flatMap((t) => t.desired ?? []);
        scope = new Set([...inc.domains, ...scopes.flatMap((t) => t.domain ?? [])]);
      } else {
        desired = await loadAllCallcenters(this.o.pool);
      }
      const options = scope ? { scope } : {};
      const dbMs = Math.round(performance.now() - t0);
      const actual = await this.readActual(node);
      const plan = planReconciliation(desired, actual, options);
      this.report(node, plan);
      const sent = { commands: 0, failed: 0 };
      // The node's lists as last read, until a command is sent.
      let current: ActualState | undefined = actual;
      const sendAll = async (commands: PlannedCommand[]) => {
        if (commands.length === 0) return;
        await fenced();
        current = undefined;
        await this.sendAll(node, commands, sent);
      };
      if (!plan.commands.some((c) => c.kind === 'queue load' || c.kind === 'queue reload')) {
        await sendAll(plan.commands);
      } else {
        // mod_callcenter has just imported these queues' agents and tiers (load_queue), so an `agent add` or
        // `tier add` planned before would fail with "already exist". Queue commands are not sent twice:
        // one that failed is retried by the next pass.
        await sendAll(plan.commands.filter((c) => QUEUE_PHASE.has(c.kind)));
        current = await this.readActual(node);
        const rest = planReconciliation(desired, current, options).commands;
        await sendAll(rest.filter((c) => !c.kind.startsWith('queue ')));
      }
      if (mode === 'full') await this.snapshot(node, current, desired);
      this.m.runs.inc({ mode, outcome: sent.failed ? 'error' : 'ok' });
      const summary = {
        node: node.name,
        mode,
        commands: sent.commands,
        failed: sent.failed,
        refused: plan.refusals.length,
        tenants: desired.length,
        // Where a pass's time goes: reading the database, and all of it (lists, plan, commands, metrics).
        dbMs,
        ms: Math.round(performance.now() - t0),
      };
      // Passes that find the node as it should be are routine (every reconnect and resync makes one).
      if (sent.commands) this.o.log.info(summary, 'callcenter: reconciled');
      else this.o.log.debug(summary, 'callcenter: reconciled; nothing to change');
    } catch (err) {
      if (err instanceof LeaseLost) {
        this.m.runs.inc({ mode, outcome: 'lease_lost' });
        return;
      }
      this.m.runs.inc({ mode, outcome: 'error' });
      this.m.syncErrors.inc();
      this.o.log.error(
        { node: node.name, mode, err: (err as Error).message },
        'callcenter: reconciliation failed; retried at the next change or reconnect',
      );
    }
  }

  /** Sends `commands` in order; a refused one is logged and counted and the rest still go. */
  private async sendAll(node: CallcenterNode, commands: PlannedCommand[], sent: { commands: number; failed: number }) {
    for (const c of commands) {
      const reply = await this.send(node, c.kind, c.command);
      sent.commands++;
      if (ok(reply)) continue;
      sent.failed++;
      this.o.log.warn(
        { node: node.name, command: c.command, reply: reply.trim().slice(0, 200), tenantId: c.tenantId },
        'callcenter: command failed',
      );
    }
  }

  private async send(node: CallcenterNode, kind: string, command: string): Promise<string> {
    try {
      const reply = await node.api(command);
      const good = ok(reply);
      this.m.commands.inc({ kind, outcome: good ? 'ok' : 'error' });
      if (!good) this.m.syncErrors.inc();
      return reply;
    } catch (err) {
      this.m.commands.inc({ kind, outcome: 'error' });
      this.m.syncErrors.inc();
      throw err;
    }
  }

  private async readActual(node: CallcenterNode): Promise<ActualState> {
    const queues = parseQueueList(await node.api('callcenter_config queue list'));
    const agents = parseAgentList(await node.api('callcenter_config agent list'));
    const tiers = parseTierList(await node.api('callcenter_config tier list'));
    return { queues, agents, tiers };
  }

  /** Refreshes the node's queue metrics from its own lists. */
  private async snapshot(
    node: CallcenterNode,
    current: ActualState | undefined,
    desired: TenantCallcenter[],
  ): Promise<void> {
    const state = current ?? (await this.readActual(node));
    const members = parseMemberList(await node.api('callcenter_config queue list members'));
    const owners = new Map<string, QueueOwner>(desired.map((t) => [t.domain, { tenantSlug: t.slug }]));
    this.stats.replaceNode(node.name, { tiers: state.tiers, agents: state.agents, members }, owners);
  }

  private report(node: CallcenterNode, plan: Plan): void {
    for (const r of plan.refusals) {
      this.m.refusals.inc({ reason: r.reason });
      this.m.syncErrors.inc();
      this.o.log.error({ node: node.name, ...r }, 'callcenter: refused an object that could cross tenants');
    }
    if (plan.unremovable.length) {
      this.m.syncErrors.inc();
      this.o.log.warn(
        { node: node.name, names: plan.unremovable },
        'callcenter: node holds objects no tenant owns and the API cannot name',
      );
    }
  }

  // --- events -------------------------------------------------------------------

  private onEvent(node: CallcenterNode, h: Headers): void {
    if (h['Event-Subclass'] !== CALLCENTER_SUBCLASS) return;
    const e = parseCcEvent(h);
    if (!e) {
      this.m.events.inc({ outcome: 'malformed' });
      this.o.log.warn(
        { node: node.name, action: h['CC-Action'] },
        'callcenter: dropped a malformed callcenter::info event',
      );
      return;
    }
    const where = eventDomain(e);
    if (!where.ok) {
      this.drop(node, e.action, where.reason);
      return;
    }
    let chain = this.eventChains.get(node.name);
    if (!chain) this.eventChains.set(node.name, (chain = { tail: Promise.resolve(), backlog: 0 }));
    if (chain.backlog >= (this.o.maxEventBacklog ?? 10_000)) {
      this.drop(node, e.action, 'backlog');
      return;
    }
    const c = chain;
    c.backlog++;
    // One chain per node keeps events in arrival order even when some wait for a database look-up.
    c.tail = c.tail.then(async () => {
      try {
        const owner = await this.owners.resolve(where.domain);
        if (!owner) return this.drop(node, e.action, 'unknown-domain', where.domain);
        this.stats.apply(node.name, e, { tenantSlug: owner.tenantSlug });
        this.m.events.inc({ outcome: 'attributed' });
      } catch (err) {
        this.drop(node, e.action, 'lookup-failed', where.domain, (err as Error).message);
      } finally {
        c.backlog--;
      }
    });
  }

  private drop(node: CallcenterNode, action: string, reason: string, domain?: string, err?: string): void {
    this.m.events.inc({ outcome: reason });
    this.o.log.warn(
      { node: node.name, action, reason, domain, err },
      'callcenter: dropped a callcenter::info event that maps to no tenant',
    );
  }
}

/** A sync that has subscribed to its nodes and the change feed (reconciling every node already connected). */
export function createCallcenterSync(opts: CallcenterSyncOptions): CallcenterSync {
  const sync = new CallcenterSync(opts);
  sync.start();
  return sync;
}
