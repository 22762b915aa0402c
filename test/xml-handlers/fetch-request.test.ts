// The pure parsing step: each real FreeSWITCH request becomes the typed request
// a handler expects, and what cannot be answered is refused precisely.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BadFetch, parseFetch, sipDomain, type FormBody } from '../../xml-handlers/fetch-request.js';
import { parseForm } from '../../daemon/xml-curl/form-parser.js';
import { fixtureNames, loadFixture } from '../helpers/xml-curl-client.js';

const test = suite('xml-handlers: parse a fetch');
const form = (fields: Record<string, string | string[]>): FormBody => new Map(Object.entries(fields));
const parsed = (n: string) =>
  parseFetch(parseForm(loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!).body.toString('latin1')));

test('every fixture parses; sections as captured', () => {
  for (const name of fixtureNames()) {
    const r = parseFetch(parseForm(loadFixture(name).body.toString('latin1')));
    assert.is(r.node, 'vm', name);
    assert.ok(name.slice(4).startsWith(r.section), `${name}: ${r.section}`);
  }
});

test('directory requests', () => {
  assert.equal(parsed('025'), {
    section: 'directory',
    node: 'vm',
    directory: {
      kind: 'sip_auth',
      user: '1001',
      domain: 'acme.pbx.test',
      verbatim: true,
      method: 'REGISTER',
      toHost: 'acme.pbx.test',
      fromHost: 'acme.pbx.test',
    },
  });
  assert.equal(parsed('027').section === 'directory' && parsed('027'), {
    section: 'directory',
    node: 'vm',
    directory: {
      kind: 'sip_auth',
      user: '1000',
      domain: 'acme.pbx.test',
      verbatim: true,
      method: 'INVITE',
      toHost: 'acme.pbx.test',
      fromHost: 'acme.pbx.test',
    },
  });
  assert.equal(parsed('029'), {
    section: 'directory',
    node: 'vm',
    directory: { kind: 'user_call', user: '1001', domain: 'acme.pbx.test', verbatim: true },
  });
  assert.equal(parsed('038'), {
    section: 'directory',
    node: 'vm',
    directory: {
      kind: 'user_call',
      user: '1001',
      domain: 'acme.pbx.test',
      verbatim: true,
    },
  });
  assert.equal(parsed('006'), { section: 'directory', node: 'vm', directory: { kind: 'gateways' } });
  assert.equal(parsed('017'), {
    section: 'directory',
    node: 'vm',
    directory: { kind: 'network-list', domain: 'acme.pbx.test' },
  });
});

test('dialplan requests carry context, destination, A-leg uuid, tenant variable, source address and user', () => {
  assert.equal(parsed('028'), {
    section: 'dialplan',
    node: 'vm',
    dialplan: {
      context: 'acme.pbx.test',
      destination: '1001',
      callUuid: '56356642-2fdf-4006-baa1-14b2ad06c094',
      channelTenantId: undefined,
      sourceIp: '127.0.0.1',
      callerUser: '1000',
      channelDirection: undefined,
    },
  });
  const pub = parsed('039');
  assert.ok(pub.section === 'dialplan');
  if (pub.section === 'dialplan') {
    assert.is(pub.dialplan.context, 'public');
    assert.is(pub.dialplan.destination, '+15550001000');
    assert.is(pub.dialplan.sourceIp, '127.0.0.2');
  }
});

test('configuration requests', () => {
  assert.equal(parsed('003'), {
    section: 'configuration',
    node: 'vm',
    configuration: { file: 'sofia.conf', profile: undefined, gateway: undefined },
  });
  assert.equal(parsed('004'), {
    section: 'configuration',
    node: 'vm',
    configuration: { file: 'sofia.conf', profile: 'internal', gateway: undefined },
  });
  assert.equal(parsed('008'), {
    section: 'configuration',
    node: 'vm',
    configuration: { file: 'callcenter.conf', queue: undefined },
  });
  assert.equal(parsed('035'), {
    section: 'configuration',
    node: 'vm',
    configuration: { file: 'callcenter.conf', queue: 'support@acme.pbx.test' },
  });
  assert.equal(parsed('016'), { section: 'configuration', node: 'vm', configuration: { file: 'acl.conf' } });
  assert.equal(parsed('024'), {
    section: 'configuration',
    node: 'vm',
    configuration: { file: 'other', name: 'timezones.conf' },
  });
});

test('refusals: missing envelope fields, ambiguous repeats, over-long values', () => {
  const bad: Array<Record<string, string | string[]>> = [
    {},
    { hostname: 'vm' },
    { section: 'directory' },
    { hostname: 'v m', section: 'directory' },
    { hostname: 'vm', section: ['directory', 'dialplan'] },
    {
      hostname: 'vm',
      section: 'dialplan',
      'Hunt-Destination-Number': '1',
      'Unique-ID': '56356642-2fdf-4006-baa1-14b2ad06c094',
    },
    { hostname: 'vm', section: 'directory', action: 'sip_auth', domain: 'x'.repeat(5000) },
  ];
  for (const b of bad)
    assert.throws(
      () => parseFetch(form(b)),
      (e: unknown) => e instanceof BadFetch,
      JSON.stringify(b).slice(0, 80),
    );
  // the same value twice is not ambiguous
  assert.is(
    parseFetch(form({ hostname: ['vm', 'vm'], section: 'configuration', key_value: 'acl.conf' })).section,
    'configuration',
  );
});

test('domains: canonical lower case, anything else is not a domain', () => {
  assert.is(sipDomain('ACME.pbx.test'), 'acme.pbx.test');
  for (const d of ['', '../etc', 'a..b', 'acme.pbx.test"', 'acme.pbx.test\u0000', '-a.b', 'a b', `${'a'.repeat(64)}.b`])
    assert.is(sipDomain(d), undefined, d);
  // A digit first would make FreeSWITCH's user cache key ambiguous (xml-handlers/fs-names.ts).
  for (const d of ['0acme.test', '1.2.3.4', '9']) assert.is(sipDomain(d), undefined, d);
});

test('user look-ups say whether the domain came spelled as stored (only then may FreeSWITCH cache the answer)', () => {
  const lookup = (domain: string, extra: Record<string, string> = {}) => {
    const fields = {
      hostname: 'vm',
      section: 'directory',
      action: 'user_call',
      key: 'id',
      user: '1001',
      domain,
      ...extra,
    };
    const r = parseFetch(form(fields));
    return r.section === 'directory' ? r.directory : undefined;
  };
  assert.equal(lookup('acme.pbx.test'), { kind: 'user_call', user: '1001', domain: 'acme.pbx.test', verbatim: true });
  assert.equal(lookup('ACME.pbx.test'), { kind: 'user_call', user: '1001', domain: 'acme.pbx.test', verbatim: false });
  assert.equal(lookup('acme.pbx.test', { action: 'sip_auth', sip_auth_method: 'REGISTER' }), {
    kind: 'sip_auth',
    user: '1001',
    domain: 'acme.pbx.test',
    verbatim: true,
    method: 'REGISTER',
    toHost: undefined,
    fromHost: undefined,
  });
  assert.is(lookup('0acme.pbx.test')?.kind, 'unsupported');
  assert.is(lookup('acme.pbx.test', { user: '10a' })?.kind, 'unsupported');
  assert.is(lookup('acme.pbx.test', { key: 'number-alias' })?.kind, 'unsupported');
});

test('form decoding is strict', () => {
  const f = parseForm('a=%2B1%20x&b=&c&a=2&d%20e=x+y');
  assert.equal(
    ['a', 'b', 'c', 'd e', 'z'].map((k) => f.get(k)),
    [['+1 x', '2'], '', '', 'x y', undefined],
  );
  // keys found in place (no key needs decoding): names inside other keys or values never match
  const g = parseForm('xa=1&a=%2B1%20x&b=a&c&b_a=3&a=2&d=');
  assert.equal(
    ['a', 'b', 'c', 'd', 'x', ''].map((k) => g.get(k)),
    [['+1 x', '2'], 'a', '', '', undefined, undefined],
  );
  assert.is(parseForm('c').get('c'), '');
  // anywhere in the body, also in a field nobody reads, and in sequences cut by a separator
  for (const body of ['a=%ZZ', 'a=%E0%A4', 'a=%', '%=1', 'a=1&b=%C3', 'a=%C3&b=%A9', 'a%C3=%A9', 'a=%ED%A0%80'])
    assert.throws(() => parseForm(body), /percent-encoding/, body);
});

test('long values full of escapes and + are read right, and a key escape after them is still found', () => {
  const n = 50_000;
  const f = parseForm(`a=${'+'.repeat(n)}&b=${'%20'.repeat(n)}&c%2Bd=1&e=x+y`);
  assert.is(f.get('a'), ' '.repeat(n));
  assert.is(f.get('b'), ' '.repeat(n));
  assert.is(f.get('c+d'), '1'); // the key escape sends the form down the decoded-keys path
  assert.is(f.get('e'), 'x y');
  const g = parseForm(`a=${'+'.repeat(n)}&k+ey=2`);
  assert.is(g.get('k ey'), '2');
});

test.run();
