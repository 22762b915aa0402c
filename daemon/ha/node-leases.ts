// Leases with fencing for work that must happen once per FreeSWITCH node while
// several daemons serve it (issue 16; sql/010_node_leases.sql). Per (node, job)
// one daemon holds the lease in PostgreSQL; it renews it every ttl/3 and the
// next daemon takes it once it has expired (its owner died or lost PostgreSQL),
// with the fencing token (epoch) one higher. Work fenced by a lease:
// - database writes check (holder, epoch) in the same statement
//   (reconcile_node_slots_fenced, which locks the lease row until commit);
// - ESL commands, which PostgreSQL cannot enclose, are checked right before each
//   batch: `still()` asks PostgreSQL, and refuses locally already once the
//   lease's local deadline (the renewal's send time + ttl - margin) has passed,
//   so an owner paused past its lease stops at its next batch, before the new
//   owner's first one can have run for long.
// A daemon that acquires a lease hears 'acquired' and runs the job once at once
// (the previous owner may have died half-way).
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Logger } from 'pino';
import type pg from 'pg';
import client from 'prom-client';
import { metric, type MetricsRegistry } from '../metrics.js';

/** The jobs done once per node. Cache flushes are not among them: see README "Running several daemons". */
export type LeaseJob = 'callcenter' | 'gateways' | 'resync';
export const LEASE_JOBS: readonly LeaseJob[] = ['callcenter', 'gateways', 'resync'];

/** What fenced work needs: the epoch to present, and a check right before acting. */
export interface Fence {
  readonly node: string;
  readonly job: LeaseJob;
  readonly holder: string;
  readonly epoch: number;
  /** True while this daemon still holds the lease with this epoch (asks PostgreSQL; false on any error). */
  still(): Promise<boolean>;
}

/** The lease-holding side as its users see it; `alwaysHeld()` is the single-daemon stand-in for tests. */
export interface LeaseGate {
  /** The fence to do `job` on `node` now, or undefined when another daemon holds the lease. */
  fence(node: string, job: LeaseJob): Fence | undefined;
  on(event: 'acquired', fn: (node: string, job: LeaseJob) => void): unknown;
  off(event: 'acquired', fn: (node: string, job: LeaseJob) => void): unknown;
}

export interface NodeLeasesOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  nodes: readonly string[];
  jobs?: readonly LeaseJob[];
  /** Lease duration; renewed every ttlMs / 3. A dead owner's lease moves within about ttlMs + ttlMs / 3. */
  ttlMs: number;
  /** This daemon's identity in node_leases.holder (default: host, pid and a random part). */
  holder?: string;
  /**
   * Whether this daemon's ESL connection to the node is up: only a connected daemon takes or renews the node's
   * leases (a holder that cannot reach the node would do nothing while keeping others from it).
   */
  connected?: (node: string) => boolean;
}

interface Held {
  epoch: number;
  /** performance.now() after which the lease is treated as lost locally, whatever PostgreSQL says. */
  deadline: number;
}

const key = (node: string, job: string) => `${node}\u0000${job}`;

export class NodeLeases extends EventEmitter implements LeaseGate {
  readonly holder: string;
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly jobs: readonly LeaseJob[];
  private readonly m: {
    held: client.Gauge<'node' | 'job'>;
    changes: client.Counter<'node' | 'job' | 'change'>;
    errors: client.Counter<'op'>;
    fenced: client.Counter<'job'>;
  };

  constructor(private readonly o: NodeLeasesOptions) {
    super();
    this.holder = o.holder ?? `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.jobs = o.jobs ?? LEASE_JOBS;
    const r = o.registry;
    this.m = {
      held: metric(
        r,
        'fs_tenantd_node_lease_held',
        () =>
          new client.Gauge({
            name: 'fs_tenantd_node_lease_held',
            help: 'Node leases this daemon holds (1) or not (0), per node and job',
            labelNames: ['node', 'job'],
            registers: [r],
          }),
      ),
      changes: metric(
        r,
        'fs_tenantd_node_lease_changes_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_node_lease_changes_total',
            help: 'Node leases this daemon acquired or lost',
            labelNames: ['node', 'job', 'change'],
            registers: [r],
          }),
      ),
      errors: metric(
        r,
        'fs_tenantd_node_lease_errors_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_node_lease_errors_total',
            help: 'Lease renewals and fencing checks that PostgreSQL did not answer',
            labelNames: ['op'],
            registers: [r],
          }),
      ),
      fenced: metric(
        r,
        'fs_tenantd_node_lease_fenced_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_node_lease_fenced_total',
            help: 'Batches of once-per-node work not done because the lease was lost before them',
            labelNames: ['job'],
            registers: [r],
          }),
      ),
    };
    for (const node of o.nodes) for (const job of this.jobs) this.m.held.set({ node, job }, 0);
  }

  /** Takes what is free now (resolves after the first round), then renews every ttl/3. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.renewAll();
    this.timer = setInterval(
      () => {
        // One round at a time: a slow PostgreSQL must not pile renewals up.
        this.round = this.round.then(() => this.renewAll());
      },
      Math.max(100, Math.floor(this.o.ttlMs / 3)),
    );
    this.timer.unref();
  }

  /** Renews (and takes what is free) now, e.g. when an ESL connection comes up, instead of at the next round. */
  nudge(): void {
    void this.renewNow();
  }

  /** nudge(), resolved once that round is done. */
  renewNow(): Promise<void> {
    if (this.stopped) return this.round;
    this.round = this.round.then(() => this.renewAll());
    return this.round;
  }

  /** Stops renewing and hands every held lease over at once (the next daemon need not wait for expiry). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round.catch(() => undefined);
    const held = [...this.held.entries()];
    this.held.clear();
    await Promise.all(
      held.map(async ([k, h]) => {
        const [node, job] = k.split('\u0000') as [string, LeaseJob];
        this.m.held.set({ node, job }, 0);
        await this.o.pool
          .query('SELECT release_node_lease($1, $2, $3, $4)', [node, job, this.holder, h.epoch])
          .catch((err: Error) => this.o.log.warn({ node, job, err: err.message }, 'node lease not released'));
      }),
    );
  }

  fence(node: string, job: LeaseJob): Fence | undefined {
    const h = this.held.get(key(node, job));
    if (!h || performance.now() >= h.deadline) return undefined;
    const { epoch } = h;
    return { node, job, holder: this.holder, epoch, still: () => this.still(node, job, epoch) };
  }

  /** Every (node, job) this daemon holds, with its epoch (for tests and the log). */
  holding(): Array<{ node: string; job: LeaseJob; epoch: number }> {
    return [...this.held.entries()].map(([k, h]) => {
      const [node, job] = k.split('\u0000') as [string, LeaseJob];
      return { node, job, epoch: h.epoch };
    });
  }

  private async still(node: string, job: LeaseJob, epoch: number): Promise<boolean> {
    const h = this.held.get(key(node, job));
    let ok = h !== undefined && h.epoch === epoch && performance.now() < h.deadline;
    if (ok) {
      try {
        const r = await this.o.pool.query<{ ok: boolean }>('SELECT node_lease_valid($1, $2, $3, $4) AS ok', [
          node,
          job,
          this.holder,
          epoch,
        ]);
        ok = r.rows[0]?.ok === true;
      } catch (err) {
        this.m.errors.inc({ op: 'check' });
        this.o.log.warn({ node, job, err: (err as Error).message }, 'node lease check failed; not acting');
        ok = false;
      }
    }
    if (!ok) {
      this.m.fenced.inc({ job });
      this.o.log.warn({ node, job, epoch }, 'node lease lost: this daemon no longer does the work, another does');
    }
    return ok;
  }

  private async renewAll(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(this.o.nodes.flatMap((node) => this.jobs.map((job) => this.renew(node, job))));
  }

  private async renew(node: string, job: LeaseJob): Promise<void> {
    const k = key(node, job);
    if (this.o.connected && !this.o.connected(node)) {
      const h = this.held.get(k);
      if (h) {
        // Handed over now rather than at expiry: a connected daemon takes it at its next renewal.
        this.lose(node, job, 'ESL connection to the node is down');
        await this.o.pool
          .query('SELECT release_node_lease($1, $2, $3, $4)', [node, job, this.holder, h.epoch])
          .catch(() => undefined);
      }
      return;
    }
    const sentAt = performance.now();
    let epoch: number | undefined;
    try {
      const r = await this.o.pool.query<{ epoch: string | null }>(
        'SELECT acquire_node_lease($1, $2, $3, $4) AS epoch',
        [node, job, this.holder, this.o.ttlMs],
      );
      const e = r.rows[0]?.epoch;
      epoch = e === null || e === undefined ? undefined : Number(e);
    } catch (err) {
      this.m.errors.inc({ op: 'renew' });
      // Kept until its local deadline: PostgreSQL may answer the next renewal in time.
      if (this.held.has(k))
        this.o.log.warn({ node, job, err: (err as Error).message }, 'node lease not renewed (PostgreSQL)');
      this.expireLocally(node, job);
      return;
    }
    if (this.stopped) return;
    const before = this.held.get(k);
    if (epoch === undefined) {
      if (before) this.lose(node, job, 'taken by another daemon');
      return;
    }
    // Measured from when the renewal was sent: the database's expiry is later than this, never earlier. The
    // margin covers clock rate differences and the time a batch takes between its check and its commands.
    const deadline = sentAt + this.o.ttlMs - Math.min(1000, this.o.ttlMs / 5);
    this.held.set(k, { epoch, deadline });
    if (!before || before.epoch !== epoch) {
      this.m.held.set({ node, job }, 1);
      this.m.changes.inc({ node, job, change: 'acquired' });
      this.o.log.info({ node, job, epoch, holder: this.holder }, 'node lease acquired: this daemon does the work');
      this.emit('acquired', node, job);
    }
  }

  private expireLocally(node: string, job: LeaseJob): void {
    const h = this.held.get(key(node, job));
    if (h && performance.now() >= h.deadline) this.lose(node, job, 'not renewed in time');
  }

  private lose(node: string, job: LeaseJob, why: string): void {
    this.held.delete(key(node, job));
    this.m.held.set({ node, job }, 0);
    this.m.changes.inc({ node, job, change: 'lost' });
    this.o.log.warn({ node, job, why }, 'node lease lost');
  }
}

/** One daemon alone (or a test): every lease is held, every check passes. */
export function alwaysHeld(): LeaseGate {
  const e = new EventEmitter();
  return {
    fence: (node, job) => ({ node, job, holder: 'local', epoch: 0, still: async () => true }),
    on: (ev, fn) => e.on(ev, fn),
    off: (ev, fn) => e.off(ev, fn),
  };
}
