// The tenant cache behind xml_curl, over a real database and the real change
// feed: hits never touch PostgreSQL, concurrent misses coalesce, unknown domains
// are cached negatively (bounded), and NOTIFY evicts exactly what changed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { pino } from 'pino';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { a1Hash, seedDemo } from '../../daemon/db/demo-seed.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  actions,
  find,
  fixtureNames,
  isFinalNotFound,
  isNotFound,
  loadFixture,
  post,
  replay,
  sectionOf,
  withFields,
  type Fixture,
} from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: tenant cache');
let db: TestDatabase;
let pool: pg.Pool;
let ids: { acme: string; globex: string };
const fx = (n: string): Fixture => loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!);
/** Connections the serving pool has handed out (pool.query checks one out too). */
let dbUse = 0;

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(6);
  await seedDemo(pool);
  ids = await tenantIds(pool);
  const connect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { connect: unknown }).connect = (...a: unknown[]) => {
    dbUse++;
    return connect(...a);
  };
});
test.after(async () => {
  await db.drop();
});

const sipAuth = (ep: Endpoint, domain: string, user = '1001') =>
  post(
    ep.target,
    fx('025'),
    withFields(fx('025'), {
      key_value: domain,
      domain,
      user,
      sip_auth_realm: domain,
      sip_to_host: domain,
      sip_from_host: domain,
    }),
  );
const hashOf = (xml: string) => find(sectionOf(xml), 'param', { name: 'a1-hash' })?.attrs.value;

async function withEndpoint(fn: (ep: Endpoint) => Promise<void>, opts: Parameters<typeof startEndpoint>[1] = {}) {
  const ep = await startEndpoint(pool, opts);
  try {
    await fn(ep);
  } finally {
    await ep.close();
  }
}

test('a cache hit answers without touching PostgreSQL; outcome hit vs miss', () =>
  withEndpoint(async (ep) => {
    // Two users (each its head and row), then a call (the whole snapshot): each loaded once.
    await replay(ep.target, fx('025'));
    await replay(ep.target, fx('027'));
    const call = () => post(ep.target, fx('028'), withFields(fx('028'), { variable_fs_tenant_id: ids.acme }));
    await call();
    const before = dbUse;
    for (const n of ['025', '027', '029', '038']) assert.is((await replay(ep.target, fx(n))).status, 200);
    await call();
    assert.is(dbUse, before, 'no database use for cached tenants');
    assert.is(await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'directory', outcome: 'miss' }), 2);
    assert.is(await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'directory', outcome: 'hit' }), 4);
    assert.is(await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'dialplan', outcome: 'miss' }), 1);
    assert.is(await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'dialplan', outcome: 'hit' }), 1);
  }));

test('concurrent misses for one user coalesce into one lookup of the domain and one of the head and the row', () =>
  withEndpoint(async (ep) => {
    const before = dbUse;
    const replies = await Promise.all(Array.from({ length: 25 }, () => replay(ep.target, fx('025'))));
    for (const r of replies) assert.is(find(sectionOf(r.body), 'user')?.attrs.id, '1001');
    // resolve_sip_domain (pool.query) + one transaction reading the head and the row together; no snapshot
    assert.is(dbUse - before, 2);
    assert.is(await ep.value('fs_tenantd_tenant_cache_entries', { cache: 'tenant_head' }), 1);
    assert.is(await ep.value('fs_tenantd_tenant_cache_entries', { cache: 'user' }), 1);
    assert.is(await ep.value('fs_tenantd_tenant_cache_entries', { cache: 'tenant' }), 0);
  }));

test('unknown domains are cached negatively, within a bound', () =>
  withEndpoint(async (ep) => {
    await replay(ep.target, fx('025'));
    // Final: no second binding (daemon) is asked about a domain that does not exist (xml.ts NO_SUCH_ENTRY).
    assert.ok(isFinalNotFound((await sipAuth(ep, 'scanner.example')).body));
    const before = dbUse;
    assert.ok(isNotFound((await sipAuth(ep, 'scanner.example')).body));
    assert.is(dbUse, before, 'second probe answered from the negative cache');
    for (let i = 0; i < 70; i++) await sipAuth(ep, `probe-${i}.example`);
    assert.is(await ep.value('fs_tenantd_tenant_cache_entries', { cache: 'domain_negative' }), 50);
    assert.ok((await ep.value('fs_tenantd_tenant_cache_evictions_total', { cache: 'domain_negative' })) >= 21);
    // real tenants were not pushed out by the probes
    const b2 = dbUse;
    await replay(ep.target, fx('025'));
    assert.is(dbUse, b2);
  }));

test('freshness TTL: an entry older than the TTL is reloaded', async () => {
  let now = 1_000_000;
  await withEndpoint(
    async (ep) => {
      await replay(ep.target, fx('025'));
      const before = dbUse;
      now += 999;
      await replay(ep.target, fx('025'));
      assert.is(dbUse, before);
      now += 2;
      await replay(ep.target, fx('025'));
      assert.ok(dbUse > before, 'reloaded after the TTL');
    },
    { ttlMs: 1000, now: () => now },
  );
});

function nextChange(feed: ChangeFeed, table: string): Promise<ChangeEvent> {
  return new Promise((resolve) => {
    const on = (e: ChangeEvent) => {
      if (e.table === table) {
        feed.off('change', on);
        setImmediate(() => resolve(e));
      }
    };
    feed.on('change', on);
  });
}

test('NOTIFY evicts exactly what changed, promptly; other tenants stay cached', () =>
  withEndpoint(async (ep) => {
    const feed = createChangeFeed({
      url: db.appUrl,
      log: pino({ level: 'silent' }),
      registry: ep.registry,
      minBackoffMs: 50,
      maxBackoffMs: 200,
    });
    const detach = ep.store.attach(feed);
    const synced = new Promise<void>((r) => feed.on('resync', () => r()));
    await feed.start();
    await synced;
    const acme = asTenantId(ids.acme);
    const globexAuth = () => sipAuth(ep, 'globex.pbx.test', '1000');
    try {
      const oldHash = hashOf((await replay(ep.target, fx('025'))).body);
      await globexAuth();

      // a new password
      const newHash = a1Hash('1001', 'acme.pbx.test', 'changed-secret');
      let changed = nextChange(feed, 'extension_credentials');
      await withTenant(pool, acme, (c) =>
        c.query(
          `UPDATE extension_credentials SET a1_hash = $1
          WHERE extension_id = (SELECT id FROM extensions WHERE number = '1001') AND realm = 'acme.pbx.test'`,
          [newHash],
        ),
      );
      await changed;
      assert.is.not(oldHash, newHash);
      assert.is(hashOf((await replay(ep.target, fx('025'))).body), newHash);
      const before = dbUse;
      await globexAuth();
      assert.is(dbUse, before, "globex was not evicted by acme's change");

      // disabled extension, suspended tenant
      changed = nextChange(feed, 'extensions');
      await withTenant(pool, acme, (c) => c.query("UPDATE extensions SET enabled = false WHERE number = '1001'"));
      await changed;
      assert.ok(isNotFound((await replay(ep.target, fx('025'))).body));
      changed = nextChange(feed, 'tenants');
      await withTenant(pool, acme, (c) => c.query("UPDATE tenants SET status = 'suspended'"));
      await changed;
      assert.ok(isNotFound((await replay(ep.target, fx('027'))).body));
      assert.equal(actions((await replay(ep.target, fx('039'))).body)[0], ['respond', '403 Forbidden']);
      changed = nextChange(feed, 'tenants');
      await withTenant(pool, acme, (c) => c.query("UPDATE tenants SET status = 'active'"));
      await changed;

      // a domain added after it was cached as unknown
      assert.ok(isNotFound((await sipAuth(ep, 'voice.acme.test', '1000')).body));
      changed = nextChange(feed, 'sip_domains');
      await withTenant(pool, acme, (c) =>
        c.query("INSERT INTO sip_domains (tenant_id, domain) VALUES ($1, 'voice.acme.test')", [acme]),
      );
      await changed;
      const n = await post(
        ep.target,
        fx('017'),
        withFields(fx('017'), { key_value: 'voice.acme.test', domain: 'voice.acme.test' }),
      );
      assert.is(find(sectionOf(n.body), 'domain')?.attrs.name, 'voice.acme.test');
      // its credential answers for that realm only; the domain removed, it answers nothing, the primary still does
      const voiceHash = a1Hash('1000', 'voice.acme.test', 'pw-voice');
      changed = nextChange(feed, 'extension_credentials');
      await withTenant(pool, acme, (c) =>
        c.query(
          `INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
          SELECT tenant_id, id, 'voice.acme.test', $1 FROM extensions WHERE number = '1000'`,
          [voiceHash],
        ),
      );
      await changed;
      assert.is(hashOf((await sipAuth(ep, 'voice.acme.test', '1000')).body), voiceHash);
      assert.is(
        hashOf((await sipAuth(ep, 'acme.pbx.test', '1000')).body),
        a1Hash('1000', 'acme.pbx.test', 'acme-1000-demo'),
      );
      await globexAuth();
      changed = nextChange(feed, 'sip_domains');
      await withTenant(pool, acme, (c) => c.query("DELETE FROM sip_domains WHERE domain = 'voice.acme.test'"));
      await changed;
      assert.ok(isFinalNotFound((await sipAuth(ep, 'voice.acme.test', '1000')).body));
      assert.ok(hashOf((await sipAuth(ep, 'acme.pbx.test', '1000')).body));
      const b4 = dbUse;
      await globexAuth();
      assert.is(dbUse, b4, "globex was not evicted by acme's domain removal");

      // a DID moved to another destination
      changed = nextChange(feed, 'dids');
      await withTenant(pool, acme, (c) =>
        c.query(`UPDATE dids SET destination_type = 'extension', queue_id = NULL,
      extension_id = (SELECT id FROM extensions WHERE number = '1003') WHERE e164 = '+15550001000'`),
      );
      await changed;
      assert.match(actions((await replay(ep.target, fx('039'))).body).at(-1)![1], /user\/1003@acme\.pbx\.test$/);

      // resync (LISTEN re-established): everything reloads before its next use
      ep.store.resync();
      const b3 = dbUse;
      await globexAuth();
      assert.ok(dbUse > b3);
    } finally {
      detach();
      await feed.stop();
    }
  }));

test.run();
