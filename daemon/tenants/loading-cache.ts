// A size-bounded LRU (lru-cache) in front of a loader, with what xml_curl needs:
//  - freshness TTL: an entry older than ttlMs is reloaded before use, so a
//    missed notification cannot keep data staler than that;
//  - coalescing: concurrent misses for one key share a single load;
//  - negative entries (loader returned null) in a separate, smaller LRU with
//    its own TTL, so scanners probing random domains cannot push real tenants out;
//  - stale-if-error: when a reload fails, the last value is served (and counted);
//  - invalidate(key) drops an entry for good (its data is known to have
//    changed); flush() only marks everything for reload and keeps the values
//    as fallbacks, because after a lost LISTEN connection nothing is known to
//    have changed, and the database may still be going up and down.
import { LRUCache } from 'lru-cache';
import client from 'prom-client';
import { hotCounter, metric, type MetricsRegistry } from '../metrics.js';

export interface CacheMetrics {
  entries: client.Gauge<'cache'>;
  /** Binds one series of fs_tenantd_tenant_cache_hits_total (every xml_curl fetch counts one or two). */
  hits: (labels: { cache: string }) => { inc(): void };
  misses: client.Counter<'cache'>;
  evictions: client.Counter<'cache'>;
  stale: client.Counter<'cache'>;
}

export function cacheMetrics(registry: MetricsRegistry): CacheMetrics {
  const counter = (name: string, help: string) =>
    metric(registry, name, () => new client.Counter({ name, help, labelNames: ['cache'], registers: [registry] }));
  return {
    entries: metric(
      registry,
      'fs_tenantd_tenant_cache_entries',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_tenant_cache_entries',
          help: 'Entries held by each tenant cache (negative entries under <cache>_negative)',
          labelNames: ['cache'],
          registers: [registry],
        }),
    ),
    hits: hotCounter(registry, {
      name: 'fs_tenantd_tenant_cache_hits_total',
      help: 'Lookups answered from a fresh cache entry',
      labelNames: ['cache'],
    }),
    misses: counter('fs_tenantd_tenant_cache_misses_total', 'Lookups that had to load from PostgreSQL'),
    evictions: counter('fs_tenantd_tenant_cache_evictions_total', 'Entries pushed out by the size bound'),
    stale: counter(
      'fs_tenantd_tenant_cache_stale_answers_total',
      'Lookups answered with a stale entry because loading failed',
    ),
  };
}

/** Per-request record of whether the database was needed (xml_curl's hit/miss outcome). */
export interface Trace {
  loads: number;
}

interface Entry<V> {
  value: V;
  loadedAt: number;
  generation: number;
}

export interface LoadingCacheOptions<K, V> {
  name: string;
  max: number;
  ttlMs: number;
  /** Cache "does not exist" answers too; omitted: every null is reloaded. */
  negative?: { max: number; ttlMs: number };
  load(key: K): Promise<V | null>;
  metrics: CacheMetrics;
  now?: () => number;
}

export class LoadingCache<K extends string, V extends object | string> {
  private readonly positive: LRUCache<K, Entry<V>>;
  private readonly negative: LRUCache<K, true> | undefined;
  private readonly inflight = new Map<K, Promise<V | null>>();
  private generation = 0;
  private readonly now: () => number;
  /** Bound once: a cache hit is the hot path. */
  private readonly hit: { inc(): void };

  constructor(private readonly opts: LoadingCacheOptions<K, V>) {
    this.now = opts.now ?? Date.now;
    const { name, metrics } = opts;
    this.hit = metrics.hits({ cache: name });
    this.positive = new LRUCache<K, Entry<V>>({
      max: opts.max,
      dispose: (_v, _k, reason) => {
        if (reason === 'evict') metrics.evictions.inc({ cache: name });
      },
    });
    if (opts.negative) {
      this.negative = new LRUCache<K, true>({
        max: opts.negative.max,
        ttl: opts.negative.ttlMs,
        ttlAutopurge: false,
        dispose: (_v, _k, reason) => {
          if (reason === 'evict') metrics.evictions.inc({ cache: `${name}_negative` });
        },
      });
    }
    this.sync();
  }

  get size(): number {
    return this.positive.size;
  }

  /**
   * The value for key, loading it if absent or no longer fresh (with `loader` if given: it is called synchronously,
   * before get returns, and only then); null if it does not exist. Rejects only if loading fails and nothing is cached.
   */
  async get(key: K, trace?: Trace, loader?: () => Promise<V | null>): Promise<V | null> {
    const { name, metrics } = this.opts;
    const entry = this.positive.get(key);
    if (entry && this.isFresh(entry)) {
      this.hit.inc();
      return entry.value;
    }
    if (!entry && this.negative?.get(key)) {
      this.hit.inc();
      return null;
    }
    metrics.misses.inc({ cache: name });
    if (trace) trace.loads++;
    try {
      return await this.load(key, loader);
    } catch (err) {
      if (!entry) throw err;
      metrics.stale.inc({ cache: name });
      return entry.value;
    }
  }

  /** The value if cached and fresh (counted as a hit), else undefined: nothing is loaded. */
  peek(key: K): V | undefined {
    const entry = this.positive.get(key);
    if (!entry || !this.isFresh(entry)) return undefined;
    this.hit.inc();
    return entry.value;
  }

  /** Drops key everywhere, including a load in flight (its result will not be stored). */
  invalidate(key: K): void {
    this.positive.delete(key);
    this.negative?.delete(key);
    this.inflight.delete(key);
    this.sync();
  }

  /**
   * The next get of `key` waits for `update(old)` instead of a full load: a change that touched a few rows of a
   * large value. With nothing fresh cached, or a load already in flight (which may predate the change), this is a
   * plain invalidate (undefined).
   */
  revise(key: K, update: (old: V) => Promise<V | null>): Promise<V | null> | undefined {
    const entry = this.positive.get(key);
    if (!entry || !this.isFresh(entry) || this.inflight.has(key)) {
      this.invalidate(key);
      return undefined;
    }
    this.positive.delete(key);
    // Keeps the entry's age: the rows not reloaded are as old as before, and the TTL bounds them.
    const p = this.load(key, () => update(entry.value), entry.loadedAt);
    p.catch(() => undefined); // a failed revision fails the gets waiting on it; the next one loads in full
    return p;
  }

  /** Whether `running` (a revise) is still what the next get of `key` will wait for. */
  awaits(key: K, running: Promise<V | null>): boolean {
    return this.inflight.get(key) === running;
  }

  /**
   * Drops every cached value `matches` (and, not knowing what they will hold, every load in flight): a change to
   * one account that its descendants' snapshots inherit from.
   */
  invalidateWhere(matches: (value: V) => boolean): void {
    const gone = [...this.positive.entries()].filter(([, e]) => matches(e.value)).map(([k]) => k);
    for (const key of gone) this.positive.delete(key);
    this.inflight.clear();
    this.sync();
  }

  /** Everything must be reloaded before its next use; the old values stay as stale-if-error fallbacks. */
  flush(): void {
    this.generation++;
    this.negative?.clear();
    this.inflight.clear();
    this.sync();
  }

  private isFresh(e: Entry<V>): boolean {
    return e.generation === this.generation && this.now() - e.loadedAt < this.opts.ttlMs;
  }

  private load(
    key: K,
    loader: () => Promise<V | null> = () => this.opts.load(key),
    loadedAt = this.now(),
  ): Promise<V | null> {
    const running = this.inflight.get(key);
    if (running) return running;
    const generation = this.generation;
    const p: Promise<V | null> = loader()
      .then((value) => {
        // Invalidated or flushed meanwhile: this answer may predate the change, so serve it to
        // whoever asked but don't keep it.
        if (this.inflight.get(key) === p) {
          if (value === null) {
            this.positive.delete(key);
            this.negative?.set(key, true);
          } else {
            this.negative?.delete(key);
            this.positive.set(key, { value, loadedAt, generation });
          }
        }
        return value;
      })
      .finally(() => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        this.sync();
      });
    this.inflight.set(key, p);
    return p;
  }

  private sync(): void {
    const { name, metrics } = this.opts;
    metrics.entries.set({ cache: name }, this.positive.size);
    if (this.negative) metrics.entries.set({ cache: `${name}_negative` }, this.negative.size);
  }
}
