// Validation errors for every field that has a rule, generated from the route
// schemas themselves: for each body, query and path property with a
// constraint, one value breaking each constraint gets a 400 whose message names
// the field, and nothing is written. A new field with a rule is covered
// without touching this file.
import type { RouteOptions } from 'fastify';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, tenantTablesWithId, type ApiHarness } from './api-harness.js';
import { SAMPLES } from './samples.js';

type Schema = Record<string, any>;
let h: ApiHarness;
let op: string;
const ids: Record<string, string> = {};

test.before(async () => {
  h = await startApi();
  op = await h.token('superadmin');
  await h.inTenant(h.tenants.acme, async (db) => {
    for (const t of await tenantTablesWithId(db)) {
      const row = (await db.query(`SELECT id FROM ${t} ORDER BY id LIMIT 1`)).rows[0];
      if (row) ids[t] = row.id;
    }
  });
  ids.tenant_features = 'call_recording';
});
test.after(() => h.close());

const PATTERN_BREAKERS = ['', '!', ' x', 'A', '-', '$x', 'x'.repeat(300), '0', '+0', '/etc/passwd', '{x}'];

/** One invalid value per constraint of a property schema. */
function breakers(s: Schema): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const types = ([] as string[]).concat(s.type ?? []);
  if (s.enum) out.push(['enum', '__not_in_enum__']);
  if (types.includes('integer')) {
    out.push(['type', 'abc']);
    if (s.minimum !== undefined) out.push(['minimum', s.minimum - 1]);
    if (s.maximum !== undefined) out.push(['maximum', s.maximum + 1]);
  }
  if (types.includes('boolean')) out.push(['type', 'maybe']);
  if (types.includes('string') && !s.enum) {
    if (s.pattern) {
      const re = new RegExp(s.pattern, 'u');
      const v = PATTERN_BREAKERS.find((c) => !re.test(c) && (s.maxLength === undefined || c.length <= s.maxLength));
      assert.ok(v !== undefined, `no breaker for pattern ${s.pattern}`);
      out.push(['pattern', v]);
    }
    if (s.maxLength !== undefined) out.push(['maxLength', 'x'.repeat(s.maxLength + 1)]);
    if (s.minLength) out.push(['minLength', '']);
    if (s.format === 'uuid') out.push(['format', 'not-a-uuid']);
    if (s.format === 'date-time') out.push(['format', 'yesterday']);
    if (!types.includes('array')) out.push(['type', { an: 'object' }]);
  }
  if (types.includes('array')) {
    if (s.maxItems !== undefined) out.push(['maxItems', Array.from({ length: s.maxItems + 1 }, () => '192.0.2.1')]);
    if (s.items?.maxLength !== undefined) out.push(['items.maxLength', ['1'.repeat(s.items.maxLength + 1)]]);
  }
  if (types.includes('object')) {
    out.push(['type', 'a string']);
    if (s.maxProperties !== undefined)
      out.push([
        'maxProperties',
        Object.fromEntries(Array.from({ length: s.maxProperties + 1 }, (_, i) => [`x_${i}`, '1'])),
      ]);
    if (s.propertyNames) out.push(['propertyNames', { 'not a name': '1' }]);
    if (s.additionalProperties?.pattern) out.push(['value pattern', { x_v: '${x}' }]);
  }
  return out;
}

const urlFor = (r: RouteOptions) =>
  r.url.replace(/:[A-Za-z]+/g, () => ids[(r.config as { resource: string }).resource]!);
const methods = (r: RouteOptions) => (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD');
const api = () => h.routes.filter((r) => r.url.startsWith('/api/') || r.url.startsWith('/security/'));
const tenantHeaders = { 'x-tenant-id': 'acme' };

test('every body field with a rule: each broken rule is a 400 naming the field, and nothing changes', async () => {
  const before = await h.inTenant(
    h.tenants.acme,
    async (db) => (await db.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n,
  );
  let cases = 0;
  for (const r of api()) {
    const body = (r.schema as Schema | undefined)?.body as Schema | undefined;
    if (!body) continue;
    const self = r.url.startsWith('/api/me/');
    const token = self ? await h.token('agent', 'acme') : op;
    const headers = self ? {} : tenantHeaders;
    for (const method of methods(r)) {
      const sample = SAMPLES[`${method} ${r.url}`]!(ids);
      for (const [field, fs] of Object.entries(body.properties as Record<string, Schema>)) {
        for (const [rule, value] of breakers(fs)) {
          const res = await h.call(method, urlFor(r), { token, headers, body: { ...sample, [field]: value } });
          const label = `${method} ${r.url} ${field} (${rule}=${JSON.stringify(value).slice(0, 40)}) -> ${res.status} ${res.text.slice(0, 160)}`;
          assert.is(res.status, 400, label);
          assert.ok(res.body.message.includes(field), label);
          cases++;
        }
      }
      // Unknown fields never reach the database; a missing required one is named.
      for (const req of (body.required ?? []) as string[]) {
        const { [req]: _, ...rest } = sample;
        const res = await h.call(method, urlFor(r), { token, headers, body: rest });
        assert.is(res.status, 400, `${method} ${r.url} without ${req}: ${res.text}`);
        assert.ok(res.body.message.includes(req), res.text);
        cases++;
      }
    }
  }
  assert.ok(cases > 150, `only ${cases} cases`);
  const after = await h.inTenant(
    h.tenants.acme,
    async (db) => (await db.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n,
  );
  assert.is(after, before, 'a refused request wrote to the audit log');
});

test('every query and path parameter with a rule: 400 naming it', async () => {
  let cases = 0;
  const agent = await h.token('agent', 'acme');
  for (const r of api()) {
    const schema = r.schema as Schema | undefined;
    // The agent's own routes (/api/me/…) are the agent's only: anyone else is refused (403) before validation.
    const self = r.url.startsWith('/api/me/');
    const [token, headers] = self ? [agent, {}] : [op, tenantHeaders];
    for (const method of methods(r)) {
      for (const [field, fs] of Object.entries((schema?.querystring?.properties ?? {}) as Record<string, Schema>)) {
        for (const [rule, value] of breakers(fs).filter(([, v]) => typeof v !== 'object')) {
          if (rule === 'type' && typeof value === 'string' && fs.type === 'string') continue;
          const res = await h.call(method, `${urlFor(r)}?${field}=${encodeURIComponent(String(value))}`, {
            token,
            headers,
          });
          const label = `${method} ${r.url}?${field} (${rule}) -> ${res.status} ${res.text.slice(0, 160)}`;
          assert.is(res.status, 400, label);
          assert.ok(res.body.message.includes(field), label);
          cases++;
        }
      }
      for (const [field, fs] of Object.entries((schema?.params?.properties ?? {}) as Record<string, Schema>)) {
        for (const [rule, value] of breakers(fs).filter(
          ([, v]) => typeof v === 'string' && v !== '' && !String(v).includes('/'),
        )) {
          const url = r.url.replace(`:${field}`, encodeURIComponent(String(value)));
          const sample = SAMPLES[`${method} ${r.url}`]?.(ids);
          const res = await h.call(method, url, { token, headers, body: sample });
          const label = `${method} ${url} (${rule}) -> ${res.status} ${res.text.slice(0, 160)}`;
          assert.is(res.status, 400, label);
          assert.ok(res.body.message.includes(field), label);
          cases++;
        }
      }
    }
  }
  assert.ok(cases > 20, `only ${cases} cases`);
});

test('rules beyond the schema: time zone, CIDR host bits, regex, ceilings are checked with the field named', async () => {
  const admin = await h.token('tenant_admin', 'acme');
  const tz = await h.call('PATCH', '/api/tenant', { token: admin, body: { defaultTimezone: 'Mars/Olympus' } });
  assert.is(tz.status, 400);
  assert.match(tz.body.message, /^defaultTimezone:/);
  const tzCreate = await h.call('POST', '/api/tenants', {
    token: op,
    body: { slug: 'tz', name: 'Tz', sipDomain: 'tz.pbx.test', defaultTimezone: 'Nowhere' },
  });
  assert.is(tzCreate.status, 400);
  const cidr = await h.call('PATCH', `/api/trunks/${ids.sip_trunks}`, {
    token: admin,
    body: { allowedCidrs: ['10.0.0.0/33'] },
  });
  assert.is(cidr.status, 400);
  assert.match(cidr.body.message, /^allowedCidrs\/0:/);
  const re = await h.call('PATCH', `/api/outbound-routes/${ids.outbound_routes}`, {
    token: admin,
    body: { pattern: '(' },
  });
  assert.is(re.status, 400);
  assert.match(re.body.message, /^pattern:/);
  const empty = await h.call('PATCH', `/api/queues/${ids.queues}`, { token: admin, body: {} });
  assert.is(empty.status, 400);
});

test('a SIP domain must be lower case and start with a letter: 400 naming sipDomain, never rewritten', async () => {
  // A digit first would let "id" + extension + domain, FreeSWITCH's user cache key, mean two users (fs-names.ts).
  for (const sipDomain of ['0acme.pbx.test', '1.2.3.4', 'ACME.pbx.test']) {
    const body = { slug: 'digit-first', name: 'D', sipDomain };
    const res = await h.call('POST', '/api/tenants', { token: op, body });
    assert.is(res.status, 400, `${sipDomain}: ${res.text}`);
    assert.match(res.body.message, /sipDomain/);
  }
  const list = await h.call('GET', '/api/tenants', { token: op });
  assert.not.ok(list.body.items.some((t: { slug: string }) => t.slug === 'digit-first'));
});

test.run();
