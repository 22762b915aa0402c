import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

export interface HttpServerOptions {
  logger: Logger;
  bodyLimitBytes: number;
}

/**
 * No "incoming request"/"request completed" line per request (FreeSWITCH fetches
 * are the hot path and are counted in metrics instead), but the default error
 * handler's logs stay (bad input must leave a trace), and so does a response
 * that fails on routes fastify follows to completion (those with onResponse hooks).
 */
class ErrorsOnlyRequestLog extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) super.requestCompleted(error, request, reply, metadata);
  }
}

/** The daemon's one HTTP server; each feature registers itself as a fastify plugin. */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    // Fastify gets no logger instance of its own: with one, it puts a 'finish'/'error'
    // listener pair on every response only to log that it completed, a few percent of a
    // keep-alive fetch. Each request still logs through ours: req.log is a child of it
    // (with reqId), and fastify's own error logs go through req.log. app.log is silent.
    logger: false,
    childLoggerFactory: (_silent, bindings, childOpts) => opts.logger.child(bindings, childOpts),
    bodyLimit: opts.bodyLimitBytes,
    // FreeSWITCH opens a connection per fetch: no need to keep idle ones long.
    keepAliveTimeout: 5000,
    logController: new ErrorsOnlyRequestLog(),
    // During shutdown: requests already being read finish, new ones get 503.
    return503OnClosing: true,
  });
  // Responses finished while closing tell keep-alive clients to go, so the
  // socket ends with the response instead of at keepAliveTimeout.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  // Callback style: an async hook would cost every response a promise.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app as unknown as FastifyInstance;
}
