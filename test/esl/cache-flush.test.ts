// Database edits reach FreeSWITCH's caches: real NOTIFY triggers, the real change
// feed, the ESL client, and the in-test FreeSWITCH recording the commands; reloadacl
// compares the acl.conf the daemon answers (the platform view, as main.ts wires it).
import { once } from 'node:events';
import type pg from 'pg';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createChangeFeed, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { createCacheFlusher, type CacheFlusher } from '../../daemon/esl/cache-flush.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createRegistry } from '../../daemon/metrics.js';
import { createPlatformView } from '../../daemon/tenants/platform-view.js';
import { aclDocument, configurationSettings } from '../../daemon/xml-curl/answer-fetch.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';
import { EslTestServer } from '../helpers/esl-server.js';

const log = pino({ level: 'silent' });
let db: TestDatabase;
let pool: pg.Pool;
let server: EslTestServer;
let client: EslClient;
let feed: ChangeFeed;
let flusher: CacheFlusher;
let platform: ReturnType<typeof createPlatformView>;
let acme: TenantId;

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(2);
  await seedDemo(pool);
  acme = await tenantIdOf(pool, 'acme');
  const registry = createRegistry();
  server = await EslTestServer.start();
  client = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: server.port, password: 'ClueCon' },
    log,
    registry,
    commandTimeoutMs: 2000,
  });
  feed = createChangeFeed({ url: db.appUrl, log, registry });
  platform = createPlatformView({ pool, log, registry, changes: feed, ttlMs: 60_000 });
  const settings = configurationSettings({
    sipProfiles: { internal: { ip: '127.0.0.1', port: 5060 }, external: { ip: '127.0.0.1', port: 5080 } },
    voicemail: { dir: '/srv/fs-tenantd/voicemail', odbcDsn: null },
  });
  flusher = createCacheFlusher({
    feed,
    clients: [client],
    pool,
    log,
    registry,
    debounceMs: 10,
    acl: () => aclDocument(platform, settings),
  });
  await feed.start();
  client.start();
  await once(client, 'ready');
  await flusher.idle();
});

test.after(async () => {
  flusher.stop();
  platform.stop();
  await feed.stop();
  await client.stop();
  await server.close();
  await db.drop();
});

/** Commands after the current point in the log, once the flusher has sent everything. */
async function commandsDuring(fn: () => Promise<void>, expect: RegExp): Promise<string[]> {
  const from = server.commands.length;
  await fn();
  await server.waitForCommand(expect, server.commands.filter((c) => expect.test(c)).length + 1);
  await flusher.idle();
  return server.commands.slice(from).filter((c) => /^(bg)?api /.test(c));
}

/** Commands sent for a change to `table`, once the flusher has handled it (for changes that may send nothing). */
async function commandsFor(table: string, fn: () => Promise<void>): Promise<string[]> {
  const from = server.commands.length;
  const seen = new Promise<void>((resolve) => {
    const on = (e: { table: string }) => {
      if (e.table !== table) return;
      feed.off('change', on);
      resolve();
    };
    feed.on('change', on);
  });
  await fn();
  await seen;
  await flusher.idle();
  return server.commands.slice(from).filter((c) => /^(bg)?api /.test(c));
}

const inAcme = (sql: string) => () =>
  withTenant(pool, acme, async (c) => {
    await c.query(sql);
  });

test('a (re)connect flushes every user and reloads the ACLs (changes while away were not pushed)', () => {
  assert.ok(server.commands.includes('api xml_flush_cache'));
  assert.ok(server.commands.includes('bgapi reloadacl'));
});

test("renumbering an extension flushes the old and the new user in the tenant's domain only", async () => {
  const cmds = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query("UPDATE extensions SET number = '1099' WHERE number = '1003'");
      }),
    /^api xml_flush_cache id 1099 /,
  );
  assert.equal(cmds.sort(), ['api xml_flush_cache id 1003 acme.pbx.test', 'api xml_flush_cache id 1099 acme.pbx.test']);
});

test('a trunk CIDR change sends one reloadacl, and so does changing it back', async () => {
  for (const cidrs of ['{127.0.0.9/32}', '{127.0.0.9/32, 192.0.2.0/24}', '{127.0.0.9/32}']) {
    const cmds = await commandsFor('sip_trunks', inAcme(`UPDATE sip_trunks SET allowed_cidrs = '${cidrs}'`));
    assert.equal(cmds, ['bgapi reloadacl'], cidrs);
  }
});

test('a trunk change that leaves acl.conf as it was (password, proxy, the same CIDRs again) sends no reloadacl', async () => {
  for (const sql of [
    "UPDATE sip_trunks SET password = 'rotated-secret'",
    "UPDATE sip_trunks SET proxy = 'sbc2.example.net'",
    // Written, yet the same set: acl.conf lists them sorted and unique.
    "UPDATE sip_trunks SET allowed_cidrs = '{127.0.0.9/32, 127.0.0.9/32}'",
  ])
    assert.equal(await commandsFor('sip_trunks', inAcme(sql)), [], sql);
});

test('a new default music-on-hold stream flushes every user of that tenant (their hold_music), no other', async () => {
  const cmds = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query("UPDATE moh_streams SET is_default = false WHERE name = 'lobby'");
      }),
    /^api xml_flush_cache id 1000 /,
  );
  assert.ok(cmds.length > 0);
  for (const c of cmds) assert.match(c, /^api xml_flush_cache id \d+ acme\.pbx\.test$/);
  assert.ok(cmds.includes('api xml_flush_cache id 1001 acme.pbx.test'));
});

test("a password set again (credentials only) flushes that user in each of the tenant's domains", async () => {
  // A new domain changes every user's dial-string: a full flush (awaited here, outside the window below).
  await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query("INSERT INTO sip_domains (tenant_id, domain) VALUES ($1, 'voice.acme.test')", [acme]);
      }),
    /^api xml_flush_cache$/,
  );
  const cmds = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query(
          `INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
          SELECT tenant_id, id, 'voice.acme.test', md5('x') FROM extensions WHERE number = '1001'`,
        );
      }),
    /^api xml_flush_cache id 1001 voice/,
  );
  assert.equal(cmds.sort(), [
    'api xml_flush_cache id 1001 acme.pbx.test',
    'api xml_flush_cache id 1001 voice.acme.test',
  ]);
});

test('removing a SIP domain flushes the user cache and the registrations filed under that domain only', async () => {
  const cmds = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query("DELETE FROM sip_domains WHERE domain = 'voice.acme.test'");
      }),
    /^api sofia profile internal flush_inbound_reg /,
  );
  assert.ok(cmds.includes('api xml_flush_cache'), cmds.join());
  assert.ok(cmds.includes('api sofia profile internal flush_inbound_reg voice.acme.test'), cmds.join());
  assert.not.ok(cmds.some((c) => /flush_inbound_reg (acme|globex)\.pbx\.test/.test(c)));
});

test('50 extensions added, then removed, in one transaction each: every one of those users flushed, once', async () => {
  const numbers = Array.from({ length: 50 }, (_, i) => String(80000 + i));
  const want = numbers.map((n) => `api xml_flush_cache id ${n} acme.pbx.test`).sort();
  const insert = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query(
          `WITH e AS (INSERT INTO extensions (tenant_id, number) SELECT $1, unnest($2::text[]) RETURNING id, number)
          INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
          SELECT $1, e.id, 'acme.pbx.test', md5(e.number) FROM e`,
          [acme, numbers],
        );
      }),
    /^api xml_flush_cache id 80049 /,
  );
  assert.equal(insert.sort(), want);
  const removal = await commandsDuring(
    () =>
      withTenant(pool, acme, async (c) => {
        await c.query('DELETE FROM extensions WHERE number = ANY($1)', [numbers]);
      }),
    /^api xml_flush_cache id 80049 /,
  );
  assert.equal(removal.sort(), want);
});

test('a bulk change (past 100 rows, sql/021) names no users: the whole user cache is flushed', async () => {
  for (const write of [
    `WITH e AS (INSERT INTO extensions (tenant_id, number)
      SELECT $1, n::text FROM generate_series(70000, 70149) AS n RETURNING id, number)
    INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
    SELECT $1, e.id, 'acme.pbx.test', md5(e.number) FROM e`,
    "UPDATE extension_credentials c SET a1_hash = md5('y') FROM extensions x WHERE x.id = c.extension_id AND x.number >= '70000'",
    "DELETE FROM extensions WHERE tenant_id = $1 AND number >= '70000'",
  ]) {
    const cmds = await commandsDuring(
      () =>
        withTenant(pool, acme, async (c) => {
          await c.query(write, write.includes('$1') ? [acme] : []);
        }),
      /^api xml_flush_cache$/,
    );
    assert.ok(cmds.includes('api xml_flush_cache'), write);
  }
});

test('renaming a tenant flushes the whole user cache; suspending it also reloads the ACLs (its list goes)', async () => {
  assert.equal(await commandsFor('tenants', inAcme("UPDATE tenants SET name = 'Acme Renamed'")), [
    'api xml_flush_cache',
  ]);
  const cmds = await commandsFor('tenants', inAcme("UPDATE tenants SET status = 'suspended'"));
  assert.equal(cmds.sort(), ['api xml_flush_cache', 'bgapi reloadacl']);
});

test.run();
