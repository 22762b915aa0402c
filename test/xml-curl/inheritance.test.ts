// Inherited defaults through xml_curl (issue 17): a customer's directory answer carries its reseller's caller-ID
// default while it has none of its own, and a change at the reseller reaches the customer's next fetch through
// the change feed (exact invalidation of descendants, not a TTL), while an unrelated tenant stays cached.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { pino } from 'pino';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { find, fixtureNames, loadFixture, post, sectionOf, withFields } from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds } from './harness.js';

const test = suite('xml_curl: inherited defaults');
let db: TestDatabase;
let pool: pg.Pool;
let dbUse = 0;

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(6);
  await seedDemo(pool);
  const connect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { connect: unknown }).connect = (...a: unknown[]) => {
    dbUse++;
    return connect(...a);
  };
});
test.after(() => db.drop());

const fx = loadFixture(fixtureNames().find((f) => f.startsWith('025-'))!);
const directory = (target: Parameters<typeof post>[0], domain: string) =>
  post(
    target,
    fx,
    withFields(fx, {
      key_value: domain,
      domain,
      user: '1001',
      sip_auth_realm: domain,
      sip_to_host: domain,
      sip_from_host: domain,
    }),
  );
const variable = (xml: string, name: string) => find(sectionOf(xml), 'variable', { name })?.attrs.value;

function nextChange(feed: ChangeFeed, table: string): Promise<ChangeEvent> {
  return new Promise((resolve) => {
    const on = (e: ChangeEvent) => {
      if (e.table !== table) return;
      feed.off('change', on);
      setImmediate(() => resolve(e));
    };
    feed.on('change', on);
  });
}

test("a customer answers with its reseller's defaults, and a change at the reseller reaches its next fetch", async () => {
  const ids = await tenantIds(pool);
  const acme = asTenantId(ids.acme);
  const reseller = asTenantId(crypto.randomUUID());
  await withTenant(pool, reseller, (c) =>
    c.query(
      `INSERT INTO tenants (id, slug, name, is_reseller, default_caller_id_name) VALUES ($1, 'up-tel', 'Up', true, 'Up Tel')`,
      [reseller],
    ),
  );
  await withTenant(pool, acme, (c) =>
    c.query('UPDATE tenants SET parent_id = $1, default_caller_id_name = NULL', [reseller]),
  );
  const ep = await startEndpoint(pool);
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
  const set = async (tenant: TenantId, sql: string) => {
    const changed = nextChange(feed, 'tenants');
    await withTenant(pool, tenant, (c) => c.query(sql));
    await changed;
  };
  try {
    assert.is(variable((await directory(ep.target, 'acme.pbx.test')).body, 'outbound_caller_id_name'), 'Up Tel');
    const globexName = variable((await directory(ep.target, 'globex.pbx.test')).body, 'outbound_caller_id_name');

    await set(reseller, "UPDATE tenants SET default_caller_id_name = 'Up Tel Two'");
    assert.is(variable((await directory(ep.target, 'acme.pbx.test')).body, 'outbound_caller_id_name'), 'Up Tel Two');
    const before = dbUse;
    assert.is(variable((await directory(ep.target, 'globex.pbx.test')).body, 'outbound_caller_id_name'), globexName);
    assert.is(dbUse, before, "globex (not under the reseller) stayed cached through the reseller's change");

    // The customer's own value wins; clearing it inherits again.
    await set(acme, "UPDATE tenants SET default_caller_id_name = 'Acme Own'");
    assert.is(variable((await directory(ep.target, 'acme.pbx.test')).body, 'outbound_caller_id_name'), 'Acme Own');
    await set(acme, 'UPDATE tenants SET default_caller_id_name = NULL');
    assert.is(variable((await directory(ep.target, 'acme.pbx.test')).body, 'outbound_caller_id_name'), 'Up Tel Two');
  } finally {
    detach();
    await feed.stop();
    await ep.close();
  }
});

test.run();
