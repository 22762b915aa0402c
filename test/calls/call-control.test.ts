// The ESL clients, the ledger and the CDR writer wired as in main, against two
// in-test FreeSWITCH nodes replaying the captured call.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type pg from 'pg';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCallControl } from '../../daemon/calls/call-control.js';
import { CdrWriter } from '../../daemon/calls/cdr-writer.js';
import { EslClient } from '../../daemon/esl/client.js';
import { DAEMON_EVENTS } from '../../daemon/esl/esl-nodes.js';
import { createRegistry } from '../../daemon/metrics.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { EslTestServer, fixture, splitFrames } from '../helpers/esl-server.js';
import { ACME, ceilings, fixtureCall, makeLedger, uuid } from './ledger-fixtures.js';

const log = pino({ level: 'silent' });
let db: TestDatabase;
let pool: pg.Pool;
let spoolDir: string;
const cleanup: Array<() => Promise<void>> = [];

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(2);
  spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-cc-'));
});
test.after.each(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
test.after(async () => {
  await db.drop();
  await fs.rm(spoolDir, { recursive: true, force: true });
});

async function rig(nodeNames: string[]) {
  const { ledger } = makeLedger();
  const registry = createRegistry();
  const cdr = new CdrWriter({ pool, log, registry, spoolDir, queueMax: 100 });
  await cdr.start();
  cleanup.push(() => cdr.stop());
  const servers: EslTestServer[] = [];
  const clients: EslClient[] = [];
  for (const name of nodeNames) {
    const server = await EslTestServer.start({ hostname: `${name}-host` });
    const client = new EslClient({
      node: { name, host: '127.0.0.1', port: server.port, password: 'ClueCon' },
      log,
      registry,
      commandTimeoutMs: 2000,
      events: DAEMON_EVENTS,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    servers.push(server);
    clients.push(client);
    cleanup.push(
      () => server.close(),
      () => client.stop(),
    );
  }
  const control = createCallControl({ clients, ledger, cdr, log, sweepIntervalMs: 60_000 });
  cleanup.push(async () => control.stop());
  const resynced = (i: number, count = 1) => servers[i]!.waitForCommand(/^api show channels as json$/, count);
  for (const c of clients) c.start();
  await Promise.all(servers.map((_, i) => resynced(i)));
  await Promise.all(clients.map((c) => (c.connected ? undefined : once(c, 'ready'))));
  return { ledger, cdr, servers, clients, resynced };
}

test('burst admission across two connected nodes admits exactly the ceiling', async () => {
  const { ledger } = await rig(['fs1', 'fs2']);
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      ledger.admit({
        tenantId: ACME,
        callUuid: uuid(),
        direction: 'inbound',
        ceilings: ceilings(5),
        node: i % 2 ? 'fs1-host' : 'fs2-host',
      }),
    ),
  );
  assert.is(results.filter((r) => r.admitted).length, 5);
});

test('the captured call over the wire (json, split into small TCP writes): counted once, released once', async () => {
  const { ledger, servers, clients } = await rig(['fs1']);
  const server = servers[0]!;
  server.chunking = { mode: 'split', sizes: [17, 1, 300, 5] };
  const events = fixtureCall();
  const bridge = events.findIndex((e) => e.headers['Event-Name'] === 'CHANNEL_BRIDGE');
  for (const e of events.slice(0, bridge + 1)) server.emitEvent(e);
  // Replies come in order after the events sent before them: once it is back, they were all applied.
  await clients[0]!.api('status');
  assert.is(ledger.active(ACME).total, 1);
  for (const e of events.slice(bridge + 1)) server.emitEvent(e);
  await clients[0]!.api('status');
  assert.is(ledger.active(ACME).total, 0);
});

test('reconnect: FreeSWITCH lost a hangup while we were away; resync from show channels releases it before new admissions', async () => {
  const { ledger, servers, clients, resynced } = await rig(['fs1']);
  const server = servers[0]!;
  // The call from the capture is up (show channels lists both legs; uuid_dump gives their variables).
  const showUp = splitFrames(fixture('api-show-channels-json-call-up.raw'))[0]!.body!.toString('utf8');
  const legs = (JSON.parse(showUp) as { rows: Array<{ uuid: string }> }).rows.map((r) => r.uuid);
  const dump = (leg: string) => {
    // uuid_dump json is the channel's data as an event body: take the leg's CHANNEL_BRIDGE/ANSWER from the capture's twin call.
    const plain = fixtureCall('stream-2-call-acme-1000-to-1001.plain.raw');
    const ev = plain.find((e) => e.headers['Unique-ID'] === leg && e.headers['Event-Name'] === 'CHANNEL_ANSWER')!;
    return JSON.stringify({ ...ev.headers, 'Event-Name': 'CHANNEL_DATA' });
  };
  let channelsUp = true;
  server.onApi((cmd) => {
    if (cmd === 'show channels as json') return channelsUp ? showUp : undefined;
    const m = /^uuid_dump (\S+) json$/.exec(cmd);
    if (m && channelsUp && legs.includes(m[1]!)) return dump(m[1]!);
    return undefined;
  });
  // Force a resync that sees the call.
  clients[0]!.reset('test');
  await resynced(0, 2);
  await server.waitForCommand(/^api uuid_dump /, 2);
  const c = ceilings(1);
  // Admission waits for the resync, then sees the live call: the tenant is full.
  assert.not.ok(
    (await ledger.admit({ tenantId: ACME, callUuid: uuid(), direction: 'internal', ceilings: c, node: 'fs1-host' }))
      .admitted,
  );
  assert.is(ledger.active(ACME).total, 1);
  // The call ends while the ESL link is down: its hangup is never delivered.
  channelsUp = false;
  clients[0]!.reset('network');
  await resynced(0, 3);
  assert.ok(
    (await ledger.admit({ tenantId: ACME, callUuid: uuid(), direction: 'internal', ceilings: c, node: 'fs1-host' }))
      .admitted,
  );
  assert.is(ledger.active(ACME).total, 1, 'the old call released, the new one counted');
});

test("a FreeSWITCH restart (new Core-UUID) releases the old core's calls at once, before the channel list", async () => {
  const { ledger, servers, clients } = await rig(['fs1']);
  const server = servers[0]!;
  const c = ceilings(5);
  const admit = async () =>
    (await ledger.admit({ tenantId: ACME, callUuid: uuid(), direction: 'internal', ceilings: c, node: 'fs1-host' }))
      .admitted;
  assert.ok(await admit());
  assert.ok(await admit());
  assert.is(ledger.active(ACME).total, 2);
  // From now on the node never answers `show channels`: whatever is released below is not the resync's doing.
  server.onApi((cmd) => (cmd === 'show channels as json' ? null : undefined));

  // A network blip: same core, the calls may still be up; nothing is released before the list is read.
  clients[0]!.reset('network');
  await server.waitForCommand(/^api global_getvar core_uuid$/, 2);
  await server.waitForCommand(/^api show channels as json$/, 2);
  assert.is(ledger.active(ACME).total, 2, 'same Core-UUID: kept');

  // FreeSWITCH restarted: a new core holds none of the old calls.
  server.restart();
  await server.waitForCommand(/^api global_getvar core_uuid$/, 3);
  await server.waitForCommand(/^api show channels as json$/, 3);
  assert.is(ledger.active(ACME).total, 0, 'new Core-UUID: released without waiting for the channel list');
});

test.run();
