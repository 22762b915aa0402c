// The platform view behind sofia.conf and acl.conf (daemon/tenants/platform-view.ts, sql/020): a trunk change
// reaches the next answer through the change feed, reading only the changed tenant again; the read visits each
// tenant under its own context and gives a caller inside withTenant its own context back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { findAll, fixtureNames, loadFixture, post, sectionOf, type Fixture } from '../helpers/xml-curl-client.js';
import { followChanges, startEndpoint, tenantIds } from './harness.js';

const test = suite('xml_curl: platform view (sofia.conf, acl.conf)');
let db: TestDatabase;
let pool: pg.Pool;
let ids: { acme: string; globex: string };
const fx = (n: string): Fixture => loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!);

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(4);
  await seedDemo(pool);
  ids = await tenantIds(pool);
});
test.after(async () => {
  await db.drop();
});

const aclNodes = (body: string, list: string) =>
  findAll(findAll(sectionOf(body), 'list').find((l) => l.attrs.name === list)!, 'node').map((n) => n.attrs.cidr);

test('a trunk change reaches acl.conf and sofia.conf; only that tenant is read again', async () => {
  const ep = await startEndpoint(pool);
  const { feed, stop } = await followChanges(db.appUrl, ep.registry, (f) => ep.platform.attach(f));
  const loads = (kind: string) => ep.value('fs_tenantd_platform_view_loads_total', { kind });
  try {
    const before = (await post(ep.target, fx('016'), fx('016').fields)).body;
    assert.not.ok(aclNodes(before, 'acme_trunks').includes('192.0.2.77/32'));
    const globexBefore = aclNodes(before, 'globex_trunks');
    const full = await loads('full');
    // Answered again from the kept document: no read.
    assert.is((await post(ep.target, fx('016'), fx('016').fields)).body, before);
    assert.is(await loads('full'), full);

    const changed = new Promise<void>((r) => feed.once('change', () => r()));
    await withTenant(pool, asTenantId(ids.acme), (c) =>
      c.query(
        `UPDATE sip_trunks SET allowed_cidrs = '{192.0.2.77/32}', proxy = 'sbc.example.net' WHERE name = 'carrier'`,
      ),
    );
    await changed;
    const after = (await post(ep.target, fx('016'), fx('016').fields)).body;
    assert.equal(aclNodes(after, 'acme_trunks'), ['192.0.2.77/32']);
    assert.equal(aclNodes(after, 'globex_trunks'), globexBefore);
    assert.ok(aclNodes(after, 'trunks').includes('192.0.2.77/32'));
    const sofia = sectionOf((await post(ep.target, fx('005'), fx('005').fields)).body);
    const gw = findAll(sofia, 'gateway').find((g) => g.attrs.name === 'acme_carrier')!;
    assert.ok(findAll(gw, 'param').some((p) => p.attrs.name === 'proxy' && p.attrs.value === 'sbc.example.net'));
    assert.is(await loads('full'), full, 'no full read for one trunk change');
    assert.is(await loads('partial'), 1);
  } finally {
    await stop();
    await ep.close();
  }
});

test("platform_config: every tenant, each under its own context; the caller's context is given back", async () => {
  await withTenant(pool, asTenantId(ids.acme), async (c) => {
    const { rows } = await c.query<{ tenant_slug: string; trunks: Array<{ name: string }> }>(
      'SELECT tenant_slug, trunks FROM platform_config() ORDER BY tenant_slug',
    );
    assert.equal(
      rows.map((r) => [r.tenant_slug, r.trunks.map((t) => t.name)]),
      [
        ['acme', ['carrier']],
        ['globex', ['carrier']],
      ],
    );
    // Still acme's transaction: acme's rows only.
    assert.equal((await c.query('SELECT slug FROM tenants')).rows, [{ slug: 'acme' }]);
  });
  // Outside any context the tables show nothing, and the function needs none to be asked.
  assert.is((await pool.query('SELECT count(*)::int AS n FROM sip_trunks')).rows[0].n, 0);
});

test.run();
