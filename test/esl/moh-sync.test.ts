// Tenant music-on-hold streams pushed into mod_local_stream: the plan (pure) and the sync against an emulated
// node whose `local_stream show|start|reload|stop` behave as mod_local_stream's do. The real switch is exercised
// in test/sipp/moh.test.ts.
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChangeFeed } from '../../daemon/db/change-feed.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createMohSync, parseStreamList, planMohStreams } from '../../daemon/esl/moh-sync.js';
import { createRegistry } from '../../daemon/metrics.js';
import { mohStreamName } from '../../xml-handlers/media-names.js';
import type { MohStream, TenantId, TenantSnapshot } from '../../xml-handlers/model.js';
import { EslTestServer } from '../helpers/esl-server.js';

const test = suite('ESL: music-on-hold streams follow the database');
const A = '11111111-2222-4333-8444-555555555555' as TenantId;
const B = '99999999-8888-4777-8666-555555555555' as TenantId;
const S1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const S2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const S3 = 'bbbbbbbb-0000-4000-8000-000000000003';

test('parseStreamList reads `local_stream show` (name,location per line)', () => {
  const list = parseStreamList(`default,/usr/share/freeswitch/sounds/music/8000\nmoh_${A}_${S1},/srv/moh/${A}/${S1}\n`);
  assert.equal([...list.keys()], ['default', `moh_${A}_${S1}`]);
  assert.equal([...parseStreamList('').keys()], []);
});

test('planMohStreams: new started, changed reloaded, deleted stopped, stock and hand-made ones left alone', () => {
  const n = (t: TenantId, s: string) => mohStreamName(t, s);
  const desired = new Map([
    [n(A, S1), 'same'],
    [n(A, S2), 'changed-new'],
    [n(B, S3), 'new'],
  ]);
  const gone = n(B, S1);
  const actual = new Set(['default', 'moh/8000', 'operator-made', n(A, S1), n(A, S2), gone]);
  const known = new Map([
    [n(A, S1), 'same'],
    [n(A, S2), 'changed-old'],
  ]);
  assert.equal(planMohStreams(desired, actual, known), { start: [n(B, S3)], reload: [n(A, S2)], stop: [gone] });
  // Present but never seen by this daemon (it restarted): adopted, not reloaded.
  assert.equal(planMohStreams(desired, actual, new Map()).reload, []);
});

const stream = (id: string, files: string[]): MohStream => ({
  id,
  name: id.slice(0, 8),
  isDefault: false,
  files: files.map((name) => ({ name, sizeBytes: 100, updatedAt: '2026-12-02T12:00:00Z' })),
});
const tenant = (id: TenantId, streams: MohStream[]) => ({ id, mohStreams: streams }) as unknown as TenantSnapshot;

test('the sync makes folders and sends start/reload/stop for exactly the streams that changed', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-moh-'));
  const server = await EslTestServer.start();
  // The emulated mod_local_stream: a source runs only once started (its folder must exist), stop removes it.
  // None at first: as on a node without FreeSWITCH's music package, where even `default` cannot open its folder.
  const running = new Map<string, string>();
  let db: TenantSnapshot[] = [tenant(A, [stream(S1, ['a.wav'])]), tenant(B, [stream(S3, [])])];
  const sent: string[] = [];
  server.onApi((cmd) => {
    // An empty listing reaches ESL as "-ERR no reply" (mod_event_socket api_exec).
    if (cmd === 'local_stream show')
      return running.size ? [...running].map(([n, p]) => `${n},${p}\n`).join('') : '-ERR no reply\n';
    const m = /^local_stream (start|reload|stop) (\S+)$/.exec(cmd);
    if (!m) return undefined;
    sent.push(`${m[1]} ${m[2]}`);
    if (m[1] === 'start') {
      running.set(m[2]!, 'somewhere');
      return `+OK stream: ${m[2]}`;
    }
    if (!running.has(m[2]!)) return `-ERR Cannot locate local_stream ${m[2]}!\n`;
    if (m[1] === 'stop') running.delete(m[2]!);
    return '+OK';
  });
  const feed = new EventEmitter();
  const registry = createRegistry();
  const client = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: server.port, password: 'ClueCon' },
    log: pino({ level: 'silent' }),
    registry,
    commandTimeoutMs: 2000,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  const sync = createMohSync({
    feed: feed as unknown as ChangeFeed,
    clients: [client],
    tenants: async () => db,
    dir,
    log: pino({ level: 'silent' }),
    registry,
    debounceMs: 5,
  });
  const change = (table: string) => feed.emit('change', { table, op: 'UPDATE', tenantId: A, id: null, keys: {} });
  try {
    client.start();
    await once(client, 'ready');
    await sync.idle();
    // The start-up pass on a node running nothing: both tenants' streams started, each folder made first.
    assert.equal(sent.splice(0), [`start ${mohStreamName(A, S1)}`, `start ${mohStreamName(B, S3)}`]);
    assert.ok((await fs.stat(path.join(dir, A, S1))).isDirectory());
    assert.ok((await fs.stat(path.join(dir, B, S3))).isDirectory());

    // Nothing changed: nothing sent.
    change('moh_streams');
    await sync.idle();
    assert.equal(sent.splice(0), []);

    // A file uploaded to acme's stream: that stream reloaded, globex's not.
    db = [tenant(A, [stream(S1, ['a.wav', 'b.wav'])]), db[1]!];
    change('moh_stream_files');
    await sync.idle();
    assert.equal(sent.splice(0), [`reload ${mohStreamName(A, S1)}`]);

    // A new acme stream started; globex's stream deleted: stopped.
    db = [tenant(A, [stream(S1, ['a.wav', 'b.wav']), stream(S2, [])]), tenant(B, [])];
    change('moh_streams');
    await sync.idle();
    assert.equal(sent.splice(0), [`stop ${mohStreamName(B, S3)}`, `start ${mohStreamName(A, S2)}`]);
    assert.equal([...running.keys()].sort(), [mohStreamName(A, S1), mohStreamName(A, S2)].sort());

    // Other tables do not wake it.
    db = [tenant(A, [])];
    change('extensions');
    await sync.idle();
    assert.equal(sent.splice(0), []);

    const counted = await registry.getSingleMetric('fs_tenantd_moh_sync_commands_total')!.get();
    assert.is(
      counted.values.reduce((n, v) => n + v.value, 0),
      5,
    );
  } finally {
    sync.stop();
    await client.stop();
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test.run();
