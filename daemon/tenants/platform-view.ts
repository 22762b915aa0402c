// Every tenant's slug, status, SIP domains, trunks and hold-music streams: what the platform-wide answers and syncs
// read (sofia.conf gateways, acl.conf CIDRs, local_stream.conf, the directory's gateway domains, gateway-sync,
// moh-sync). They used to take every tenant's full snapshot from the tenant store, which loads each tenant's
// extensions (1,000,000 rows for 20,000 tenants) through an LRU bounded well below the tenant count, so every
// answer reloaded them all. This holds only those columns, read by sql/020 platform_config (RLS per tenant, one
// round trip), kept apart from the tenant store: a change re-reads just the changed tenants, and documents
// rendered from the view are kept until it changes. A tenant whose entry is read again unchanged keeps its entry
// (the same object): the parts of documents rendered per tenant (fragment()) are kept by entry, so they are
// rendered again exactly when that tenant's row changes, also across a full read.
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import { asTenantId, type PlatformTenant, type TenantId, type TenantStatus } from '../../xml-handlers/model.js';
import { follow, type ChangeEvent, type ChangeSource } from '../db/change-feed.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import { mohStreams, toTrunk, type Row } from './load-snapshot.js';
import type { Trace } from './loading-cache.js';

/** Tables whose rows are part of the view (sql/020 platform_config). */
const TABLES = new Set(['tenants', 'sip_domains', 'sip_trunks', 'moh_streams', 'moh_stream_files']);

export interface PlatformViewOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  /** Past this age the whole view is read again (a lost notification cannot keep it staler), like the caches. */
  ttlMs: number;
  now?: () => number;
}

async function readPlatform(pool: pg.Pool, ids?: readonly TenantId[]): Promise<PlatformTenant[]> {
  const { rows } = await pool.query<{
    tenant_id: string;
    tenant_slug: string;
    tenant_status: TenantStatus;
    domains: string[];
    trunks: Row[];
    moh_streams: Row[];
  }>('SELECT * FROM platform_config($1)', [ids ?? null]);
  return rows.map((r) => ({
    id: asTenantId(r.tenant_id),
    slug: r.tenant_slug,
    status: r.tenant_status,
    domains: r.domains,
    trunks: r.trunks.map(toTrunk),
    mohStreams: mohStreams(r.moh_streams),
  }));
}

export class PlatformView {
  /** By tenant id; null until the first read. */
  private entries: Map<TenantId, PlatformTenant> | null = null;
  private sorted: PlatformTenant[] | null = null;
  private loadedAt = 0;
  /** Notifications may have been lost (resync): the next use waits for a full read. */
  private mustReload = false;
  /** Tenants changed since their entry was read. */
  private dirty = new Set<TenantId>();
  /** Bumped by resync(): a read begun before it is not kept. */
  private epoch = 0;
  /** Changes heard, and how many of them the entries reflect (taken by a read that finished). */
  private heard = 0;
  private reflected = 0;
  private refreshing: Promise<void> | null = null;
  private readonly documents = new Map<string, unknown>();
  /** By entry, then by kind: a re-read entry that changed is a new object, and its predecessor's parts go with it. */
  private readonly fragments = new WeakMap<PlatformTenant, Map<string, unknown>>();
  private readonly now: () => number;
  private readonly m: { loads: client.Counter<'kind'>; seconds: client.Counter<'kind'> };

  constructor(private readonly o: PlatformViewOptions) {
    this.now = o.now ?? Date.now;
    const r = o.registry;
    this.m = {
      loads: metric(
        r,
        'fs_tenantd_platform_view_loads_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_platform_view_loads_total',
            help: 'Reads of the platform view (every tenant: full; changed tenants: partial)',
            labelNames: ['kind'],
            registers: [r],
          }),
      ),
      seconds: metric(
        r,
        'fs_tenantd_platform_view_load_seconds_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_platform_view_load_seconds_total',
            help: 'Time spent reading the platform view',
            labelNames: ['kind'],
            registers: [r],
          }),
      ),
    };
  }

  /** Every tenant, in slug order. A read failure with a view in hand serves that view (stale-if-error). */
  async tenants(trace?: Trace): Promise<readonly PlatformTenant[]> {
    if (this.entries && !this.mustReload && this.dirty.size === 0 && this.expired()) {
      // Only old, nothing known to have changed: answer from it and read the next one meanwhile (a full read of
      // 20,000 tenants takes seconds; FreeSWITCH waits FS_TENANTD_XMLCURL_TIMEOUT_S, 2 s, for its sofia.conf).
      void this.kick().catch((err: Error) => this.o.log.warn({ err: err.message }, 'platform view: read failed'));
    }
    // Twice at most: a change that arrived during the read this call waited for is read by the second. A change
    // already taken by a read still under way is waited for too (a caller woken by the same notification as the one
    // that began the read, as the cache flusher and the gateway sync are, must not get the view from before it).
    const heard = this.heard;
    for (let i = 0; i < 2 && (this.wanted() || this.reflected < heard); i++) {
      if (trace) trace.loads++;
      try {
        await this.kick();
      } catch (err) {
        if (!this.entries) throw err;
        this.o.log.warn({ err: (err as Error).message }, 'platform view: read failed, serving the last one');
        break;
      }
    }
    if (!this.sorted) {
      const all = [...this.entries!.values()];
      this.sorted = all.sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));
    }
    return this.sorted;
  }

  /**
   * A document rendered from the view, kept until the view changes: `key` must name everything besides the view
   * the document depends on.
   */
  async document<V>(key: string, render: (tenants: readonly PlatformTenant[]) => V, trace?: Trace): Promise<V> {
    const tenants = await this.tenants(trace);
    if (!this.documents.has(key)) this.documents.set(key, render(tenants));
    return this.documents.get(key) as V;
  }

  /** `render(tenant)`, kept until that tenant's entry changes: `kind` must name everything else it depends on. */
  fragment<F>(kind: string, tenant: PlatformTenant, render: (tenant: PlatformTenant) => F): F {
    let kept = this.fragments.get(tenant);
    if (!kept) this.fragments.set(tenant, (kept = new Map()));
    if (!kept.has(kind)) kept.set(kind, render(tenant));
    return kept.get(kind) as F;
  }

  private expired(): boolean {
    return this.now() - this.loadedAt > this.o.ttlMs;
  }

  private wanted(): boolean {
    return !this.entries || this.mustReload || this.dirty.size > 0;
  }

  private kick(): Promise<void> {
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<void> {
    const epoch = this.epoch;
    const full = !this.entries || this.mustReload || this.expired();
    if (full) this.mustReload = false;
    const ids = full ? undefined : [...this.dirty];
    const heard = this.heard;
    // Taken now: changes arriving while this reads are for the next refresh.
    this.dirty = new Set();
    const kind = full ? 'full' : 'partial';
    const t0 = performance.now();
    let rows: PlatformTenant[];
    try {
      rows = await readPlatform(this.o.pool, ids);
    } catch (err) {
      for (const id of ids ?? []) this.dirty.add(id);
      if (full && this.entries) this.mustReload = true;
      throw err;
    } finally {
      this.m.loads.inc({ kind });
      this.m.seconds.inc({ kind }, (performance.now() - t0) / 1000);
    }
    if (epoch !== this.epoch) return;
    const old = this.entries ?? new Map<TenantId, PlatformTenant>();
    const next = full ? new Map<TenantId, PlatformTenant>() : new Map(old);
    if (!full) for (const id of ids!) next.delete(id);
    let changed = next.size + rows.length !== old.size;
    for (const t of rows) {
      const was = old.get(t.id);
      if (was && isDeepStrictEqual(was, t)) next.set(t.id, was);
      else {
        next.set(t.id, t);
        changed = true;
      }
    }
    this.entries = next;
    this.reflected = heard;
    if (full) this.loadedAt = this.now();
    if (changed) {
      this.sorted = null;
      this.documents.clear();
    }
    this.o.log.debug(
      { kind, tenants: rows.length, changed, ms: Math.round(performance.now() - t0) },
      'platform view read',
    );
  }

  applyChange(e: ChangeEvent): void {
    if (!TABLES.has(e.table)) return;
    this.heard++;
    this.dirty.add(e.tenantId);
  }

  /** Notifications may have been lost: read everything again at the next use, keeping the view for stale-if-error. */
  resync(): void {
    this.epoch++;
    this.mustReload = true;
  }

  attach(feed: ChangeSource): () => void {
    return follow(feed, this);
  }
}

/** The view, following `changes` until stop(). */
export function createPlatformView(
  opts: PlatformViewOptions & { changes: ChangeSource },
): PlatformView & { stop(): void } {
  const view = new PlatformView(opts);
  return Object.assign(view, { stop: view.attach(opts.changes) });
}
