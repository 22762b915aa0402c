// Composition root: reads configuration, opens the database, wires every module,
// starts listening, and tears everything down in order on SIGTERM/SIGINT.
import { adminApi } from './api/plugin.js';
import { createTokenVerifier } from './auth/verify-token.js';
import { ConfigError, loadConfig } from './config.js';
import { databaseCheck } from './db/database-readiness.js';
import { openDatabase } from './db/open-database.js';
import { instrumentPool } from './db/pool-metrics.js';
import { opsRoutes } from './http/ops-routes.js';
import type { ReadinessCheck } from './http/readiness.js';
import { createHttpServer } from './http/server.js';
import { createLifecycle } from './lifecycle.js';
import { createLogger } from './log.js';
import { createRegistry } from './metrics.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fs-tenantd: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Signals are handled from here on, so one during start-up (initdb) still stops cleanly.
  // Register each teardown right after creating its module: they run newest first.
  const lifecycle = createLifecycle({ log, timeoutMs: config.shutdownTimeoutMs });
  lifecycle.handleSignals();
  const registry = createRegistry();
  // /readyz: name -> check; modules with a connection to watch add theirs (see http/readiness.ts connectionsCheck).
  const readiness = new Map<string, ReadinessCheck>();

  const db = await openDatabase(config, log);
  lifecycle.onShutdown('database', () => db.close());
  instrumentPool(db.pool, registry);
  readiness.set('database', databaseCheck(db.pool));

  const app = createHttpServer({ logger: log, bodyLimitBytes: config.http.bodyLimitBytes });
  await app.register(opsRoutes, { registry, readiness });
  const verifier = await createTokenVerifier(config.jwt);
  // pushAgentStatus: wire the call-center module's status push here once it exists (daemon/api/agent-status.ts).
  await app.register(adminApi, { pool: db.pool, verifier, registry });
  log.info({ keys: verifier.describe }, 'admin API at /api (OpenAPI: /api/openapi.json)');
  // Stops accepting, lets in-flight fetches finish; runs first.
  lifecycle.onShutdown('http', () => app.close());
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  log.info({ database: db.describe, http: address }, `fs-tenantd listening on ${address}; point mod_xml_curl at ${address}${config.xmlCurl.path}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`fs-tenantd: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
