// Two tenants with colliding names (both have extensions 1000-1003, queue
// `support` dialled as 7000, trunk `carrier`): every section answers each
// tenant with its own data only. Also the admission hook of the dialplan.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import type { AdmissionRequest, CallAdmission } from '../../daemon/calls/admission-types.js';
import { a1Hash, demoPassword, seedDemo } from '../../daemon/db/demo-seed.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import {
  actions,
  find,
  findAll,
  fixtureNames,
  isNotFound,
  loadFixture,
  post,
  sectionOf,
  withFields,
  type Fixture,
} from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds, type Endpoint } from './harness.js';

const test = suite('xml_curl: tenant isolation with colliding names');
let db: TestDatabase;
let pool: pg.Pool;
let ep: Endpoint;
let ids: { acme: string; globex: string };
const fx = (n: string): Fixture => loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!);

// A ledger stand-in at the contract boundary: records requests, refuses globex outbound calls.
const admitted: AdmissionRequest[] = [];
const admission: CallAdmission = {
  async admit(req) {
    admitted.push(req);
    return req.direction === 'outbound' && req.tenantId === ids.globex
      ? { admitted: false, sipCode: 503, reason: 'Tenant outbound limit reached' }
      : { admitted: true };
  },
};

test.before(async () => {
  db = await freshDatabase();
  pool = db.appPool(4);
  await seedDemo(pool);
  ids = await tenantIds(pool);
  ep = await startEndpoint(pool, { admission });
});
test.after(async () => {
  await ep.close();
  await db.drop();
});

const sipAuth = (domain: string, user: string, extra: Record<string, string> = {}) =>
  post(
    ep.target,
    fx('026'),
    withFields(fx('026'), {
      key_value: domain,
      user,
      domain,
      sip_auth_username: user,
      sip_auth_realm: domain,
      sip_to_host: domain,
      sip_from_host: domain,
      ...extra,
    }),
  );

const dial = (
  context: string,
  dest: string,
  tenantVar: string | undefined,
  extra: Record<string, string | undefined> = {},
) =>
  post(
    ep.target,
    fx('028'),
    withFields(fx('028'), {
      'Hunt-Context': context,
      'Caller-Context': context,
      'Hunt-Destination-Number': dest,
      'Caller-Destination-Number': dest,
      variable_fs_tenant_id: tenantVar,
      ...extra,
    }),
  );

const publicCall = (did: string, fromIp: string) =>
  post(
    ep.target,
    fx('039'),
    withFields(fx('039'), {
      'Hunt-Destination-Number': did,
      'Caller-Destination-Number': did,
      variable_sip_network_ip: fromIp,
    }),
  );

test("directory: 1000@globex is globex's user, 1000@acme is acme's; never the other's hash or ids", async () => {
  for (const slug of ['acme', 'globex'] as const) {
    const domain = `${slug}.pbx.test`;
    const user = find(sectionOf((await sipAuth(domain, '1000')).body), 'user')!;
    assert.is(
      find(user, 'param', { name: 'a1-hash' })?.attrs.value,
      a1Hash('1000', domain, demoPassword(slug, '1000')),
    );
    const vars = Object.fromEntries(findAll(user, 'variable').map((v) => [v.attrs.name, v.attrs.value]));
    assert.is(vars.fs_tenant_id, ids[slug]);
    assert.is(vars.user_context, domain);
  }
});

test('directory: message-count (mod_voicemail) gets the user of the asked domain only', async () => {
  const f = fx('029');
  const r = await post(
    ep.target,
    f,
    withFields(f, { action: 'message-count', key_value: 'globex.pbx.test', domain: 'globex.pbx.test', user: '1001' }),
  );
  const user = find(sectionOf(r.body), 'user')!;
  assert.is(user.attrs.id, '1001');
  assert.is(findAll(user, 'variable').find((v) => v.attrs.name === 'fs_tenant_id')?.attrs.value, ids.globex);
});

test('directory: only the stored spelling of a domain is answered cacheable (FreeSWITCH keys by spelling)', async () => {
  const f = fx('029');
  const userCall = async (domain: string) =>
    find(
      sectionOf(
        (
          await post(
            ep.target,
            f,
            withFields(f, {
              key_value: domain,
              domain,
              user: '1001',
            }),
          )
        ).body,
      ),
      'user',
    );
  // Alternating, so the daemon's own cache of rendered users cannot hand one answer to the other spelling.
  for (const domain of ['ACME.pbx.test', 'acme.pbx.test', 'Acme.Pbx.Test', 'acme.pbx.test']) {
    const user = (await userCall(domain))!;
    assert.is(user.attrs.id, '1001', domain);
    assert.is(findAll(user, 'variable').find((v) => v.attrs.name === 'fs_tenant_id')?.attrs.value, ids.acme, domain);
    assert.is(user.attrs.cacheable, domain === 'acme.pbx.test' ? '60000' : undefined, domain);
    assert.is(find(user, 'param', { name: 'a1-hash' }) !== undefined, domain === 'acme.pbx.test', domain);
  }
  // A digest for another spelling of the realm cannot match the stored hash: not found, nothing to cache.
  assert.ok(isNotFound((await sipAuth('ACME.pbx.test', '1000')).body));
  assert.ok(find(sectionOf((await sipAuth('acme.pbx.test', '1000')).body), 'user')?.attrs.cacheable);
  // A domain starting with a digit is no SIP domain of ours: "100"@"0acme.pbx.test" would key as 1000@acme.pbx.test.
  const digitFirst = withFields(f, { key_value: '0acme.pbx.test', domain: '0acme.pbx.test', user: '100' });
  assert.ok(isNotFound((await post(ep.target, f, digitFirst)).body));
});

test('directory: a REGISTER authenticated in one tenant for an AOR in the other is refused', async () => {
  // globex credentials (realm globex) trying to register 1000@acme.pbx.test
  assert.ok(isNotFound((await sipAuth('globex.pbx.test', '1000', { sip_to_host: 'acme.pbx.test' })).body));
  // an INVITE claiming to be from acme while authenticating against globex
  assert.ok(
    isNotFound(
      (await sipAuth('globex.pbx.test', '1000', { sip_auth_method: 'INVITE', sip_from_host: 'acme.pbx.test' })).body,
    ),
  );
});

test('dialplan: each tenant reaches its own 1001, its own queue and its own gateway', async () => {
  for (const slug of ['acme', 'globex'] as const) {
    const domain = `${slug}.pbx.test`;
    const vars = `{fs_tenant_id=${ids[slug]},fs_tenant_slug=${slug},fs_call_direction=internal}`;
    assert.equal(actions((await dial(domain, '1001', ids[slug])).body).at(-1), [
      'bridge',
      `${vars}user/1001@${domain}`,
    ]);
    assert.equal(actions((await dial(domain, '7000', ids[slug])).body).at(-1), ['callcenter', `support@${domain}`]);
  }
  const out = actions((await dial('acme.pbx.test', '+15551234567', ids.acme)).body);
  assert.equal(out.at(-1), [
    'bridge',
    `{fs_tenant_id=${ids.acme},fs_tenant_slug=acme,fs_call_direction=outbound}sofia/gateway/acme_carrier/+15551234567`,
  ]);
  assert.ok(out.some(([a, d]) => a === 'set' && d === 'effective_caller_id_number=+15550001000'));
});

test("dialplan: a channel of one tenant in the other tenant's context is refused, whatever it dials", async () => {
  for (const dest of ['1001', '7000', '+15551234567']) {
    assert.equal(
      actions((await dial('globex.pbx.test', dest, ids.acme)).body),
      [
        ['respond', '403 Forbidden'],
        ['hangup', 'CALL_REJECTED'],
      ],
      dest,
    );
  }
  // a context that is no tenant's domain
  assert.equal(actions((await dial('evil.example', '1001', ids.acme)).body)[0], ['respond', '404 Not Found']);
});

test("dialplan public: a DID is routed only for calls from its owner's trunk addresses", async () => {
  assert.equal(actions((await publicCall('+15550002000', '127.0.0.3')).body).at(-1), [
    'bridge',
    `{fs_tenant_id=${ids.globex},fs_tenant_slug=globex,fs_call_direction=inbound}user/1000@globex.pbx.test`,
  ]);
  // globex's DID sent from acme's trunk, acme's DID from globex's trunk, or from anywhere else
  for (const [did, ip] of [
    ['+15550002000', '127.0.0.2'],
    ['+15550001000', '127.0.0.3'],
    ['+15550001000', '10.9.9.9'],
  ] as const) {
    assert.equal(
      actions((await publicCall(did, ip)).body),
      [
        ['respond', '403 Forbidden'],
        ['hangup', 'CALL_REJECTED'],
      ],
      `${did} from ${ip}`,
    );
  }
  assert.equal(actions((await publicCall('+15559999999', '127.0.0.2')).body)[0], ['respond', '404 Not Found']);
  // carriers that drop the +
  assert.equal(actions((await publicCall('15550001000', '127.0.0.2')).body).at(-1), [
    'callcenter',
    'support@acme.pbx.test',
  ]);
});

test("callcenter.conf: support@globex is globex's queue with globex's agent only", async () => {
  const s = sectionOf(
    (await post(ep.target, fx('035'), withFields(fx('035'), { 'CC-Queue': 'support@globex.pbx.test' }))).body,
  );
  assert.equal(
    findAll(s, 'queue').map((q) => q.attrs.name),
    ['support@globex.pbx.test'],
  );
  assert.equal(
    findAll(s, 'agent').map((a) => a.attrs.name),
    ['1001@globex.pbx.test'],
  );
  assert.ok(findAll(s, 'agent')[0]!.attrs.contact!.includes(`fs_tenant_id=${ids.globex}`));
  assert.equal(
    findAll(s, 'tier').map((t) => t.attrs.agent),
    ['1001@globex.pbx.test'],
  );
  assert.ok(!JSON.stringify(s).includes('acme'));
  for (const q of [
    'support@evil.example',
    'nosuch@acme.pbx.test',
    'support',
    'support@acme.pbx.test@globex.pbx.test',
  ]) {
    assert.ok(isNotFound((await post(ep.target, fx('035'), withFields(fx('035'), { 'CC-Queue': q }))).body), q);
  }
});

test('sofia.conf and acl.conf: one gateway and one list per tenant, named by tenant', async () => {
  const sofia = sectionOf((await post(ep.target, fx('005'), fx('005').fields)).body);
  assert.equal(
    findAll(sofia, 'gateway').map((g) => g.attrs.name),
    ['acme_carrier', 'globex_carrier'],
  );
  const acl = sectionOf((await post(ep.target, fx('016'), fx('016').fields)).body);
  assert.equal(
    findAll(acl, 'list').map((l) => l.attrs.name),
    ['trunks', 'acme_trunks', 'globex_trunks'],
  );
});

test('admission: asked with tenant, A-leg uuid, direction, ceilings and node before routing; a refusal is a respond', async () => {
  admitted.length = 0;
  const f = fx('028');
  await dial('acme.pbx.test', '1001', ids.acme);
  assert.equal(admitted[0], {
    tenantId: ids.acme,
    tenantSlug: 'acme',
    callUuid: f.fields.find(([k]) => k === 'Unique-ID')![1],
    direction: 'internal',
    ceilings: { maxInbound: null, maxOutbound: null, maxTotal: 2 },
    ancestors: [], // no parent account: no ancestor's ceilings (sql/016)
    node: 'vm',
  });
  await publicCall('+15550001000', '127.0.0.2');
  assert.is(admitted[1]?.direction, 'inbound');
  const refused = actions((await dial('globex.pbx.test', '+15551234567', ids.globex)).body);
  assert.equal(refused, [
    ['respond', '503 Tenant outbound limit reached'],
    ['hangup', 'NORMAL_TEMPORARY_FAILURE'],
  ]);
  // rejected calls (no route, wrong tenant) never reach admission
  const n = admitted.length;
  await dial('globex.pbx.test', '1001', ids.acme);
  await dial('acme.pbx.test', '555', ids.acme);
  assert.is(admitted.length, n);
});

test.run();
