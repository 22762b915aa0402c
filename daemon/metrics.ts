// One prom-client registry per daemon, created by main and handed to every module,
// which registers its own series on it. No module uses prom-client's global registry.
import client from 'prom-client';

export type MetricsRegistry = client.Registry;

export function createRegistry(): MetricsRegistry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  // prom-client names these gauges *_total, which `promtool check metrics` rejects
  // (the suffix means counter); each is the sum of its unsuffixed per-type gauge.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  return registry;
}

/** Returns the metric already registered under that name, or registers a new one (tests build many instances). */
export function metric<M extends client.Metric<string>>(registry: MetricsRegistry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

interface Pending { labels: Record<string, string>; n: number }
const pendingCounts = new WeakMap<object, Map<string, Pending>>();
const pendingOf = (counter: object): Map<string, Pending> => {
  let m = pendingCounts.get(counter);
  if (!m) pendingCounts.set(counter, m = new Map());
  return m;
};

/**
 * A counter for hot paths. prom-client hashes the label set on every inc()
 * (~0.4 us); a bound series here is a plain number that the counter takes over
 * whenever it is read (a scrape, or get() in tests) through its collect().
 * Every registration of the name must go through here, or the counts are never handed over.
 */
export function hotCounter<L extends string>(registry: MetricsRegistry, config: { name: string; help: string; labelNames: readonly L[] }):
  (labels: Record<L, string>) => { inc(n?: number): void } {
  const counter = metric(registry, config.name, () => new client.Counter<L>({
    name: config.name, help: config.help, labelNames: config.labelNames, registers: [registry],
    collect() {
      for (const p of pendingOf(this).values()) if (p.n) { this.inc(p.labels as Partial<Record<L, string>>, p.n); p.n = 0; }
    },
  }));
  const pending = pendingOf(counter);
  return (labels) => {
    const key = config.labelNames.map((n) => labels[n]).join('\u0000');
    let p = pending.get(key);
    if (!p) pending.set(key, p = { labels: { ...labels }, n: 0 });
    const entry = p;
    return { inc: (n = 1) => { entry.n += n; } };
  };
}

/**
 * Bounds per-tenant label cardinality: the first `max` tenants seen keep their
 * own label value, later ones share "_other", so tens of thousands of tenants
 * cannot blow up a Prometheus server. `max` is FS_TENANTD_METRICS_MAX_TENANTS.
 */
export class TenantLabels {
  static readonly OTHER = '_other';
  private readonly known = new Set<string>();
  constructor(readonly max: number) {}

  label(tenantSlug: string): string {
    if (this.known.has(tenantSlug)) return tenantSlug;
    if (this.known.size >= this.max) return TenantLabels.OTHER;
    this.known.add(tenantSlug);
    return tenantSlug;
  }
}
