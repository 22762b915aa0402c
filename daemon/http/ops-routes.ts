// GET /metrics (Prometheus text format from the daemon's own registry) and
// GET /readyz (200 when every wired check passes, 503 with the failing ones).
// /healthz, which needs nothing, lives in server.ts.
import type { FastifyPluginAsync } from 'fastify';
import type { MetricsRegistry } from '../metrics.js';
import { evaluateReadiness, type ReadinessCheck } from './readiness.js';

export interface OpsRoutesOptions {
  registry: MetricsRegistry;
  /** Read on every probe, so checks added after registration count too. */
  readiness: ReadonlyMap<string, ReadinessCheck>;
  /** Per-check bound; a check slower than this counts as failed. */
  checkTimeoutMs?: number;
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
  const timeoutMs = opts.checkTimeoutMs ?? 2000;

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(body);
  });

  app.get('/readyz', async (req, reply) => {
    const report = await evaluateReadiness(opts.readiness, timeoutMs);
    if (report.status !== 'ready') {
      const failing = Object.entries(report.checks)
        .filter(([, r]) => !r.ok)
        .map(([name, r]) => ({ name, detail: r.detail }));
      req.log.warn({ failing }, 'not ready');
    }
    return reply.code(report.status === 'ready' ? 200 : 503).send(report);
  });
};
