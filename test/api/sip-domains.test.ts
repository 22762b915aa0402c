// A tenant's SIP domains through the API (issue 17): list, add, make primary,
// remove; 409s naming the field (a domain of another tenant without naming it,
// the primary, the last one); audit rows; another tenant's domain is a 404; an
// extension's credentials follow its password into every domain.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { startApi, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let acme: string;
let globex: string;
const q = async (tenant: 'acme' | 'globex', sql: string, params: unknown[] = []) =>
  h.inTenant(h.tenants[tenant], async (db) => (await db.query(sql, params)).rows);
const audits = (action: string) =>
  q('acme', 'SELECT target, summary, cross_tenant FROM audit_logs WHERE action = $1 ORDER BY id', [action]);

test.before(async () => {
  h = await startApi();
  acme = await h.token('tenant_admin', 'acme');
  globex = await h.token('tenant_admin', 'globex');
});
test.after(() => h.close());

test('list, add, make primary, remove: each audited, credentials follow the password', async () => {
  const list = await h.call('GET', '/api/sip-domains', { token: acme });
  assert.is(list.status, 200, list.text);
  assert.equal(
    list.body.items.map((d: { domain: string; primary: boolean }) => [d.domain, d.primary]),
    [['acme.pbx.test', true]],
  );
  assert.equal(list.body.items[0].extensionsWithoutCredential, []);

  const add = await h.call('POST', '/api/sip-domains', { token: acme, body: { domain: 'voice.acme.test' } });
  assert.is(add.status, 201, add.text);
  assert.is(add.body.domain, 'voice.acme.test');
  assert.is(add.body.primary, false);
  // Existing extensions cannot authenticate there until their password is set again.
  assert.equal(add.body.extensionsWithoutCredential, ['1000', '1001', '1002', '1003']);
  const [created] = await audits('sip_domain.create');
  assert.is(created.target, `sip-domains/${add.body.id}`);
  assert.equal(created.summary, { after: { domain: 'voice.acme.test', primary: false } });

  const ext = (await q('acme', "SELECT id FROM extensions WHERE number = '1001'"))[0].id as string;
  let rep = await h.call('GET', `/api/extensions/${ext}`, { token: acme });
  assert.equal(rep.body.realms, ['acme.pbx.test']);
  rep = await h.call('PATCH', `/api/extensions/${ext}`, { token: acme, body: { password: 'Two-domains-1' } });
  assert.is(rep.status, 200, rep.text);
  assert.equal(rep.body.realms, ['acme.pbx.test', 'voice.acme.test']);
  const creds = await q('acme', 'SELECT realm, a1_hash FROM extension_credentials WHERE extension_id = $1 ORDER BY 1', [
    ext,
  ]);
  assert.equal(creds, [
    { realm: 'acme.pbx.test', a1_hash: a1Hash('1001', 'acme.pbx.test', 'Two-domains-1') },
    { realm: 'voice.acme.test', a1_hash: a1Hash('1001', 'voice.acme.test', 'Two-domains-1') },
  ]);
  const one = await h.call('GET', `/api/sip-domains/${add.body.id}`, { token: acme });
  assert.equal(one.body.extensionsWithoutCredential, ['1000', '1002', '1003']);

  const primary = await h.call('PUT', `/api/sip-domains/${add.body.id}/primary`, { token: acme });
  assert.is(primary.status, 200, primary.text);
  assert.is(primary.body.primary, true);
  assert.equal(await q('acme', 'SELECT domain FROM sip_domains WHERE is_primary'), [{ domain: 'voice.acme.test' }]);
  const [moved] = await audits('sip_domain.set_primary');
  assert.equal(moved.summary, { before: { primary: 'acme.pbx.test' }, after: { primary: 'voice.acme.test' } });

  // The primary cannot go; another domain can, and takes its credentials with it.
  const old = list.body.items[0].id as string;
  const refused = await h.call('DELETE', `/api/sip-domains/${add.body.id}`, { token: acme });
  assert.is(refused.status, 409, refused.text);
  assert.match(refused.body.message, /^primary:/);
  assert.is((await h.call('PUT', `/api/sip-domains/${old}/primary`, { token: acme })).status, 200);
  const del = await h.call('DELETE', `/api/sip-domains/${add.body.id}`, { token: acme });
  assert.is(del.status, 204, del.text);
  assert.equal(await q('acme', "SELECT 1 FROM extension_credentials WHERE realm = 'voice.acme.test'"), []);
  const [removed] = await audits('sip_domain.delete');
  assert.equal(removed.summary, { before: { domain: 'voice.acme.test', primary: false } });
  rep = await h.call('GET', `/api/extensions/${ext}`, { token: acme });
  assert.equal(rep.body.realms, ['acme.pbx.test']);

  // The last domain cannot go either (it is also the primary: the field named is `domain`).
  const last = await h.call('DELETE', `/api/sip-domains/${old}`, { token: acme });
  assert.is(last.status, 409);
  assert.match(last.body.message, /^domain:/);
});

test("another tenant's domain: the same 409 as one's own, naming `domain`, not the owner; nothing written", async () => {
  const before = await q('acme', 'SELECT count(*)::int AS n FROM audit_logs');
  for (const domain of ['globex.pbx.test', 'acme.pbx.test']) {
    const res = await h.call('POST', '/api/sip-domains', { token: acme, body: { domain, primary: true } });
    assert.is(res.status, 409, res.text);
    // Word for word the same answer for both: nothing tells whose domain it is.
    assert.equal(res.body, { statusCode: 409, error: 'conflict', message: 'domain: is already in use' });
  }
  // The primary flag was not moved half-way.
  assert.equal(await q('acme', 'SELECT domain FROM sip_domains WHERE is_primary'), [{ domain: 'acme.pbx.test' }]);
  assert.equal(await q('acme', 'SELECT count(*)::int AS n FROM audit_logs'), before);
  const bad = await h.call('POST', '/api/sip-domains', { token: acme, body: { domain: '0digit.test' } });
  assert.is(bad.status, 400);
});

test("another tenant's domain is invisible: 404 on read, make primary and remove", async () => {
  const [{ id }] = await q('acme', 'SELECT id FROM sip_domains');
  for (const [method, url] of [
    ['GET', `/api/sip-domains/${id}`],
    ['PUT', `/api/sip-domains/${id}/primary`],
    ['DELETE', `/api/sip-domains/${id}`],
  ] as const) {
    const res = await h.call(method, url, { token: globex });
    assert.is(res.status, 404, `${method} ${url}: ${res.text}`);
  }
  const list = await h.call('GET', '/api/sip-domains', { token: globex });
  assert.equal(
    list.body.items.map((d: { domain: string }) => d.domain),
    ['globex.pbx.test'],
  );
  assert.equal(await q('acme', 'SELECT domain, is_primary FROM sip_domains'), [
    { domain: 'acme.pbx.test', is_primary: true },
  ]);
});

test('racing "make primary" and "remove" on one domain: one wins, the tenant always keeps exactly one primary', async () => {
  const primaryId = (await q('acme', 'SELECT id FROM sip_domains WHERE is_primary'))[0].id as string;
  for (let i = 0; i < 8; i++) {
    const add = await h.call('POST', '/api/sip-domains', { token: acme, body: { domain: `race${i}.acme.test` } });
    assert.is(add.status, 201, add.text);
    const [made, removed] = await Promise.all([
      h.call('PUT', `/api/sip-domains/${add.body.id}/primary`, { token: acme }),
      h.call('DELETE', `/api/sip-domains/${add.body.id}`, { token: acme }),
    ]);
    // Either it became primary first (then it may not go: 409), or it went first (then: 404).
    assert.ok(
      (made.status === 200 && removed.status === 409) || (removed.status === 204 && made.status === 404),
      `${made.status} ${removed.status}`,
    );
    assert.is((await q('acme', 'SELECT count(*)::int AS n FROM sip_domains WHERE is_primary'))[0].n, 1);
    if (made.status === 200) {
      assert.is((await h.call('PUT', `/api/sip-domains/${primaryId}/primary`, { token: acme })).status, 200);
      assert.is((await h.call('DELETE', `/api/sip-domains/${add.body.id}`, { token: acme })).status, 204);
    }
  }
});

test('the OpenAPI document describes every domain route', async () => {
  const doc = (await h.call('GET', '/api/openapi.json')).body;
  for (const [path, method] of [
    ['/api/sip-domains', 'get'],
    ['/api/sip-domains', 'post'],
    ['/api/sip-domains/{id}', 'get'],
    ['/api/sip-domains/{id}', 'delete'],
    ['/api/sip-domains/{id}/primary', 'put'],
  ] as const)
    assert.ok(doc.paths[path]?.[method]?.responses, `${method} ${path}`);
  assert.ok(doc.paths['/api/sip-domains'].post.requestBody, 'the POST body schema');
});

test('an agent cannot manage domains', async () => {
  const agent = await h.token('agent', 'acme');
  const res = await h.call('POST', '/api/sip-domains', { token: agent, body: { domain: 'agent.acme.test' } });
  assert.is(res.status, 403, res.text);
});

test.run();
