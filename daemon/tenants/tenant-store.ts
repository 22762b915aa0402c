// The tenant data behind xml_curl: SIP domain -> tenant, DID -> tenant, tenant ->
// snapshot, and the tenant list, each in a LoadingCache. Change notifications
// evict exactly what a row change can affect; a 'resync' (LISTEN connection
// re-established, notifications possibly lost) marks everything for reload.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { ChangeEvent, ChangeFeed } from '../db/change-feed.js';
import type { TenantId, TenantRef, TenantSnapshot } from '../../xml-handlers/model.js';
import type { MetricsRegistry } from '../metrics.js';
import { cacheMetrics, LoadingCache, type Trace } from './loading-cache.js';
import { listTenants, loadSnapshot, resolveDid, resolveDomain } from './load-snapshot.js';

export interface TenantStoreOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  ttlMs: number;
  maxTenants: number;
  maxNegative: number;
  negativeTtlMs: number;
  now?: () => number;
}

/** What the store listens to. */
export type ChangeSource = Pick<ChangeFeed, 'on' | 'off'>;

const ALL = 'all';

export class TenantStore {
  private readonly domains: LoadingCache<string, TenantId>;
  private readonly dids: LoadingCache<string, TenantId>;
  private readonly snapshots: LoadingCache<TenantId, TenantSnapshot>;
  private readonly tenantList: LoadingCache<typeof ALL, TenantRef[]>;

  constructor(opts: TenantStoreOptions) {
    const { pool, log } = opts;
    const metrics = cacheMetrics(opts.registry);
    const common = { metrics, ttlMs: opts.ttlMs, now: opts.now };
    const negative = { max: opts.maxNegative, ttlMs: opts.negativeTtlMs };
    this.domains = new LoadingCache({
      ...common,
      name: 'domain',
      max: opts.maxTenants * 4,
      negative,
      load: (d) => resolveDomain(pool, d),
    });
    this.dids = new LoadingCache({
      ...common,
      name: 'did',
      max: opts.maxTenants * 20,
      negative,
      load: (e) => resolveDid(pool, e),
    });
    this.snapshots = new LoadingCache({
      ...common,
      name: 'tenant',
      max: opts.maxTenants,
      load: (id) => loadSnapshot(pool, id, (p) => log.warn({ tenantId: p.tenantId }, `tenant data skipped: ${p.what}`)),
    });
    this.tenantList = new LoadingCache({ ...common, name: 'tenant_list', max: 1, load: async () => listTenants(pool) });
  }

  /** The tenant owning `domain` (lower-case, validated by the caller), or null. */
  async byDomain(domain: string, trace?: Trace): Promise<TenantSnapshot | null> {
    const id = await this.domains.get(domain, trace);
    return id ? this.snapshots.get(id, trace) : null;
  }

  async byId(id: TenantId, trace?: Trace): Promise<TenantSnapshot | null> {
    return this.snapshots.get(id, trace);
  }

  async byDid(e164: string, trace?: Trace): Promise<TenantSnapshot | null> {
    const id = await this.dids.get(e164, trace);
    return id ? this.snapshots.get(id, trace) : null;
  }

  /** Every tenant's snapshot (cross-tenant files: sofia.conf, acl.conf), in slug order. */
  async all(trace?: Trace): Promise<TenantSnapshot[]> {
    const refs = (await this.tenantList.get(ALL, trace)) ?? [];
    const snaps = await Promise.all(refs.map((r) => this.snapshots.get(r.id, trace)));
    return snaps.filter((s): s is TenantSnapshot => s !== null);
  }

  applyChange(e: ChangeEvent): void {
    const keyValues = (col: string): string[] => {
      const k = e.keys[col];
      return [k?.old, k?.new].filter((v): v is string => typeof v === 'string');
    };
    switch (e.table) {
      case 'tenants':
        this.tenantList.invalidate(ALL);
        // Cascading ceilings: descendants' snapshots carry this account's ceilings and place in the tree.
        this.snapshots.invalidateWhere((s) => s.ancestors?.some((a) => a.id === e.tenantId) ?? false);
        break;
      case 'sip_domains':
        for (const d of keyValues('domain')) this.domains.invalidate(d);
        break;
      case 'dids':
        for (const n of keyValues('e164')) this.dids.invalidate(n);
        break;
    }
    // Every tenant table's rows are part of the snapshot.
    this.snapshots.invalidate(e.tenantId);
  }

  /** Drops one tenant's snapshot: after the daemon's own write, before its NOTIFY arrives. */
  evict(tenantId: TenantId): void {
    this.snapshots.invalidate(tenantId);
  }

  resync(): void {
    this.domains.flush();
    this.dids.flush();
    this.snapshots.flush();
    this.tenantList.flush();
  }

  /** Follows a change feed until the returned function is called. */
  attach(feed: ChangeSource): () => void {
    const onChange = (e: ChangeEvent) => this.applyChange(e);
    const onResync = () => this.resync();
    feed.on('change', onChange);
    feed.on('resync', onResync);
    return () => {
      feed.off('change', onChange);
      feed.off('resync', onResync);
    };
  }
}

/** The store, following `changes` until stop(). */
export function createTenantStore(
  opts: TenantStoreOptions & { changes: ChangeSource },
): TenantStore & { stop(): void } {
  const store = new TenantStore(opts);
  return Object.assign(store, { stop: store.attach(opts.changes) });
}
