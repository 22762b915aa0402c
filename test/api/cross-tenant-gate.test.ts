// The pre-deploy gate. Driven by the route table the API registers: for every
// route and method, tenant B (globex) — as tenant admin, as agent, and with a
// forged X-Tenant-Id — aims at tenant A's (acme) resource ids. Path reads and
// writes answer 404 (or 403 for the role), writes naming A's ids in the body
// answer 404, no response carries any of A's ids or identifying values, and
// A's rows — every tenant table, audit log included — are unchanged.
// A route added without a gate entry fails here.
import type { RouteOptions } from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TenantId } from '../../xml-handlers/model.js';
import { startApi, tenantTablesWithId, type ApiHarness } from './api-harness.js';
import { SAMPLES } from './samples.js';

let h: ApiHarness;
let A: TenantId;
/** One of A's ids per table (features: a key only A has). */
const aIds: Record<string, string> = {};
/** Every id and identifying value of A, none of which may appear in a response to B. */
let aFingerprints: string[] = [];

/** Every row of every tenant table as A sees it: the "nothing changed in A" check. */
async function snapshotA(): Promise<string> {
  return h.inTenant(A, async (db) => {
    const { rows: tables } = await db.query<{
      relname: string;
    }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relrowsecurity ORDER BY c.relname`);
    const out: Record<string, unknown[]> = {};
    for (const { relname } of tables)
      out[relname] = (await db.query(`SELECT to_jsonb(t) AS r FROM ${relname} t ORDER BY to_jsonb(t)::text`)).rows.map(
        (r) => r.r,
      );
    return JSON.stringify(out);
  });
}

const methods = (r: RouteOptions) =>
  (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD' && m !== 'OPTIONS');
const gated = () =>
  h.routes.filter(
    (r) =>
      (r.url.startsWith('/api/') || r.url.startsWith('/security/')) &&
      !(r.config as { public?: boolean } | undefined)?.public,
  );

test.before(async () => {
  h = await startApi();
  A = h.tenants.acme;
  // The reseller dimension: acme under reseller gate-ra, globex under gate-rb.
  const op = await h.token('superadmin');
  for (const [r, child] of [
    ['gate-ra', 'acme'],
    ['gate-rb', 'globex'],
  ]) {
    const made = await h.call('POST', '/api/tenants', {
      token: op,
      body: { slug: r, name: r, sipDomain: `${r}.pbx.test`, isReseller: true },
    });
    assert.is(made.status, 201, made.text);
    const moved = await h.call('PATCH', `/api/tenants/${child}`, { token: op, body: { parentSlug: r } });
    assert.is(moved.status, 200, moved.text);
  }
  await h.inTenant(A, (db) =>
    db.query("INSERT INTO tenant_features (tenant_id, feature_key, enabled) VALUES ($1, 'acme_only', true)", [A]),
  );
  await h.inTenant(A, async (db) => {
    // Every tenant table with an id, from the catalog: a new table is in the gate without an edit here.
    for (const t of await tenantTablesWithId(db)) {
      const row = (await db.query(`SELECT id FROM ${t} ORDER BY id LIMIT 1`)).rows[0];
      if (row) aIds[t] = row.id;
    }
    aIds.tenant_features = 'acme_only';
    const ids =
      await db.query(`SELECT id::text AS v FROM extensions UNION SELECT id::text FROM dids UNION SELECT id::text FROM sip_trunks
      UNION SELECT id::text FROM outbound_routes UNION SELECT id::text FROM queues UNION SELECT id::text FROM agents UNION SELECT id::text FROM tiers
      UNION SELECT id::text FROM call_records UNION SELECT call_uuid FROM call_records UNION SELECT id::text FROM tenants UNION SELECT e164 FROM dids
      UNION SELECT id::text FROM call_flow_nodes UNION SELECT id::text FROM menu_choices
      UNION SELECT domain FROM sip_domains UNION SELECT name FROM tenants UNION SELECT 'acme_only'`);
    aFingerprints = ids.rows.map((r) => r.v as string);
  });
  assert.ok(aFingerprints.length > 20);
});
test.after(() => h.close());

test('the route table is what the gate walks (and every route is gated)', () => {
  const urls = new Set(gated().map((r) => r.url));
  for (const must of [
    '/api/extensions/:id',
    '/api/calls/:id',
    '/api/features/:key',
    '/api/audit',
    '/security/isolation-proof',
    '/api/tenant',
    '/api/me/agent/status',
  ]) {
    assert.ok(urls.has(must), `route table lacks ${must}`);
  }
  for (const r of gated()) {
    for (const m of methods(r)) {
      if ((r.schema as { body?: unknown } | undefined)?.body)
        assert.ok(SAMPLES[`${m} ${r.url}`], `no gate sample body for ${m} ${r.url}: add one`);
      if (r.url.includes(':'))
        assert.ok(
          (r.config as { resource?: string }).resource,
          `${m} ${r.url} has a path id but declares no config.resource`,
        );
    }
  }
});

const WHO = {
  tenant_admin: { role: 'tenant_admin', slug: 'globex', header: undefined, refused: undefined },
  agent: { role: 'agent', slug: 'globex', header: undefined, refused: undefined },
  'tenant_admin+X-Tenant-Id': { role: 'tenant_admin', slug: 'globex', header: 'acme', refused: 403 },
  // B's reseller inside B: like B's tenant admin. Naming A (another reseller's customer): 404 on every route.
  'reseller_admin+X-Tenant-Id B': { role: 'reseller_admin', slug: 'gate-rb', header: 'globex', refused: undefined },
  'reseller_admin+X-Tenant-Id A': { role: 'reseller_admin', slug: 'gate-rb', header: 'acme', refused: 404 },
} as const;

for (const who of Object.keys(WHO) as Array<keyof typeof WHO>) {
  test(`tenant B (${who}) cannot read or change anything of tenant A, on every route and method`, async () => {
    const w = WHO[who];
    const token = await h.token(w.role, w.slug);
    const headers = w.header ? { 'x-tenant-id': w.header } : undefined;
    const before = await snapshotA();
    const auditBefore = await h.inTenant(
      A,
      async (db) => (await db.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n,
    );
    let checked = 0;
    for (const r of gated()) {
      const resource = (r.config as { resource?: string }).resource;
      const url = r.url.replace(/:[A-Za-z]+/g, () => aIds[resource!]!);
      for (const method of methods(r)) {
        const sample = SAMPLES[`${method} ${r.url}`]?.(aIds);
        const res = await h.call(method, url, { token, body: sample, ...(headers ? { headers } : {}) });
        const label = `${who} ${method} ${url} -> ${res.status} ${res.text.slice(0, 200)}`;
        const namesA =
          r.url.includes(':') ||
          (sample && Object.values(sample).some((v) => Object.values(aIds).includes(v as string)));
        if (w.refused) assert.is(res.status, w.refused, label);
        else if (namesA) assert.ok(res.status === 404 || res.status === 403, label);
        else assert.ok(res.status < 500, label);
        if (
          namesA &&
          !w.refused &&
          w.role !== 'agent' &&
          !(r.config as { roles?: string[] }).roles?.includes('superadmin') &&
          !(r.config as { roles?: string[] }).roles?.every((role) => role === 'agent')
        ) {
          // A tenant admin may use these routes (not the agent-only /api/me ones, a 403 for an admin), so refusal
          // must be "not found", never "forbidden".
          assert.is(res.status, 404, label);
        }
        // B's own audit log quotes the requests B sent (ids it typed itself as targets): not a disclosure.
        const shown = res.text.replace(/"target":"[^"]*"/g, '');
        for (const f of aFingerprints) assert.not.ok(shown.includes(f), `${label}: response contains A's ${f}`);
        checked++;
      }
    }
    assert.ok(checked >= 40, `only ${checked} route/method pairs checked`);
    assert.is(await snapshotA(), before, 'tenant A changed');
    assert.is(
      await h.inTenant(A, async (db) => (await db.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n),
      auditBefore,
    );
  });
}

test('GET /api/calls/<A call id> as B is 404; as A it is the call', async () => {
  const b = await h.call('GET', `/api/calls/${aIds.call_records}`, { token: await h.token('tenant_admin', 'globex') });
  assert.is(b.status, 404);
  const a = await h.call('GET', `/api/calls/${aIds.call_records}`, { token: await h.token('tenant_admin', 'acme') });
  assert.is(a.status, 200);
  assert.is(a.body.id, aIds.call_records);
});

test('the tenant comes from the token only: a tenantId in the body is dropped, the row lands in B', async () => {
  const res = await h.call('POST', '/api/queues', {
    token: await h.token('tenant_admin', 'globex'),
    body: { name: 'body-tenant', tenantId: A, tenant_id: A },
  });
  assert.is(res.status, 201, res.text);
  const inA = await h.inTenant(
    A,
    async (db) => (await db.query("SELECT count(*)::int AS n FROM queues WHERE name = 'body-tenant'")).rows[0].n,
  );
  const inB = await h.inTenant(
    h.tenants.globex,
    async (db) => (await db.query("SELECT count(*)::int AS n FROM queues WHERE name = 'body-tenant'")).rows[0].n,
  );
  assert.is(inA, 0);
  assert.is(inB, 1);
});

test.run();
