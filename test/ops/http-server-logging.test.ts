// The HTTP server hands fastify no logger instance (so responses carry no
// completion listeners), yet every request must still log through ours:
// handlers' req.log, fastify's own error and 404 logs, with a request id.
import Fastify, { type FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { createHttpServer } from '../../daemon/http/server.js';

const test = suite('http server: logging without a fastify logger instance');

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, sink) };
}

test('req.log, the default error handler and 404s log through our logger with a request id; no per-request lines', async () => {
  const { lines, logger } = capture();
  const app = createHttpServer({ logger, bodyLimitBytes: 65536 });
  app.get('/noted', async (req) => {
    req.log.warn({ thing: 1 }, 'handler note');
    return { ok: true };
  });
  app.get('/broken', async () => {
    throw new Error('kaput');
  });
  await app.ready();

  assert.is((await app.inject({ url: '/noted' })).statusCode, 200);
  assert.is((await app.inject({ url: '/broken' })).statusCode, 500);
  assert.is((await app.inject({ url: '/nowhere' })).statusCode, 404);
  await app.close();

  const note = lines.find((l) => l.msg === 'handler note');
  assert.ok(note, 'req.log reaches our logger');
  assert.is(note!.level, 40);
  assert.is(typeof note!.reqId, 'string');
  const failure = lines.find((l) => l.msg === 'kaput');
  assert.ok(failure, "fastify's default error handler logs the failure");
  assert.is(failure!.level, 50);
  assert.is(typeof failure!.reqId, 'string');
  assert.ok(
    lines.some((l) => typeof l.msg === 'string' && l.msg.includes('/nowhere')),
    'a 404 is logged',
  );
  assert.not.ok(
    lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'),
    'no line per request',
  );
});

test('responses carry no more listeners than with no logger at all (a fastify logger instance adds a pair)', async () => {
  const { logger } = capture();
  const finishListeners = async (app: FastifyInstance) => {
    let n = -1;
    app.get('/x', async (_req, reply) => {
      n = reply.raw.listenerCount('finish');
      return 'x';
    });
    await app.ready();
    assert.is((await app.inject({ url: '/x' })).statusCode, 200);
    await app.close();
    return n;
  };
  const ours = await finishListeners(createHttpServer({ logger, bodyLimitBytes: 65536 }));
  const none = await finishListeners(Fastify({ logger: false }));
  const withInstance = await finishListeners(Fastify({ loggerInstance: logger }) as unknown as FastifyInstance);
  assert.is(ours, none);
  assert.ok(withInstance > none, `a logger instance adds listeners (${withInstance} vs ${none})`);
});

test.run();
