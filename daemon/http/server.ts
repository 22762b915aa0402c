import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export interface HttpServerOptions {
  logger: Logger;
  bodyLimitBytes: number;
}

/** The daemon's one HTTP server; each feature registers itself as a fastify plugin. */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimitBytes,
    // FreeSWITCH opens a connection per fetch: no need to keep idle ones long.
    keepAliveTimeout: 5000,
    disableRequestLogging: true,
    return503OnClosing: true,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app as unknown as FastifyInstance;
}
