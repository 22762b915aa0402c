// Readiness is the conjunction of named checks that main wires from whatever
// modules exist (database, change feed, ESL nodes, ...). Each check is bounded
// in time, so a hung dependency makes /readyz answer "not ready", never hang.

export interface CheckResult {
  ok: boolean;
  /** Shown as-is in /readyz: an error message, per-node states, missing migrations. */
  detail?: unknown;
}

export type ReadinessCheck = () => CheckResult | Promise<CheckResult>;

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  checks: Record<string, CheckResult>;
}

export async function evaluateReadiness(
  checks: ReadonlyMap<string, ReadinessCheck>,
  timeoutMs: number,
): Promise<ReadinessReport> {
  const entries = await Promise.all(
    [...checks].map(async ([name, check]): Promise<[string, CheckResult]> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      try {
        const result = await Promise.race([Promise.resolve().then(check), timeout]);
        return [name, result];
      } catch (err) {
        return [name, { ok: false, detail: err instanceof Error ? err.message : String(err) }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const results = Object.fromEntries(entries);
  return { status: entries.every(([, r]) => r.ok) ? 'ready' : 'not_ready', checks: results };
}

/** For connection-holding modules (ESL nodes): ready when every one is connected; none configured is ready. */
export function connectionsCheck(status: () => ReadonlyArray<{ name: string; connected: boolean }>): ReadinessCheck {
  return () => {
    const nodes = status();
    return {
      ok: nodes.every((n) => n.connected),
      detail: Object.fromEntries(nodes.map((n) => [n.name, n.connected ? 'connected' : 'disconnected'])),
    };
  };
}
