// Exact percentiles over every recorded sample (runs are short enough to keep them all).

export interface LatencySummary {
  /** Milliseconds. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentiles(samples: number[] | Float64Array): LatencySummary {
  if (samples.length === 0) return { p50Ms: NaN, p90Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const sorted = Float64Array.from(samples).sort();
  // Nearest-rank: the smallest sample with at least p% of samples at or below it.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: sorted[sorted.length - 1]! };
}
