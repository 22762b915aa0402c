// LISTENs on the channel the NOTIFY triggers (sql/003_change_notify.sql) write
// to, and turns each notification into a typed ChangeEvent. One dedicated
// connection, outside the pool (LISTEN is per session). After every (re)connect
// it emits 'resync': notifications sent while it was away are lost for good, so
// consumers must drop or refresh whatever they derived from the database.
// A bulk change (past 100 rows of one table and tenant in a transaction, sql/021) arrives as one event with `bulk`
// set and neither id nor keys: consumers treat it as "any row of that table of that tenant may have changed".
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { metric, type MetricsRegistry } from '../metrics.js';

export const CHANGE_CHANNEL = 'fs_tenantd_changes';

export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE';

export interface ChangeEvent {
  table: string;
  op: ChangeOp;
  tenantId: TenantId;
  id: string | null;
  keys: Record<string, { old: unknown; new: unknown }>;
  /** Many rows changed (sql/021): which ones is not said, `id` is null and `keys` empty; `op` is one of theirs. */
  bulk?: true;
}

/** Parses a trigger payload; undefined for anything that isn't one. */
export function parseChangePayload(payload: string | undefined): ChangeEvent | undefined {
  if (!payload) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.table !== 'string' || typeof o.tenant_id !== 'string') return undefined;
  if (o.op !== 'INSERT' && o.op !== 'UPDATE' && o.op !== 'DELETE') return undefined;
  let tenantId: TenantId;
  try {
    tenantId = asTenantId(o.tenant_id);
  } catch {
    return undefined;
  }
  const keys = (typeof o.keys === 'object' && o.keys !== null ? o.keys : {}) as ChangeEvent['keys'];
  const id = typeof o.id === 'string' ? o.id : null;
  return o.bulk === true
    ? { table: o.table, op: o.op, tenantId, id: null, keys: {}, bulk: true }
    : { table: o.table, op: o.op, tenantId, id, keys };
}

export interface ChangeFeedOptions {
  url: string;
  log: Logger;
  registry: MetricsRegistry;
  /** Reconnect backoff bounds (ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ChangeFeed extends EventEmitter {
  readonly connected: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  on(event: 'change', fn: (e: ChangeEvent) => void): this;
  on(event: 'resync', fn: () => void): this;
}

class PgChangeFeed extends EventEmitter implements ChangeFeed {
  connected = false;
  private client: pg.Client | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly connectedGauge: client.Gauge;
  private readonly received: client.Counter<'outcome'>;

  constructor(private readonly opts: ChangeFeedOptions) {
    super();
    this.connectedGauge = metric(
      opts.registry,
      'fs_tenantd_change_feed_connected',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_change_feed_connected',
          help: '1 while the LISTEN connection for data-change notifications is up',
          registers: [opts.registry],
        }),
    );
    this.received = metric(
      opts.registry,
      'fs_tenantd_change_feed_notifications_total',
      () =>
        new client.Counter({
          name: 'fs_tenantd_change_feed_notifications_total',
          help: 'Data-change notifications received, by outcome',
          labelNames: ['outcome'],
          registers: [opts.registry],
        }),
    );
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    this.setConnected(false);
    await c?.end().catch(() => undefined);
  }

  private setConnected(up: boolean): void {
    this.connected = up;
    this.connectedGauge.set(up ? 1 : 0);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const c = new pg.Client({ connectionString: this.opts.url, keepAlive: true, connectionTimeoutMillis: 5000 });
    const lost = (err?: Error) => {
      if (this.client !== c) return;
      this.client = undefined;
      this.setConnected(false);
      c.end().catch(() => undefined);
      if (!this.stopped) {
        this.opts.log.warn(
          { err: err?.message },
          'change feed: LISTEN connection lost; caches fall back to their TTL until it is back',
        );
        this.schedule();
      }
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (msg) => {
      const event = parseChangePayload(msg.payload);
      if (!event) {
        this.received.inc({ outcome: 'malformed' });
        this.opts.log.warn({ channel: msg.channel }, 'change feed: ignored a malformed notification');
        return;
      }
      this.received.inc({ outcome: 'ok' });
      this.emit('change', event);
    });
    this.client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      lost(err as Error);
      return;
    }
    if (this.client !== c) return;
    this.attempt = 0;
    this.setConnected(true);
    this.emit('resync');
  }

  private schedule(): void {
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 10_000;
    const ceiling = Math.min(max, min * 2 ** this.attempt++);
    clearTimeout(this.timer);
    // Full jitter: many daemons restarting against one database don't reconnect in lockstep.
    this.timer = setTimeout(() => void this.connect(), Math.random() * ceiling);
  }
}

export function createChangeFeed(opts: ChangeFeedOptions): ChangeFeed {
  return new PgChangeFeed(opts);
}

/** What a cache follows a change feed through. */
export type ChangeSource = Pick<ChangeFeed, 'on' | 'off'>;

/** Hands `feed`'s changes and resyncs to `to` until the returned function is called. */
export function follow(feed: ChangeSource, to: { applyChange(e: ChangeEvent): void; resync(): void }): () => void {
  const onChange = (e: ChangeEvent) => to.applyChange(e);
  const onResync = () => to.resync();
  feed.on('change', onChange);
  feed.on('resync', onResync);
  return () => {
    feed.off('change', onChange);
    feed.off('resync', onResync);
  };
}
