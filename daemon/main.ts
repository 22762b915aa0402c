// Composition root: reads configuration, opens the database, wires every module,
// starts listening, and tears everything down in order on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/open-database.js';
import { createHttpServer } from './http/server.js';
import { createLogger } from './log.js';

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
  const db = await openDatabase(config, log);
  const app = createHttpServer({ logger: log, bodyLimitBytes: config.http.bodyLimitBytes });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  log.info({ database: db.describe, http: address }, `fs-tenantd listening on ${address}; point mod_xml_curl at ${address}${config.xmlCurl.path}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.close();
    await db.close();
    log.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`fs-tenantd: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
