// Bad input, one class per test: each gets a well-formed not-found or a 4xx
// (never a 500, never malformed XML, never another tenant's data), is counted,
// and the endpoint keeps answering real fetches afterwards.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  actions,
  encodeFields,
  find,
  findAll,
  fixtureNames,
  isNotFound,
  loadFixture,
  post,
  replay,
  sectionOf,
  withFields,
  type Fixture,
} from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: bad input');
let db: TestDatabase;
let pool: pg.Pool;
let ep: Endpoint;
let ids: { acme: string; globex: string };
const fx = (n: string): Fixture => loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!);
const LIMIT = 8192;

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(4);
  await seedDemo(pool);
  ids = await tenantIds(pool);
  ep = await startEndpoint(pool, { bodyLimitBytes: LIMIT });
});
test.after(async () => {
  await ep.close();
  await db.drop();
});

const badRequests = () => ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'unknown', outcome: 'bad_request' });

async function stillServing() {
  const r = await replay(ep.target, fx('025'));
  assert.is(r.status, 200);
  assert.is(find(sectionOf(r.body), 'user')?.attrs.id, '1001');
}

test('missing parameters: 400, counted', async () => {
  const before = await badRequests();
  for (const body of [
    '',
    'hostname=vm',
    'section=directory',
    'hostname=&section=directory',
    'hostname=vm%20x&section=directory',
  ]) {
    const r = await replay(ep.target, fx('025'), { body });
    assert.is(r.status, 400, JSON.stringify(body));
  }
  assert.is(await badRequests(), before + 5);
  // a dialplan fetch without the call's identity cannot be routed
  const noUuid = await post(
    ep.target,
    fx('028'),
    withFields(fx('028'), { 'Unique-ID': undefined, 'Channel-Call-UUID': undefined }),
  );
  assert.is(noUuid.status, 400);
  const badUuid = await post(ep.target, fx('028'), withFields(fx('028'), { 'Unique-ID': '../../etc' }));
  assert.is(badUuid.status, 400);
  await stillServing();
});

test('garbage parameters: well-formed not found', async () => {
  const cases: Array<Record<string, string | undefined>> = [
    { action: 'format-c' },
    { action: undefined },
    { action: 'reverse-auth-lookup' },
    { key: 'number-alias' },
    { user: 'admin' },
    { user: '' },
    { user: '1'.repeat(40) },
    { purpose: 'network-list', domain: 'nosuch.example' },
    { sip_auth_method: 'REGISTER', domain: 'no-such-domain.test' },
  ];
  for (const c of cases) {
    const r = await post(ep.target, fx('025'), withFields(fx('025'), c));
    assert.is(r.status, 200, JSON.stringify(c));
    assert.ok(isNotFound(r.body), JSON.stringify(c));
  }
  await stillServing();
});

test('unknown sections and configuration files: not found at once', async () => {
  for (const section of ['languages', 'chatplan', 'phrases', 'x'.repeat(300)]) {
    const r = await post(ep.target, fx('001'), withFields(fx('001'), { section }));
    assert.is(r.status, 200);
    assert.ok(isNotFound(r.body), section);
  }
  for (const name of ['switch.conf', '../../etc/passwd', 'acl.conf.bak', '']) {
    assert.ok(isNotFound((await post(ep.target, fx('001'), withFields(fx('001'), { key_value: name }))).body), name);
  }
  assert.ok((await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'other', outcome: 'not_found' })) >= 4);
});

test('oversized body: 413 before any work, counted; unauthenticated oversized: 401', async () => {
  const before = await badRequests();
  const big = encodeFields([...fx('028').fields, ['padding', 'x'.repeat(LIMIT)]]);
  const r = await replay(ep.target, fx('028'), { body: big });
  assert.is(r.status, 413);
  assert.is(await badRequests(), before + 1);
  assert.is((await replay(ep.target, fx('028'), { body: big, anonymous: true })).status, 401);
  await stillServing();
});

test('percent-encoding errors: 400', async () => {
  const good = fx('025').body.toString('latin1');
  for (const body of [
    good.replace('user=1001', 'user=10%ZZ'),
    good.replace('domain=acme.pbx.test', 'domain=acme%E0%A4'),
    `${good}&x=%`,
  ]) {
    const r = await replay(ep.target, fx('025'), { body });
    assert.is(r.status, 400);
  }
  await stillServing();
});

test('ambiguous repeated fields: 400', async () => {
  const body = `${fx('025').body.toString('latin1')}&domain=globex.pbx.test`;
  assert.is((await replay(ep.target, fx('025'), { body })).status, 400);
});

test('wrong content type, wrong credentials, source outside the allow-list', async () => {
  assert.is((await replay(ep.target, fx('025'), { headers: { 'Content-Type': 'application/xml' } })).status, 415);
  assert.is((await replay(ep.target, fx('025'), { headers: { 'Content-Type': 'application/json' } })).status, 400);
  assert.is((await replay({ ...ep.target, password: 'wrong-password' }, fx('025'))).status, 401);
  assert.is((await replay(ep.target, fx('025'), { headers: { Authorization: 'Bearer x' } })).status, 401);
  const fenced = await startEndpoint(pool, { allowFrom: ['10.0.0.0/8'] });
  try {
    const r = await replay(fenced.target, fx('025'));
    assert.is(r.status, 403);
    assert.is(r.body, '');
  } finally {
    await fenced.close();
  }
  const open = await startEndpoint(pool, { allowFrom: ['127.0.0.1'] });
  try {
    assert.is((await replay(open.target, fx('025'))).status, 200);
  } finally {
    await open.close();
  }
});

const NASTY = [
  '"',
  "'",
  '<x>',
  ']]>',
  '\u0000',
  '../',
  '${system(id)}',
  '$${hostname}',
  '\r\n<include>',
  '%',
  '@globex.pbx.test',
];

test('injection in request values: well-formed answers, nothing reflected unsafely, no other tenant', async () => {
  for (const bad of NASTY) {
    // directory
    for (const field of ['domain', 'user', 'key_value']) {
      const r = await post(
        ep.target,
        fx('025'),
        withFields(fx('025'), { [field]: field === 'user' ? `1001${bad}` : `acme.pbx.test${bad}` }),
      );
      assert.is(r.status, 200, `${field} ${JSON.stringify(bad)}`);
      const s = sectionOf(r.body);
      assert.not.ok(r.body.includes('globex'), JSON.stringify(bad));
      if (field === 'key_value')
        assert.is(find(s, 'user')?.attrs.id, '1001'); // key_value is not what selects the user
      else assert.ok(isNotFound(r.body), `${field} ${JSON.stringify(bad)}`);
    }
    // dialplan: destination and context
    const dest = await post(
      ep.target,
      fx('028'),
      withFields(fx('028'), { variable_fs_tenant_id: ids.acme, 'Hunt-Destination-Number': `1001${bad}` }),
    );
    assert.equal(
      actions(dest.body),
      [
        ['respond', '404 Not Found'],
        ['hangup', 'UNALLOCATED_NUMBER'],
      ],
      JSON.stringify(bad),
    );
    const ctx = await post(
      ep.target,
      fx('028'),
      withFields(fx('028'), { variable_fs_tenant_id: ids.acme, 'Hunt-Context': `acme.pbx.test${bad}` }),
    );
    assert.equal(actions(ctx.body)[0], ['respond', '404 Not Found'], JSON.stringify(bad));
    assert.not.ok(find(sectionOf(ctx.body), 'context')!.attrs.name!.includes('$'));
    const tv = await post(ep.target, fx('028'), withFields(fx('028'), { variable_fs_tenant_id: `${ids.acme}${bad}` }));
    assert.equal(actions(tv.body)[0], ['respond', '403 Forbidden']);
    // configuration
    assert.ok(
      isNotFound(
        (await post(ep.target, fx('035'), withFields(fx('035'), { 'CC-Queue': `support@acme.pbx.test${bad}` }))).body,
      ),
    );
    assert.ok(
      isNotFound((await post(ep.target, fx('004'), withFields(fx('004'), { profile: `internal${bad}` }))).body),
    );
  }
  await stillServing();
});

test('injection in stored values: caller-ID names and extension variables cannot break out or expand', async () => {
  const acme = asTenantId(ids.acme);
  const evil = 'Evil" <x/> ]]> $${hostname} ${system(id)}\u0001';
  await withTenant(pool, acme, async (c) => {
    await c.query("UPDATE extensions SET caller_id_name = $1, variables = $2 WHERE number = '1002'", [
      evil,
      {
        toll_allow: `local${evil}`,
        user_context: 'globex.pbx.test',
        fs_tenant_id: ids.globex,
        'bad name': 'x',
        'x"y': 'z',
      },
    ]);
    await c.query('UPDATE outbound_routes SET caller_id_name = $1', [evil]);
  });
  ep.store.resync();
  const r = await post(
    ep.target,
    fx('025'),
    withFields(fx('025'), { user: '1002', sip_auth_username: '1002', sip_to_user: '1002' }),
  );
  const user = find(sectionOf(r.body), 'user')!;
  const vars = Object.fromEntries(findAll(user, 'variable').map((v) => [v.attrs.name, v.attrs.value]));
  assert.is(vars.effective_caller_id_name, 'Evil" <x/> ]]> {hostname} {system(id)}');
  assert.is(vars.toll_allow, 'localEvil" <x/> ]]> {hostname} {system(id)}');
  assert.is(vars.user_context, 'acme.pbx.test', 'an extension variable cannot move the user into another tenant');
  assert.is(vars.fs_tenant_id, ids.acme);
  assert.equal(
    Object.keys(vars).filter((k) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(k)),
    [],
  );
  assert.not.ok(r.body.includes('$${hostname}'));
  const out = await post(
    ep.target,
    fx('028'),
    withFields(fx('028'), { variable_fs_tenant_id: ids.acme, 'Hunt-Destination-Number': '+15551234567' }),
  );
  const cid = actions(out.body).find(([a, d]) => a === 'set' && d.startsWith('effective_caller_id_name='));
  assert.is(cid?.[1], 'effective_caller_id_name=Evil" <x/> ]]> {hostname} {system(id)}');
  // FreeSWITCH's preprocessor drops lines containing "<?": the declaration must be alone on its line
  for (const body of [r.body, out.body]) assert.is(body.split('\n').filter((l) => l.includes('<?')).length, 1);
});

test.run();
