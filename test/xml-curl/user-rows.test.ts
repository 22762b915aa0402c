// Directory users of a tenant whose snapshot is not cached are answered from the tenant's head and the one
// extension row (issue 18: a large tenant's first REGISTER must not wait for a load of every row), and stay exact
// through the change feed: a changed password, a new or removed extension, a change that cannot be pinned to one
// cached user, a bulk change naming no rows, and a load that read the row just before a change committed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import type { ChangeEvent, ChangeFeed } from '../../daemon/db/change-feed.js';
import { a1Hash, seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { find, fixtureNames, loadFixture, post, sectionOf, withFields } from '../helpers/xml-curl-client.js';
import { followChanges, startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: directory users from their own rows');
const DOMAIN = 'acme.pbx.test';
const LARGE = 3000;
let db: TestDatabase;
let pool: pg.Pool;
let acme: TenantId;
/** SQL the process ran. */
const ran: string[] = [];
/** While set, a read of one extension row returns only once this resolves (after signalling `rowRead`). */
let holdRow: { read: () => void; release: Promise<void> } | undefined;

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(6);
  await seedDemo(pool);
  acme = asTenantId((await tenantIds(pool)).acme);
  await withTenant(pool, acme, (c) =>
    c.query(
      `WITH e AS (INSERT INTO extensions (tenant_id, number)
        SELECT $1, n::text FROM generate_series(20000, 20000 + $2::int - 1) n RETURNING id, number)
      INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
      SELECT $1, e.id, $3::text, md5(e.number || ':' || $3::text || ':pw-' || e.number) FROM e`,
      [acme, LARGE, DOMAIN],
    ),
  );
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    if (typeof a[0] !== 'string') return query.apply(this, a);
    ran.push(a[0]);
    const hold = holdRow;
    if (!hold || !a[0].includes('FROM extensions x WHERE number = ')) return query.apply(this, a);
    holdRow = undefined;
    return (query.apply(this, a) as Promise<unknown>).then(async (r) => {
      hold.read();
      await hold.release;
      return r;
    });
  };
});
test.after(() => db.drop());

const fx = loadFixture(fixtureNames().find((f) => f.startsWith('025-'))!);
const hashOf = async (ep: Endpoint, user: string) => {
  const d = DOMAIN;
  const r = await post(
    ep.target,
    fx,
    withFields(fx, { key_value: d, domain: d, user, sip_auth_realm: d, sip_to_host: d, sip_from_host: d }),
  );
  return find(sectionOf(r.body), 'param', { name: 'a1-hash' })?.attrs.value;
};
const count = (marker: string) => ran.filter((q) => q.includes(marker)).length;
const wholeLoads = () => count("'dids', (SELECT");
const rowLoads = () => count('FROM extensions x WHERE number = ');
const pw = (n: string) => a1Hash(n, DOMAIN, `pw-${n}`);

/** Resolves once a notification of `table` arrived and was applied. */
function next(feed: ChangeFeed, table: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (e: ChangeEvent) => {
      if (e.table !== table) return;
      feed.off('change', on);
      setTimeout(resolve, 20);
    };
    feed.on('change', on);
  });
}

const setPassword = (number: string, password: string) =>
  withTenant(pool, acme, (c) =>
    c.query(
      `UPDATE extension_credentials SET a1_hash = $1
      WHERE extension_id = (SELECT id FROM extensions WHERE number = $2) AND realm = $3`,
      [a1Hash(number, DOMAIN, password), number, DOMAIN],
    ),
  );

test('one row per user, never the tenant; exact through every kind of change', async () => {
  const ep = await startEndpoint(pool);
  const { feed, stop } = await followChanges(db.appUrl, ep.registry, (f) => ep.store.attach(f));
  try {
    // Cold: the first users of a tenant of 3,000+ extensions cost one row each, and no load of the tenant.
    for (const n of ['20000', '21234', '22999']) assert.is(await hashOf(ep, n), pw(n));
    assert.is(await hashOf(ep, '23000'), undefined, 'no such extension');
    assert.is(wholeLoads(), 0, 'the tenant was not loaded');
    assert.is(rowLoads(), 4);
    // Cached, the unknown one negatively.
    for (const n of ['20000', '21234', '22999', '23000']) await hashOf(ep, n);
    assert.is(rowLoads(), 4);

    // A new password of a cached user (its credential row names it by id).
    let changed = next(feed, 'extension_credentials');
    await setPassword('20000', 'changed');
    await changed;
    assert.is(await hashOf(ep, '20000'), a1Hash('20000', DOMAIN, 'changed'));
    assert.is(await hashOf(ep, '21234'), pw('21234'));
    assert.is(rowLoads(), 5, 'only the changed user was read again');

    // A new extension where one was known not to exist.
    changed = next(feed, 'extension_credentials');
    await withTenant(pool, acme, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        "INSERT INTO extensions (tenant_id, number) VALUES ($1, '23000') RETURNING id",
        [acme],
      );
      await c.query(
        'INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash) VALUES ($1, $2, $3, $4)',
        [acme, rows[0]!.id, DOMAIN, pw('23000')],
      );
    });
    await changed;
    assert.is(await hashOf(ep, '23000'), pw('23000'));

    // A removal.
    changed = next(feed, 'extensions');
    await withTenant(pool, acme, (c) => c.query("DELETE FROM extensions WHERE number = '22999'"));
    await changed;
    assert.is(await hashOf(ep, '22999'), undefined);

    // A credential of a user never cached: nothing pins it to a cached key, so the tenant's users are read again.
    changed = next(feed, 'extension_credentials');
    await setPassword('20001', 'other');
    await changed;
    const before = rowLoads();
    assert.is(await hashOf(ep, '21234'), pw('21234'));
    assert.is(await hashOf(ep, '20001'), a1Hash('20001', DOMAIN, 'other'));
    assert.is(rowLoads() - before, 2);

    // A load that read the row before a change committed is answered, but not kept.
    let read!: () => void;
    const wasRead = new Promise<void>((r) => {
      read = r;
    });
    let release!: () => void;
    holdRow = { read, release: new Promise<void>((r) => (release = r)) };
    const racing = hashOf(ep, '20500');
    await wasRead;
    changed = next(feed, 'extension_credentials');
    await setPassword('20500', 'raced');
    await changed;
    release();
    assert.is(await racing, pw('20500'), 'the answer read before the change');
    assert.is(await hashOf(ep, '20500'), a1Hash('20500', DOMAIN, 'raced'), 'the next one is fresh');

    // A tenant-level change (its caller-ID default) reaches the cached users' next answer.
    changed = next(feed, 'tenants');
    await withTenant(pool, acme, (c) => c.query("UPDATE tenants SET default_caller_id_number = '+15550009999'"));
    await changed;
    const r = await post(
      ep.target,
      fx,
      withFields(fx, { key_value: DOMAIN, domain: DOMAIN, user: '21234', sip_auth_realm: DOMAIN }),
    );
    assert.is(find(sectionOf(r.body), 'variable', { name: 'outbound_caller_id_number' })?.attrs.value, '+15550009999');
    assert.is(wholeLoads(), 0, 'still no load of the whole tenant');

    // One statement disabling 300 cached phones: past the first rows, the change feed names none (sql/021 bulk).
    const range = Array.from({ length: 300 }, (_, i) => String(21000 + i));
    for (const n of range) assert.is(await hashOf(ep, n), pw(n));
    const bulk = new Promise<void>((resolve) => {
      const on = (e: ChangeEvent) => {
        if (e.table !== 'extensions' || !e.bulk) return;
        feed.off('change', on);
        setTimeout(resolve, 20);
      };
      feed.on('change', on);
    });
    await withTenant(pool, acme, (c) =>
      c.query('UPDATE extensions SET enabled = false WHERE number::int BETWEEN 21000 AND 21299'),
    );
    await bulk;
    const stillAnswered = [];
    for (const n of range) if ((await hashOf(ep, n)) !== undefined) stillAnswered.push(n);
    assert.equal(stillAnswered, [], 'every disabled phone refused');
  } finally {
    await stop();
    await ep.close();
  }
});

test.run();
