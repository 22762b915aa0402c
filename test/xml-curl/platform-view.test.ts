// The platform view behind sofia.conf and acl.conf (daemon/tenants/platform-view.ts, sql/020): a trunk change
// reaches the next answer through the change feed, reading only the changed tenant again and rendering only that
// tenant's parts of the documents, which equal a render from scratch; the read visits each tenant under its own
// context and gives a caller inside withTenant its own context back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { pino } from 'pino';
import type { ChangeEvent } from '../../daemon/db/change-feed.js';
import { createRegistry } from '../../daemon/metrics.js';
import { PlatformView } from '../../daemon/tenants/platform-view.js';
import { renderAcl } from '../../xml-handlers/configuration/acl.js';
import { renderSofia } from '../../xml-handlers/configuration/sofia.js';
import { asTenantId, type PlatformTenant } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  findAll,
  fixtureNames,
  loadFixture,
  post,
  sectionOf,
  withFields,
  type Fixture,
} from '../helpers/xml-curl-client.js';
import { type Endpoint, followChanges, SIP_PROFILES, startEndpoint, tenantIds } from './harness.js';

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

/** Every per-tenant part rendered from now on, as "<file>|<tenant>". */
function countRenders(ep: Endpoint): string[] {
  const rendered: string[] = [];
  const fragment = ep.platform.fragment.bind(ep.platform);
  ep.platform.fragment = (kind, tenant, render) =>
    fragment(kind, tenant, (t: PlatformTenant) => {
      rendered.push(`${kind}|${t.slug}`);
      return render(t);
    });
  return rendered;
}

/** sofia.conf (both forms FreeSWITCH asks for, and a startgw's) and acl.conf as a fresh view renders them whole. */
async function fromScratch(): Promise<Record<string, string>> {
  const view = new PlatformView({ pool, log: pino({ level: 'silent' }), registry: createRegistry(), ttlMs: 60_000 });
  const all = await view.tenants();
  return {
    external: renderSofia(SIP_PROFILES, all, 'external')!,
    global: renderSofia(SIP_PROFILES, all, undefined)!,
    startgw: renderSofia(SIP_PROFILES, all, 'external', 'acme_carrier')!,
    acl: renderAcl(all).xml,
  };
}

test("one tenant's trunk change renders that tenant's parts again, no other; the documents equal a whole render", async () => {
  const ep = await startEndpoint(pool);
  const { feed, stop } = await followChanges(db.appUrl, ep.registry, (f) => ep.platform.attach(f));
  const rendered = countRenders(ep);
  const answers = async () => ({
    external: (await post(ep.target, fx('005'), fx('005').fields)).body,
    global: (await post(ep.target, fx('005'), withFields(fx('005'), { profile: undefined }))).body,
    startgw: (await post(ep.target, fx('005'), withFields(fx('005'), { gateway: 'acme_carrier' }))).body,
    acl: (await post(ep.target, fx('016'), fx('016').fields)).body,
  });
  try {
    // The internal profile holds no gateways: its answer renders no part.
    assert.ok((await post(ep.target, fx('004'), fx('004').fields)).body.includes('<profile name="internal">'));
    assert.equal(rendered, []);
    assert.equal(await answers(), await fromScratch());
    // Each tenant's gateways and list rendered once, whatever the forms asked.
    assert.equal(rendered.sort(), ['acl.conf|acme', 'acl.conf|globex', 'sofia.conf|acme', 'sofia.conf|globex']);

    for (const set of ["allowed_cidrs = '{198.51.100.0/24, 192.0.2.9/32}'", "password = 'rotated'"]) {
      rendered.length = 0;
      const changed = new Promise<void>((r) => feed.once('change', () => r()));
      await withTenant(pool, asTenantId(ids.globex), (c) => c.query(`UPDATE sip_trunks SET ${set}`));
      await changed;
      const now = await answers();
      assert.equal(now, await fromScratch(), set);
      assert.equal(rendered.sort(), ['acl.conf|globex', 'sofia.conf|globex'], set);
    }
    assert.ok(aclNodes((await answers()).acl, 'trunks').includes('198.51.100.0/24'));

    // A full read that finds nothing changed (after a resync, or past the TTL) keeps every part and document.
    rendered.length = 0;
    const full = await ep.value('fs_tenantd_platform_view_loads_total', { kind: 'full' });
    const before = await answers();
    ep.platform.resync();
    assert.equal(await answers(), before);
    assert.is(await ep.value('fs_tenantd_platform_view_loads_total', { kind: 'full' }), full + 1);
    assert.equal(rendered, []);
  } finally {
    await stop();
    await ep.close();
  }
});

test('a caller woken by the change a read under way already took gets the view after it, not before', async () => {
  const view = new PlatformView({ pool, log: pino({ level: 'silent' }), registry: createRegistry(), ttlMs: 60_000 });
  const cidrs = async () => (await view.tenants()).find((t) => t.slug === 'globex')!.trunks[0]!.allowedCidrs;
  await view.tenants();
  await withTenant(pool, asTenantId(ids.globex), (c) =>
    c.query("UPDATE sip_trunks SET allowed_cidrs = '{203.0.113.0/24}'"),
  );
  view.applyChange({ table: 'sip_trunks', tenantId: asTenantId(ids.globex) } as ChangeEvent);
  // The first (the gateway sync, say) begins the read of globex; the second (the cache flusher) comes while it runs.
  const first = cidrs();
  const second = cidrs();
  assert.equal(await second, ['203.0.113.0/24']);
  assert.equal(await first, ['203.0.113.0/24']);
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
