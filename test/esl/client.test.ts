import { once } from 'node:events';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay } from '../../daemon/esl/backoff.js';
import { EslClient, EslCommandError } from '../../daemon/esl/client.js';
import type { EslEvent } from '../../daemon/esl/event.js';
import { createRegistry, type MetricsRegistry } from '../../daemon/metrics.js';
import { EslTestServer, fixture, splitFrames, streamEvents } from '../helpers/esl-server.js';

const log = pino({ level: 'silent' });
const open: Array<{ close(): Promise<void> } | { stop(): Promise<void> }> = [];

async function setup(opts: { password?: string; events?: string[]; timeoutMs?: number } = {}) {
  const server = await EslTestServer.start();
  const registry = createRegistry();
  const client = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: server.port, password: opts.password ?? 'ClueCon' },
    log,
    registry,
    commandTimeoutMs: opts.timeoutMs ?? 2000,
    events: opts.events ?? ['ALL'],
    backoff: { initialMs: 5, maxMs: 20 },
  });
  open.push(server, client);
  const received: EslEvent[] = [];
  client.on('event', (e) => received.push(e));
  return { server, client, registry, received };
}

async function value(registry: MetricsRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (
    m?.values
      .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
      .reduce((a, v) => a + v.value, 0) ?? 0
  );
}

async function ready(client: EslClient): Promise<void> {
  if (!client.connected) await once(client, 'ready');
}

test.after.each(async () => {
  for (const o of open.splice(0).reverse()) await ('stop' in o ? o.stop() : o.close());
});

test('backoff is exponential, capped, jittered and never zero', () => {
  assert.is(
    backoffDelay(0, 100, 10_000, () => 0),
    50,
  );
  assert.is(
    backoffDelay(0, 100, 10_000, () => 1),
    100,
  );
  assert.is(
    backoffDelay(3, 100, 10_000, () => 0),
    400,
  );
  assert.is(
    backoffDelay(20, 100, 10_000, () => 1),
    10_000,
  );
  assert.is(
    backoffDelay(20, 100, 10_000, () => 0),
    5_000,
  );
});

test('authenticates, subscribes in json, answers api with the captured body', async () => {
  const { server, client, registry } = await setup({ events: ['CHANNEL_CREATE', 'callcenter::info'] });
  client.start();
  await ready(client);
  assert.equal(server.commands.slice(0, 2), [
    'auth ClueCon',
    'event json BACKGROUND_JOB CHANNEL_CREATE CUSTOM callcenter::info',
  ]);
  const body = await client.api('status');
  assert.is(body, splitFrames(fixture('api-status.raw'))[0]!.body!.toString('utf8'));
  assert.is(await value(registry, 'fs_tenantd_esl_connected', { node: 'fs1' }), 1);
  assert.equal(client.status().connected, true);
});

test('api -ERR rejects with the reply; line breaks are refused before sending', async () => {
  const { client, server } = await setup();
  client.start();
  await ready(client);
  const err = await client.api('uuid_kill 00000000-0000-0000-0000-000000000000').catch((e: unknown) => e);
  assert.instance(err, EslCommandError);
  assert.is((err as EslCommandError).kind, 'rejected');
  assert.match((err as EslCommandError).reply!, /No such channel/);
  const bad = await client.api('status\n\napi fsctl shutdown').catch((e: unknown) => e);
  assert.is((bad as EslCommandError).kind, 'invalid');
  assert.not.ok(server.commands.some((c) => c.includes('shutdown')));
  assert.is(await client.api('status').then((b) => b.slice(0, 2)), 'UP', 'connection still usable');
});

test('bgapi resolves with the BACKGROUND_JOB body, in json and in plain', async () => {
  const { client } = await setup();
  client.start();
  await ready(client);
  const body = await client.bgapi('status');
  assert.match(body, /^UP 0 years/);
  assert.ok(body.endsWith('240K/8192K\n'));
});

test('a command that gets no answer times out; a silent socket is dropped and reconnected', async () => {
  const { client, server } = await setup({ timeoutMs: 200 });
  server.onApi((cmd) => (cmd === 'hang' ? null : undefined));
  client.start();
  await ready(client);
  const downs: string[] = [];
  client.on('down', (r) => downs.push(r));
  const err = await client.api('hang').catch((e: unknown) => e);
  assert.is((err as EslCommandError).kind, 'timeout');
  // Nothing arrived after the command: the client treats the link as dead and reconnects.
  await once(client, 'ready');
  assert.is(downs.length, 1);
  assert.is(server.commands.filter((c) => c.startsWith('event json')).length, 2, 're-subscribed');
});

test('a late reply after a timeout is consumed, later commands still get their own replies', async () => {
  const { client, server } = await setup({ timeoutMs: 300 });
  let release: (() => void) | undefined;
  server.onApi((cmd) =>
    cmd === 'slow'
      ? new Promise<string>((r) => {
          release = () => r('+OK slow\n');
        })
      : undefined,
  );
  client.start();
  await ready(client);
  const slow = client.api('slow', { timeoutMs: 50 }).catch((e: unknown) => e);
  // Keep data flowing so the connection is not judged dead.
  server.emitEvent({ headers: server.coreHeaders('HEARTBEAT') });
  assert.is(((await slow) as EslCommandError).kind, 'timeout');
  const next = client.api('status');
  release!();
  assert.match(await next, /^UP/);
  assert.ok(client.connected);
});

test('wrong password: not connected, refused, retried with backoff', async () => {
  const { client, server } = await setup({ password: 'WrongPassword' });
  client.start();
  await server.waitForCommand(/^auth /, 2);
  assert.not.ok(client.connected);
  assert.match(client.status().lastError ?? '', /refused|closed|disconnected/);
  const err = await client.api('status').catch((e: unknown) => e);
  assert.is((err as EslCommandError).kind, 'not_connected');
});

test('drop: pending commands fail, the client reconnects and re-subscribes, events flow again', async () => {
  const { client, server, registry, received } = await setup({ events: ['HEARTBEAT'] });
  server.onApi((cmd) => (cmd === 'hang' ? null : undefined));
  client.start();
  await ready(client);
  const pending = client.api('hang').catch((e: unknown) => e);
  await server.waitForCommand(/^api hang/);
  server.dropAll();
  assert.is(((await pending) as EslCommandError).kind, 'disconnected');
  await once(client, 'ready');
  assert.is(server.commands.filter((c) => c === 'event json BACKGROUND_JOB HEARTBEAT').length, 2);
  server.emitEvent({ headers: server.coreHeaders('HEARTBEAT') });
  await server.drained();
  while (received.length === 0) await once(client, 'event');
  assert.ok((await value(registry, 'fs_tenantd_esl_reconnects_total', { node: 'fs1' })) >= 1);
});

test('frames split into 1..13-byte TCP writes and coalesced in big writes arrive intact', async () => {
  const { client, server, received } = await setup();
  const evs = streamEvents('stream-2-call-acme-1000-to-1001.json.raw');
  for (const chunking of [
    { mode: 'split' as const, sizes: [1, 7, 13, 3] },
    { mode: 'coalesce' as const, bytes: 200_000 },
  ]) {
    received.length = 0;
    server.chunking = { mode: 'whole' };
    if (!client.connected) {
      client.start();
      await ready(client);
    }
    server.chunking = chunking;
    for (const ev of evs.slice(0, 12)) server.emitEvent(ev);
    const body = client.api('status');
    await server.drained();
    assert.match(await body, /^UP/, chunking.mode);
    assert.is(received.length, 12, chunking.mode);
    assert.equal(
      received.map((e) => e.headers['Event-Sequence']),
      evs.slice(0, 12).map((e) => e.headers['Event-Sequence']),
    );
    assert.ok(received.some((e) => e.headers['Caller-Caller-ID-Name'] === 'Zoë Acme'));
  }
});

test('malformed frames: bad events are skipped and counted, broken framing resets the connection, nothing crashes', async () => {
  const { client, server, registry, received } = await setup();
  client.start();
  await ready(client);
  client.on('event', (e) => {
    if (e.name === 'CUSTOM') throw new Error('consumer bug');
  });
  const bad = (body: string, type = 'text/event-json') =>
    Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\nContent-Type: ${type}\n\n${body}`);
  server.sendRaw(bad('{"Event-Name": "CHANNEL_CREATE", '));
  server.sendRaw(bad('[]'));
  server.sendRaw(bad('no colon\n\n', 'text/event-plain'));
  server.sendRaw(bad('Event-Name: HEARTBEAT\nvariable_x: %C3%28%\n\n', 'text/event-plain'));
  server.sendRaw(bad('{"Event-Name":"CUSTOM","Event-Subclass":"x::y"}'));
  server.sendRaw(Buffer.from('Reply-Text: +OK orphan\n\n'));
  assert.match(await client.api('status'), /^UP/);
  assert.is(await value(registry, 'fs_tenantd_esl_malformed_frames_total', { node: 'fs1' }), 4);
  assert.equal(
    received.map((e) => e.name),
    ['HEARTBEAT', 'CUSTOM'],
  );
  assert.is(received[0]!.headers.variable_x, '\uFFFD(%');
  // Framing lost: the client drops the connection and comes back.
  server.sendRaw(Buffer.from('Content-Type: text/event-json\nContent-Length: 12abc\n\n{}'));
  await once(client, 'ready');
  assert.is(await value(registry, 'fs_tenantd_esl_malformed_frames_total', { node: 'fs1' }), 5);
  assert.match(await client.api('status'), /^UP/);
});

test('20,000 events at full speed: all delivered, parser memory bounded by chunk size, not event count', async () => {
  const { client, server, received } = await setup({ events: ['HEARTBEAT'] });
  client.start();
  await ready(client);
  const ev = streamEvents('stream-5-call-public-did-trunk.json.raw').find(
    (e) => e.headers['Event-Name'] === 'HEARTBEAT',
  )!;
  server.chunking = { mode: 'coalesce', bytes: 1 << 20 };
  let n = 0;
  client.on('event', () => {
    n++;
  });
  received.length = 0;
  const N = 20_000;
  for (let i = 0; i < N; i++) server.emitEvent(ev);
  await server.drained();
  while (n < N) await once(client, 'event');
  assert.is(n, N);
  // 20k events are ~30 MB on the wire; the parser never held more than about one TCP read.
  assert.ok(client.maxBufferedBytes < 4 * 1024 * 1024, `max buffered ${client.maxBufferedBytes}`);
  received.length = 0;
});

test.run();
