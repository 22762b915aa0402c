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
