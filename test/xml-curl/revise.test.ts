// A change to a few extensions of a cached tenant re-reads those rows only (issue 18: one change must not reload a
// large tenant), and stays exact: the next fetch answers the new data, and the revised snapshot equals a full
// reload. Changes that other rows name by number (a renumbering), or too many at once, reload the whole tenant.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import type { ChangeEvent, ChangeFeed } from '../../daemon/db/change-feed.js';
import { a1Hash, seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { loadSnapshot } from '../../daemon/tenants/load-snapshot.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { find, fixtureNames, loadFixture, post, sectionOf, withFields } from '../helpers/xml-curl-client.js';
import { followChanges, recordStatements, startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: snapshots revised row by row');
let db: TestDatabase;
let pool: pg.Pool;
let acme: TenantId;
/** SQL the process ran. */
let ran: string[] = [];

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(6);
  await seedDemo(pool);
  acme = asTenantId((await tenantIds(pool)).acme);
  ran = recordStatements();
});
test.after(() => db.drop());

const fx = loadFixture(fixtureNames().find((f) => f.startsWith('025-'))!);
const hashOf = async (ep: Endpoint, user: string) => {
  const d = 'acme.pbx.test';
  const r = await post(
    ep.target,
    fx,
    withFields(fx, { key_value: d, domain: d, user, sip_auth_realm: d, sip_to_host: d, sip_from_host: d }),
  );
  return find(sectionOf(r.body), 'param', { name: 'a1-hash' })?.attrs.value;
};
const fullReads = () => ran.filter((q) => q.includes("'dids', (SELECT")).length;
const rowReads = () => ran.filter((q) => q.includes('FROM extensions x WHERE x.id = ANY')).length;

/** Resolves once `n` notifications arrived (and were applied); fails naming what came after 5 s. */
function settled(feed: ChangeFeed, n: number): Promise<void> {
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${seen.join(', ')} after 5 s`)), 5000);
    const on = (e: ChangeEvent) => {
      seen.push(`${e.table} ${e.op}`);
      if (seen.length < n) return;
      feed.off('change', on);
      clearTimeout(timer);
      setTimeout(resolve, 20);
    };
    feed.on('change', on);
  });
}

test('password change, new extension, removal: rows re-read, never the tenant; equal to a full reload', async () => {
  const ep = await startEndpoint(pool);
  const { feed, stop } = await followChanges(db.appUrl, ep.registry, (f) => ep.store.attach(f));
  try {
    // The whole snapshot is what calls are routed from (a directory user alone loads only its row).
    assert.ok((await ep.store.byId(acme))?.extensions.has('1001'));
    assert.ok(await hashOf(ep, '1001'));
    const full = fullReads();

    // A new password (one credential row).
    let done = settled(feed, 1);
    const hash = a1Hash('1001', 'acme.pbx.test', 'a-new-secret');
    await withTenant(pool, acme, (c) =>
      c.query(
        "UPDATE extension_credentials SET a1_hash = $1 WHERE extension_id = (SELECT id FROM extensions WHERE number = '1001')",
        [hash],
      ),
    );
    await done;
    assert.is(await hashOf(ep, '1001'), hash);

    // A new extension with its credential, in one transaction: one read of both changes.
    done = settled(feed, 2);
    const before = rowReads();
    await withTenant(pool, acme, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        "INSERT INTO extensions (tenant_id, number) VALUES ($1, '1077') RETURNING id",
        [acme],
      );
      await c.query(
        "INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash) VALUES ($1, $2, 'acme.pbx.test', $3)",
        [acme, rows[0]!.id, a1Hash('1077', 'acme.pbx.test', 'x')],
      );
    });
    await done;
    assert.is(await hashOf(ep, '1077'), a1Hash('1077', 'acme.pbx.test', 'x'));
    assert.is(rowReads() - before, 1, 'the burst was read in one query');

    // A removal.
    done = settled(feed, 2); // the extension and its credential (cascade)
    await withTenant(pool, acme, (c) => c.query("DELETE FROM extensions WHERE number = '1077'"));
    await done;
    assert.is(await hashOf(ep, '1077'), undefined);
    assert.is(fullReads(), full, 'no full snapshot reload for any of these');

    const cached = await ep.store.byId(acme);
    const fresh = await loadSnapshot(pool, acme);
    assert.equal([...cached!.extensions.entries()], [...fresh!.extensions.entries()]);
    const afterCompare = fullReads();

    // A renumbering is named elsewhere (DIDs, agents, flows): the whole tenant is read again.
    done = settled(feed, 1);
    await withTenant(pool, acme, (c) => c.query("UPDATE extensions SET number = '1099' WHERE number = '1003'"));
    await done;
    assert.ok((await ep.store.byId(acme))?.extensions.has('1099'));
    assert.is(fullReads(), afterCompare + 1);
  } finally {
    await stop();
    await ep.close();
  }
});

test.run();
