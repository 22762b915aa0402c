// Shutdown ordering, failure and deadline handling, and draining a real HTTP server.
import http from 'node:http';
import type net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { createLifecycle } from '../../daemon/lifecycle.js';
import { createHttpServer } from '../../daemon/http/server.js';

const test = suite('lifecycle: graceful shutdown');

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'info' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s) as Record<string, unknown>);
      },
    },
  );
  return { log, lines };
}

test('steps run newest first, once, and exit 0', async () => {
  const { log } = capturingLog();
  const order: string[] = [];
  const exits: number[] = [];
  const lc = createLifecycle({ log, timeoutMs: 5000, exit: (c) => exits.push(c) });
  lc.onShutdown('database', () => {
    order.push('database');
  });
  lc.onShutdown('cdr', async () => {
    await new Promise((r) => setImmediate(r));
    order.push('cdr');
  });
  const esl = {
    stop: () => {
      order.push('esl');
    },
  };
  assert.is(lc.own('esl', esl), esl, 'own() hands the module back');
  lc.onShutdown('http', () => {
    order.push('http');
  });
  assert.is(lc.stopping, false);
  const first = lc.shutdown('SIGTERM');
  const second = lc.shutdown('SIGINT'); // a second signal joins the first shutdown
  assert.is(lc.stopping, true);
  assert.is(await first, 0);
  assert.is(await second, 0);
  assert.equal(order, ['http', 'esl', 'cdr', 'database']);
  assert.equal(exits, [0]);
});

test('a failing step is logged, later steps still run, exit code is 1', async () => {
  const { log, lines } = capturingLog();
  const order: string[] = [];
  const exits: number[] = [];
  const lc = createLifecycle({ log, timeoutMs: 5000, exit: (c) => exits.push(c) });
  lc.onShutdown('database', () => {
    order.push('database');
  });
  lc.onShutdown('esl', () => {
    throw new Error('socket already destroyed');
  });
  assert.is(await lc.shutdown('SIGTERM'), 1);
  assert.equal(order, ['database']);
  assert.equal(exits, [1]);
  const failed = lines.find((l) => l.msg === 'shutdown step failed');
  assert.is(failed?.step, 'esl');
  assert.match(JSON.stringify(failed?.err), /socket already destroyed/);
});

test('a stuck step hits the deadline: exit 1 and the log names the step', async () => {
  const { log, lines } = capturingLog();
  const exits: number[] = [];
  const lc = createLifecycle({ log, timeoutMs: 100, exit: (c) => exits.push(c) });
  lc.onShutdown('database', () => undefined);
  lc.onShutdown('cdr', () => new Promise<void>(() => undefined));
  assert.is(await lc.shutdown('SIGTERM'), 1);
  assert.equal(exits, [1]);
  const stuck = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('shutdown did not finish in time'));
  assert.is(stuck?.step, 'cdr');
});

test('signals trigger shutdown', async () => {
  const { log } = capturingLog();
  const fake = new (await import('node:events')).EventEmitter();
  let exited: number | undefined;
  const lc = createLifecycle({
    log,
    timeoutMs: 5000,
    exit: (c) => {
      exited = c;
    },
  });
  lc.handleSignals(fake as unknown as NodeJS.Process);
  fake.emit('SIGINT');
  assert.is(lc.stopping, true);
  await lc.shutdown('again');
  assert.is(exited, 0);
});

test('the HTTP step finishes a request in flight and stops accepting new connections', async () => {
  const { log } = capturingLog();
  const app = createHttpServer({ logger: log, bodyLimitBytes: 65536 });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => {
    entered = r;
  });
  app.post('/slow', async (req) => {
    entered();
    await gate;
    return { echoed: req.body };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;

  const exits: number[] = [];
  const lc = createLifecycle({ log, timeoutMs: 5000, exit: (c) => exits.push(c) });
  lc.onShutdown('http', () => app.close());

  const response = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/slow', method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ n: 1 }));
  });
  await inHandler;
  const done = lc.shutdown('SIGTERM');
  // Nothing new gets served: refused once the listener is gone; in the instant before,
  // an accepted connection is reset as idle or its request answered 503.
  const late = await new Promise<string>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.ok(['ECONNREFUSED', 'ECONNRESET', '503'].includes(late), `new request after shutdown began got ${late}`);
  assert.equal(exits, [], 'shutdown waits for the request in flight');
  release();
  const res = await response;
  assert.is(res.status, 200);
  assert.equal(JSON.parse(res.body), { echoed: { n: 1 } });
  assert.is(
    res.connection,
    'close',
    'a keep-alive client is told to go, so close() need not wait for its idle timeout',
  );
  assert.is(await done, 0);
});

test.run();
