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

/** One key per label set, in the metric's label order (a bound series is looked up once, at bind time). */
const seriesKey = <L extends string>(names: readonly L[], labels: Record<L, string>): string =>
  names.map((n) => labels[n]).join('\u0000');

interface Pending {
  labels: Record<string, string>;
  n: number;
}
const pendingCounts = new WeakMap<object, Map<string, Pending>>();
const pendingOf = (counter: object): Map<string, Pending> => {
  let m = pendingCounts.get(counter);
  if (!m) pendingCounts.set(counter, (m = new Map()));
  return m;
};

/**
 * A counter for hot paths. prom-client hashes the label set on every inc()
 * (~0.4 us); a bound series here is a plain number that the counter takes over
 * whenever it is read (a scrape, or get() in tests) through its collect().
 * Every registration of the name must go through here, or the counts are never handed over.
 */
export function hotCounter<L extends string>(
  registry: MetricsRegistry,
  config: { name: string; help: string; labelNames: readonly L[] },
): (labels: Record<L, string>) => { inc(n?: number): void } {
  const counter = metric(
    registry,
    config.name,
    () =>
      new client.Counter<L>({
        name: config.name,
        help: config.help,
        labelNames: config.labelNames,
        registers: [registry],
        collect() {
          for (const p of pendingOf(this).values())
            if (p.n) {
              this.inc(p.labels as Partial<Record<L, string>>, p.n);
              p.n = 0;
            }
        },
      }),
  );
  const pending = pendingOf(counter);
  return (labels) => {
    const key = seriesKey(config.labelNames, labels);
    let p = pending.get(key);
    if (!p) pending.set(key, (p = { labels: { ...labels }, n: 0 }));
    const entry = p;
    return {
      inc: (n = 1) => {
        entry.n += n;
      },
    };
  };
}

interface HistogramSeries {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram for hot paths, read exactly as prom-client's own. prom-client's
 * observe() validates and hashes the label set and turns the bucket bound into a
 * property name on every call (1-3 us of a keep-alive fetch); a bound series here
 * is a bucket search and three additions. Non-finite values are ignored.
 */
class HotHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    readonly buckets: readonly number[],
  ) {}

  labels(labels: Record<L, string>): { observe(v: number): void } {
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const series = s;
    const bounds = this.buckets;
    return {
      observe: (v) => {
        if (!Number.isFinite(v)) return;
        series.sum += v;
        series.count++;
        for (let i = 0; i < bounds.length; i++)
          if (v <= bounds[i]!) {
            series.counts[i]!++;
            return;
          }
      },
    };
  }

  get(): {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
  } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** Registers (once per name) a HotHistogram; returns its series binder. */
export function hotHistogram<L extends string>(
  registry: MetricsRegistry,
  config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[] },
): (labels: Record<L, string>) => { observe(v: number): void } {
  let h = registry.getSingleMetric(config.name) as unknown as HotHistogram<L> | undefined;
  if (!h) {
    h = new HotHistogram(
      config.name,
      config.help,
      config.labelNames,
      [...config.buckets].sort((a, b) => a - b),
    );
    registry.registerMetric(h as unknown as client.Metric<string>);
  }
  const histogram = h;
  return (labels) => histogram.labels(labels);
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
