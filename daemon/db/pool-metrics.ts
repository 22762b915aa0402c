// Query latency and pool pressure for one pg.Pool, without touching callers:
// every client the pool hands out gets a timed query method (checkout is the
// one place both pool.query and withTenant go through).
import type pg from 'pg';
import client from 'prom-client';
import { metric, type MetricsRegistry } from '../metrics.js';

const TIMED = Symbol('fs-tenantd.timed-client');

type QueryFn = (...args: unknown[]) => unknown;

export function instrumentPool(pool: pg.Pool, registry: MetricsRegistry): void {
  const duration = metric(
    registry,
    'fs_tenantd_db_query_duration_seconds',
    () =>
      new client.Histogram({
        name: 'fs_tenantd_db_query_duration_seconds',
        help: 'PostgreSQL statement round-trip time (including BEGIN/COMMIT of tenant transactions)',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
  );
  const errors = metric(
    registry,
    'fs_tenantd_db_query_errors_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_db_query_errors_total',
        help: 'PostgreSQL statements that failed (server error or lost connection)',
        registers: [registry],
      }),
  );
  const gauge = (name: string, help: string, read: () => number) =>
    metric(
      registry,
      name,
      () =>
        new client.Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(read());
          },
        }),
    );
  gauge('fs_tenantd_db_pool_total_clients', 'Connections the pool holds (idle and checked out)', () => pool.totalCount);
  gauge('fs_tenantd_db_pool_idle_clients', 'Idle connections in the pool', () => pool.idleCount);
  gauge(
    'fs_tenantd_db_pool_waiting_clients',
    'Callers queued for a connection because the pool is exhausted',
    () => pool.waitingCount,
  );

  pool.on('acquire', (c) => {
    const timed = c as pg.PoolClient & { [TIMED]?: true };
    if (timed[TIMED]) return;
    timed[TIMED] = true;
    const original = c.query as unknown as QueryFn;
    (c as unknown as { query: QueryFn }).query = function timedQuery(this: unknown, ...args: unknown[]) {
      // Submittables (cursors, streams) report completion through events; pass them through untimed.
      if (typeof (args[0] as { submit?: unknown } | null)?.submit === 'function') return original.apply(this, args);
      const end = duration.startTimer();
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (err: unknown, res: unknown) => {
          end();
          if (err) errors.inc();
          (callback as QueryFn)(err, res);
        };
        return original.apply(this, args);
      }
      return (original.apply(this, args) as Promise<unknown>).then(
        (res) => {
          end();
          return res;
        },
        (err: unknown) => {
          end();
          errors.inc();
          throw err;
        },
      );
    };
  });
}
