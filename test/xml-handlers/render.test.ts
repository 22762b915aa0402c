// Pure decisions and renderers on hand-built snapshots: routing rules, the
// directory's realm/host checks, CIDR handling, names, and that every document
// survives FreeSWITCH's preprocessor and a strict XML parser.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Extension,
  NO_FEATURES,
  NO_MAILBOX,
  type TenantId,
  type TenantSnapshot,
} from '../../xml-handlers/model.js';
import { CidrSet, parseCidr } from '../../xml-handlers/cidr.js';
import { aclFragment, assembleAcl, renderAcl } from '../../xml-handlers/configuration/acl.js';
import { renderCallcenterQueue, renderCallcenterSettings } from '../../xml-handlers/configuration/callcenter.js';
import { assembleSofia, desiredGateways, renderSofia, sofiaFragment } from '../../xml-handlers/configuration/sofia.js';
import {
  decidePublicCall,
  decideTenantCall,
  didKey,
  renderRejection,
  renderRoute,
} from '../../xml-handlers/dialplan/index.js';
import {
  decideUser,
  renderGatewayDomains,
  renderNetworkListDomain,
  renderUser,
  userIn,
} from '../../xml-handlers/directory.js';
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import { gatewayName, tenantAclName } from '../../xml-handlers/gateway-name.js';
import { featureCode, renderFeatureDone } from '../../xml-handlers/dialplan/feature-codes.js';
import { NOT_FOUND, params, section, serialize, text } from '../../xml-handlers/xml.js';
import { findAll, parseXml, sectionOf } from '../helpers/xml-curl-client.js';

const test = suite('xml-handlers: decisions and rendering');
const ID = '11111111-2222-4333-8444-555555555555' as TenantId;
const NOW = new Date('2026-12-02T12:00:00Z');

function ext(number: string, over: Partial<Extension> = {}): Extension {
  return {
    number,
    credentials: new Map([['t1.example', 'a'.repeat(32)]]),
    callerIdName: null,
    callerIdNumber: null,
    enabled: true,
    variables: {},
    features: NO_FEATURES,
    voicemail: NO_MAILBOX,
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
    timezone: 'UTC',
    flowNodes: new Map(),
    ...over,
  };
}

const call = (over: Partial<DialplanRequest> = {}): DialplanRequest => ({
  context: 't1.example',
  destination: '1000',
  callUuid: '56356642-2fdf-4006-baa1-14b2ad06c094',
  channelTenantId: ID,
  sourceIp: '192.0.2.10',
  channelDirection: undefined,
  callerUser: '1000',
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
      userIn(t, (over as { user?: string }).user ?? '1000'),
    );
  assert.is(auth({}).kind, 'user');
  assert.is(auth({ domain: 'alt.t1.example' }).kind, 'not_found');
  assert.is(auth({ toHost: 'other.example' }).kind, 'not_found');
  assert.is(auth({ method: 'INVITE', toHost: 'other.example' }).kind, 'user');
  assert.is(auth({ method: 'INVITE', fromHost: 'other.example' }).kind, 'not_found');
  assert.is(auth({ user: '1001' }).kind, 'not_found', 'disabled');
  assert.is(auth({ user: '1002' }).kind, 'not_found', 'unknown');
  const req = { kind: 'sip_auth', user: '1000', domain: 't1.example', verbatim: true, method: 'REGISTER' } as const;
  assert.is(decideUser(req, userIn(tenant({ status: 'suspended' }), '1000')).kind, 'not_found');
  assert.is(decideUser(req, null).kind, 'not_found');
  // Another spelling of the realm: the hash cannot verify a digest made with it, and FreeSWITCH would cache the
  // answer under a key `xml_flush_cache id 1000 t1.example` does not clear.
  assert.is(auth({ verbatim: false }).kind, 'not_found');
  const odd = decideUser({ kind: 'user_call', user: '1000', domain: 't1.example', verbatim: false }, userIn(t, '1000'));
  assert.ok(odd.kind === 'user' && !odd.withHash && !odd.cacheable);
  const cacheableOf = (d: typeof odd) =>
    d.kind === 'user'
      ? findAll(sectionOf(renderUser(d, { cacheableMs: 60_000, voicemailDir: '/srv/vm' })), 'user')[0]!.attrs.cacheable
      : 'not a user';
  assert.is(cacheableOf(odd), undefined);
  const same = decideUser({ kind: 'user_call', user: '1000', domain: 't1.example', verbatim: true }, userIn(t, '1000'));
  assert.ok(same.kind === 'user' && same.withHash && same.cacheable);
  assert.is(cacheableOf(same), '60000');
  // user_call in another domain of the tenant: the user, but no hash
  const uc = decideUser(
    { kind: 'user_call', user: '1000', domain: 'alt.t1.example', verbatim: true },
    userIn(t, '1000'),
  );
  assert.ok(uc.kind === 'user' && !uc.withHash);
  if (uc.kind === 'user') {
    const xml = renderUser(uc, { cacheableMs: 0, voicemailDir: '/srv/vm' });
    assertSafeDocument(xml);
    assert.is(findAll(sectionOf(xml), 'param').filter((p) => p.attrs.name === 'a1-hash').length, 0);
    assert.is(findAll(sectionOf(xml), 'user')[0]!.attrs.cacheable, undefined);
  }
});

test('directory: several domains: each realm gets its own hash; a realm without one is refused', () => {
  const H1 = '1'.repeat(32);
  const H2 = '2'.repeat(32);
  const t = tenant({
    domains: ['alt.t1.example', 'new.t1.example', 't1.example'],
    extensions: new Map([
      [
        '1000',
        ext('1000', {
          credentials: new Map([
            ['t1.example', H1],
            ['alt.t1.example', H2],
          ]),
        }),
      ],
    ]),
  });
  const hashIn = (domain: string, method = 'REGISTER') => {
    const req = { kind: 'sip_auth', user: '1000', domain, verbatim: true, method, toHost: domain } as const;
    const d = decideUser(req as never, userIn(t, '1000'));
    if (d.kind !== 'user') return d.reason;
    const xml = renderUser(d, { cacheableMs: 0, voicemailDir: '/srv/vm' });
    assertSafeDocument(xml);
    return findAll(sectionOf(xml), 'param').find((p) => p.attrs.name === 'a1-hash')?.attrs.value;
  };
  assert.is(hashIn('t1.example'), H1);
  assert.is(hashIn('alt.t1.example'), H2);
  assert.is(hashIn('alt.t1.example', 'INVITE'), H2);
  // Added after the password was set: no credential until it is set again.
  assert.is(hashIn('new.t1.example'), 'no credential for this realm');
  // The dial-string looks the user's contacts up in every domain, the primary first, so user/1000@t1.example
  // rings a phone registered under any of them.
  const d = decideUser({ kind: 'user_call', user: '1000', domain: 't1.example', verbatim: true }, userIn(t, '1000'));
  assert.ok(d.kind === 'user');
  if (d.kind !== 'user') return;
  const xml = renderUser(d, { cacheableMs: 0, voicemailDir: '/srv/vm' });
  const dial = findAll(sectionOf(xml), 'param').find((p) => p.attrs.name === 'dial-string')!.attrs.value!;
  assert.ok(
    dial.endsWith(
      '${sofia_contact(*/${dialed_user}@t1.example)},${sofia_contact(*/${dialed_user}@alt.t1.example)},' +
        '${sofia_contact(*/${dialed_user}@new.t1.example)}',
    ),
    dial,
  );
  // Another tenant's domain is never in it.
  assert.not.ok(dial.includes('t2.example'));
  // A phone registered in any domain gets the lamp of its one box (mod_voicemail's <number>@<primary>).
  const mwi = (dom: string) => {
    const u = decideUser({ kind: 'user_call', user: '1000', domain: dom, verbatim: true }, userIn(t, '1000'));
    if (u.kind !== 'user') return u.reason;
    const doc = renderUser(u, { cacheableMs: 0, voicemailDir: '/srv/vm' });
    return findAll(sectionOf(doc), 'param').find((p) => p.attrs.name === 'mwi-account')?.attrs.value;
  };
  assert.is(mwi('t1.example'), '1000@t1.example');
  assert.is(mwi('alt.t1.example'), '1000@t1.example');
  // Bridges name the primary domain whatever realm the extension's credentials cover.
  const only = tenant({
    extensions: new Map([['1000', ext('1000', { credentials: new Map([['alt.t1.example', H2]]) })]]),
  });
  const route = decideTenantCall(call({ destination: '1000' }), only, NOW);
  assert.is((route as { target: { domain: string } }).target.domain, 't1.example');
});

test('dialplan: extension, queue, outbound by priority (disabled trunk skipped, strip/prepend), no route', () => {
  const t = tenant();
  const d = (dest: string) => decideTenantCall(call({ destination: dest }), t, NOW);
  assert.equal(d('1000'), {
    kind: 'route',
    tenant: t,
    direction: 'internal',
    target: { type: 'extension', number: '1000', domain: 't1.example', timeoutS: 30 },
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
  assert.is(decideTenantCall(call({ channelTenantId: undefined }), t, NOW).kind, 'reject');
  assert.is(decideTenantCall(call({ channelTenantId: '99999999-2222-4333-8444-555555555555' }), t, NOW).kind, 'reject');
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
      NOW,
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

// The documents as one xmlbuilder2 tree writes them (how they were rendered before the parts): the parts spliced
// into a frame must give the same bytes, whatever the values, and the `trunks` union must stay exact.
function wholeTree(tenants: readonly TenantSnapshot[]) {
  const profile = section('configuration', { description: 'fs-tenantd' })
    .ele('configuration', { name: 'sofia.conf', description: 'sofia Endpoint' })
    .ele('profiles')
    .ele('profile', { name: 'external' });
  const gws = profile.ele('gateways');
  for (const [name, p] of desiredGateways(tenants)) params(gws.ele('gateway', { name }), 'params', p);
  const lists = section('configuration', { description: 'fs-tenantd' })
    .ele('configuration', { name: 'acl.conf', description: 'Network Lists' })
    .ele('network-lists');
  const all = new Set<string>();
  const per: Array<[string, string[]]> = [];
  for (const t of tenants.filter((x) => x.status === 'active')) {
    const cidrs = t.trunks.filter((k) => k.enabled).flatMap((k) => k.allowedCidrs.filter((c) => parseCidr(c)));
    for (const c of cidrs) all.add(c);
    per.push([tenantAclName(t.slug), [...new Set(cidrs)].sort()]);
  }
  for (const [name, cidrs] of [['trunks', [...all].sort()] as [string, string[]], ...per]) {
    const l = lists.ele('list', { name, default: 'deny' });
    for (const cidr of cidrs) l.ele('node', { type: 'allow', cidr });
  }
  const gateways = /\n *<gateways(\/>|>[\s\S]*<\/gateways>)\n/.exec(serialize(gws))![0];
  return { gateways, acl: serialize(lists) };
}

test('sofia.conf and acl.conf from per-tenant parts: the bytes one tree gives, the `trunks` union exact', () => {
  const profiles = { internal: { ip: '10.0.0.1', port: 5060 }, external: { ip: '10.0.0.1', port: 5080 } };
  const trunk = tenant().trunks[0]!;
  const id = (n: number) => `${n}1111111-2222-4333-8444-555555555555` as TenantId;
  const tenants = [
    // Markup, quotes, ampersands (also one that already reads as an entity) and `$` in values; a shared CIDR.
    tenant({ id: id(1), slug: 'a1' }),
    tenant({
      id: id(2),
      slug: 'b2',
      trunks: [
        { ...trunk, name: 'x', proxy: 'h&amp;"<b>$${x}', password: 'p&<"', allowedCidrs: ['192.0.2.0/24', 'bad'] },
        { ...trunk, name: 'y', proxy: null, allowedCidrs: ['10.0.0.0/8', '10.0.0.0/8'] },
      ],
    }),
    tenant({ id: id(3), slug: 'c3', trunks: [] }),
    tenant({ id: id(4), slug: 'd4', status: 'suspended' }),
  ];
  for (const set of [tenants, tenants.slice(2), []]) {
    const want = wholeTree(set);
    const sofia = renderSofia(profiles, set, 'external')!;
    assertSafeDocument(sofia);
    assert.ok(sofia.includes(want.gateways), `gateways of ${set.length} tenants`);
    assert.is(renderAcl(set).xml, want.acl, `acl.conf of ${set.length} tenants`);
  }
  // One tenant's part replaced: the union follows (a CIDR two tenants share stays until neither has it).
  const parts = tenants.map(aclFragment);
  const changed = tenant({ id: id(1), slug: 'a1', trunks: [{ ...trunk, allowedCidrs: ['203.0.113.0/24'] }] });
  parts[0] = aclFragment(changed);
  const after = [changed, ...tenants.slice(1)];
  assert.is(assembleAcl(parts).xml, wholeTree(after).acl);
  assert.equal(
    findAll(findAll(sectionOf(assembleAcl(parts).xml), 'list')[0]!, 'node').map((n) => n.attrs.cidr),
    ['10.0.0.0/8', '192.0.2.0/24', '203.0.113.0/24'],
  );
  assert.is(assembleSofia(profiles, after.map(sofiaFragment), 'external'), renderSofia(profiles, after, 'external'));
});

test('callcenter, directory helpers: well-formed and preprocessor-safe', () => {
  assertSafeDocument(renderCallcenterSettings());
  assertSafeDocument(renderCallcenterQueue(tenant(), 't1.example', 'sales')!);
  assert.is(renderCallcenterQueue(tenant(), 't1.example', 'support'), undefined);
  assertSafeDocument(renderGatewayDomains(['a.example', 'b.example']));
  assertSafeDocument(renderNetworkListDomain('a.example'));
});

// ---- extension features: do-not-disturb and forwarding (sql/007) ----

function withFeatures(features: Partial<Extension['features']>, others: Extension[] = []): TenantSnapshot {
  return tenant({
    extensions: new Map(
      [ext('1000', { features: { ...NO_FEATURES, ...features } }), ext('1001', { enabled: false }), ext('1002')]
        .concat(others)
        .map((e) => [e.number, e]),
    ),
  });
}

const actionsOf = (xml: string) =>
  findAll(sectionOf(xml), 'action').map((a) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim());

test('features: DND answers busy without ringing, or follows the busy forward; DID calls too', () => {
  const dnd = withFeatures({ dnd: true });
  const d = decideTenantCall(call({ destination: '1000' }), dnd, NOW);
  assert.ok(d.kind === 'reject' && d.rejection.sipCode === 486 && d.rejection.feature === 'dnd');
  if (d.kind === 'reject') assert.ok(renderRejection('t1.example', d.rejection).includes('USER_BUSY'));
  const pub = decidePublicCall(call({ context: 'public', destination: '+15550000001' }), dnd, '+15550000001', NOW);
  assert.is(pub.kind, 'reject', 'a DID to a DND extension is busy too');
  const toBusyFwd = decideTenantCall(call(), withFeatures({ dnd: true, forwardBusy: '1002' }), NOW);
  assert.equal(toBusyFwd.kind === 'route' && toBusyFwd.target, {
    type: 'extension',
    number: '1002',
    domain: 't1.example',
    timeoutS: 30,
  });
  const off = decideTenantCall(call(), withFeatures({ dnd: false }), NOW);
  assert.equal(off.kind === 'route' && off.target, {
    type: 'extension',
    number: '1000',
    domain: 't1.example',
    timeoutS: 30,
  });
});

test('features: forward-always routes as the tenant dialled it (extension, outbound route and its direction)', () => {
  const toExt = decideTenantCall(call(), withFeatures({ forwardAlways: '1002' }), NOW);
  assert.ok(toExt.kind === 'route' && toExt.direction === 'internal');
  assert.equal(toExt.kind === 'route' && toExt.target, {
    type: 'extension',
    number: '1002',
    domain: 't1.example',
    timeoutS: 30,
  });
  const out = decideTenantCall(call(), withFeatures({ forwardAlways: '02071234567' }), NOW);
  assert.ok(out.kind === 'route' && out.direction === 'outbound', 'counted against max_outbound');
  assert.equal(out.kind === 'route' && out.target, {
    type: 'gateway',
    gateway: 't1_main',
    number: '+442071234567',
    callerIdNumber: '+441234',
    callerIdName: 'T1',
  });
  const pub = decidePublicCall(
    call({ context: 'public', destination: '+15550000001' }),
    withFeatures({ forwardAlways: '1002' }),
    '+15550000001',
    NOW,
  );
  assert.ok(pub.kind === 'route' && pub.direction === 'inbound' && pub.target.type === 'extension');
  assert.is(pub.kind === 'route' && pub.target.type === 'extension' && pub.target.number, '1002');
  // Only the tenant's own numbers: what it cannot dial, a disabled extension or a disabled trunk's route, is refused.
  for (const [to, why] of [
    ['1001', 'disabled extension'],
    ['555', 'no route'],
    ['00441234567', 'route over a disabled trunk'],
  ]) {
    const r = decideTenantCall(call(), withFeatures({ forwardAlways: to }), NOW);
    assert.ok(r.kind === 'reject' && r.rejection.sipCode === 480 && r.rejection.feature === 'forward_no_route', why);
  }
});

test('features: forward loops and long chains are refused cleanly', () => {
  const loop = withFeatures({ forwardAlways: '1002' }, [
    ext('1002', { features: { ...NO_FEATURES, forwardAlways: '1000' } }),
  ]);
  const r = decideTenantCall(call(), loop, NOW);
  assert.ok(r.kind === 'reject' && r.rejection.sipCode === 482 && r.rejection.feature === 'forward_loop');
  const chain = ['1000', '1010', '1011', '1012', '1013', '1014', '1015'].map((n, i, all) =>
    ext(n, { features: { ...NO_FEATURES, forwardAlways: all[i + 1] ?? null } }),
  );
  const long = tenant({ extensions: new Map(chain.map((e) => [e.number, e])) });
  const c = decideTenantCall(call(), long, NOW);
  assert.ok(c.kind === 'reject' && c.rejection.feature === 'forward_loop', 'six hops');
  const short = tenant({ extensions: new Map(chain.slice(2).map((e) => [e.number, e])) });
  const ok = decideTenantCall(call({ destination: '1011' }), short, NOW);
  assert.ok(ok.kind === 'route' && ok.target.type === 'extension' && ok.target.number === '1015', 'four hops');
});

test('features: busy / no-answer / unreachable forwards continue the bridge by cause into the tenant context', () => {
  const t = withFeatures({ forwardBusy: '1002', forwardNoAnswer: '02071234567', noAnswerTimeoutS: 15 });
  const d = decideTenantCall(call(), t, NOW);
  assert.ok(d.kind === 'route');
  if (d.kind !== 'route') return;
  const xml = renderRoute('t1.example', d);
  assertSafeDocument(xml);
  const acts = actionsOf(xml);
  assert.ok(acts.includes('set continue_on_fail=USER_BUSY,NO_ANSWER,NO_USER_RESPONSE'), acts.join('\n'));
  assert.ok(acts.includes('set fs_tenantd_forward_USER_BUSY=1002'));
  assert.ok(acts.includes('set fs_tenantd_forward_NO_ANSWER=02071234567'));
  assert.not.ok(
    acts.some((a) => a.includes('USER_NOT_REGISTERED')),
    'unreachable not forwarded: hangs up',
  );
  assert.ok(acts.includes('set call_timeout=15'));
  assert.ok(acts.indexOf('set hangup_after_bridge=true') < acts.findIndex((a) => a.startsWith('bridge ')));
  assert.is(acts.at(-1), 'transfer ${fs_tenantd_forward_${originate_disposition}} XML t1.example');
  const plain = decideTenantCall(call({ destination: '1002' }), t, NOW);
  assert.ok(plain.kind === 'route');
  if (plain.kind === 'route') {
    const a = actionsOf(renderRoute('t1.example', plain));
    assert.not.ok(
      a.some((x) => x.startsWith('transfer') || x.startsWith('set continue_on_fail')),
      'no forwards',
    );
  }
  const unreach = decideTenantCall(call(), withFeatures({ forwardUnreachable: '1002' }), NOW);
  if (unreach.kind === 'route') {
    const a = actionsOf(renderRoute('t1.example', unreach));
    assert.ok(a.includes('set continue_on_fail=USER_NOT_REGISTERED,SUBSCRIBER_ABSENT,DESTINATION_OUT_OF_ORDER'));
  } else assert.unreachable('unreachable forward routes');
});

test('feature codes: parsed, refused when malformed or not from a user, answered with a tone', () => {
  assert.equal(featureCode('*78'), { code: '*78', set: { dnd: true } });
  assert.equal(featureCode('*79'), { code: '*79', set: { dnd: false } });
  assert.equal(featureCode('*721002'), { code: '*72', set: { forwardAlways: '1002' } });
  assert.equal(featureCode('*73'), { code: '*73', set: { forwardAlways: null } });
  assert.equal(featureCode('*90+442071234567'), { code: '*90', set: { forwardBusy: '+442071234567' } });
  assert.equal(featureCode('*93'), { code: '*93', set: { forwardNoAnswer: null } });
  assert.equal(featureCode('*94555'), { code: '*94', set: { forwardUnreachable: '555' } });
  assert.is(featureCode('1000'), undefined);
  assert.is(featureCode('*1'), undefined);
  for (const bad of ['*72', '*72*78', '*781', '*721', '*72+0123']) assert.ok(featureCode(bad)?.invalid, bad);
  const t = tenant();
  const ok = decideTenantCall(call({ destination: '*78' }), t, NOW);
  assert.ok(ok.kind === 'feature' && ok.extension === '1000');
  const bad = decideTenantCall(call({ destination: '*72' }), t, NOW);
  assert.ok(bad.kind === 'reject' && bad.rejection.sipCode === 484);
  for (const user of [undefined, '1001', '9999']) {
    const r = decideTenantCall(call({ destination: '*78', callerUser: user }), t, NOW);
    assert.ok(r.kind === 'reject' && r.rejection.sipCode === 403, `user ${user}`);
  }
  const other = decideTenantCall(call({ destination: '*78', channelTenantId: undefined }), t, NOW);
  assert.ok(other.kind === 'reject' && other.rejection.sipCode === 403, 'trunk channels have no tenant user');
  const xml = renderFeatureDone('t1.example', '*78');
  assertSafeDocument(xml);
  assert.equal(actionsOf(xml), [
    'answer',
    'playback tone_stream://%(150,100,880);%(150,0,880)',
    'hangup NORMAL_CLEARING',
  ]);
});

test.run();
