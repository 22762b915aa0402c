// Resource behaviour as a tenant admin and as an agent: password hashing,
// secrets never returned or audited, CIDR/regex/variable rules, same-tenant
// references, feature flags (with their change notification), agent status,
// call paging and filters, and the audit trail of every mutation.
import pg from 'pg';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { startApi, type ApiHarness } from './api-harness.js';

let h: ApiHarness;
let acme: string;
let globex: string;
const q = async (tenant: 'acme' | 'globex', sql: string, params: unknown[] = []) =>
  h.inTenant(h.tenants[tenant], async (db) => (await db.query(sql, params)).rows);

test.before(async () => {
  h = await startApi();
  acme = await h.token('tenant_admin', 'acme');
  globex = await h.token('tenant_admin', 'globex');
});
test.after(() => h.close());

test('extension password sets one credential per SIP domain; neither plaintext nor hash is returned, audited or logged', async () => {
  const res = await h.call('POST', '/api/extensions', {
    token: acme,
    body: { number: '2000', password: 'S3cret-pass!', callerIdName: 'Front desk' },
  });
  assert.is(res.status, 201, res.text);
  assert.not.ok('password' in res.body || 'a1Hash' in res.body || 'a1_hash' in res.body);
  assert.equal(res.body.realms, ['acme.pbx.test']);
  const [row] = await q(
    'acme',
    "SELECT c.a1_hash, c.realm FROM extension_credentials c JOIN extensions e ON e.id = c.extension_id WHERE number = '2000'",
  );
  assert.equal(row, { a1_hash: a1Hash('2000', 'acme.pbx.test', 'S3cret-pass!'), realm: 'acme.pbx.test' });
  const audit = await q('acme', 'SELECT summary::text AS s, actor, action FROM audit_logs WHERE target = $1', [
    `extensions/${res.body.id}`,
  ]);
  assert.is(audit[0].action, 'extension.create');
  assert.is(audit[0].actor, 'tenant_admin@acme');
  assert.match(audit[0].s, /"secretsSet": \["password"\]/);
  for (const secret of ['S3cret-pass!', row.a1_hash]) {
    assert.not.ok(audit[0].s.includes(secret));
    assert.not.ok(JSON.stringify(h.logs).includes(secret));
  }
  // Renumbering needs the password again (the hash covers the number).
  const renumber = await h.call('PATCH', `/api/extensions/${res.body.id}`, { token: acme, body: { number: '2001' } });
  assert.is(renumber.status, 400);
  assert.match(renumber.body.message, /^password:/);
  const ok = await h.call('PATCH', `/api/extensions/${res.body.id}`, {
    token: acme,
    body: { number: '2001', password: 'An0ther-pass' },
  });
  assert.is(ok.status, 200, ok.text);
  const [after] = await q('acme', 'SELECT a1_hash FROM extension_credentials WHERE extension_id = $1', [res.body.id]);
  assert.is(after.a1_hash, a1Hash('2001', 'acme.pbx.test', 'An0ther-pass'));
  assert.is(
    (await h.call('POST', '/api/extensions', { token: acme, body: { number: '2001', password: 'whatever-1' } })).status,
    409,
  );
  assert.is((await h.call('DELETE', `/api/extensions/${res.body.id}`, { token: acme })).status, 204);
  assert.is((await h.call('GET', `/api/extensions/${res.body.id}`, { token: acme })).status, 404);
});

test('extension variables: an allowlist; host- or routing-changing variables and expansion syntax are refused', async () => {
  const ok = await h.call('POST', '/api/extensions', {
    token: acme,
    body: { number: '2100', password: 'pass-2100-x', variables: { call_timeout: '30', x_team: 'sales' } },
  });
  assert.is(ok.status, 201, ok.text);
  assert.equal(ok.body.variables, { call_timeout: '30', x_team: 'sales' });
  for (const variables of [
    { api_hangup_hook: 'system rm -rf /' },
    { user_context: 'globex.pbx.test' },
    { fs_tenant_id: 'x' },
    { x_ok: '${system(id)}' },
    { x_ok: 'a,b' },
  ]) {
    const res = await h.call('PATCH', `/api/extensions/${ok.body.id}`, { token: acme, body: { variables } });
    assert.is(res.status, 400, `${JSON.stringify(variables)}: ${res.text}`);
    assert.match(res.body.message, /variables/);
  }
});

test('trunks: CIDRs validated with the field named, password write-only, registration needs credentials', async () => {
  const bad = await h.call('POST', '/api/trunks', {
    token: acme,
    body: { name: 'carrier2', allowedCidrs: ['192.0.2.0/24', '10.0.0.0/33'] },
  });
  assert.is(bad.status, 400);
  assert.match(bad.body.message, /^allowedCidrs\/1: "10\.0\.0\.0\/33"/);
  const hostBits = await h.call('POST', '/api/trunks', {
    token: acme,
    body: { name: 'carrier2', allowedCidrs: ['10.0.0.1/8'] },
  });
  assert.is(hostBits.status, 400);
  assert.match(hostBits.body.message, /^allowedCidrs\/0: .*right of the \/8 mask/);
  const v6bits = await h.call('POST', '/api/trunks', {
    token: acme,
    body: { name: 'carrier2', allowedCidrs: ['2001:db8::1/64'] },
  });
  assert.is(v6bits.status, 400);
  const noCreds = await h.call('POST', '/api/trunks', {
    token: acme,
    body: { name: 'carrier2', proxy: 'sip.example.net', register: true },
  });
  assert.is(noCreds.status, 400);
  assert.match(noCreds.body.message, /^register:/);
  const res = await h.call('POST', '/api/trunks', {
    token: acme,
    body: {
      name: 'carrier2',
      proxy: 'sip.example.net:5060',
      username: 'acme',
      password: 'tr-unk-secret',
      register: true,
      allowedCidrs: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7'],
    },
  });
  assert.is(res.status, 201, res.text);
  assert.equal(res.body.allowedCidrs, ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32']);
  assert.is(res.body.hasPassword, true);
  assert.not.ok(res.text.includes('tr-unk-secret'));
  const [row] = await q('acme', 'SELECT password FROM sip_trunks WHERE id = $1', [res.body.id]);
  assert.is(row.password, 'tr-unk-secret');
  const audit = await q('acme', 'SELECT summary::text AS s FROM audit_logs WHERE target = $1', [
    `trunks/${res.body.id}`,
  ]);
  assert.not.ok(audit[0].s.includes('tr-unk-secret'));
});

test("outbound routes: the pattern must compile; the trunk must be this tenant's", async () => {
  const [trunk] = await q('acme', "SELECT id FROM sip_trunks WHERE name = 'carrier'");
  const [foreign] = await q('globex', "SELECT id FROM sip_trunks WHERE name = 'carrier'");
  const bad = await h.call('POST', '/api/outbound-routes', {
    token: acme,
    body: { name: 'intl', pattern: '^(00[', trunkId: trunk.id },
  });
  assert.is(bad.status, 400);
  assert.match(bad.body.message, /^pattern:/);
  const cross = await h.call('POST', '/api/outbound-routes', {
    token: acme,
    body: { name: 'intl', pattern: '^00', trunkId: foreign.id },
  });
  assert.is(cross.status, 404);
  assert.match(cross.body.message, /^trunkId:/);
  const ok = await h.call('POST', '/api/outbound-routes', {
    token: acme,
    body: { name: 'intl', pattern: '^00([1-9][0-9]+)$', trunkId: trunk.id, stripDigits: 2, prepend: '+' },
  });
  assert.is(ok.status, 201, ok.text);
});

test('DIDs: destination consistency; a number taken by another tenant is 409 without saying whose', async () => {
  const [ext] = await q('acme', "SELECT id FROM extensions WHERE number = '1000'");
  const [queue] = await q('acme', "SELECT id FROM queues WHERE name = 'support'");
  const noDest = await h.call('POST', '/api/dids', {
    token: acme,
    body: { e164: '+15550001999', destinationType: 'queue' },
  });
  assert.is(noDest.status, 400);
  assert.match(noDest.body.message, /^queueId:/);
  const both = await h.call('POST', '/api/dids', {
    token: acme,
    body: { e164: '+15550001999', destinationType: 'queue', queueId: queue.id, extensionId: ext.id },
  });
  assert.is(both.status, 400);
  const taken = await h.call('POST', '/api/dids', {
    token: globex,
    body: {
      e164: '+15550001000',
      destinationType: 'extension',
      extensionId: (await q('globex', "SELECT id FROM extensions WHERE number = '1000'"))[0].id,
    },
  });
  assert.is(taken.status, 409);
  assert.not.ok(taken.text.includes('acme'));
  const ok = await h.call('POST', '/api/dids', {
    token: acme,
    body: { e164: '+15550001999', destinationType: 'extension', extensionId: ext.id },
  });
  assert.is(ok.status, 201, ok.text);
  const switched = await h.call('PATCH', `/api/dids/${ok.body.id}`, {
    token: acme,
    body: { destinationType: 'queue', queueId: queue.id },
  });
  assert.is(switched.status, 200, switched.text);
  assert.equal([switched.body.queueId, switched.body.extensionId], [queue.id, null]);
});

test('queues, agents and tiers: same tenant only; a mixed tier is 404; duplicates 409', async () => {
  const mohFile = await h.call('POST', '/api/queues', {
    token: acme,
    body: { name: 'sales', mohSound: '/etc/passwd' },
  });
  assert.is(mohFile.status, 400);
  const queue = await h.call('POST', '/api/queues', {
    token: acme,
    body: { name: 'sales', dialCode: '7001', strategy: 'ring-all' },
  });
  assert.is(queue.status, 201, queue.text);
  const [ext1003] = await q('acme', "SELECT id FROM extensions WHERE number = '1003'");
  const agent = await h.call('POST', '/api/agents', { token: acme, body: { extensionId: ext1003.id, wrapUpTime: 5 } });
  assert.is(agent.status, 201, agent.text);
  assert.is(agent.body.extension, '1003');
  const [globexAgent] = await q('globex', 'SELECT id FROM agents LIMIT 1');
  const mixed = await h.call('POST', '/api/tiers', {
    token: acme,
    body: { queueId: queue.body.id, agentId: globexAgent.id },
  });
  assert.is(mixed.status, 404);
  assert.match(mixed.body.message, /^agentId:/);
  const tier = await h.call('POST', '/api/tiers', {
    token: acme,
    body: { queueId: queue.body.id, agentId: agent.body.id, level: 2 },
  });
  assert.is(tier.status, 201, tier.text);
  const dup = await h.call('POST', '/api/tiers', {
    token: acme,
    body: { queueId: queue.body.id, agentId: agent.body.id },
  });
  assert.is(dup.status, 409);
  const dupAgent = await h.call('POST', '/api/agents', { token: acme, body: { extensionId: ext1003.id } });
  assert.is(dupAgent.status, 409);
  assert.match(dupAgent.body.message, /^extensionId:/);
  // An admin status change is pushed to FreeSWITCH after commit.
  const pushedBefore = h.pushed.length;
  const set = await h.call('PATCH', `/api/agents/${agent.body.id}`, { token: acme, body: { status: 'On Break' } });
  assert.is(set.status, 200);
  assert.equal(
    h.pushed.slice(pushedBefore).map((p) => [p.extension, p.status, p.tenantSlug]),
    [['1003', 'On Break', 'acme']],
  );
});

test('feature flags: create, update, list, delete; each change is NOTIFYed so caches drop the tenant', async () => {
  const listener = new pg.Client({ connectionString: h.database.appUrl });
  await listener.connect();
  const notes: Array<{ table: string; op: string; tenant_id: string }> = [];
  listener.on('notification', (n) => notes.push(JSON.parse(n.payload!)));
  await listener.query('LISTEN fs_tenantd_changes');
  try {
    assert.is(
      (
        await h.call('POST', '/api/features', {
          token: acme,
          body: { key: 'voicemail', enabled: true, config: { maxMessages: 50 } },
        })
      ).status,
      201,
    );
    assert.is(
      (await h.call('POST', '/api/features', { token: acme, body: { key: 'voicemail', enabled: false } })).status,
      409,
    );
    const upd = await h.call('PATCH', '/api/features/call_recording', { token: acme, body: { enabled: true } });
    assert.is(upd.status, 200);
    assert.equal([upd.body.key, upd.body.enabled], ['call_recording', true]);
    const [row] = await q('acme', "SELECT enabled FROM tenant_features WHERE feature_key = 'call_recording'");
    assert.is(row.enabled, true);
    const [g] = await q('globex', "SELECT enabled FROM tenant_features WHERE feature_key = 'call_recording'");
    assert.is(g.enabled, false);
    const list = await h.call('GET', '/api/features', { token: acme });
    assert.equal(
      list.body.items.map((f: { key: string }) => f.key),
      ['call_recording', 'voicemail'],
    );
    assert.is((await h.call('DELETE', '/api/features/voicemail', { token: acme })).status, 204);
    assert.is((await h.call('GET', '/api/features/voicemail', { token: acme })).status, 404);
    await listener.query('SELECT 1'); // notifications arrive before the reply to a later query
    const mine = notes.filter((n) => n.table === 'tenant_features');
    assert.equal(
      mine.map((n) => [n.op, n.tenant_id]),
      [
        ['INSERT', h.tenants.acme],
        ['UPDATE', h.tenants.acme],
        ['DELETE', h.tenants.acme],
      ],
    );
  } finally {
    await listener.end();
  }
});

test('agents: read themselves and set their own status (pushed after commit, audited); no agent row is 404', async () => {
  const agent = await h.token('agent', 'acme', { sub: '1002' });
  const me = await h.call('GET', '/api/me/agent', { token: agent });
  assert.is(me.status, 200, me.text);
  assert.equal([me.body.extension, me.body.status, me.body.queues], ['1002', 'Logged Out', ['support']]);
  const pushedBefore = h.pushed.length;
  const set = await h.call('PUT', '/api/me/agent/status', { token: agent, body: { status: 'Available' } });
  assert.is(set.status, 200, set.text);
  assert.is(set.body.status, 'Available');
  const [row] = await q(
    'acme',
    "SELECT a.status FROM agents a JOIN extensions e ON e.id = a.extension_id WHERE e.number = '1002'",
  );
  assert.is(row.status, 'Available');
  assert.equal(
    h.pushed.slice(pushedBefore).map((p) => [p.extension, p.status]),
    [['1002', 'Available']],
  );
  const [audit] = await q(
    'acme',
    "SELECT actor, actor_role, summary FROM audit_logs WHERE action = 'agent.status' ORDER BY id DESC LIMIT 1",
  );
  assert.equal(audit, {
    actor: '1002',
    actor_role: 'agent',
    summary: { before: { status: 'Logged Out' }, after: { status: 'Available' } },
  });
  const bad = await h.call('PUT', '/api/me/agent/status', { token: agent, body: { status: 'Dancing' } });
  assert.is(bad.status, 400);
  const notAnAgent = await h.token('agent', 'acme', { sub: '1000' });
  assert.is((await h.call('GET', '/api/me/agent', { token: notAnAgent })).status, 404);
});

test('calls: keyset pages without overlap, filters, and a bad cursor is 400', async () => {
  const p1 = await h.call('GET', '/api/calls?limit=3', { token: acme });
  assert.is(p1.status, 200);
  assert.is(p1.body.items.length, 3);
  assert.ok(p1.body.nextCursor);
  const p2 = await h.call('GET', `/api/calls?limit=3&cursor=${p1.body.nextCursor}`, { token: acme });
  assert.is(p2.body.items.length, 1);
  assert.is(p2.body.nextCursor, null);
  const ids = [...p1.body.items, ...p2.body.items].map((c: { id: string }) => c.id);
  assert.is(new Set(ids).size, 4);
  const created = [...p1.body.items, ...p2.body.items].map((c: { createdAt: string }) => c.createdAt);
  assert.equal(created, [...created].sort().reverse());
  const inbound = await h.call('GET', '/api/calls?direction=inbound', { token: acme });
  assert.equal(
    inbound.body.items.map((c: { callee: string }) => c.callee),
    ['+15550001000'],
  );
  const unanswered = await h.call('GET', '/api/calls?answered=false', { token: acme });
  assert.equal(
    unanswered.body.items.map((c: { hangupCause: string }) => c.hangupCause),
    ['NO_ANSWER'],
  );
  const byNumber = await h.call('GET', '/api/calls?number=1001', { token: acme });
  assert.is(byNumber.body.items.length, 2);
  const window = await h.call('GET', '/api/calls?from=2026-11-20T09:10:00Z&to=2026-11-20T09:20:00Z', { token: acme });
  assert.is(window.body.items.length, 1);
  const bad = await h.call('GET', '/api/calls?cursor=AAAA', { token: acme });
  assert.is(bad.status, 400);
  assert.match(bad.body.message, /^cursor:/);
});

test("audit: every mutation above is in the tenant's log, newest first, paged; none of it in the other tenant", async () => {
  const page = await h.call('GET', '/api/audit?limit=5', { token: acme });
  assert.is(page.status, 200);
  assert.is(page.body.items.length, 5);
  assert.ok(page.body.nextBefore);
  const all = await h.call('GET', '/api/audit?limit=500', { token: acme });
  const actions = new Set(all.body.items.map((e: { action: string }) => e.action));
  for (const a of [
    'extension.create',
    'extension.update',
    'extension.delete',
    'trunk.create',
    'did.create',
    'did.update',
    'queue.create',
    'agent.create',
    'agent.update',
    'tier.create',
    'feature.create',
    'feature.update',
    'feature.delete',
    'agent.status',
    'outbound_route.create',
  ]) {
    assert.ok(actions.has(a), a);
  }
  assert.ok(all.body.items.every((e: { crossTenant: boolean }) => e.crossTenant === false));
  const ids = all.body.items.map((e: { id: number }) => e.id);
  assert.equal(
    ids,
    [...ids].sort((x: number, y: number) => y - x),
  );
  const other = await h.call('GET', '/api/audit?limit=500', { token: globex });
  assert.ok(other.body.items.every((e: { actor: string }) => !e.actor.includes('acme') && e.actor !== '1002'));
});

test('malformed requests: bad JSON is 400, an unknown route 404, both counted', async () => {
  const res = await h.app.inject({
    method: 'POST',
    url: '/api/queues',
    headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/json' },
    payload: '{"name":',
  });
  assert.is(res.statusCode, 400);
  assert.is((await h.call('GET', '/api/nope', { token: acme })).status, 404);
  assert.is((await h.call('GET', '/api/queues', { token: acme })).status, 200);
});

test('extension features: set by a tenant admin and by the extension itself, bad targets are 400 naming the field', async () => {
  const [{ id }] = await q('acme', "SELECT id FROM extensions WHERE number = '1003'");
  const set = await h.call('PATCH', `/api/extensions/${id}`, {
    token: acme,
    body: { dnd: true, forwardBusy: '1002', forwardNoAnswer: '+442071234567', noAnswerTimeoutS: 15 },
  });
  assert.is(set.status, 200, set.text);
  assert.equal(
    [set.body.dnd, set.body.forwardAlways, set.body.forwardBusy, set.body.forwardNoAnswer, set.body.noAnswerTimeoutS],
    [true, null, '1002', '+442071234567', 15],
  );
  for (const [body, field] of [
    [{ forwardAlways: 'sip:1002@globex.pbx.test' }, 'forwardAlways'],
    [{ forwardBusy: '*78' }, 'forwardBusy'],
    [{ forwardUnreachable: '+0123' }, 'forwardUnreachable'],
    [{ forwardAlways: '1003' }, 'forwardAlways'],
    [{ noAnswerTimeoutS: 1 }, 'noAnswerTimeoutS'],
  ] as const) {
    const r = await h.call('PATCH', `/api/extensions/${id}`, { token: acme, body });
    assert.is(r.status, 400, JSON.stringify(body));
    assert.match(r.body.message, new RegExp(`^(body/)?${field}\\b`), r.body.message);
  }
  const agent = await h.token('agent', 'acme', { sub: '1003' });
  const mine = await h.call('GET', '/api/me/features', { token: agent });
  assert.is(mine.status, 200, mine.text);
  assert.equal(mine.body, {
    extension: '1003',
    dnd: true,
    forwardAlways: null,
    forwardBusy: '1002',
    forwardNoAnswer: '+442071234567',
    forwardUnreachable: null,
    noAnswerTimeoutS: 15,
    followMe: [],
  });
  const off = await h.call('PUT', '/api/me/features', {
    token: agent,
    body: { dnd: false, forwardBusy: null, forwardNoAnswer: null, noAnswerTimeoutS: 20 },
  });
  assert.is(off.status, 200, off.text);
  assert.equal([off.body.dnd, off.body.forwardBusy, off.body.forwardNoAnswer], [false, null, null]);
  const [row] = await q('acme', "SELECT dnd, forward_busy, forward_no_answer FROM extensions WHERE number = '1003'");
  assert.equal(row, { dnd: false, forward_busy: null, forward_no_answer: null });
  const [audit] = await q(
    'acme',
    "SELECT actor, actor_role, summary FROM audit_logs WHERE action = 'extension.features' ORDER BY id DESC LIMIT 1",
  );
  assert.equal([audit.actor_role, audit.summary.after.dnd], ['agent', false]);
  const self = await h.call('PUT', '/api/me/features', { token: agent, body: { forwardAlways: '1003' } });
  assert.is(self.status, 400);
  assert.match(self.body.message, /^(body\/)?forwardAlways\b/);
  const junk = await h.call('PUT', '/api/me/features', { token: agent, body: { forwardAlways: 'globex/1002' } });
  assert.is(junk.status, 400);
  assert.match(junk.body.message, /^(body\/)?forwardAlways\b/);
  assert.is((await h.call('PUT', '/api/me/features', { token: agent, body: { number: '1000' } })).status, 400);
  const ghost = await h.token('agent', 'acme', { sub: '4242' });
  assert.is((await h.call('GET', '/api/me/features', { token: ghost })).status, 404);
  assert.is((await h.call('GET', '/api/me/features', { token: acme })).status, 403, 'agent tokens only');
});

test.run();
