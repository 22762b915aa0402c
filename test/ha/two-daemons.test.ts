// Two real daemon processes on one PostgreSQL with shared admission and the emulated ESL node (issue 16): fetches
// split across both admit exactly the ceiling, the same call through both holds one slot, duplicated hangups free
// it once, and after kill -9 of one the other keeps answering and takes its node leases within seconds.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { EslTestServer } from '../helpers/esl-server.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startDaemon, type DaemonProcess } from '../helpers/processes.js';
import { actions, fixtureNames, loadFixture, post, withFields, type Fixture } from '../helpers/xml-curl-client.js';
import { tenantIds } from '../xml-curl/harness.js';

interface Ctx {
  db: TestDatabase;
  pool: pg.Pool;
  esl: EslTestServer;
  dirs: string[];
  daemons: DaemonProcess[];
  acme: TenantId;
}
const test = suite<Ctx>('two daemon processes on one PostgreSQL');
const LEASE_TTL_MS = 1500;
const dialplan = loadFixture(fixtureNames().find((f) => f.startsWith('028-'))!);

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pool = ctx.db.appPool(4);
  await seedDemo(ctx.pool);
  ctx.acme = (await tenantIds(ctx.pool)).acme as TenantId;
  // The node's switchname is the fixtures' `hostname`, so both daemons name the node fs1 in call_slots.
  ctx.esl = await EslTestServer.start({ hostname: 'vm' });
  ctx.dirs = [];
  ctx.daemons = [];
  for (const name of ['a', 'b']) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fs-tenantd-ha-${name}-`));
    ctx.dirs.push(dir);
    ctx.daemons.push(
      await startDaemon({
        DATABASE_URL: ctx.db.appUrl,
        FS_TENANTD_STATE_DIR: dir,
        FS_TENANTD_ADMISSION: 'shared',
        FS_TENANTD_ESL_NODES: `fs1=127.0.0.1:${ctx.esl.port}`,
        FS_TENANTD_NODE_LEASE_TTL_MS: String(LEASE_TTL_MS),
      }),
    );
  }
  await Promise.all(ctx.daemons.map((d) => until(async () => (await metric(d, 'fs_tenantd_esl_connected')) === 1)));
});

test.after(async (ctx) => {
  for (const d of ctx.daemons) {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await d.exited;
  }
  await ctx.esl.close();
  await ctx.pool.end();
  await ctx.db.drop();
  for (const dir of ctx.dirs) await fs.rm(dir, { recursive: true, force: true });
});

const target = (d: DaemonProcess) => ({
  host: '127.0.0.1',
  port: d.httpPort,
  user: 'freeswitch',
  password: 'demo-xmlcurl',
});

/** A sample of one series in the daemon's /metrics (labels as written there), undefined when absent. */
async function metric(d: DaemonProcess, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`));
  if (!line) return undefined;
  if (!series.includes('{') && line.startsWith(`${series}{`)) {
    // The first labelled sample: callers that care name the labels.
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return Number(line.slice(series.length + 1));
}

async function until(ok: () => Promise<boolean>, what = 'a condition', guardMs = 15_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function dial(ctx: Ctx, d: DaemonProcess, callUuid: string): Promise<'admitted' | 'refused'> {
  const f: Fixture = dialplan;
  return post(
    target(d),
    f,
    withFields(f, {
      'Unique-ID': callUuid,
      'Channel-Call-UUID': callUuid,
      'Caller-Unique-ID': callUuid,
      variable_uuid: callUuid,
      variable_call_uuid: callUuid,
      variable_fs_tenant_id: ctx.acme,
    }),
  ).then((r) => {
    assert.is(r.status, 200);
    const last = actions(r.body).at(-1)?.[0];
    if (last === 'bridge') return 'admitted';
    assert.equal(actions(r.body)[0], ['respond', '503 Tenant call limit reached'], r.body);
    return 'refused';
  });
}

/** acme's slots in PostgreSQL: the rows, and the kept counts, which must agree and never go below zero. */
async function slots(ctx: Ctx): Promise<number> {
  return withTenant(ctx.pool, ctx.acme, async (c) => {
    const { rows, kept } = (
      await c.query<{ rows: number; kept: number }>(`SELECT (SELECT count(*) FROM call_slots)::int AS rows,
        (SELECT coalesce(sum(inbound + outbound + internal), 0) FROM call_slot_counts)::int AS kept`)
    ).rows[0]!;
    assert.is(kept, rows, 'call_slot_counts agrees with call_slots');
    return rows;
  });
}

function hangup(ctx: Ctx, callUuid: string): void {
  ctx.esl.emitEvent({
    headers: {
      ...ctx.esl.coreHeaders('CHANNEL_HANGUP_COMPLETE'),
      'Unique-ID': callUuid,
      'Channel-Call-UUID': callUuid,
      'Hangup-Cause': 'NORMAL_CLEARING',
      variable_fs_tenant_id: ctx.acme,
    },
  });
}

test('N+k concurrent dialplan fetches split across both daemons admit exactly N (acme: 2)', async (ctx) => {
  const uuids = Array.from({ length: 8 }, () => randomUUID());
  const outcomes = await Promise.all(uuids.map((u, i) => dial(ctx, ctx.daemons[i % 2]!, u)));
  assert.is(outcomes.filter((o) => o === 'admitted').length, 2, outcomes.join(' '));
  assert.is(await slots(ctx), 2);
  const admitted = uuids.filter((_, i) => outcomes[i] === 'admitted');

  // The same uuid through the other daemon (a retry, or the next binding): admitted again, no second slot.
  for (const u of admitted) for (const d of ctx.daemons) assert.is(await dial(ctx, d, u), 'admitted');
  assert.is(await slots(ctx), 2);

  // Each daemon hears every hangup (both hold ESL to the node), and here each hears it twice: freed once.
  for (const u of admitted) {
    hangup(ctx, u);
    hangup(ctx, u);
  }
  await until(async () => (await slots(ctx)) === 0, 'the slots to be freed');
  const fresh = await Promise.all(
    [randomUUID(), randomUUID(), randomUUID()].map((u, i) => dial(ctx, ctx.daemons[i % 2]!, u)),
  );
  assert.is(fresh.filter((o) => o === 'admitted').length, 2, 'the ceiling holds again: freed once, not twice');
  for (const d of ctx.daemons)
    assert.not.ok(
      d.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('shared admission: release_call')),
      'no release failed',
    );
  await withTenant(ctx.pool, ctx.acme, (c) => c.query('DELETE FROM call_slots'));
});

test('kill -9 of the lease holder: the other daemon keeps answering and takes the leases within seconds', async (ctx) => {
  const held = (d: DaemonProcess, job: string) => metric(d, `fs_tenantd_node_lease_held{node="fs1",job="${job}"}`);
  await until(async () => {
    const h = await Promise.all(ctx.daemons.map((d) => held(d, 'callcenter')));
    return h.filter((x) => x === 1).length === 1;
  }, 'one daemon to hold the callcenter lease');
  const holderIndex = (await held(ctx.daemons[0]!, 'callcenter')) === 1 ? 0 : 1;
  const holder = ctx.daemons[holderIndex]!;
  const survivor = ctx.daemons[1 - holderIndex]!;
  for (const job of ['gateways', 'resync']) assert.is(await held(survivor, job), 0, `${job}: one holder`);

  // A call admitted through the daemon about to die: the survivor releases it at hangup.
  const orphan = randomUUID();
  assert.is(await dial(ctx, holder, orphan), 'admitted');
  assert.is(await slots(ctx), 1);

  const killedAt = performance.now();
  holder.child.kill('SIGKILL');
  await holder.exited;
  hangup(ctx, orphan);
  await until(async () => (await slots(ctx)) === 0, "the survivor to release the dead daemon's call");
  // The survivor answers at once (FreeSWITCH's next binding would be asking it).
  const next = randomUUID();
  assert.is(await dial(ctx, survivor, next), 'admitted');
  hangup(ctx, next);
  await until(
    async () =>
      (await Promise.all(['callcenter', 'gateways', 'resync'].map((j) => held(survivor, j)))).every((x) => x === 1),
    'the survivor to hold every lease of fs1',
  );
  const movedMs = performance.now() - killedAt;
  console.log(`    leases moved ${Math.round(movedMs)} ms after kill -9 of their holder (ttl ${LEASE_TTL_MS} ms)`);
  assert.ok(movedMs < LEASE_TTL_MS * 2 + 1000, `moved after ${movedMs} ms`);
  // And acts on them: a full call-center pass asks the node for its lists.
  const before = ctx.esl.commands.filter((c) => c === 'api callcenter_config queue list').length;
  ctx.esl.dropAll();
  await ctx.esl.waitForCommand(/^api callcenter_config queue list$/, before + 1);
});

test.run();
