// The account tree through the API (issue 17): two resellers with two customers each. A reseller admin lists and
// creates accounts in its own subtree only and acts inside one with X-Tenant-Id (audited in that account's log);
// everything outside its subtree is a 404. Bad trees are refused naming the field, with nothing written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withReseller, withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { type ApiHarness, startApi, tenantIdOf } from './api-harness.js';

let h: ApiHarness;
let op: string;
const id: Record<string, TenantId> = {};
const token = (slug: string) => h.token('reseller_admin', slug);

async function create(by: string, body: Record<string, unknown>) {
  const res = await h.call('POST', '/api/tenants', {
    token: by,
    body: { sipDomain: `${body.slug}.pbx.test`, ...body },
  });
  assert.is(res.status, 201, res.text);
  id[body.slug as string] = res.body.id;
  return res.body;
}

test.before(async () => {
  h = await startApi();
  op = await h.token('superadmin');
  await create(op, { slug: 'res-one', name: 'Reseller One', isReseller: true, maxTotal: 10, brandName: 'One Tel' });
  await create(op, { slug: 'res-two', name: 'Reseller Two', isReseller: true });
  for (const [r, c] of [
    ['res-one', 'cust-1a'],
    ['res-one', 'cust-1b'],
    ['res-two', 'cust-2a'],
    ['res-two', 'cust-2b'],
  ] as const) {
    const made = await create(await token(r), { slug: c, name: c, maxTotal: 8 });
    assert.equal([made.parentSlug, made.isReseller], [r, false]);
  }
});
test.after(() => h.close());

test('a reseller admin lists its own subtree only; the operator sees the whole tree', async () => {
  const one = await h.call('GET', '/api/tenants', { token: await token('res-one') });
  assert.is(one.status, 200, one.text);
  assert.equal(
    one.body.items.map((t: { slug: string; parentSlug: string }) => `${t.parentSlug}>${t.slug}`),
    ['res-one>cust-1a', 'res-one>cust-1b'],
  );
  const all = await h.call('GET', '/api/tenants', { token: op });
  const tree = Object.fromEntries(
    all.body.items.map((t: { slug: string; parentSlug: string }) => [t.slug, t.parentSlug]),
  );
  assert.equal([tree['cust-2b'], tree['res-two'], tree.acme], ['res-two', null, null]);
  // A customer's or tenant admin's token cannot use the tree routes.
  const denied = await h.call('GET', '/api/tenants', { token: await h.token('tenant_admin', 'cust-1a') });
  assert.is(denied.status, 403);
  // A reseller_admin token on an account that is not a reseller is refused.
  const notReseller = await h.call('GET', '/api/tenant', { token: await token('cust-1a') });
  assert.is(notReseller.status, 403, notReseller.text);
});

test('inside its own customer with X-Tenant-Id: like the operator, audited in the customer log as cross-tenant', async () => {
  const r1 = await token('res-one');
  const res = await h.call('GET', '/api/extensions', { token: r1, headers: { 'x-tenant-id': 'cust-1a' } });
  assert.is(res.status, 200, res.text);
  const made = await h.call('POST', '/api/extensions', {
    token: r1,
    headers: { 'x-tenant-id': 'cust-1a' },
    body: { number: '1000', password: 'reseller-made-1' },
  });
  assert.is(made.status, 201, made.text);
  const audit = await h.call('GET', '/api/audit', { token: await h.token('tenant_admin', 'cust-1a') });
  const rows = audit.body.items.map((a: Record<string, unknown>) => [a.actor, a.actorRole, a.action, a.crossTenant]);
  assert.ok(
    rows.some((r: unknown[]) => r[0] === 'reseller_admin@res-one' && r[1] === 'reseller_admin' && r[3] === true),
    JSON.stringify(rows),
  );
  // The reseller may raise the customer's ceiling, up to its own, and suspend it.
  const raised = await h.call('PATCH', '/api/tenant', {
    token: r1,
    headers: { 'x-tenant-id': 'cust-1a' },
    body: { maxTotal: 9 },
  });
  assert.is(raised.status, 200, raised.text);
  const above = await h.call('PATCH', '/api/tenant', {
    token: r1,
    headers: { 'x-tenant-id': 'cust-1a' },
    body: { maxTotal: 11 },
  });
  assert.is(above.status, 400, above.text);
  assert.match(above.body.message, /^maxTotal: max_total is above 10/);
});

test('everything outside its subtree is a 404, never a 403: other customers, other resellers, its own parent', async () => {
  const r1 = await token('res-one');
  for (const slug of ['cust-2a', 'res-two', 'acme', 'no-such']) {
    for (const url of ['/api/tenant', '/api/extensions', '/api/audit', '/api/calls']) {
      const res = await h.call('GET', url, { token: r1, headers: { 'x-tenant-id': slug } });
      assert.is(res.status, 404, `${slug} ${url}: ${res.text}`);
      assert.not.ok(res.text.includes(id['cust-2a'] ?? 'x'), res.text);
    }
    const move = await h.call('PATCH', `/api/tenants/${slug}`, { token: r1, body: { isReseller: true } });
    assert.is(move.status, 404, move.text);
  }
  const under = await h.call('POST', '/api/tenants', {
    token: r1,
    body: { slug: 'sneaky', name: 'x', sipDomain: 'sneaky.pbx.test', parentSlug: 'res-two' },
  });
  assert.is(under.status, 404, under.text);
  assert.match(under.body.message, /^parentSlug:/);
  assert.is(await tenantIdOf(h.pool, 'sneaky').catch(() => undefined), undefined);
});

test('bad trees are refused naming the field, and nothing is half-written', async () => {
  const r1 = await token('res-one');
  const cases: Array<[string, string, string, Record<string, unknown>, number, RegExp]> = [
    [
      'POST',
      '/api/tenants',
      r1,
      { slug: 'kid', name: 'k', sipDomain: 'kid.pbx.test', parentSlug: 'cust-1a' },
      400,
      /^parentSlug: the parent account is not a reseller/,
    ],
    [
      'POST',
      '/api/tenants',
      r1,
      { slug: 'big', name: 'b', sipDomain: 'big.pbx.test', maxTotal: 12 },
      400,
      /^maxTotal: /,
    ],
    ['POST', '/api/tenants', r1, { slug: 'dup', name: 'd', sipDomain: 'cust-2a.pbx.test' }, 409, /^sipDomain:/],
    ['PATCH', '/api/tenants/res-one', op, { parentSlug: 'res-one' }, 400, /^parentSlug:/],
  ];
  for (const [method, url, by, body, status, message] of cases) {
    const res = await h.call(method, url, { token: by, body });
    assert.is(res.status, status, `${method} ${url} ${JSON.stringify(body)}: ${res.text}`);
    assert.match(res.body.message, message);
  }
  for (const slug of ['kid', 'big', 'dup']) assert.is(await tenantIdOf(h.pool, slug).catch(() => undefined), undefined);

  // A sub-reseller, then the cycle: res-one under its own descendant.
  await create(r1, { slug: 'sub-one', name: 'Sub', isReseller: true });
  const cycle = await h.call('PATCH', '/api/tenants/res-one', { token: op, body: { parentSlug: 'sub-one' } });
  assert.is(cycle.status, 400, cycle.text);
  assert.match(cycle.body.message, /^parentSlug: an account cannot move under itself or its own descendant/);
  // A reseller cannot move itself, and a reseller with children must stay one.
  const self = await h.call('PATCH', '/api/tenants/res-one', { token: r1, body: { parentSlug: 'sub-one' } });
  assert.is(self.status, 403, self.text);
  const retype = await h.call('PATCH', '/api/tenants/res-one', { token: op, body: { isReseller: false } });
  assert.is(retype.status, 400, retype.text);
  assert.match(retype.body.message, /^isReseller:/);
  // Moving a customer between its reseller's own sub-resellers is the reseller's to do.
  const moved = await h.call('PATCH', '/api/tenants/cust-1b', { token: r1, body: { parentSlug: 'sub-one' } });
  assert.is(moved.status, 200, moved.text);
  assert.is(moved.body.parentSlug, 'sub-one');
  const back = await h.call('PATCH', '/api/tenants/cust-1b', { token: r1, body: { parentSlug: 'res-one' } });
  assert.is(back.status, 200, back.text);
});

test('defaults are inherited down the tree unless overridden; the API shows own and effective values', async () => {
  const r1 = await token('res-one');
  const set = await h.call('PATCH', '/api/tenant', {
    token: r1,
    body: { defaultTimezone: 'Europe/Paris', defaultCallerIdName: 'One Tel', unroutedDidExtension: '1000' },
  });
  assert.is(set.status, 200, set.text);
  const kid = await h.call('GET', '/api/tenant', { token: await h.token('tenant_admin', 'cust-1a') });
  assert.equal(
    [kid.body.defaultTimezone, kid.body.effective.defaultTimezone, kid.body.effective.defaultCallerIdName],
    [null, 'Europe/Paris', 'One Tel'],
  );
  assert.equal(kid.body.brand, { name: 'One Tel', domain: null });
  const own = await h.call('PATCH', '/api/tenant', {
    token: await h.token('tenant_admin', 'cust-1a'),
    body: { defaultTimezone: 'America/New_York' },
  });
  assert.is(own.body.effective.defaultTimezone, 'America/New_York', own.text);
  // Another reseller's customers inherit nothing from res-one.
  const other = await h.call('GET', '/api/tenant', { token: await h.token('tenant_admin', 'cust-2a') });
  assert.equal(
    [other.body.effective.defaultTimezone, other.body.effective.defaultCallerIdName, other.body.brand],
    ['UTC', null, null],
  );
  // Brand is for resellers only.
  const brand = await h.call('PATCH', '/api/tenant', {
    token: await h.token('tenant_admin', 'cust-2a'),
    body: { brandName: 'Mine' },
  });
  assert.is(brand.status, 400, brand.text);
});

test('PostgreSQL enforces the tree: a reseller context reads its subtree only, and cannot enter another account', async () => {
  const seen = await withReseller(h.pool, id['res-one']!, async ({ db }) =>
    (await db.query<{ slug: string }>('SELECT slug FROM tenants ORDER BY slug')).rows.map((r) => r.slug),
  );
  assert.equal(seen, ['cust-1a', 'cust-1b', 'res-one', 'sub-one']);
  const domains = await withReseller(
    h.pool,
    id['res-one']!,
    async ({ db }) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sip_domains')).rows[0]!.n,
  );
  assert.is(domains, 4);
  // A reseller tree context reads no tenant table but the tree's own.
  const ext = await withReseller(
    h.pool,
    id['res-one']!,
    async ({ db }) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM extensions')).rows[0]!.n,
  );
  assert.is(ext, 0);
  // Entered via res-one, cust-2a's rows do not exist and cannot be written, even though the tenant id is set.
  const via = { viaReseller: id['res-one']! };
  const n = await withTenant(
    h.pool,
    id['cust-2a']!,
    async (db) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sip_domains')).rows[0]!.n,
    via,
  );
  assert.is(n, 0);
  const write = await withTenant(
    h.pool,
    id['cust-2a']!,
    (db) =>
      db.query("INSERT INTO tenant_features (tenant_id, feature_key, enabled) VALUES ($1, 'x', true)", [id['cust-2a']]),
    via,
  ).catch((e: Error) => e);
  assert.instance(write, Error);
  assert.match((write as Error).message, /row-level security/);
  // And its own customer, entered the same way, is readable.
  const mine = await withTenant(
    h.pool,
    id['cust-1a']!,
    async (db) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sip_domains')).rows[0]!.n,
    via,
  );
  assert.is(mine, 1);
});

test.run();
