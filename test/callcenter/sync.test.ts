// The call-center sync end to end: a real PostgreSQL with the demo tenants
// (acme and globex both have queue `support` and agent 1001), the real ESL
// client against the in-test ESL server, whose callcenter_config answers come
// from the mod_callcenter emulator, and the real change feed.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AgentNotFoundError, CallcenterSync } from '../../daemon/callcenter/callcenter-sync.js';
import { eslCallcenterNode } from '../../daemon/callcenter/esl-node.js';
import { loadAllCallcenters } from '../../daemon/callcenter/load-desired.js';
import { createChangeFeed, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createRegistry, TenantLabels, type MetricsRegistry } from '../../daemon/metrics.js';
import { mohStreamName } from '../../xml-handlers/media-names.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { rejects } from '../helpers/assert.js';
import { EslTestServer, streamEvents, type FsEvent } from '../helpers/esl-server.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';
import { ccQueueAnswer, ModCallcenterEmulator, type QueueConfig } from './mod-callcenter-emulator.js';

interface Ctx {
  db: TestDatabase;
  pool: import('pg').Pool;
  server: EslTestServer;
  emu: ModCallcenterEmulator;
  esl: EslClient;
  feed: ChangeFeed;
  sync: CallcenterSync;
  registry: MetricsRegistry;
  logs: Array<Record<string, unknown>>;
  /** Queues callcenter.conf (xml_curl) pretends not to know. */
  unknownQueues: Set<string>;
  acme: TenantId;
  globex: TenantId;
}

const test = suite<Ctx>('callcenter sync');

async function value(registry: MetricsRegistry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (
    m?.values
      .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
      .reduce((a, v) => a + v.value, 0) ?? 0
  );
}

/** A node left dirty by an earlier run, another daemon, or a deleted tenant. */
function dirty(emu: ModCallcenterEmulator, config: Map<string, QueueConfig>): void {
  const cfg: QueueConfig = {
    strategy: 'ring-all',
    mohSound: 'local_stream://moh',
    timeBaseScore: 'queue',
    tierRulesApply: false,
    discardAbandonedAfter: 60,
    abandonedResumeAllowed: false,
    maxWaitTime: 0,
    maxWaitTimeWithNoAgent: 0,
  };
  emu.loadQueue('support@acme.pbx.test', cfg); // params differ from the database
  emu.loadQueue('support@oldco.pbx.test', cfg); // a deleted tenant's queue
  config.set('support@oldco.pbx.test', cfg);
  // acme's 1001 dialling globex's phone: the worst kind of leftover.
  emu.addAgent('1001@acme.pbx.test', 'callback', {
    contact: '[leg_timeout=15]user/1001@globex.pbx.test',
    status: 'Available',
  });
  emu.addAgent('1003@acme.pbx.test', 'callback', { contact: '[leg_timeout=15]user/1003@acme.pbx.test' }); // not an agent in the DB
  emu.addAgent('1001@oldco.pbx.test', 'callback', { contact: 'user/1001@oldco.pbx.test', status: 'Available' });
  emu.addAgent('1001@globex.pbx.test', 'callback', { contact: '[leg_timeout=15]user/1001@globex.pbx.test' });
  emu.tiers.push(
    { queue: 'support@acme.pbx.test', agent: '1001@globex.pbx.test', state: 'Ready', level: 1, position: 1 }, // cross-tenant
    { queue: 'support@acme.pbx.test', agent: '1003@acme.pbx.test', state: 'Ready', level: 1, position: 3 },
    { queue: 'support@oldco.pbx.test', agent: '1001@oldco.pbx.test', state: 'Ready', level: 1, position: 1 },
    { queue: 'support@acme.pbx.test', agent: '1001@acme.pbx.test', state: 'Ready', level: 5, position: 1 },
  );
}

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pool = ctx.db.appPool(4);
  await seedDemo(ctx.pool);
  ctx.acme = await tenantIdOf(ctx.pool, 'acme');
  ctx.globex = await tenantIdOf(ctx.pool, 'globex');
  ctx.registry = createRegistry();
  ctx.logs = [];
  const log = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        ctx.logs.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );

  // What xml_curl's callcenter.conf answers for one CC-Queue: the queue, its agents and tiers from the database.
  const config = new Map<string, QueueConfig>();
  const refreshConfig = async () => {
    for (const k of [...config.keys()]) if (!k.endsWith('@oldco.pbx.test')) config.delete(k);
    for (const t of await loadAllCallcenters(ctx.pool)) {
      for (const q of t.queues) config.set(q.fsName, ccQueueAnswer(t, q));
    }
  };
  ctx.unknownQueues = new Set();
  ctx.emu = new ModCallcenterEmulator((q) => (ctx.unknownQueues.has(q) ? undefined : config.get(q)));
  dirty(ctx.emu, config);
  ctx.server = await EslTestServer.start();
  ctx.server.onApi(async (command) => {
    if (/^callcenter_config (queue (load|reload)|tier add) /.test(command)) await refreshConfig();
    return ctx.emu.api(command);
  });
  ctx.esl = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: ctx.server.port, password: 'ClueCon' },
    log: pino({ level: 'silent' }),
    registry: ctx.registry,
    commandTimeoutMs: 2000,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  ctx.feed = createChangeFeed({ url: ctx.db.appUrl, log: pino({ level: 'silent' }), registry: ctx.registry });
  const resynced = new Promise((resolve) => ctx.feed.once('resync', resolve));
  await ctx.feed.start();
  await resynced;
  ctx.sync = new CallcenterSync({
    pool: ctx.pool,
    log,
    registry: ctx.registry,
    tenantLabels: new TenantLabels(10),
    nodes: [eslCallcenterNode(ctx.esl)],
    changes: ctx.feed,
    debounceMs: 50,
  });
  ctx.sync.start();
  const ready = new Promise<void>((resolve) => ctx.esl.once('ready', resolve));
  ctx.esl.start();
  await ready; // the sync reconciles on 'ready'
  await ctx.server.waitForCommand(/^api callcenter_config queue list members/);
  await ctx.sync.idle();
});

test.after(async (ctx) => {
  await ctx.sync?.stop();
  await ctx.esl?.stop();
  await ctx.feed?.stop();
  await ctx.server?.close();
  await ctx.db?.drop();
});

/** Awaits one more command matching `pattern` than the server has seen so far (earlier matches don't count). */
function expectCommand(server: EslTestServer, pattern: RegExp): Promise<void> {
  return server.waitForCommand(pattern, server.commands.filter((c) => pattern.test(c)).length + 1);
}

const agentsOf = (emu: ModCallcenterEmulator) => emu.agents.map((a) => [a.name, a.contact, a.status]).sort();
const tiersOf = (emu: ModCallcenterEmulator) => emu.tiers.map((t) => [t.queue, t.agent, t.level, t.position]).sort();

test('start-up reconciliation turns a dirty node into exactly the database, per tenant', async (ctx) => {
  const { emu, acme, globex } = ctx;
  assert.equal([...emu.queues.keys()].sort(), ['support@acme.pbx.test', 'support@globex.pbx.test']);
  assert.is(emu.queues.get('support@acme.pbx.test')!.strategy, 'longest-idle-agent');
  const contact = (t: TenantId, slug: string, ext: string, domain: string) =>
    `{fs_tenant_id=${t},fs_tenant_slug=${slug}}[leg_timeout=15]user/${ext}@${domain}`;
  assert.equal(agentsOf(emu), [
    ['1001@acme.pbx.test', contact(acme, 'acme', '1001', 'acme.pbx.test'), 'Logged Out'],
    ['1001@globex.pbx.test', contact(globex, 'globex', '1001', 'globex.pbx.test'), 'Logged Out'],
    ['1002@acme.pbx.test', contact(acme, 'acme', '1002', 'acme.pbx.test'), 'Logged Out'],
  ]);
  assert.equal(tiersOf(emu), [
    ['support@acme.pbx.test', '1001@acme.pbx.test', 1, 1],
    ['support@acme.pbx.test', '1002@acme.pbx.test', 1, 2],
    ['support@globex.pbx.test', '1001@globex.pbx.test', 1, 1],
  ]);
  assert.is(
    await value(ctx.registry, 'fs_tenantd_callcenter_reconciliations_total', { mode: 'full', outcome: 'ok' }),
    1,
  );
  assert.is(await value(ctx.registry, 'fs_tenantd_callcenter_sync_errors_total'), 0);
});

test('a second full reconciliation sends nothing but the lists', async (ctx) => {
  const before = ctx.emu.received.length;
  await ctx.sync.reconcileAll();
  assert.equal(ctx.emu.received.slice(before), ['queue list', 'agent list', 'tier list', 'queue list members']);
});

test('the database refuses a cross-tenant tier (composite keys and RLS)', async (ctx) => {
  const globexAgent = await withTenant(
    ctx.pool,
    ctx.globex,
    async (c) => (await c.query('SELECT id FROM agents LIMIT 1')).rows[0].id as string,
  );
  await rejects(
    () =>
      withTenant(ctx.pool, ctx.acme, (c) =>
        c.query(
          "INSERT INTO tiers (tenant_id, queue_id, agent_id) SELECT $1, id, $2 FROM queues WHERE name = 'support'",
          [ctx.acme, globexAgent],
        ),
      ),
    /violates foreign key constraint/,
  );
  await rejects(
    () =>
      withTenant(ctx.pool, ctx.acme, (c) =>
        c.query(
          "INSERT INTO tiers (tenant_id, queue_id, agent_id) SELECT $1, id, $2 FROM queues WHERE name = 'support'",
          [ctx.globex, globexAgent],
        ),
      ),
    /row-level security/,
  );
});

test('database changes are pushed to FreeSWITCH for the changed tenant only', async (ctx) => {
  const { emu, pool, globex, acme, server } = ctx;
  const from = emu.received.length;
  const tierAdded = expectCommand(
    server,
    /^api callcenter_config tier add support@globex\.pbx\.test 1002@globex\.pbx\.test 2 7$/,
  );
  await withTenant(pool, globex, async (c) => {
    const {
      rows: [a],
    } = await c.query<{ id: string }>(
      "INSERT INTO agents (tenant_id, extension_id, status) SELECT tenant_id, id, 'Available' FROM extensions WHERE number = '1002' RETURNING id",
    );
    await c.query(
      "INSERT INTO tiers (tenant_id, queue_id, agent_id, level, position) SELECT tenant_id, id, $1, 2, 7 FROM queues WHERE name = 'support'",
      [a!.id],
    );
  });
  await tierAdded;
  await ctx.sync.idle();
  assert.equal(emu.agents.find((a) => a.name === '1002@globex.pbx.test')?.status, 'Available');
  const sent = emu.received.slice(from).filter((c) => !c.includes(' list'));
  assert.ok(sent.length >= 3, sent.join('\n'));
  assert.not.ok(
    sent.some((c) => c.includes('acme')),
    'nothing of acme is touched',
  );

  // A queue setting: the queue is reloaded from callcenter.conf.
  const reloaded = expectCommand(server, /^api callcenter_config queue reload support@acme\.pbx\.test$/);
  await withTenant(pool, acme, (c) => c.query("UPDATE queues SET strategy = 'ring-all' WHERE name = 'support'"));
  await reloaded;
  await ctx.sync.idle();
  assert.is(emu.queues.get('support@acme.pbx.test')!.strategy, 'ring-all');
  assert.is(emu.queues.get('support@globex.pbx.test')!.strategy, 'longest-idle-agent');

  // A renumbered extension renames the agent: the old name goes, the new one comes with its tier.
  const renamed = expectCommand(
    server,
    /^api callcenter_config tier add support@globex\.pbx\.test 1005@globex\.pbx\.test 1 1$/,
  );
  await withTenant(pool, globex, (c) => c.query("UPDATE extensions SET number = '1005' WHERE number = '1001'"));
  await renamed;
  await ctx.sync.idle();
  assert.not.ok(emu.agents.some((a) => a.name === '1001@globex.pbx.test'));
  assert.ok(
    emu.agents.some((a) => a.name === '1001@acme.pbx.test'),
    "acme's 1001 is another agent and stays",
  );

  // A deleted agent disappears with its tiers.
  const deleted = expectCommand(server, /^api callcenter_config agent del 1002@acme\.pbx\.test$/);
  await withTenant(pool, acme, (c) =>
    c.query("DELETE FROM agents WHERE extension_id = (SELECT id FROM extensions WHERE number = '1002')"),
  );
  await deleted;
  await ctx.sync.idle();
  assert.equal(tiersOf(emu), [
    ['support@acme.pbx.test', '1001@acme.pbx.test', 1, 1],
    ['support@globex.pbx.test', '1002@globex.pbx.test', 2, 7],
    ['support@globex.pbx.test', '1005@globex.pbx.test', 1, 1],
  ]);
  assert.is(await value(ctx.registry, 'fs_tenantd_callcenter_sync_errors_total'), 0);
});

test('setAgentStatus writes the database and pushes the status to the node', async (ctx) => {
  const { emu, pool, globex, acme, sync } = ctx;
  const result = await sync.setAgentStatus(globex, '1005', 'On Break');
  assert.equal(
    result.nodes.map((n) => [n.node, n.ok]),
    [['fs1', true]],
  );
  assert.is(result.agent, '1005@globex.pbx.test');
  assert.ok(emu.received.includes("agent set status 1005@globex.pbx.test 'On Break'"));
  assert.is(emu.agents.find((a) => a.name === '1005@globex.pbx.test')!.status, 'On Break');
  assert.is(emu.agents.find((a) => a.name === '1001@acme.pbx.test')!.status, 'Logged Out');
  const db = await withTenant(pool, globex, (c) =>
    c.query("SELECT a.status FROM agents a JOIN extensions e ON e.id = a.extension_id WHERE e.number = '1005'"),
  );
  assert.is(db.rows[0].status, 'On Break');
  // Another tenant's extension is not this tenant's agent.
  await rejects(() => sync.setAgentStatus(acme, '1005', 'Available'), /no agent on extension "1005"/);
  const err = await sync.setAgentStatus(acme, '1003', 'Available').catch((e: unknown) => e);
  assert.ok(err instanceof AgentNotFoundError);
  await rejects(() => sync.setAgentStatus(acme, '1001', 'Lunch' as 'Available'), /unknown agent status/);
  await sync.idle();
});

/** The callcenter::info events of the captured queue call (acme: 1000 → support, agent 1001 answers). */
const capturedCc = (): FsEvent[] =>
  streamEvents('stream-4-callcenter-queue-call.plain.raw').filter(
    (e) => e.headers['Event-Subclass'] === 'callcenter::info',
  );

/** The same events as if they had happened in another tenant. */
const renamed = (events: FsEvent[], from: string, to: string): FsEvent[] =>
  events.map((e) => ({
    ...e,
    headers: Object.fromEntries(
      Object.entries(e.headers).map(([k, v]) => [k, typeof v === 'string' ? v.split(from).join(to) : v]),
    ),
  }));

async function deliver(ctx: Ctx, events: FsEvent[]): Promise<void> {
  for (const e of events) ctx.server.emitEvent(e);
  await ctx.server.drained();
  // A round trip on the same connection: every event written before the reply has been read and dispatched.
  await ctx.esl.api('status');
  await ctx.sync.idle();
}

test('captured callcenter events are attributed by queue domain and feed per-tenant metrics', async (ctx) => {
  const { registry } = ctx;
  const acmeQ = { tenant: 'acme', queue: 'support' };
  const globexQ = { tenant: 'globex', queue: 'support' };
  const events = capturedCc();
  assert.is(events.length, 11);
  const joined = events.findIndex((e) => e.headers['CC-Action'] === 'member-queue-start');
  await deliver(ctx, events.slice(0, joined + 1));
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', acmeQ), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_agents_available', acmeQ), 1, 'agent-status-change Available');
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', globexQ), 0);
  await deliver(ctx, events.slice(joined + 1));
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', acmeQ), 0, 'bridged to the agent');
  assert.is(await value(registry, 'fs_tenantd_callcenter_abandoned_total', acmeQ), 0, 'served, not abandoned');

  // The same call in globex (same queue and agent names), but the caller hangs up while waiting.
  const g = renamed(events, 'acme.pbx.test', 'globex.pbx.test').filter(
    (e) => e.headers['CC-Action'] !== 'bridge-agent-start',
  );
  const end = g.find((e) => e.headers['CC-Action'] === 'member-queue-end')!;
  end.headers['CC-Cause'] = 'Cancel';
  await deliver(ctx, g.slice(0, joined + 1));
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', globexQ), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', acmeQ), 0);
  await deliver(ctx, [end]);
  assert.is(await value(registry, 'fs_tenantd_callcenter_abandoned_total', globexQ), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_abandoned_total', acmeQ), 0);
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', globexQ), 0);
});

test('events that map to no tenant are counted, logged and dropped; later events still count', async (ctx) => {
  const { registry } = ctx;
  const start = capturedCc().find((e) => e.headers['CC-Action'] === 'member-queue-start')!;
  const ev = (headers: Record<string, string>): FsEvent => ({ headers: { ...start.headers, ...headers } });
  await deliver(ctx, [
    ev({ 'CC-Queue': 'support@nowhere.test' }),
    ev({ 'CC-Queue': 'support' }),
    ev({ 'CC-Action': 'bridge-agent-start', 'CC-Agent': '1001@globex.pbx.test' }),
    ev({ 'CC-Action': 'members-count', 'CC-Count': 'lots' }),
  ]);
  assert.is(await value(registry, 'fs_tenantd_callcenter_events_total', { outcome: 'unknown-domain' }), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_events_total', { outcome: 'name-without-domain' }), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_events_total', { outcome: 'domains-disagree' }), 1);
  assert.is(await value(registry, 'fs_tenantd_callcenter_events_total', { outcome: 'malformed' }), 1);
  assert.ok(ctx.logs.some((l) => l.reason === 'unknown-domain' && l.domain === 'nowhere.test'));
  const series = (await registry.getSingleMetric('fs_tenantd_callcenter_members_waiting')!.get()).values.map(
    (v) => v.labels.tenant,
  );
  assert.not.ok(series.some((t) => t !== 'acme' && t !== 'globex'));
  await deliver(ctx, [ev({})]);
  assert.is(await value(registry, 'fs_tenantd_callcenter_members_waiting', { tenant: 'acme', queue: 'support' }), 1);
});

test('a command FreeSWITCH refuses is logged and counted, and the rest of the plan still runs', async (ctx) => {
  const { emu, pool, acme, server, registry } = ctx;
  const errorsBefore = await value(registry, 'fs_tenantd_callcenter_sync_errors_total');
  const loads = () => emu.received.filter((c) => c === 'queue load sales@acme.pbx.test').length;
  ctx.unknownQueues.add('sales@acme.pbx.test');
  const tierTried = expectCommand(
    server,
    /^api callcenter_config tier add sales@acme\.pbx\.test 1001@acme\.pbx\.test 1 1$/,
  );
  await withTenant(pool, acme, async (c) => {
    const {
      rows: [q],
    } = await c.query<{ id: string }>("INSERT INTO queues (tenant_id, name) VALUES ($1, 'sales') RETURNING id", [acme]);
    await c.query(
      "INSERT INTO tiers (tenant_id, queue_id, agent_id) SELECT $1, $2, a.id FROM agents a JOIN extensions e ON e.id = a.extension_id WHERE e.number = '1001'",
      [acme, q!.id],
    );
    await c.query(
      "UPDATE agents SET wrap_up_time = 42 WHERE extension_id = (SELECT id FROM extensions WHERE number = '1001')",
    );
  });
  await tierTried;
  await ctx.sync.idle();
  // Each incremental run that tried (one, unless the notifications were split across batches) got two refusals.
  assert.ok(loads() >= 1);
  assert.is(
    (await value(registry, 'fs_tenantd_callcenter_sync_errors_total')) - errorsBefore,
    2 * loads(),
    'queue load and tier add refused',
  );
  assert.is(
    await value(registry, 'fs_tenantd_callcenter_commands_total', { kind: 'queue load', outcome: 'error' }),
    loads(),
  );
  assert.ok(
    ctx.logs.some((l) => l.msg === 'callcenter: command failed' && l.reply === '-ERR Invalid Queue not found!'),
  );
  assert.is(emu.agents.find((a) => a.name === '1001@acme.pbx.test')!.wrap_up_time, 42, 'the agent change went through');

  // Once callcenter.conf knows the queue, the next reconciliation completes it.
  ctx.unknownQueues.clear();
  await ctx.sync.reconcileAll();
  assert.ok(emu.queues.has('sales@acme.pbx.test'));
  assert.ok(emu.tiers.some((t) => t.queue === 'sales@acme.pbx.test' && t.agent === '1001@acme.pbx.test'));
});

test('an unreadable list reply fails that reconciliation only (logged, counted); the next one works', async (ctx) => {
  const { server, registry } = ctx;
  let garbage = true;
  server.onApi((command) =>
    garbage && command === 'callcenter_config tier list' ? 'queue|agent\nsupport@acme.pbx.test\n+OK\n' : undefined,
  );
  const failedBefore = await value(registry, 'fs_tenantd_callcenter_reconciliations_total', {
    mode: 'full',
    outcome: 'error',
  });
  await ctx.sync.reconcileAll();
  garbage = false;
  assert.is(
    await value(registry, 'fs_tenantd_callcenter_reconciliations_total', { mode: 'full', outcome: 'error' }),
    failedBefore + 1,
  );
  assert.ok(
    ctx.logs.some(
      (l) =>
        l.msg?.toString().startsWith('callcenter: reconciliation failed') && /column state missing/.test(String(l.err)),
    ),
  );
  const okBefore = await value(registry, 'fs_tenantd_callcenter_reconciliations_total', {
    mode: 'full',
    outcome: 'ok',
  });
  await ctx.sync.reconcileAll();
  assert.is(
    await value(registry, 'fs_tenantd_callcenter_reconciliations_total', { mode: 'full', outcome: 'ok' }),
    okBefore + 1,
  );
});

test('after an ESL reconnect the node is reconciled again (and metrics resynced from its lists)', async (ctx) => {
  const { emu, server, esl } = ctx;
  const ready = new Promise<void>((resolve) => esl.once('ready', resolve));
  const removed = expectCommand(server, /^api callcenter_config agent del 1077@acme\.pbx\.test$/);
  const listed = expectCommand(server, /^api callcenter_config queue list members$/);
  server.dropAll();
  // While the daemon is away, someone adds an agent by hand and the waiting member leaves.
  emu.addAgent('1077@acme.pbx.test', 'callback', { status: 'Available' });
  emu.tiers.push({
    queue: 'support@globex.pbx.test',
    agent: '1077@acme.pbx.test',
    state: 'Ready',
    level: 1,
    position: 1,
  });
  await ready;
  await removed;
  await listed;
  await ctx.sync.idle();
  assert.not.ok(emu.tiers.some((t) => t.agent === '1077@acme.pbx.test'));
  assert.is(
    await value(ctx.registry, 'fs_tenantd_callcenter_members_waiting', { tenant: 'acme', queue: 'support' }),
    0,
  );
  assert.is(
    await value(ctx.registry, 'fs_tenantd_callcenter_reconciliations_total', { mode: 'full', outcome: 'ok' }),
    5,
  );
});

test("a reseller's new hold music reaches its customers' queues, in an incremental pass", async (ctx) => {
  const { emu, pool, globex, server } = ctx;
  const runs = (mode: string) => value(ctx.registry, 'fs_tenantd_callcenter_reconciliations_total', { mode });
  const fullBefore = await runs('full');
  const reseller = crypto.randomUUID() as TenantId;
  await withTenant(pool, reseller, (c) =>
    c.query("INSERT INTO tenants (id, slug, name, is_reseller) VALUES ($1, 'up-tel', 'Up', true)", [reseller]),
  );
  await withTenant(pool, globex, (c) => c.query('UPDATE tenants SET parent_id = $1', [reseller]));
  // globex gives up its own hold music: its queue plays the stock stream (the reseller has none yet).
  const stock = expectCommand(server, /^api callcenter_config queue reload support@globex\.pbx\.test$/);
  await withTenant(pool, globex, (c) => c.query('UPDATE moh_streams SET is_default = false'));
  await stock;
  await ctx.sync.idle();
  const acmeMoh = emu.queues.get('support@acme.pbx.test')!.mohSound;
  // The reseller's default stream becomes globex's hold music: its queue plays it.
  const reloaded = expectCommand(server, /^api callcenter_config queue reload support@globex\.pbx\.test$/);
  const stream = await withTenant(pool, reseller, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      "INSERT INTO moh_streams (tenant_id, name, is_default) VALUES ($1, 'up-jazz', true) RETURNING id",
      [reseller],
    );
    return rows[0]!.id;
  });
  await reloaded;
  await ctx.sync.idle();
  assert.is(emu.queues.get('support@globex.pbx.test')!.mohSound, `local_stream://${mohStreamName(reseller, stream)}`);
  assert.is(emu.queues.get('support@acme.pbx.test')!.mohSound, acmeMoh, 'acme is not under the reseller');
  assert.is(await runs('full'), fullBefore, 'no full pass');
});

test('a new primary SIP domain renames the tenant in FreeSWITCH, the old one still its own; a suspended tenant holds nothing', async (ctx) => {
  const { emu, pool, globex, server } = ctx;
  const errorsBefore = await value(ctx.registry, 'fs_tenantd_callcenter_sync_errors_total');
  // Each of these is one tenant's edit: served by incremental passes, not by reading every tenant again.
  const runs = (mode: string) => value(ctx.registry, 'fs_tenantd_callcenter_reconciliations_total', { mode });
  const [fullBefore, incBefore] = [await runs('full'), await runs('incremental')];
  // `queue load` brings the queue's agents and tiers along (from callcenter.conf): no `tier add` is needed.
  const renamedQueue = expectCommand(server, /^api callcenter_config queue load support@globex2\.pbx\.test$/);
  // As PUT /api/sip-domains/:id/primary does it; the old domain stays the tenant's, no longer primary (issue 17).
  await withTenant(pool, globex, async (c) => {
    await c.query('UPDATE sip_domains SET is_primary = false WHERE is_primary');
    await c.query("INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, 'globex2.pbx.test', true)", [
      globex,
    ]);
  });
  await renamedQueue;
  await ctx.sync.idle();
  assert.ok(emu.tiers.some((t) => t.queue === 'support@globex2.pbx.test' && t.agent === '1005@globex2.pbx.test'));
  assert.is(await value(ctx.registry, 'fs_tenantd_callcenter_sync_errors_total'), errorsBefore);
  assert.not.ok(
    emu.agents.some((a) => a.name.endsWith('@globex.pbx.test')) ||
      emu.queues.has('support@globex.pbx.test') ||
      emu.tiers.some((t) => t.queue.endsWith('@globex.pbx.test')),
    'old names are gone',
  );
  assert.ok(emu.agents.find((a) => a.name === '1005@globex2.pbx.test')!.contact.endsWith('user/1005@globex2.pbx.test'));

  const gone = expectCommand(server, /^api callcenter_config queue unload support@globex2\.pbx\.test$/);
  await withTenant(pool, globex, (c) => c.query("UPDATE tenants SET status = 'suspended'"));
  await gone;
  await ctx.sync.idle();
  assert.not.ok(emu.agents.some((a) => a.name.includes('globex')) || emu.tiers.some((t) => t.queue.includes('globex')));
  assert.ok(
    emu.agents.some((a) => a.name === '1001@acme.pbx.test'),
    'acme is untouched',
  );
  assert.is(await runs('full'), fullBefore, 'no full pass');
  assert.ok((await runs('incremental')) >= incBefore + 2);
});

test.run();
