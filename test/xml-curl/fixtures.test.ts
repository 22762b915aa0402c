// Every request FreeSWITCH really sent (test/fixtures/freeswitch/xml-curl/),
// replayed byte for byte against the endpoint over the demo tenants; every
// answer parsed back as strict XML and checked for structure.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { a1Hash, demoPassword, seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  actions,
  find,
  findAll,
  fixtureNames,
  isNotFound,
  loadFixture,
  post,
  replay,
  sectionOf,
  withFields,
  type El,
} from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: real FreeSWITCH fixtures');
let db: TestDatabase;
let pool: pg.Pool;
let ep: Endpoint;
let ids: { acme: string; globex: string };

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(4);
  await seedDemo(pool);
  ids = await tenantIds(pool);
  ep = await startEndpoint(pool);
});
test.after(async () => {
  await ep.close();
  await db.drop();
});

const NOT_SERVED = ['001', '002', '007', '009', '010', '011', '012', '014', '015', '018', '019', '021', '023', '024'];
const byNumber = (n: string) => fixtureNames().find((f) => f.startsWith(`${n}-`))!;

const variables = (user: El) => Object.fromEntries(findAll(user, 'variable').map((v) => [v.attrs.name, v.attrs.value]));

function assertUser(xml: string, slug: 'acme' | 'globex', ext: string, withHash = true) {
  const s = sectionOf(xml);
  assert.is(s.attrs.name, 'directory');
  const domainName = `${slug}.pbx.test`;
  const domains = findAll(s, 'domain');
  assert.is(domains.length, 1);
  assert.is(domains[0]!.attrs.name, domainName);
  const users = findAll(s, 'user');
  assert.is(users.length, 1, 'exactly one user');
  const user = users[0]!;
  assert.is(user.attrs.id, ext);
  assert.is(user.attrs.cacheable, '60000');
  const hash = find(user, 'param', { name: 'a1-hash' })?.attrs.value;
  if (withHash) assert.is(hash, a1Hash(ext, domainName, demoPassword(slug, ext)));
  assert.not.ok(find(user, 'param', { name: 'password' }), 'never a plaintext password');
  const vars = variables(user);
  assert.is(vars.user_context, domainName);
  assert.is(vars.fs_tenant_id, ids[slug]);
  assert.is(vars.fs_tenant_slug, slug);
  assert.is(vars.effective_caller_id_number, ext);
  const dial = find(domains[0]!, 'param', { name: 'dial-string' })?.attrs.value ?? '';
  assert.ok(dial.includes(`fs_tenant_id=${ids[slug]}`), dial);
  // The tenant's contacts in each of its domains (here one), never another tenant's.
  assert.ok(dial.endsWith(`}\${sofia_contact(*/\${dialed_user}@${domainName})}`), dial);
}

test('every fixture without credentials gets 401 and nothing else', async () => {
  for (const name of fixtureNames()) {
    const r = await replay({ ...ep.target }, loadFixture(name), { anonymous: true });
    assert.is(r.status, 401, name);
    assert.is(r.body, '', name);
    assert.is(r.headers['www-authenticate'], 'Basic realm="fs-tenantd"');
  }
});

const streamId = (tenant: string, name: string): Promise<string> =>
  withTenant(
    pool,
    tenant as TenantId,
    async (c) => (await c.query<{ id: string }>('SELECT id FROM moh_streams WHERE name = $1', [name])).rows[0]!.id,
  );

test('configuration files we do not serve: not found', async () => {
  for (const n of NOT_SERVED) {
    const r = await replay(ep.target, loadFixture(byNumber(n)));
    assert.is(r.status, 200, n);
    assert.match(r.headers['content-type'] ?? '', /^text\/xml/);
    assert.ok(isNotFound(r.body), n);
  }
});

test('013 local_stream.conf: the stock streams and one directory per tenant stream, named and placed by ids', async () => {
  const s = sectionOf((await replay(ep.target, loadFixture(byNumber('013')))).body);
  assert.is(s.attrs.name, 'configuration');
  const dirs = findAll(s, 'directory').map((d) => [d.attrs.name, d.attrs.path]);
  const [acme, globex] = [await streamId(ids.acme, 'lobby'), await streamId(ids.globex, 'lobby')];
  assert.equal(
    dirs.sort(),
    [
      ['default', '$${sounds_dir}/music/8000'],
      [`moh_${ids.acme}_${acme}`, `/srv/fs-tenantd/moh/${ids.acme}/${acme}`],
      [`moh_${ids.globex}_${globex}`, `/srv/fs-tenantd/moh/${ids.globex}/${globex}`],
      ['moh/8000', '$${sounds_dir}/music/8000'],
    ].sort(),
  );
  const first = find(s, 'directory')!;
  assert.is(find(first, 'param', { name: 'rate' })?.attrs.value, '8000');
});

test('003-005 sofia.conf: global form has both profiles, per-profile form only the one asked for', async () => {
  const global = sectionOf((await replay(ep.target, loadFixture(byNumber('003')))).body);
  const profiles = findAll(global, 'profile').map((p) => p.attrs.name);
  assert.equal(profiles, ['internal', 'external']);
  const internal = find(global, 'profile', { name: 'internal' })!;
  assert.is(find(internal, 'param', { name: 'auth-calls' })?.attrs.value, 'true');
  assert.is(find(internal, 'param', { name: 'sip-port' })?.attrs.value, '5060');
  assert.is(find(internal, 'domain', { name: 'all' })?.attrs.parse, 'true');
  const external = find(global, 'profile', { name: 'external' })!;
  assert.is(find(external, 'param', { name: 'apply-inbound-acl' })?.attrs.value, 'trunks');
  assert.is(find(external, 'param', { name: 'auth-calls' })?.attrs.value, 'false');

  const only = (n: string) => findAll(sectionOf(n), 'profile').map((p) => p.attrs.name);
  assert.equal(only((await replay(ep.target, loadFixture(byNumber('004')))).body), ['internal']);
  const ext = sectionOf((await replay(ep.target, loadFixture(byNumber('005')))).body);
  assert.equal(
    findAll(ext, 'profile').map((p) => p.attrs.name),
    ['external'],
  );
  const gws = findAll(ext, 'gateway');
  assert.equal(
    gws.map((g) => g.attrs.name),
    ['acme_carrier', 'globex_carrier'],
  );
  assert.is(find(gws[0]!, 'param', { name: 'proxy' })?.attrs.value, '127.0.0.2:5090');
  assert.is(find(gws[1]!, 'param', { name: 'proxy' })?.attrs.value, '127.0.0.3:5090');
  assert.is(find(gws[0]!, 'param', { name: 'register' })?.attrs.value, 'false');
});

test('006 directory purpose=gateways: the tenant domains, no users, no secrets', async () => {
  const s = sectionOf((await replay(ep.target, loadFixture(byNumber('006')))).body);
  assert.equal(
    findAll(s, 'domain').map((d) => d.attrs.name),
    ['acme.pbx.test', 'globex.pbx.test'],
  );
  assert.is(findAll(s, 'user').length, 0);
  assert.is(findAll(s, 'param').length, 0);
});

test('008 callcenter.conf without CC-Queue: settings and empty queues/agents/tiers', async () => {
  const s = sectionOf((await replay(ep.target, loadFixture(byNumber('008')))).body);
  const cfg = find(s, 'configuration', { name: 'callcenter.conf' })!;
  assert.is(find(cfg, 'param', { name: 'truncate-agents-on-load' })?.attrs.value, 'true');
  assert.is(find(cfg, 'param', { name: 'truncate-tiers-on-load' })?.attrs.value, 'true');
  for (const tag of ['queues', 'agents', 'tiers']) assert.is(find(cfg, tag)?.children.length, 0, tag);
});

test('016/020 acl.conf: default-deny `trunks` union and one list per tenant', async () => {
  for (const n of ['016', '020']) {
    const s = sectionOf((await replay(ep.target, loadFixture(byNumber(n)))).body);
    const lists = Object.fromEntries(
      findAll(s, 'list').map((l) => [
        l.attrs.name,
        { def: l.attrs.default, nodes: findAll(l, 'node').map((x) => `${x.attrs.type} ${x.attrs.cidr}`) },
      ]),
    );
    assert.equal(
      lists,
      {
        trunks: { def: 'deny', nodes: ['allow 127.0.0.2/32', 'allow 127.0.0.3/32'] },
        acme_trunks: { def: 'deny', nodes: ['allow 127.0.0.2/32'] },
        globex_trunks: { def: 'deny', nodes: ['allow 127.0.0.3/32'] },
      },
      n,
    );
  }
});

test('017/022 directory network-list for acme: the domain, no users with cidr', async () => {
  for (const n of ['017', '022']) {
    const s = sectionOf((await replay(ep.target, loadFixture(byNumber(n)))).body);
    assert.equal(
      findAll(s, 'domain').map((d) => d.attrs.name),
      ['acme.pbx.test'],
      n,
    );
    assert.is(findAll(s, 'user').length, 0);
  }
});

test("025-036 directory sip_auth and user_call: the right tenant's user with its a1-hash", async () => {
  const cases: Array<[string, 'acme' | 'globex', string]> = [
    ['025', 'acme', '1001'],
    ['026', 'globex', '1000'],
    ['027', 'acme', '1000'],
    ['029', 'acme', '1001'],
    ['030', 'acme', '1000'],
    ['032', 'acme', '1001'],
    ['033', 'globex', '1000'],
    ['036', 'acme', '1000'],
    ['038', 'acme', '1001'],
  ];
  for (const [n, slug, ext] of cases) {
    const r = await replay(ep.target, loadFixture(byNumber(n)));
    assert.is(r.status, 200, n);
    assertUser(r.body, slug, ext);
  }
});

test("028/031 dialplan acme 1000 -> 1001: refused without the directory's fs_tenant_id, bridged with it", async () => {
  for (const n of ['028', '031']) {
    const f = loadFixture(byNumber(n));
    // As captured: the responder then set tenant_id=acme, not our fs_tenant_id.
    const raw = actions((await replay(ep.target, f)).body);
    assert.equal(
      raw,
      [
        ['respond', '403 Forbidden'],
        ['hangup', 'CALL_REJECTED'],
      ],
      n,
    );
    const ok = await post(ep.target, f, withFields(f, { variable_fs_tenant_id: ids.acme }));
    const s = sectionOf(ok.body);
    assert.is(find(s, 'context')?.attrs.name, 'acme.pbx.test');
    assert.equal(
      actions(ok.body),
      [
        ['export', `fs_tenant_id=${ids.acme}`],
        ['export', 'fs_tenant_slug=acme'],
        ['export', 'fs_call_direction=internal'],
        ['export', `hold_music=local_stream://moh_${ids.acme}_${await streamId(ids.acme, 'lobby')}`],
        ['set', 'hangup_after_bridge=true'],
        ['set', 'call_timeout=30'],
        ['bridge', `{fs_tenant_id=${ids.acme},fs_tenant_slug=acme,fs_call_direction=internal}user/1001@acme.pbx.test`],
      ],
      n,
    );
  }
});

test('034 dialplan globex 1000 -> 2000: no such number, explicit 404', async () => {
  const f = loadFixture(byNumber('034'));
  const r = await post(ep.target, f, withFields(f, { variable_fs_tenant_id: ids.globex }));
  assert.is(find(sectionOf(r.body), 'context')?.attrs.name, 'globex.pbx.test');
  assert.equal(actions(r.body), [
    ['respond', '404 Not Found'],
    ['hangup', 'UNALLOCATED_NUMBER'],
  ]);
});

test('035 callcenter.conf CC-Queue=support@acme.pbx.test: that queue, its agents and tiers only', async () => {
  const s = sectionOf((await replay(ep.target, loadFixture(byNumber('035')))).body);
  assert.equal(
    findAll(s, 'queue').map((q) => q.attrs.name),
    ['support@acme.pbx.test'],
  );
  const q = find(s, 'queue')!;
  assert.is(find(q, 'param', { name: 'strategy' })?.attrs.value, 'longest-idle-agent');
  // The column's default, local_stream://moh, inherits the tenant's hold music: acme's default stream (demo seed).
  const lobby = await streamId(ids.acme, 'lobby');
  assert.is(find(q, 'param', { name: 'moh-sound' })?.attrs.value, `local_stream://moh_${ids.acme}_${lobby}`);
  const agents = findAll(s, 'agent');
  assert.equal(
    agents.map((a) => a.attrs.name),
    ['1001@acme.pbx.test', '1002@acme.pbx.test'],
  );
  assert.is(agents[0]!.attrs.type, 'callback');
  assert.is(
    agents[0]!.attrs.contact,
    `{fs_tenant_id=${ids.acme},fs_tenant_slug=acme}[leg_timeout=15]user/1001@acme.pbx.test`,
  );
  assert.is(agents[0]!.attrs.status, 'Logged Out');
  assert.equal(
    findAll(s, 'tier').map((t) => [t.attrs.queue, t.attrs.agent, t.attrs.level, t.attrs.position]),
    [
      ['support@acme.pbx.test', '1001@acme.pbx.test', '1', '1'],
      ['support@acme.pbx.test', '1002@acme.pbx.test', '1', '2'],
    ],
  );
});

test('037 dialplan acme 7000: into the domain-qualified queue', async () => {
  const f = loadFixture(byNumber('037'));
  const r = await post(ep.target, f, withFields(f, { variable_fs_tenant_id: ids.acme }));
  assert.equal(actions(r.body).slice(4), [
    ['answer', ''],
    ['set', 'cc_export_vars=fs_tenant_id,fs_tenant_slug,fs_call_direction'],
    ['callcenter', 'support@acme.pbx.test'],
  ]);
});

test("039 dialplan public +15550001000 from 127.0.0.2: acme's DID, inbound, into acme's queue", async () => {
  const r = await replay(ep.target, loadFixture(byNumber('039')));
  assert.is(find(sectionOf(r.body), 'context')?.attrs.name, 'public');
  assert.equal(actions(r.body), [
    ['export', `fs_tenant_id=${ids.acme}`],
    ['export', 'fs_tenant_slug=acme'],
    ['export', 'fs_call_direction=inbound'],
    ['export', `hold_music=local_stream://moh_${ids.acme}_${await streamId(ids.acme, 'lobby')}`],
    ['answer', ''],
    ['set', 'cc_export_vars=fs_tenant_id,fs_tenant_slug,fs_call_direction'],
    ['callcenter', 'support@acme.pbx.test'],
  ]);
});

test('requests are counted by section and outcome', async () => {
  const before = await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'directory', outcome: 'hit' });
  await replay(ep.target, loadFixture(byNumber('025')));
  assert.is(await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'directory', outcome: 'hit' }), before + 1);
  assert.ok(
    (await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'unknown', outcome: 'unauthorized' })) >=
      fixtureNames().length,
  );
  assert.ok(
    (await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'configuration', outcome: 'not_found' })) >=
      NOT_SERVED.length,
  );
});

test.run();
