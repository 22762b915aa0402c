// FreeSWITCH-side keys cannot collide across tenants. The directory user cache
// key is modelled exactly as switch_xml.c builds it ("%s%s%s" of key, user and
// domain, no separator, 1023 bytes kept); candidates come from a seeded
// generator that also makes the shapes the old rule allowed, and the exported
// predicates decide which are valid. For every valid pair every other split of
// the same string is tried, so "no other valid pair has this key" is checked
// completely, not sampled. The other names the daemon feeds FreeSWITCH
// (gateways, ACL lists, mod_callcenter names, flush commands) are checked to
// split back into their parts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DEMO_EXTENSIONS, DEMO_TENANTS } from '../../daemon/db/demo-seed.js';
import { flushUser } from '../../daemon/esl/cache-flush.js';
import { agentFsName, parseFsName, queueFsName } from '../../xml-handlers/callcenter-names.js';
import { decideUser, renderUser, userIn } from '../../xml-handlers/directory.js';
import { parseFetch } from '../../xml-handlers/fetch-request.js';
import {
  type Extension,
  NO_FEATURES,
  NO_MAILBOX,
  type TenantId,
  type TenantSnapshot,
} from '../../xml-handlers/model.js';
import {
  FS_USER_CACHE_KEY_BUFFER,
  FS_USER_CACHE_KEY_MAX,
  FS_USER_ID_KEY,
  FS_USER_LOOKUP_KEYS,
  fsUserCacheKey,
  isExtensionNumber,
  isSipDomain,
  isSlug,
} from '../../xml-handlers/fs-names.js';
import { TRUNKS_ACL, gatewayName, tenantAclName } from '../../xml-handlers/gateway-name.js';
import { scaledDomain, scaledSlug, scaledUser } from '../bench/requests.js';
import { findAll, sectionOf } from '../helpers/xml-curl-client.js';

const test = suite('xml-handlers: FreeSWITCH names cannot collide');

const SEED = 0x13c0111d;
/** mulberry32: small, fast, and the same sequence on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const r = rng(SEED);
const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => pick([...alphabet])).join('');
const DIGITS = '0123456789';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const LDH = `${LETTERS}${DIGITS}-`;

/** The SIP domain rule before sql/006 (a digit could come first), for the old collisions. */
const OLD_DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

// Users: 2-10 digits, often extending or cutting a few shared stems, so users
// of different lengths share prefixes ("10", "100", "1000", "10001").
const STEMS = ['1', '10', '100', '1000', '0', '00', '7', '70', '99'];
function candidateUser(): string {
  const roll = r();
  if (roll < 0.5) return (pick(STEMS) + chars(DIGITS, int(0, 8))).slice(0, int(2, 10));
  if (roll < 0.95) return chars(DIGITS, int(2, 10));
  return chars(`${DIGITS}a`, int(1, 11)); // a few invalid ones
}

function label(firstFrom: string): string {
  const n = r() < 0.05 ? int(55, 63) : int(1, 8);
  if (n === 1) return pick([...firstFrom]);
  // Digits right after the first character are the adversarial case.
  const body = r() < 0.5 ? chars(DIGITS, n - 2) : chars(LDH, n - 2);
  return pick([...firstFrom]) + body + pick([...`${LETTERS}${DIGITS}`]);
}

// Domains: the old shape (first character a letter or a digit), sometimes
// starting with digits glued to a letter ("0acme", "00a1"), sometimes upper case.
function candidateDomain(): string {
  const first = r() < 0.35 ? label(DIGITS) : label(LETTERS);
  const labels = [first, ...Array.from({ length: int(0, 3) }, () => label(`${LETTERS}${DIGITS}`))];
  const d = labels.join('.');
  return r() < 0.03 ? d.toUpperCase() : d;
}

/** Inverse of fsUserCacheKey for our names: the prefix, then the user is the whole leading run of digits. */
function decodeUserKey(k: string): { key: string; user: string; domain: string } | undefined {
  const key = FS_USER_LOOKUP_KEYS.find((p) => k.startsWith(p));
  if (!key) return undefined;
  const m = /^([0-9]+)(.*)$/s.exec(k.slice(key.length));
  return m ? { key, user: m[1]!, domain: m[2]! } : undefined;
}

const valid = (u: string, d: string) => isExtensionNumber(u) && isSipDomain(d);

test('known collision: "100"@"0acme.test" and "1000"@"acme.test" shared a key; the new rule refuses the first', () => {
  assert.is(fsUserCacheKey('id', '100', '0acme.test'), 'id1000acme.test');
  assert.is(fsUserCacheKey('id', '1000', 'acme.test'), 'id1000acme.test');
  assert.ok(OLD_DOMAIN.test('0acme.test'), 'the old rule accepted it');
  assert.not.ok(isSipDomain('0acme.test'));
  assert.ok(valid('1000', 'acme.test'));
  // Also refused: upper case (the store is lower case; FreeSWITCH's hash is case-sensitive), IP addresses, empties.
  const refused = [
    'ACME.test',
    'Acme.test',
    '1.2.3.4',
    '0',
    '',
    '-a.test',
    'a-.test',
    'a..b',
    'a_b.test',
    `a${'b'.repeat(63)}.t`,
  ];
  for (const d of refused) assert.not.ok(isSipDomain(d), d);
  for (const d of ['a', 'a0', 'a1.b2', 'a0acme.test', 'x-1.0.test', `a${'b'.repeat(62)}.t`])
    assert.ok(isSipDomain(d), d);
  for (const u of ['1', '12345678901', '1a', '+100', ' 100', '１００']) assert.not.ok(isExtensionNumber(u), u);
});

test(`property (seed ${SEED}): distinct valid (user, domain) pairs never share a cache key, "id" or "number-alias"`, () => {
  const owner = new Map<string, string>();
  let accepted = 0;
  let rejected = 0;
  let oldCollisionsRefused = 0;
  let longest = 0;
  const N = 40_000;
  for (let i = 0; i < N; i++) {
    const u = candidateUser();
    const d = candidateDomain();
    if (!valid(u, d)) {
      rejected++;
      continue;
    }
    accepted++;
    // Complete: a pair with the same key and prefix is another split of the same string.
    const s = `${u}${d}`;
    for (let cut = 1; cut < s.length; cut++) {
      const [u2, d2] = [s.slice(0, cut), s.slice(cut)];
      if (u2 === u) continue;
      assert.not.ok(valid(u2, d2), `seed ${SEED}: ${u}@${d} and ${u2}@${d2} both valid, key ${s}`);
      if (isExtensionNumber(u2) && OLD_DOMAIN.test(d2)) oldCollisionsRefused++;
    }
    for (const key of FS_USER_LOOKUP_KEYS) {
      const k = fsUserCacheKey(key, u, d);
      const who = `${key}|${u}|${d}`;
      const prior = owner.get(k);
      assert.ok(prior === undefined || prior === who, `seed ${SEED}: ${who} and ${prior} share ${k}`);
      owner.set(k, who);
      // The key splits back: the prefixes differ in their first byte, the user is the leading digits.
      assert.equal(decodeUserKey(k), { key, user: u, domain: d });
      assert.is(k.length, key.length + u.length + d.length, 'never truncated');
      longest = Math.max(longest, k.length);
    }
  }
  assert.ok(accepted > N / 3 && rejected > N / 5, `accepted ${accepted}, rejected ${rejected}`);
  assert.ok(oldCollisionsRefused > 1000, `only ${oldCollisionsRefused} old-rule collisions were generated`);
  assert.ok(longest > 150, `longest key ${longest}: long names were generated`);
  assert.ok(FS_USER_CACHE_KEY_MAX < FS_USER_CACHE_KEY_BUFFER - 1);
  // The longest names there can be still fit.
  const maxDomain = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
  assert.is(maxDomain.length, 253);
  assert.ok(isSipDomain(maxDomain));
  assert.is(fsUserCacheKey('number-alias', '9'.repeat(10), maxDomain).length, FS_USER_CACHE_KEY_MAX);
});

test('exhaustive over a small alphabet: injective under the new rule, collisions under the old one', () => {
  const users: string[] = [];
  for (let n = 2; n <= 4; n++) for (let i = 0; i < 2 ** n; i++) users.push(i.toString(2).padStart(n, '0'));
  const domains: string[] = [];
  const alphabet = ['a', 'b', '0', '1', '-', '.'];
  const grow = (s: string) => {
    if (s) domains.push(s);
    if (s.length < 5) for (const c of alphabet) grow(s + c);
  };
  grow('');
  const count = (ok: (d: string) => boolean) => {
    const seen = new Map<string, string>();
    let collisions = 0;
    for (const d of domains.filter(ok)) {
      for (const u of users) {
        for (const key of FS_USER_LOOKUP_KEYS) {
          const k = fsUserCacheKey(key, u, d);
          const prior = seen.get(k);
          if (prior !== undefined && prior !== `${u}@${d}`) collisions++;
          seen.set(k, `${u}@${d}`);
        }
      }
    }
    return { collisions, keys: seen.size };
  };
  const now = count(isSipDomain);
  const before = count((d) => OLD_DOMAIN.test(d));
  assert.is(now.collisions, 0);
  assert.ok(now.keys > 10_000, `${now.keys} keys`);
  assert.ok(before.collisions > 100, `the old rule gives ${before.collisions} collisions in the same universe`);
});

test('the demo seed and the bench data set make valid names', () => {
  for (const t of DEMO_TENANTS) {
    assert.ok(isSipDomain(t.domain) && isSlug(t.slug), t.domain);
    for (const n of DEMO_EXTENSIONS) assert.ok(isExtensionNumber(n), n);
  }
  for (const i of [0, 1, 999, 9999, 10_000]) {
    assert.ok(isSipDomain(scaledDomain(i)) && isSlug(scaledSlug(i)), scaledDomain(i));
    assert.ok(isExtensionNumber(scaledUser(i)), scaledUser(i));
  }
});

// ---- what the daemon answers: every cacheable answer is filed under a key the flush clears ----

const ID = '11111111-2222-4333-8444-555555555555' as TenantId;
const ext = (number: string, realm: string): Extension => ({
  number,
  credentials: new Map([[realm, 'a'.repeat(32)]]),
  callerIdName: null,
  callerIdNumber: null,
  enabled: true,
  variables: {},
  features: NO_FEATURES,
  voicemail: NO_MAILBOX,
});
const tenant: TenantSnapshot = {
  id: ID,
  slug: 't1',
  status: 'active',
  primaryDomain: 'acme.pbx.test',
  timezone: 'UTC',
  flowNodes: new Map(),
  domains: ['acme.pbx.test', 'desk.acme.test'],
  ceilings: { maxInbound: null, maxOutbound: null, maxTotal: null },
  defaultCallerIdName: null,
  defaultCallerIdNumber: null,
  extensions: new Map([
    ['1000', ext('1000', 'acme.pbx.test')],
    ['1001', ext('1001', 'acme.pbx.test')],
  ]),
  queues: new Map(),
  dids: new Map(),
  trunks: [],
  outboundRoutes: [],
  agents: [],
  tiers: [],
};

/** The cache key `xml_flush_cache <key> <user> <domain>` clears (mod_commands splits on spaces). */
function flushedKey(cmd: string): string {
  const argv = cmd.split(' ');
  assert.is(argv.length, 4, cmd);
  return fsUserCacheKey(argv[1]!, argv[2]!, argv[3]!);
}

function spellings(d: string): string[] {
  const out = new Set([d, d.toUpperCase(), d[0]!.toUpperCase() + d.slice(1), d.replace('k', '\u212a')]);
  for (let i = 0; i < 20; i++) out.add([...d].map((c) => (r() < 0.3 ? c.toUpperCase() : c)).join(''));
  return [...out];
}

test('only requests spelled as stored are answered cacheable, and their key is one the flush clears', () => {
  // What cache-flush.ts sends when an extension of this tenant changes: every number in every domain.
  const flushable = new Set<string>();
  for (const n of tenant.extensions.keys()) for (const d of tenant.domains) flushable.add(flushedKey(flushUser(n, d)));
  let cached = 0;
  let uncached = 0;
  for (const action of ['sip_auth', 'user_call', 'message-count']) {
    for (const domain of tenant.domains) {
      for (const asked of spellings(domain)) {
        for (const user of ['1000', '1001']) {
          const form = new Map(
            Object.entries({
              hostname: 'fs1',
              section: 'directory',
              tag_name: 'domain',
              key_name: 'name',
              key_value: asked,
              action,
              key: FS_USER_ID_KEY,
              user,
              domain: asked,
              sip_auth_method: 'REGISTER',
              sip_to_host: asked,
            }),
          );
          const req = parseFetch(form);
          if (req.section !== 'directory') throw new Error('not a directory request');
          const dir = req.directory;
          if (dir.kind !== 'sip_auth' && dir.kind !== 'user_call' && dir.kind !== 'message-count') {
            assert.not.ok(isSipDomain(asked.toLowerCase()), `${asked} refused`);
            continue;
          }
          const d = decideUser(dir, userIn(tenant, dir.user));
          const label = `${action} ${user}@${asked}`;
          if (d.kind !== 'user') {
            assert.ok(action === 'sip_auth' && (asked !== domain || domain !== 'acme.pbx.test'), label);
            continue;
          }
          const doc = sectionOf(renderUser(d, { cacheableMs: 60_000, voicemailDir: '/srv/vm' }));
          if (findAll(doc, 'user')[0]!.attrs.cacheable !== undefined) {
            cached++;
            assert.is(asked, domain, label);
            assert.ok(flushable.has(fsUserCacheKey(FS_USER_ID_KEY, user, asked)), `${label}: no flush clears it`);
          } else {
            uncached++;
            assert.is.not(asked, domain, label);
            assert.not.ok(
              findAll(doc, 'param').some((p) => p.attrs.name === 'a1-hash'),
              `${label}: no a1-hash`,
            );
          }
        }
      }
    }
  }
  assert.ok(cached >= 8 && uncached > 50, `cached ${cached}, uncached ${uncached}`);
});

// ---- the other names: gateways, ACL lists, mod_callcenter, flush commands ----

function candidateSlug(): string {
  const n = int(1, r() < 0.05 ? 63 : 8);
  const s =
    n === 1
      ? chars(`${LETTERS}${DIGITS}`, 1)
      : chars(`${LETTERS}${DIGITS}`, 1) + chars(`${LDH}_@.`, n - 2) + chars(`${LETTERS}${DIGITS}`, 1);
  return s;
}

test("gateway <tenant>_<trunk> and ACL <tenant>_trunks split back; ACL names never meet FreeSWITCH's own", () => {
  const gateways = new Map<string, string>();
  const acls = new Map<string, string>();
  let pairs = 0;
  for (let i = 0; i < 20_000; i++) {
    const [t, k] = [candidateSlug(), candidateSlug()];
    if (!isSlug(t) || !isSlug(k)) {
      assert.throws(() => gatewayName(t, k));
      continue;
    }
    pairs++;
    const g = gatewayName(t, k);
    assert.equal(g.split('_'), [t, k], g);
    const prior = gateways.get(g);
    assert.ok(prior === undefined || prior === `${t}|${k}`, `${g}: ${prior} and ${t}|${k}`);
    gateways.set(g, `${t}|${k}`);
    const a = tenantAclName(t);
    assert.ok(acls.get(a) === undefined || acls.get(a) === t);
    acls.set(a, t);
    assert.is.not(a, TRUNKS_ACL);
    assert.not.ok(a.includes('.'), "switch_load_network_lists' own lists (rfc1918.auto, ...) all have a dot");
  }
  assert.ok(pairs > 5_000, `${pairs} valid pairs`);
  for (const bad of ['a_b', 'a@b', 'a.b', 'A', '-a', 'a-', '']) assert.not.ok(isSlug(bad), bad);
});

test('mod_callcenter <queue>@<domain> and <extension>@<domain> split back; flush commands name exactly one key', () => {
  const names = new Map<string, string>();
  let n = 0;
  for (let i = 0; i < 20_000; i++) {
    const [q, u, d] = [candidateSlug(), candidateUser(), candidateDomain()];
    if (isSlug(q) && isSipDomain(d)) {
      const name = queueFsName(q, d);
      assert.equal(parseFsName(name, 'queue'), { local: q, domain: d });
      assert.ok(names.get(`q ${name}`) === undefined || names.get(`q ${name}`) === `${q}|${d}`);
      names.set(`q ${name}`, `${q}|${d}`);
      n++;
    }
    if (valid(u, d)) {
      const name = agentFsName(u, d);
      assert.equal(parseFsName(name, 'agent'), { local: u, domain: d });
      assert.ok(names.get(`a ${name}`) === undefined || names.get(`a ${name}`) === `${u}|${d}`);
      names.set(`a ${name}`, `${u}|${d}`);
      // The flush for this user clears this user's key and, the key being injective, nobody else's.
      assert.is(flushedKey(flushUser(u, d)), fsUserCacheKey('id', u, d));
    } else if (isExtensionNumber(u) && OLD_DOMAIN.test(d)) {
      assert.throws(() => agentFsName(u, d), /invalid SIP domain/);
    }
  }
  assert.ok(n > 2_000, `${n} queue names`);
});

test.run();
