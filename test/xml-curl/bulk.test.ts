// A bulk change of a cached tenant (issue 18): 2,000 extensions imported in one transaction, their passwords changed,
// then removed (2,000, not the bench's 10,000: every one of them is asked over HTTP, three times; past 100 rows
// nothing depends on the count). The NOTIFY flood is bounded (sql/021: past 100 rows of a table and tenant, one "bulk" notification),
// the tenant is reloaded at most twice, never once per row, and every answer is exact afterwards; an unrelated
// tenant's cached snapshot is not touched.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { pino } from 'pino';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '../../daemon/db/change-feed.js';
import { a1Hash, demoPassword, seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { createRegistry } from '../../daemon/metrics.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  find,
  fixtureNames,
  isFinalNotFound,
  loadFixture,
  post,
  sectionOf,
  withFields,
} from '../helpers/xml-curl-client.js';
import { followChanges, recordStatements, startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: bulk changes through the change feed');
const ROWS = 2000;
const FIRST = 500_000;
const SENTINEL = '_test_sentinel';
let db: TestDatabase;
let pool: pg.Pool;
let acme: TenantId;
let globex: TenantId;
let ran: string[] = [];

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(6);
  await seedDemo(pool);
  const ids = await tenantIds(pool);
  acme = asTenantId(ids.acme);
  globex = asTenantId(ids.globex);
  ran = recordStatements();
});
test.after(() => db.drop());

const fullReads = () => ran.filter((q) => q.includes("'dids', (SELECT")).length;
const fx = loadFixture(fixtureNames().find((f) => f.startsWith('025-'))!);

/** acme's answer for `user`: its a1-hash, or undefined when it is not found; anything else fails. */
async function hashOf(ep: Endpoint, user: string): Promise<string | undefined> {
  const d = 'acme.pbx.test';
  const r = await post(
    ep.target,
    fx,
    withFields(fx, { key_value: d, domain: d, user, sip_auth_realm: d, sip_to_host: d, sip_from_host: d }),
  );
  assert.is(r.status, 200);
  if (isFinalNotFound(r.body)) return undefined;
  const hash = find(sectionOf(r.body), 'param', { name: 'a1-hash' })?.attrs.value;
  assert.ok(hash, `a user or a final not-found for ${user}, not: ${r.body}`);
  return hash;
}

/** Every new user answered as `want(number)` says; lists the first few that are not. */
async function allAnswered(ep: Endpoint, want: (n: number) => string | undefined): Promise<void> {
  const wrong: string[] = [];
  let next = FIRST;
  const worker = async () => {
    for (let n = next++; n < FIRST + ROWS; n = next++) {
      const got = await hashOf(ep, String(n));
      if (got !== want(n) && wrong.length < 5) wrong.push(`${n}: ${got}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  assert.equal(wrong, []);
}

/** The change events `write` brings, all of them: a sentinel notification sent after its commit closes the list. */
async function eventsOf(feed: ChangeFeed, write: () => Promise<unknown>): Promise<ChangeEvent[]> {
  const token = randomUUID();
  const seen: ChangeEvent[] = [];
  const done = new Promise<void>((resolve) => {
    const on = (e: ChangeEvent) => {
      if (e.table !== SENTINEL) return void seen.push(e);
      if (e.id !== token) return;
      feed.off('change', on);
      resolve();
    };
    feed.on('change', on);
  });
  await write();
  const payload = { table: SENTINEL, op: 'UPDATE', tenant_id: randomUUID(), id: token, keys: {} };
  await pool.query('SELECT pg_notify($1, $2)', ['fs_tenantd_changes', JSON.stringify(payload)]);
  await done;
  return seen;
}

const byTable = (events: ChangeEvent[]) => {
  const out: Record<string, { rows: number; bulk: number }> = {};
  for (const e of events) {
    const t = (out[e.table] ??= { rows: 0, bulk: 0 });
    if (e.bulk) t.bulk++;
    else t.rows++;
  }
  return out;
};

test('2,000 extensions imported, re-keyed, removed: bounded notifications and loads, exact answers', async () => {
  const ep = await startEndpoint(pool);
  const { feed, stop } = await followChanges(db.appUrl, ep.registry, (f) => ep.store.attach(f));
  try {
    assert.ok(await hashOf(ep, '1001'));
    const other = await ep.store.byId(globex);
    assert.ok(other);

    let loads = fullReads();
    let events = await eventsOf(feed, () =>
      withTenant(pool, acme, (c) =>
        c.query(
          `WITH e AS (INSERT INTO extensions (tenant_id, number)
            SELECT $1, n::text FROM generate_series($2::int, $2::int + $3::int - 1) AS n RETURNING id, number)
          INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
          SELECT $1, e.id, 'acme.pbx.test', md5(e.number || ':acme.pbx.test:bulk-' || e.number) FROM e`,
          [acme, FIRST, ROWS],
        ),
      ),
    );
    // 100 rows of each table row by row, then one bulk notification each; not one per row (4,000).
    assert.equal(byTable(events), {
      extensions: { rows: 100, bulk: 1 },
      extension_credentials: { rows: 100, bulk: 1 },
    });
    await allAnswered(ep, (n) => a1Hash(String(n), 'acme.pbx.test', `bulk-${n}`));
    assert.is(await hashOf(ep, '1001'), a1Hash('1001', 'acme.pbx.test', demoPassword('acme', '1001')));
    assert.ok(fullReads() - loads <= 2, `${fullReads() - loads} full loads`);
    assert.ok((await ep.store.byId(globex)) === other, "globex's cached snapshot is untouched");

    loads = fullReads();
    events = await eventsOf(feed, () =>
      withTenant(pool, acme, (c) =>
        c.query(
          `UPDATE extension_credentials c SET a1_hash = md5(x.number || ':' || c.realm || ':new-' || x.number)
          FROM extensions x WHERE x.id = c.extension_id AND x.number::int >= $1`,
          [FIRST],
        ),
      ),
    );
    assert.equal(byTable(events), { extension_credentials: { rows: 100, bulk: 1 } });
    await allAnswered(ep, (n) => a1Hash(String(n), 'acme.pbx.test', `new-${n}`));
    assert.ok(fullReads() - loads <= 2, `${fullReads() - loads} full loads`);

    loads = fullReads();
    events = await eventsOf(feed, () =>
      withTenant(pool, acme, (c) => c.query('DELETE FROM extensions WHERE number::int >= $1', [FIRST])),
    );
    assert.equal(byTable(events), {
      extensions: { rows: 100, bulk: 1 },
      extension_credentials: { rows: 100, bulk: 1 },
    });
    await allAnswered(ep, () => undefined);
    assert.is(await hashOf(ep, '1001'), a1Hash('1001', 'acme.pbx.test', demoPassword('acme', '1001')));
    assert.ok(fullReads() - loads <= 2, `${fullReads() - loads} full loads`);
    assert.ok((await ep.store.byId(globex)) === other, "globex's cached snapshot is untouched");
  } finally {
    await stop();
    await ep.close();
  }
});

test('the bound is per transaction: 300 one-row statements notify 100 rows and one bulk change', async () => {
  const feed = createChangeFeed({ url: db.appUrl, log: pino({ level: 'silent' }), registry: createRegistry() });
  const synced = new Promise<void>((r) => feed.on('resync', () => r()));
  await feed.start();
  await synced;
  try {
    const events = await eventsOf(feed, () =>
      withTenant(pool, acme, async (c) => {
        for (let n = 0; n < 300; n++)
          await c.query('INSERT INTO extensions (tenant_id, number) VALUES ($1, $2)', [acme, String(600_000 + n)]);
      }),
    );
    assert.equal(byTable(events), { extensions: { rows: 100, bulk: 1 } });
    const bulk = events.find((e) => e.bulk)!;
    assert.is(bulk.tenantId, acme);
    assert.is(bulk.id, null);
    assert.equal(bulk.keys, {});
    // The next transaction counts from zero again.
    const again = await eventsOf(feed, () =>
      withTenant(pool, acme, (c) => c.query('DELETE FROM extensions WHERE number = $1', ['600000'])),
    );
    assert.equal(byTable(again), { extensions: { rows: 1, bulk: 0 } });
    assert.equal(again[0]!.keys.number, { old: '600000', new: null });
  } finally {
    await feed.stop();
  }
});

test.run();
