// One prom-client registry per daemon, created by main and handed to every module,
// which registers its own series on it. No module uses prom-client's global registry.
import client from 'prom-client';

export type MetricsRegistry = client.Registry;

export function createRegistry(): MetricsRegistry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return registry;
}

/** Returns the metric already registered under that name, or registers a new one (tests build many instances). */
export function metric<M extends client.Metric<string>>(registry: MetricsRegistry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}
