// Superadmin: no tenant data without X-Tenant-Id; with it, every request is
// audited as cross-tenant in that tenant's own log. Tenant creation, the
// ceilings rule, and the live isolation proof.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TenantId } from '../../xml-handlers/model.js';
import { startApi, tenantIdOf, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let op: string;
const auditRows = (t: TenantId) =>
  h.inTenant(
    t,
    async (db) =>
      (await db.query('SELECT actor, actor_role, action, target, cross_tenant, summary FROM audit_logs ORDER BY id'))
        .rows,
  );

test.before(async () => {
  h = await startApi();
  op = await h.token('superadmin', undefined, { sub: 'ops-alice' });
});
test.after(() => h.close());

test('without X-Tenant-Id a superadmin sees no tenant data and leaves no tenant audit rows', async () => {
  for (const url of [
    '/api/extensions',
    '/api/calls',
    '/api/audit',
    '/api/tenant',
    `/api/extensions/${crypto.randomUUID()}`,
  ]) {
    const res = await h.call('GET', url, { token: op });
    assert.is(res.status, 400, `${url}: ${res.text}`);
    assert.is(res.body.error, 'tenant_required');
  }
  assert.equal(await auditRows(h.tenants.acme), []);
  const list = await h.call('GET', '/api/tenants', { token: op });
  assert.equal(
    list.body.items.map((t: { slug: string }) => t.slug),
    ['acme', 'globex'],
  );
  assert.equal(Object.keys(list.body.items[0]).sort(), ['id', 'isReseller', 'parentSlug', 'slug', 'status']);
});

test('with X-Tenant-Id: reads that tenant only, and each request is audited cross-tenant in its log, visible to the tenant', async () => {
  const res = await h.call('GET', '/api/extensions', { token: op, headers: { 'x-tenant-id': 'acme' } });
  assert.is(res.status, 200);
  assert.is(res.body.items.length, 4);
  assert.ok(res.body.items.every((e: { realms: string[] }) => e.realms.join() === 'acme.pbx.test'));
  assert.is(
    (await h.call('GET', '/api/calls?direction=inbound', { token: op, headers: { 'x-tenant-id': 'acme' } })).status,
    200,
  );
  const rows = await auditRows(h.tenants.acme);
  assert.equal(
    rows.map((r) => [r.actor, r.actor_role, r.action, r.target, r.cross_tenant]),
    [
      ['ops-alice', 'superadmin', 'operator.read', 'GET /api/extensions', true],
      ['ops-alice', 'superadmin', 'operator.read', 'GET /api/calls?direction=inbound', true],
    ],
  );
  assert.equal(await auditRows(h.tenants.globex), []);
  const seen = await h.call('GET', '/api/audit?crossTenant=true', { token: await h.token('tenant_admin', 'acme') });
  assert.is(seen.body.items.length, 2);
  assert.is(seen.body.items[0].actor, 'ops-alice');
  assert.is(seen.body.items[0].crossTenant, true);
});

test('X-Tenant-Id must name an existing tenant by slug', async () => {
  assert.is((await h.call('GET', '/api/extensions', { token: op, headers: { 'x-tenant-id': 'initech' } })).status, 404);
  assert.is(
    (await h.call('GET', '/api/extensions', { token: op, headers: { 'x-tenant-id': 'Not A Slug' } })).status,
    400,
  );
});

test('ceilings: a tenant admin may lower them, not raise them or make them unlimited; the operator may, audited cross-tenant', async () => {
  const admin = await h.token('tenant_admin', 'acme');
  const raise = await h.call('PATCH', '/api/tenant', { token: admin, body: { maxTotal: 3 } });
  assert.is(raise.status, 403);
  assert.match(raise.body.message, /maxTotal/);
  assert.is((await h.call('PATCH', '/api/tenant', { token: admin, body: { maxTotal: null } })).status, 403);
  assert.is((await h.call('PATCH', '/api/tenant', { token: admin, body: { status: 'suspended' } })).status, 403);
  const lower = await h.call('PATCH', '/api/tenant', {
    token: admin,
    body: { maxTotal: 1, maxInbound: 1, defaultTimezone: 'Europe/Paris' },
  });
  assert.is(lower.status, 200, lower.text);
  assert.equal([lower.body.maxTotal, lower.body.maxInbound, lower.body.defaultTimezone], [1, 1, 'Europe/Paris']);
  const opRaise = await h.call('PATCH', '/api/tenant', {
    token: op,
    headers: { 'x-tenant-id': 'acme' },
    body: { maxTotal: 50, maxInbound: null },
  });
  assert.is(opRaise.status, 200, opRaise.text);
  const db = await h.inTenant(
    h.tenants.acme,
    async (c) => (await c.query('SELECT max_total, max_inbound FROM tenants')).rows[0],
  );
  assert.equal(db, { max_total: 50, max_inbound: null });
  const last = (await auditRows(h.tenants.acme)).at(-1);
  assert.equal(
    [last.actor, last.action, last.cross_tenant, last.summary],
    [
      'ops-alice',
      'tenant.update',
      true,
      { before: { maxTotal: 1, maxInbound: 1 }, after: { maxTotal: 50, maxInbound: null } },
    ],
  );
});

test('a superadmin creates a tenant with its SIP domain; its own tokens then work; duplicates are 409 naming the field', async () => {
  const res = await h.call('POST', '/api/tenants', {
    token: op,
    body: { slug: 'initech', name: 'Initech', sipDomain: 'initech.pbx.test', maxTotal: 5 },
  });
  assert.is(res.status, 201, res.text);
  const id = await tenantIdOf(h.pool, 'initech');
  assert.is(res.body.id, id);
  const mine = await h.call('GET', '/api/tenant', { token: await h.token('tenant_admin', 'initech') });
  assert.is(mine.status, 200, mine.text);
  assert.equal(
    [mine.body.slug, mine.body.maxTotal, mine.body.sipDomains],
    ['initech', 5, [{ domain: 'initech.pbx.test', primary: true }]],
  );
  const created = (await auditRows(id))[0];
  assert.equal([created.actor, created.action, created.cross_tenant], ['ops-alice', 'tenant.create', true]);
  const dupSlug = await h.call('POST', '/api/tenants', {
    token: op,
    body: { slug: 'initech', name: 'X', sipDomain: 'other.pbx.test' },
  });
  assert.is(dupSlug.status, 409);
  assert.match(dupSlug.body.message, /^slug:/);
  const dupDomain = await h.call('POST', '/api/tenants', {
    token: op,
    body: { slug: 'other', name: 'X', sipDomain: 'acme.pbx.test' },
  });
  assert.is(dupDomain.status, 409);
  assert.match(dupDomain.body.message, /^sipDomain:/);
  assert.is(await tenantIdOf(h.pool, 'other').catch(() => undefined), undefined, 'failed create left a tenant behind');
});

test('isolation proof: forced RLS and policies on every tenant table, a safe serving role, counts only', async () => {
  const res = await h.call('GET', '/security/isolation-proof', { token: op });
  assert.is(res.status, 200, res.text);
  const p = res.body;
  assert.is(p.verdict, 'isolated', JSON.stringify(p.problems));
  assert.equal([p.servingRole.superuser, p.servingRole.bypassRls, p.servingRole.ownsTables], [false, false, []]);
  const tenantTables = p.tables
    .filter((t: { holdsTenantData: boolean }) => t.holdsTenantData)
    .map((t: { table: string }) => t.table);
  for (const t of [
    'tenants',
    'sip_domains',
    'extensions',
    'dids',
    'sip_trunks',
    'outbound_routes',
    'queues',
    'agents',
    'tiers',
    'tenant_features',
    'audit_logs',
    'call_records',
  ]) {
    assert.ok(tenantTables.includes(t), t);
  }
  for (const t of p.tables.filter((x: { holdsTenantData: boolean }) => x.holdsTenantData)) {
    assert.ok(t.rlsEnabled && t.rlsForced, t.table);
    assert.ok(
      t.policies.some(
        (pol: { bindsServingRole: boolean; using: string }) =>
          pol.bindsServingRole && (pol.using ?? '').includes('app_current_tenant()'),
      ),
      t.table,
    );
    assert.is(t.rowsVisibleWithoutTenant, 0, t.table);
    assert.is(t.foreignRowsVisibleInTenantContext, 0, t.table);
  }
  const ext = p.tables.find((t: { table: string }) => t.table === 'extensions');
  assert.is(ext.rows, 8);
  for (const secret of ['acme.pbx.test', '+15550001000', 'Acme 1001']) assert.not.ok(res.text.includes(secret), secret);
  const audit = p.tables.find((t: { table: string }) => t.table === 'audit_logs');
  assert.equal(audit.servingRolePrivileges, ['SELECT', 'INSERT']);
});

test('isolation proof reports a tenant table without RLS as at_risk', async () => {
  const owner = h.database.ownerPool(1);
  await owner.query('CREATE TABLE leaky (id int, tenant_id uuid)');
  await owner.query('GRANT SELECT ON leaky TO fs_tenantd_app');
  try {
    const res = await h.call('GET', '/security/isolation-proof', { token: op });
    assert.is(res.body.verdict, 'at_risk');
    assert.ok(res.body.problems.includes('leaky: RLS is not enabled'), JSON.stringify(res.body.problems));
    assert.ok(res.body.problems.includes('leaky: no policy binds the serving role'));
  } finally {
    await owner.query('DROP TABLE leaky');
  }
});

test.run();
