// The call-flow API (README "Call flows"): nodes and menu choices are checked on write with the parsers calls use,
// so a loop without a caller's choice, another tenant's node, a deleted target, bad digits, a schedule or a time
// zone that does not parse are a 400/404/409 naming the field, and nothing is written; every write is audited.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { readSnapshot } from '../../daemon/tenants/load-snapshot.js';
import { type ApiHarness, startApi } from './api-harness.js';

let h: ApiHarness;
let acme: string;
let globex: string;
const ids: Record<string, string> = {};

const post = (token: string, url: string, body: unknown) => h.call('POST', `/api${url}`, { token, body });
const patch = (token: string, url: string, body: unknown) => h.call('PATCH', `/api${url}`, { token, body });
const count = async (tenant: 'acme' | 'globex', table: string) =>
  h.inTenant(h.tenants[tenant], async (db) => (await db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

/** Creates a node as acme and returns its id. */
async function made(body: Record<string, unknown>): Promise<string> {
  const r = await post(acme, '/call-flow-nodes', body);
  assert.is(r.status, 201, r.text);
  return r.body.id;
}

function refused(r: { status: number; text: string; body: { message: string } }, status: number, field: string) {
  assert.is(r.status, status, r.text);
  // Schema violations are named body/<field> (fastify's ajv), the rest <field>.
  assert.ok(r.body.message.replace(/^body\//, '').startsWith(field), `${field} expected first: ${r.body.message}`);
}

test.before(async () => {
  h = await startApi();
  acme = await h.token('tenant_admin', 'acme');
  globex = await h.token('tenant_admin', 'globex');
  const exts = (await h.call('GET', '/api/extensions', { token: acme })).body.items as { id: string; number: string }[];
  ids.ext1000 = exts.find((e) => e.number === '1000')!.id;
  ids.globexNode = (await h.call('GET', '/api/call-flow-nodes', { token: globex })).body.items[0].id;
});
test.after(() => h.close());

test('a node per kind is created, read back, audited; settings defaults are what calls use', async () => {
  const e = await made({ name: 'api-ext', kind: 'extension', extensionId: ids.ext1000, settings: { ringS: 15 } });
  const m = await made({
    name: 'api-menu',
    kind: 'menu',
    dialCode: '8700',
    settings: { greeting: 'ivr/ivr-welcome.wav', digitLen: 2 },
    nextNodeId: e,
  });
  const c = await post(acme, '/menu-choices', { menuId: m, digits: '11', targetId: e });
  assert.is(c.status, 201, c.text);
  const got = await h.call('GET', `/api/call-flow-nodes/${m}`, { token: acme });
  assert.equal(
    { kind: got.body.kind, dialCode: got.body.dialCode, next: got.body.nextNodeId },
    { kind: 'menu', dialCode: '8700', next: e },
  );
  const audit = await h.inTenant(h.tenants.acme, async (db) =>
    (
      await db.query(
        "SELECT action FROM audit_logs WHERE target LIKE 'call-flow-nodes/%' OR target LIKE 'menu-choices/%'",
      )
    ).rows.map((r) => r.action),
  );
  assert.ok(audit.includes('call_flow_node.create') && audit.includes('menu_choice.create'), audit.join());
  ids.ext = e;
  ids.menu = m;
});

test('bad settings are a 400 naming the field, checked by the same parser as calls', async () => {
  const before = await count('acme', 'call_flow_nodes');
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ kind: 'time_condition', settings: { timezone: 'Mars/Olympus' } }, 'settings.timezone'],
    [
      { kind: 'time_condition', settings: { weekly: [{ days: ['mon'], from: '9am', to: '17:00' }] } },
      'settings.weekly[0].from',
    ],
    [
      { kind: 'time_condition', settings: { weekly: [{ days: ['mon'], from: '18:00', to: '09:00' }] } },
      'settings.weekly[0].to',
    ],
    [
      { kind: 'time_condition', settings: { weekly: [{ days: ['monday'], from: '09:00', to: '17:00' }] } },
      'settings.weekly[0].days',
    ],
    [{ kind: 'time_condition', settings: { holidays: ['25/12/2026'] } }, 'settings.holidays[0]'],
    [{ kind: 'menu', settings: {} }, 'settings.greeting'],
    [{ kind: 'menu', settings: { greeting: '/etc/passwd' } }, 'settings.greeting'],
    [{ kind: 'menu', settings: { greeting: '../../secret.wav' } }, 'settings.greeting'],
    [{ kind: 'menu', settings: { greeting: 'ivr/x.wav', digitLen: 9 } }, 'settings.digitLen'],
    [{ kind: 'announcement', settings: { sound: 'tone_stream://${system(id)}' } }, 'settings.sound'],
    [{ kind: 'ring_group', settings: { members: [] } }, 'settings.members'],
    [{ kind: 'ring_group', settings: { members: [{ number: '1000@globex.pbx.test' }] } }, 'settings.members[0].number'],
    [{ kind: 'ring_group', settings: { members: [{ number: '1000', timeoutS: 1 }] } }, 'settings.members[0].timeoutS'],
    [{ kind: 'hangup', settings: { cause: 'explode' } }, 'settings.cause'],
    [{ kind: 'hangup', settings: { typo: 1 } }, 'settings.typo'],
    [{ kind: 'extension' }, 'extensionId'],
    [{ kind: 'queue', extensionId: ids.ext1000 }, 'extensionId'],
    [{ kind: 'queue' }, 'queueId'],
    [{ kind: 'hangup', nextNodeId: ids.ext }, 'nextNodeId'],
    [{ kind: 'announcement', settings: { sound: 'silence_stream://10' }, elseNodeId: ids.ext }, 'elseNodeId'],
    [{ kind: 'menu', settings: { greeting: 'ivr/x.wav' }, dialCode: '1000' }, 'dialCode'],
  ];
  for (const [i, [body, field]] of cases.entries()) {
    const tc = body.kind === 'time_condition' ? { nextNodeId: ids.ext, elseNodeId: ids.ext } : {};
    refused(await post(acme, '/call-flow-nodes', { name: `bad-${i}`, ...tc, ...body }), 400, field);
  }
  assert.is(await count('acme', 'call_flow_nodes'), before, 'a refused write left a row');
});

test('a loop a call would follow without a caller choice is refused; through a menu choice it is fine', async () => {
  const tc = await made({
    name: 'loop-tc',
    kind: 'time_condition',
    settings: { weekly: [] },
    nextNodeId: ids.menu,
    elseNodeId: ids.menu,
  });
  // menu's next already points at ext; making it the time condition closes menu → tc → menu.
  const r = await patch(acme, `/call-flow-nodes/${ids.menu}`, { nextNodeId: tc });
  refused(r, 400, 'nextNodeId');
  assert.match(r.body.message, /api-menu → loop-tc → api-menu|loop-tc → api-menu → loop-tc/);
  const back = await h.call('GET', `/api/call-flow-nodes/${ids.menu}`, { token: acme });
  assert.is(back.body.nextNodeId, ids.ext, 'the refused change was written');
  // A menu choice back to the time condition is the caller's choice: allowed.
  assert.is((await post(acme, '/menu-choices', { menuId: ids.menu, digits: '9', targetId: tc })).status, 201);
  // Self-reference.
  refused(await patch(acme, `/call-flow-nodes/${ids.ext}`, { nextNodeId: ids.ext }), 400, 'nextNodeId');
});

test("another tenant's node is not found (404), never linked; a node in use cannot be deleted (409)", async () => {
  refused(
    await post(acme, '/call-flow-nodes', {
      name: 'x1',
      kind: 'announcement',
      settings: { sound: 'silence_stream://1' },
      nextNodeId: ids.globexNode,
    }),
    404,
    'nextNodeId',
  );
  refused(
    await post(acme, '/menu-choices', { menuId: ids.menu, digits: '5', targetId: ids.globexNode }),
    404,
    'targetId',
  );
  refused(
    await post(acme, '/dids', { e164: '+15550009876', destinationType: 'flow', flowNodeId: ids.globexNode }),
    404,
    'flowNodeId',
  );
  assert.is((await h.call('GET', `/api/call-flow-nodes/${ids.globexNode}`, { token: acme })).status, 404);
  // ext is the menu's next and a choice's target: deleting it is refused, naming what uses it.
  const del = await h.call('DELETE', `/api/call-flow-nodes/${ids.ext}`, { token: acme });
  refused(del, 409, 'id');
  assert.match(del.body.message, /still used by/);
  // The extension behind a node cannot go either.
  refused(await h.call('DELETE', `/api/extensions/${ids.ext1000}`, { token: acme }), 409, 'id');
});

test('menu choices: digits 0-9 * # only, no longer than the menu reads, on a menu only', async () => {
  for (const digits of ['A', '1 ', '12345', '']) {
    const r = await post(acme, '/menu-choices', { menuId: ids.menu, digits, targetId: ids.ext });
    refused(r, 400, 'digits');
  }
  // The menu reads 2 digits (digitLen 2): three cannot be chosen.
  refused(await post(acme, '/menu-choices', { menuId: ids.menu, digits: '123', targetId: ids.ext }), 400, 'digits');
  refused(await post(acme, '/menu-choices', { menuId: ids.ext, digits: '1', targetId: ids.ext }), 400, 'menuId');
  // Shrinking the menu's digitLen under an existing choice ('11') is refused on the menu.
  refused(
    await patch(acme, `/call-flow-nodes/${ids.menu}`, { settings: { greeting: 'ivr/x.wav', digitLen: 1 } }),
    400,
    'digits',
  );
});

test('follow-me: a list of numbers of the tenant, never the extension itself', async () => {
  const agent = await h.token('agent', 'acme', { sub: '1001' });
  const ok = await h.call('PUT', '/api/me/features', {
    token: agent,
    body: { followMe: [{ number: '1002' }, { number: '+442071234567', timeoutS: 30 }] },
  });
  assert.is(ok.status, 200, ok.text);
  assert.equal(ok.body.followMe, [
    { number: '1002', timeoutS: 20 },
    { number: '+442071234567', timeoutS: 30 },
  ]);
  refused(
    await h.call('PUT', '/api/me/features', { token: agent, body: { followMe: [{ number: '1001' }] } }),
    400,
    'followMe',
  );
  const bad = await h.call('PUT', '/api/me/features', {
    token: agent,
    body: { followMe: [{ number: 'sip:1002@globex.pbx.test' }] },
  });
  assert.is(bad.status, 400, bad.text);
  assert.match(bad.body.message, /followMe/);
});

test('voicemail PIN: stored only as MD5(number:domain:pin), never returned or audited; null removes it', async () => {
  const r = await patch(acme, `/extensions/${ids.ext1000}`, { voicemailEnabled: true, voicemailPin: '8642' });
  assert.is(r.status, 200, r.text);
  assert.equal([r.body.voicemailEnabled, r.body.voicemailPinSet, 'voicemailPin' in r.body], [true, true, false]);
  const [row] = await h.inTenant(
    h.tenants.acme,
    async (db) =>
      (
        await db.query('SELECT voicemail_pin_hash AS h, voicemail_pin_realm AS realm FROM extensions WHERE id = $1', [
          ids.ext1000,
        ])
      ).rows,
  );
  assert.equal(row, { h: a1Hash('1000', 'acme.pbx.test', '8642'), realm: 'acme.pbx.test' });
  const audit = await h.inTenant(
    h.tenants.acme,
    async (db) =>
      (
        await db.query(
          "SELECT summary::text AS s FROM audit_logs WHERE action = 'extension.update' ORDER BY at DESC LIMIT 1",
        )
      ).rows[0].s,
  );
  assert.not.ok(audit.includes('8642') || audit.includes(row.h), audit);
  refused(await patch(acme, `/extensions/${ids.ext1000}`, { voicemailPin: '12' }), 400, 'voicemailPin');
  const off = await patch(acme, `/extensions/${ids.ext1000}`, { voicemailPin: null, voicemailEnabled: false });
  assert.equal([off.body.voicemailPinSet, off.body.voicemailEnabled], [false, false]);
});

test('voicemail limits: max messages and max length per box, bounded, in the snapshot the dialplan reads', async () => {
  const path = `/extensions/${ids.ext1000}`;
  const r = await patch(acme, path, { voicemailMaxMessages: 20, voicemailMaxLengthS: 60 });
  assert.is(r.status, 200, r.text);
  assert.equal([r.body.voicemailMaxMessages, r.body.voicemailMaxLengthS], [20, 60]);
  const snap = await h.inTenant(h.tenants.acme, (db) => readSnapshot(db, h.tenants.acme));
  const box = snap!.extensions.get('1000')!.voicemail;
  assert.equal([box.maxMessages, box.maxLengthS], [20, 60]);
  for (const bad of [0, 10000, 1.5, 'x'])
    refused(await patch(acme, path, { voicemailMaxMessages: bad }), 400, 'voicemailMaxMessages');
  // Not longer than the profile's max-record-len (300 s), not under min-record-len's reach.
  for (const bad of [4, 301])
    refused(await patch(acme, path, { voicemailMaxLengthS: bad }), 400, 'voicemailMaxLengthS');
  const off = await patch(acme, path, { voicemailMaxMessages: null, voicemailMaxLengthS: null });
  assert.equal([off.body.voicemailMaxMessages, off.body.voicemailMaxLengthS], [null, null]);
});

test.run();
