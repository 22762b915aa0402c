// The call-center sync against a fresh node when its triggers pile up, as at
// start-up: the sync starts, the change feed connects (a resync), ESL connects
// ('ready') and reconcileAll() is called; while the first pass waits on the
// node, a burst of changes arrives and the change feed reconnects. Real
// PostgreSQL, change feed and ESL client; the node is the mod_callcenter
// emulator behind the in-test ESL server, and callcenter.conf answers with the
// queue, its agents and tiers, as xml-handlers/configuration/callcenter.ts does.
import { once } from 'node:events';
import pg from 'pg';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CallcenterSync } from '../../daemon/callcenter/callcenter-sync.js';
import { eslCallcenterNode } from '../../daemon/callcenter/esl-node.js';
import { loadAllCallcenters } from '../../daemon/callcenter/load-desired.js';
import type { CallcenterNode } from '../../daemon/callcenter/node-port.js';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createRegistry, TenantLabels, type MetricsRegistry } from '../../daemon/metrics.js';
import { EslTestServer } from '../helpers/esl-server.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';
import { ccQueueAnswer, ModCallcenterEmulator, type QueueConfig } from './mod-callcenter-emulator.js';

interface Ctx {
  db: TestDatabase;
  server: EslTestServer;
  esl: EslClient;
  feed: ChangeFeed;
  sync: CallcenterSync;
}

const test = suite<Ctx>('callcenter sync: triggers that arrive together');

const DEBOUNCE_MS = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function value(registry: MetricsRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (
    m?.values
      .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
      .reduce((a, v) => a + v.value, 0) ?? 0
  );
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test.after(async (ctx) => {
  await ctx.sync?.stop();
  await ctx.esl?.stop();
  await ctx.feed?.stop();
  await ctx.server?.close();
  await ctx.db?.drop();
});

test('start-up triggers, a burst of changes and a feed reconnect: one pass at a time, nothing refused', async (ctx) => {
  ctx.db = await freshDatabase();
  const pool = ctx.db.appPool(4);
  await seedDemo(pool);
  const [acme, globex] = [await tenantIdOf(pool, 'acme'), await tenantIdOf(pool, 'globex')];
  const registry = createRegistry();
  const logs: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );

  const config = new Map<string, QueueConfig>();
  const emu = new ModCallcenterEmulator((q) => config.get(q));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  ctx.server = await EslTestServer.start();
  ctx.server.onApi(async (command) => {
    if (!command.startsWith('callcenter_config ')) return undefined;
    // The first queue load waits until the test has piled up its triggers.
    if (!held && command.startsWith('callcenter_config queue load ')) {
      held = true;
      await gate;
    }
    if (/^callcenter_config (queue (load|reload)|tier add) /.test(command)) {
      config.clear();
      for (const t of await loadAllCallcenters(pool)) {
        for (const q of t.queues) config.set(q.fsName, ccQueueAnswer(t, q));
      }
    }
    return emu.api(command);
  });

  ctx.esl = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: ctx.server.port, password: 'ClueCon' },
    log: pino({ level: 'silent' }),
    registry,
    commandTimeoutMs: 10_000,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  // Counts the node's commands in flight: two passes at once would show two.
  const inner = eslCallcenterNode(ctx.esl);
  let inFlight = 0;
  let maxInFlight = 0;
  const node: CallcenterNode = {
    get name() {
      return inner.name;
    },
    get connected() {
      return inner.connected;
    },
    async api(command) {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await inner.api(command);
      } finally {
        inFlight--;
      }
    },
    on: inner.on.bind(inner) as CallcenterNode['on'],
    off: inner.off.bind(inner) as CallcenterNode['off'],
  };
  ctx.feed = createChangeFeed({
    url: ctx.db.appUrl,
    log: pino({ level: 'silent' }),
    registry,
    minBackoffMs: 5,
    maxBackoffMs: 20,
  });
  const changes: ChangeEvent[] = [];
  ctx.feed.on('change', (e: ChangeEvent) => changes.push(e));
  ctx.sync = new CallcenterSync({
    pool,
    log,
    registry,
    tenantLabels: new TenantLabels(10),
    nodes: [node],
    changes: ctx.feed,
    debounceMs: DEBOUNCE_MS,
  });

  // The order of main.ts: the sync, the change feed (connecting is a resync), then ESL ('ready').
  ctx.sync.start();
  const ready = once(ctx.esl, 'ready');
  await ctx.feed.start();
  ctx.esl.start();
  await ready;
  const all = ctx.sync.reconcileAll();
  await ctx.server.waitForCommand(/^api callcenter_config queue load /);

  // While the first pass is held: changes it has already read past, in separate transactions...
  await withTenant(pool, acme, (c) =>
    c.query(
      "UPDATE agents SET wrap_up_time = 33 WHERE extension_id = (SELECT id FROM extensions WHERE number = '1001')",
    ),
  );
  await withTenant(pool, globex, async (c) => {
    const {
      rows: [a],
    } = await c.query<{ id: string }>(`INSERT INTO agents (tenant_id, extension_id)
      SELECT tenant_id, id FROM extensions WHERE number = '1002' RETURNING id`);
    await c.query(
      `INSERT INTO tiers (tenant_id, queue_id, agent_id, level, position)
      SELECT tenant_id, id, $1, 2, 3 FROM queues`,
      [a!.id],
    );
  });
  await withTenant(pool, acme, (c) => c.query("UPDATE queues SET strategy = 'ring-all' WHERE name = 'support'"));
  const seen = (table: string) => changes.filter((e) => e.table === table).length;
  await waitFor('the burst of notifications', () => seen('agents') >= 2 && seen('tiers') >= 1 && seen('queues') >= 1);
  // ...then the change feed loses its connection and comes back (another resync).
  const resynced = once(ctx.feed, 'resync');
  const su = new pg.Client({ connectionString: ctx.db.superuserUrl });
  await su.connect();
  const killed = await su
    .query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND query LIKE 'LISTEN %'`)
    .finally(() => su.end());
  assert.is(killed.rowCount, 1);
  await resynced;
  await sleep(DEBOUNCE_MS * 4); // every debounced request has been made by now
  assert.is(await value(registry, 'fs_tenantd_callcenter_reconciliations_total'), 0, 'the first pass is still held');
  release();

  await all; // resolves after a pass that began after the call
  const desired = await loadAllCallcenters(pool);
  assert.ok(
    desired.some((t) => t.agents.some((a) => a.fsName === '1002@globex.pbx.test')),
    'the burst is in the DB',
  );
  assert.equal(
    [...emu.queues.values()].map((q) => [q.name, q.strategy]).sort(),
    desired.flatMap((t) => t.queues.map((q) => [q.fsName, q.strategy])).sort(),
  );
  assert.equal(
    emu.agents
      .map((a) => [
        a.name,
        a.contact,
        a.status,
        a.max_no_answer,
        a.wrap_up_time,
        a.reject_delay_time,
        a.busy_delay_time,
        a.no_answer_delay_time,
      ])
      .sort(),
    desired
      .flatMap((t) =>
        t.agents.map((a) => [
          a.fsName,
          a.contact,
          a.status,
          a.maxNoAnswer,
          a.wrapUpTime,
          a.rejectDelayTime,
          a.busyDelayTime,
          a.noAnswerDelayTime,
        ]),
      )
      .sort(),
  );
  assert.equal(
    emu.tiers.map((t) => [t.queue, t.agent, t.level, t.position]).sort(),
    desired.flatMap((t) => t.tiers.map((x) => [x.queue, x.agent, x.level, x.position])).sort(),
  );
  await ctx.sync.idle();

  const failed = logs.filter((l) => l.msg === 'callcenter: command failed').map((l) => `${l.command}: ${l.reply}`);
  assert.equal(failed, [], 'no command refused');
  assert.is(await value(registry, 'fs_tenantd_callcenter_commands_total', { outcome: 'error' }), 0);
  assert.is(await value(registry, 'fs_tenantd_callcenter_sync_errors_total'), 0);
  assert.is(maxInFlight, 1, 'one command, so one pass, at a time');
  // The first pass, then one follow-up for the resyncs, reconcileAll() and the burst together.
  assert.is(await value(registry, 'fs_tenantd_callcenter_reconciliations_total', { mode: 'full', outcome: 'ok' }), 2);
  assert.is(await value(registry, 'fs_tenantd_callcenter_reconciliations_total'), 2);
  const summaries = logs.filter((l) => String(l.msg).startsWith('callcenter: reconciled'));
  assert.equal(
    summaries.map((l) => l.level),
    [30, 30],
    'one info line per pass that changed something',
  );

  // A pass that finds nothing to do says so at debug only.
  const from = logs.length;
  await ctx.sync.reconcileAll();
  assert.equal(
    logs.slice(from).map((l) => [l.level, l.msg, l.commands]),
    [[20, 'callcenter: reconciled; nothing to change', 0]],
  );
});

test.run();
