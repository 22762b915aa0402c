// Pure decisions and renderers on hand-built snapshots: routing rules, the
// directory's realm/host checks, CIDR handling, names, and that every document
// survives FreeSWITCH's preprocessor and a strict XML parser.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Extension, TenantId, TenantSnapshot } from '../../xml-handlers/model.js';
import { CidrSet, parseCidr } from '../../xml-handlers/cidr.js';
import { renderAcl } from '../../xml-handlers/configuration/acl.js';
import { renderCallcenterQueue, renderCallcenterSettings } from '../../xml-handlers/configuration/callcenter.js';
import { renderSofia } from '../../xml-handlers/configuration/sofia.js';
import {
  decidePublicCall,
  decideTenantCall,
  didKey,
  renderRejection,
  renderRoute,
} from '../../xml-handlers/dialplan/index.js';
import { decideUser, renderGatewayDomains, renderNetworkListDomain, renderUser } from '../../xml-handlers/directory.js';
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import { gatewayName } from '../../xml-handlers/gateway-name.js';
import { NOT_FOUND, text } from '../../xml-handlers/xml.js';
import { findAll, parseXml, sectionOf } from '../helpers/xml-curl-client.js';

const test = suite('xml-handlers: decisions and rendering');
const ID = '11111111-2222-4333-8444-555555555555' as TenantId;

function ext(number: string, over: Partial<Extension> = {}): Extension {
  return {
    number,
    a1Hash: 'a'.repeat(32),
    a1Realm: 't1.example',
    callerIdName: null,
    callerIdNumber: null,
    enabled: true,
    variables: {},
    ...over,
  };
}

function tenant(over: Partial<TenantSnapshot> = {}): TenantSnapshot {
  return {
    id: ID,
    slug: 't1',
    status: 'active',
    primaryDomain: 't1.example',
    domains: ['t1.example', 'alt.t1.example'],
    ceilings: { maxInbound: null, maxOutbound: null, maxTotal: null },
    defaultCallerIdName: 'T1',
    defaultCallerIdNumber: '+15550000001',
    extensions: new Map([
      ['1000', ext('1000')],
      ['1001', ext('1001', { enabled: false })],
    ]),
    queues: new Map([
      [
        'sales',
        {
          name: 'sales',
          dialCode: '7100',
          strategy: 'ring-all',
          mohSound: 'local_stream://moh',
          timeBaseScore: 'system',
          maxWaitTime: 0,
          maxWaitTimeWithNoAgent: 0,
          tierRulesApply: false,
          discardAbandonedAfter: 60,
          abandonedResumeAllowed: false,
        },
      ],
    ]),
    dids: new Map([
      ['+15550000001', { e164: '+15550000001', enabled: true, destination: { type: 'extension', extension: '1000' } }],
    ]),
    trunks: [
      {
        name: 'main',
        proxy: 'sip.carrier.example',
        username: 'u',
        password: 'p',
        register: true,
        allowedCidrs: ['192.0.2.0/24', '2001:db8::/32'],
        enabled: true,
      },
      {
        name: 'off',
        proxy: 'x.example',
        username: null,
        password: null,
        register: true,
        allowedCidrs: ['198.51.100.7/32'],
        enabled: false,
      },
    ],
    outboundRoutes: [
      {
        name: 'intl',
        pattern: /^00[1-9][0-9]{6,14}$/,
        priority: 10,
        trunk: 'off',
        stripDigits: 0,
        prepend: '',
        callerIdNumber: null,
        callerIdName: null,
      },
      {
        name: 'natl',
        pattern: /^0[1-9][0-9]{5,12}$/,
        priority: 20,
        trunk: 'main',
        stripDigits: 1,
        prepend: '+44',
        callerIdNumber: '+441234',
        callerIdName: null,
      },
    ],
    agents: [],
    tiers: [],
    ...over,
  };
}

const call = (over: Partial<DialplanRequest> = {}): DialplanRequest => ({
  context: 't1.example',
  destination: '1000',
  callUuid: '56356642-2fdf-4006-baa1-14b2ad06c094',
  channelTenantId: ID,
  sourceIp: '192.0.2.10',
  ...over,
});

/** What FreeSWITCH's preprocessor would do to a line-oriented document, plus a strict parse. */
function assertSafeDocument(xml: string) {
  const lines = xml.split('\n');
  assert.ok(lines[0]!.startsWith('<?xml'), 'declaration first');
  assert.is(lines.filter((l) => l.includes('<?')).length, 1, 'only the declaration line has <?');
  assert.not.ok(/\$\$\{/.test(xml), 'no $${...} for the preprocessor to expand');
  parseXml(xml);
}

test('text(): control characters, $ and lone surrogates removed; length bounded', () => {
  assert.is(text('a\u0000b\r\nc\u0085$${x}${y}\ud800'), 'abc{x}{y}');
  assert.is(text('Zoë "<x>"'), 'Zoë "<x>"');
  assert.is(text('x'.repeat(300)).length, 256);
  assertSafeDocument(NOT_FOUND);
});

test('directory: realm must be the a1 realm for sip_auth; REGISTER To host and INVITE From host must be the domain', () => {
  const t = tenant();
  const auth = (over: object) =>
    decideUser(
      { kind: 'sip_auth', user: '1000', domain: 't1.example', verbatim: true, method: 'REGISTER', ...over } as never,
      t,
    );
  assert.is(auth({}).kind, 'user');
  assert.is(auth({ domain: 'alt.t1.example' }).kind, 'not_found');
  assert.is(auth({ toHost: 'other.example' }).kind, 'not_found');
  assert.is(auth({ method: 'INVITE', toHost: 'other.example' }).kind, 'user');
  assert.is(auth({ method: 'INVITE', fromHost: 'other.example' }).kind, 'not_found');
  assert.is(auth({ user: '1001' }).kind, 'not_found', 'disabled');
  assert.is(auth({ user: '1002' }).kind, 'not_found', 'unknown');
  const req = { kind: 'sip_auth', user: '1000', domain: 't1.example', verbatim: true, method: 'REGISTER' } as const;
  assert.is(decideUser(req, tenant({ status: 'suspended' })).kind, 'not_found');
  assert.is(decideUser(req, null).kind, 'not_found');
  // Another spelling of the realm: the hash cannot verify a digest made with it, and FreeSWITCH would cache the
  // answer under a key `xml_flush_cache id 1000 t1.example` does not clear.
  assert.is(auth({ verbatim: false }).kind, 'not_found');
  const odd = decideUser({ kind: 'user_call', user: '1000', domain: 't1.example', verbatim: false }, t);
  assert.ok(odd.kind === 'user' && !odd.withHash && !odd.cacheable);
  const cacheableOf = (d: typeof odd) =>
    d.kind === 'user'
      ? findAll(sectionOf(renderUser(d, { cacheableMs: 60_000 })), 'user')[0]!.attrs.cacheable
      : 'not a user';
  assert.is(cacheableOf(odd), undefined);
  const same = decideUser({ kind: 'user_call', user: '1000', domain: 't1.example', verbatim: true }, t);
  assert.ok(same.kind === 'user' && same.withHash && same.cacheable);
  assert.is(cacheableOf(same), '60000');
  // user_call in another domain of the tenant: the user, but no hash
  const uc = decideUser({ kind: 'user_call', user: '1000', domain: 'alt.t1.example', verbatim: true }, t);
  assert.ok(uc.kind === 'user' && !uc.withHash);
  if (uc.kind === 'user') {
    const xml = renderUser(uc, { cacheableMs: 0 });
    assertSafeDocument(xml);
    assert.is(findAll(sectionOf(xml), 'param').filter((p) => p.attrs.name === 'a1-hash').length, 0);
    assert.is(findAll(sectionOf(xml), 'user')[0]!.attrs.cacheable, undefined);
  }
});

test('dialplan: extension, queue, outbound by priority (disabled trunk skipped, strip/prepend), no route', () => {
  const t = tenant();
  const d = (dest: string) => decideTenantCall(call({ destination: dest }), t);
  assert.equal(d('1000'), {
    kind: 'route',
    tenant: t,
    direction: 'internal',
    target: { type: 'extension', number: '1000', domain: 't1.example' },
  });
  assert.equal((d('7100') as { target: unknown }).target, { type: 'queue', fsName: 'sales@t1.example' });
  assert.is(d('00441234567').kind, 'reject', 'the only matching route uses a disabled trunk');
  assert.equal((d('02071234567') as { target: unknown }).target, {
    type: 'gateway',
    gateway: 't1_main',
    number: '+442071234567',
    callerIdNumber: '+441234',
    callerIdName: 'T1',
  });
  for (const dest of ['1001', '555', '', '1000;x', '${x}']) assert.is(d(dest).kind, 'reject', dest);
  assert.is(decideTenantCall(call({ channelTenantId: undefined }), t).kind, 'reject');
  assert.is(decideTenantCall(call({ channelTenantId: '99999999-2222-4333-8444-555555555555' }), t).kind, 'reject');
  const r = d('02071234567');
  if (r.kind === 'route') {
    const xml = renderRoute('t1.example', r);
    assertSafeDocument(xml);
    assert.ok(xml.includes('sofia/gateway/t1_main/+442071234567'));
  }
  const rej = renderRejection('t1.example', { sipCode: 9999, reason: 'x$${y}\n', detail: '' });
  assertSafeDocument(rej);
  assert.ok(rej.includes('data="503 x{y}"'), 'out-of-range codes become 503');
});

test('public calls: DID key normalisation; trunk CIDRs (IPv4, IPv6, mapped), disabled trunks ignored', () => {
  assert.is(didKey('15550000001'), '+15550000001');
  assert.is(didKey('+15550000001'), '+15550000001');
  for (const x of ['0155', '+0123', 'abc', '+1'.padEnd(20, '1')]) assert.is(didKey(x), undefined, x);
  const t = tenant();
  const pub = (ip: string | undefined) =>
    decidePublicCall(
      call({ context: 'public', destination: '+15550000001', channelTenantId: undefined, sourceIp: ip }),
      t,
      '+15550000001',
    ).kind;
  assert.is(pub('192.0.2.200'), 'route');
  assert.is(pub('::ffff:192.0.2.200'), 'route');
  assert.is(pub('2001:db8::5'), 'route');
  assert.is(pub('198.51.100.7'), 'reject', 'disabled trunk');
  assert.is(pub('192.0.3.1'), 'reject');
  assert.is(pub(undefined), 'reject');
  assert.is(pub('not-an-ip'), 'reject');
});

test('CIDRs: what PostgreSQL prints parses; anything else is left out of acl.conf', () => {
  assert.ok(parseCidr('10.0.0.0/8') && parseCidr('2001:db8::/32'));
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/8"/><node type="allow" cidr="0.0.0.0/0', 'x/8'])
    assert.is(parseCidr(bad), undefined, bad);
  assert.ok(new CidrSet(['10.0.0.0/8']).has('10.1.2.3'));
  const t = tenant({
    trunks: [
      {
        name: 'main',
        proxy: null,
        username: null,
        password: null,
        register: false,
        enabled: true,
        allowedCidrs: ['192.0.2.0/24', '0.0.0.0/0"/><x', '10.0.0.0/99'],
      },
    ],
  });
  const { xml, skipped } = renderAcl([
    t,
    tenant({ id: '22222222-2222-4333-8444-555555555555' as TenantId, slug: 't2', status: 'suspended' }),
  ]);
  assertSafeDocument(xml);
  assert.is(skipped.length, 2);
  assert.equal(
    findAll(sectionOf(xml), 'list').map((l) => [l.attrs.name, findAll(l, 'node').map((n) => n.attrs.cidr)]),
    [
      ['trunks', ['192.0.2.0/24']],
      ['t1_trunks', ['192.0.2.0/24']],
    ],
    'suspended tenants get no list',
  );
});

test('names: gateways and ACLs are <tenant>_<name>; anything that is not a slug is refused', () => {
  assert.is(gatewayName('acme', 'carrier'), 'acme_carrier');
  for (const [a, b] of [
    ['a_b', 'c'],
    ['acme', 'x y'],
    ['ACME', 'c'],
    ['acme', ''],
  ])
    assert.throws(() => gatewayName(a!, b!));
});

test('sofia.conf: register only with credentials; unknown profile is not ours', () => {
  const xml = renderSofia(
    { internal: { ip: '10.0.0.1', port: 5060 }, external: { ip: '10.0.0.1', port: 5080 } },
    [tenant()],
    'external',
  )!;
  assertSafeDocument(xml);
  const gws = findAll(sectionOf(xml), 'gateway');
  assert.equal(
    gws.map((g) => g.attrs.name),
    ['t1_main'],
    'disabled trunk left out',
  );
  assert.is(findAll(gws[0]!, 'param').find((p) => p.attrs.name === 'register')?.attrs.value, 'true');
  assert.is(
    renderSofia({ internal: { ip: '10.0.0.1', port: 5060 }, external: { ip: '10.0.0.1', port: 5080 } }, [], 'lan'),
    undefined,
  );
});

test('sofia.conf for `startgw <name>` (gateway=<name>) holds that gateway only', () => {
  const profiles = { internal: { ip: '10.0.0.1', port: 5060 }, external: { ip: '10.0.0.1', port: 5080 } };
  const two = tenant();
  two.trunks = [...two.trunks, { ...two.trunks[0]!, name: 'spare', enabled: true }];
  const names = (gateway?: string) =>
    findAll(sectionOf(renderSofia(profiles, [two], 'external', gateway)!), 'gateway').map((g) => g.attrs.name);
  assert.equal(names(), ['t1_main', 't1_spare']);
  assert.equal(names('t1_spare'), ['t1_spare']);
  assert.equal(names('t9_other'), []);
});

test('callcenter, directory helpers: well-formed and preprocessor-safe', () => {
  assertSafeDocument(renderCallcenterSettings());
  assertSafeDocument(renderCallcenterQueue(tenant(), 't1.example', 'sales')!);
  assert.is(renderCallcenterQueue(tenant(), 't1.example', 'support'), undefined);
  assertSafeDocument(renderGatewayDomains(['a.example', 'b.example']));
  assertSafeDocument(renderNetworkListDomain('a.example'));
});

test.run();
