// Call flows in the pure core: each node kind's dialplan, time conditions on a fixed clock and zone, walks that
// loop or meet unusable data (a clean rejection, never a fall-through), ivr.conf per menu and per tenant, and the
// write-time loop check.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { conferenceConf } from '../../xml-handlers/configuration/conference.js';
import { ivrConf } from '../../xml-handlers/configuration/ivr.js';
import { decideUser, renderUser, userIn } from '../../xml-handlers/directory.js';
import { parkingLotName } from '../../xml-handlers/media-names.js';
import { findUnattendedLoop, MAX_FLOW_STEPS } from '../../xml-handlers/dialplan/call-flow.js';
import { decidePublicCall, decideTenantCall, renderRoute } from '../../xml-handlers/dialplan/index.js';
import { isOpen, timeConditionNode } from '../../xml-handlers/dialplan/nodes/time-condition.js';
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import {
  type Extension,
  type FlowNode,
  type FlowNodeId,
  type FlowNodeKind,
  NO_FEATURES,
  NO_MAILBOX,
  type TenantId,
  type TenantSnapshot,
} from '../../xml-handlers/model.js';
import { findAll, parseXml } from '../helpers/xml-curl-client.js';

const test = suite('xml-handlers: call flows');
const ID = '11111111-2222-4333-8444-555555555555' as TenantId;
const OTHER = '99999999-2222-4333-8444-555555555555' as TenantId;
// Wednesday 2026-12-02 12:00 UTC = 07:00 in New York, 01:00 on Thursday in Auckland.
const NOON_UTC = new Date('2026-12-02T12:00:00Z');

let n = 0;
const nid = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` as FlowNodeId;

function node(kind: FlowNodeKind, over: Partial<FlowNode> = {}): FlowNode {
  return {
    id: nid(),
    name: `${kind}-${n}`,
    kind,
    dialCode: null,
    extension: null,
    queue: null,
    settings: {},
    next: null,
    else: null,
    choices: new Map(),
    ...over,
  };
}

const ext = (number: string, over: Partial<Extension> = {}): Extension => ({
  number,
  credentials: new Map([['t1.example', 'a'.repeat(32)]]),
  callerIdName: null,
  callerIdNumber: null,
  enabled: true,
  variables: {},
  features: NO_FEATURES,
  voicemail: NO_MAILBOX,
  ...over,
});

function tenant(nodes: FlowNode[], over: Partial<TenantSnapshot> = {}): TenantSnapshot {
  return {
    id: ID,
    slug: 't1',
    status: 'active',
    timezone: 'America/New_York',
    primaryDomain: 't1.example',
    domains: ['t1.example'],
    ceilings: { maxInbound: null, maxOutbound: null, maxTotal: null },
    defaultCallerIdName: null,
    defaultCallerIdNumber: '+15550000001',
    extensions: new Map([
      ['1000', ext('1000')],
      ['1001', ext('1001')],
      ['1002', ext('1002', { features: { ...NO_FEATURES, dnd: true } })],
    ]),
    queues: new Map([
      [
        'sales',
        {
          name: 'sales',
          dialCode: '7000',
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
    dids: new Map(),
    trunks: [
      {
        name: 'carrier',
        proxy: '192.0.2.1',
        username: null,
        password: null,
        register: false,
        allowedCidrs: ['192.0.2.1/32'],
        enabled: true,
      },
    ],
    outboundRoutes: [
      {
        name: 'pstn',
        pattern: /^\+[1-9][0-9]{6,14}$/,
        priority: 1,
        trunk: 'carrier',
        stripDigits: 0,
        prepend: '',
        callerIdNumber: null,
        callerIdName: null,
      },
    ],
    agents: [],
    tiers: [],
    flowNodes: new Map(nodes.map((x) => [x.id, x])),
    ...over,
  };
}

const call = (destination: string, over: Partial<DialplanRequest> = {}): DialplanRequest => ({
  context: 't1.example',
  destination,
  callUuid: '56356642-2fdf-4006-baa1-14b2ad06c094',
  channelTenantId: ID,
  sourceIp: '192.0.2.1',
  callerUser: '1000',
  channelDirection: undefined,
  ...over,
});

/** The actions of a routed call's answer, as "application data". */
function actions(t: TenantSnapshot, req: DialplanRequest, now = NOON_UTC): string[] {
  const d = decideTenantCall(req, t, now);
  assert.is(d.kind, 'route', JSON.stringify(d.kind === 'reject' ? d.rejection : d));
  const doc = parseXml(renderRoute('t1.example', d as Extract<typeof d, { kind: 'route' }>));
  return findAll(doc, 'action').map((a) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim());
}

test('extension node: rings for ringS, then its next node by every failure cause', () => {
  const after = node('hangup', { settings: { cause: 'busy' } });
  const e = node('extension', { extension: '1001', dialCode: '500', settings: { ringS: 12 }, next: after.id });
  const acts = actions(tenant([e, after]), call('500'));
  assert.ok(acts.includes('set call_timeout=12'), acts.join('\n'));
  assert.ok(acts.includes(`set fs_tenantd_forward_NO_ANSWER=flow-${after.id}`));
  assert.ok(acts.includes(`set fs_tenantd_forward_USER_BUSY=flow-${after.id}`));
  assert.ok(acts.some((a) => a.startsWith('bridge {') && a.endsWith('user/1001@t1.example')));
  assert.is(acts.at(-1), 'transfer ${fs_tenantd_forward_${originate_disposition}} XML t1.example');
  // Continuing at flow-<id> after the transfer: the hangup node answers busy.
  const cont = decideTenantCall(
    call(`flow-${after.id}`, { channelDirection: 'inbound' }),
    tenant([e, after]),
    NOON_UTC,
  );
  assert.is(cont.kind === 'reject' && cont.rejection.sipCode, 486);
});

test('extension node on a DND extension: busy, as the extension itself would be', () => {
  const e = node('extension', { extension: '1002', dialCode: '500' });
  const d = decideTenantCall(call('500'), tenant([e]), NOON_UTC);
  assert.is(d.kind === 'reject' && d.rejection.sipCode, 486);
});

test('queue node: the tenant queue; hangup node: its SIP answer', () => {
  const q = node('queue', { queue: 'sales', dialCode: '501' });
  const h = node('hangup', { dialCode: '502', settings: { cause: 'rejected' } });
  const t = tenant([q, h]);
  assert.ok(actions(t, call('501')).includes('callcenter sales@t1.example'));
  const d = decideTenantCall(call('502'), t, NOON_UTC);
  assert.is(d.kind === 'reject' && d.rejection.sipCode, 603);
});

test('ring group: simultaneous legs with delay, sequential with |, DND members skipped, external via the trunk', () => {
  const sim = node('ring_group', {
    dialCode: '600',
    settings: {
      strategy: 'simultaneous',
      members: [{ number: '1000' }, { number: '1001', delayS: 5, timeoutS: 10 }, { number: '1002' }],
    },
  });
  const seq = node('ring_group', {
    dialCode: '601',
    settings: { strategy: 'sequential', members: [{ number: '1001', timeoutS: 8 }, { number: '+15557654321' }] },
    next: sim.id,
  });
  const t = tenant([sim, seq]);
  const simBridge = actions(t, call('600')).find((a) => a.startsWith('bridge'))!;
  assert.ok(
    simBridge.endsWith('[leg_timeout=20]user/1000@t1.example,[leg_delay_start=5,leg_timeout=15]user/1001@t1.example'),
    simBridge,
  );
  const seqActs = actions(t, call('601'));
  const seqBridge = seqActs.find((a) => a.startsWith('bridge'))!;
  assert.ok(
    seqBridge.endsWith(
      '[leg_timeout=8]user/1001@t1.example|[leg_timeout=20,origination_caller_id_number=+15550000001]' +
        'sofia/gateway/t1_carrier/+15557654321',
    ),
    seqBridge,
  );
  assert.ok(seqActs.includes('set originate_continue_on_timeout=true'));
  assert.is(seqActs.at(-1), `transfer flow-${sim.id} XML t1.example`);
  // An external member makes it an outbound call for the ceilings.
  assert.ok(seqActs.includes('export fs_call_direction=outbound'));
  assert.ok(actions(t, call('600')).includes('export fs_call_direction=internal'));
});

test('menu node: answers and runs ivr <node id>; nobody choosing continues at next', () => {
  const a = node('announcement', { settings: { sound: 'ivr/ivr-thank_you.wav' } });
  const m = node('menu', { dialCode: '800', settings: { greeting: 'tone_stream://%(200,100,660)' }, next: a.id });
  const acts = actions(tenant([m, a]), call('800'));
  assert.equal(acts.slice(-3), ['answer', `ivr ${m.id}`, `transfer flow-${a.id} XML t1.example`]);
  const ann = actions(tenant([m, a]), call(`flow-${a.id}`));
  assert.equal(ann.slice(-3), ['answer', 'playback ivr/ivr-thank_you.wav', 'hangup NORMAL_CLEARING']);
});

test('time condition: decided in its zone at the injected time, holidays closed all day', () => {
  const open = node('extension', { extension: '1000' });
  const closed = node('extension', { extension: '1001' });
  const weekdays = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '06:30', to: '17:00' };
  const tc = node('time_condition', {
    dialCode: '900',
    settings: { weekly: [weekdays] },
    next: open.id,
    else: closed.id,
  });
  const t = tenant([open, closed, tc]);
  const rings = (now: Date, tn = t) =>
    actions(tn, call('900'), now)
      .find((x) => x.startsWith('bridge'))!
      .slice(-20);
  // 07:00 Wednesday in New York (the tenant's zone): open.
  assert.is(rings(NOON_UTC), 'user/1000@t1.example');
  // 06:00 there: closed.
  assert.is(rings(new Date('2026-12-02T11:00:00Z')), 'user/1001@t1.example');
  // The node's own zone: 01:00 Thursday in Auckland is closed.
  const akl = node('time_condition', {
    dialCode: '901',
    settings: { timezone: 'Pacific/Auckland', weekly: [weekdays] },
    next: open.id,
    else: closed.id,
  });
  const t2 = tenant([open, closed, akl]);
  assert.is(
    actions(t2, call('901'), NOON_UTC)
      .find((x) => x.startsWith('bridge'))!
      .slice(-20),
    'user/1001@t1.example',
  );
  // A holiday in New York's calendar: closed although within hours.
  const holiday = node('time_condition', {
    dialCode: '900',
    settings: { weekly: [weekdays], holidays: ['2026-12-02'] },
    next: open.id,
    else: closed.id,
  });
  assert.is(rings(NOON_UTC, tenant([open, closed, holiday])), 'user/1001@t1.example');
  // The same instant is Tuesday evening in Honolulu (the date differs by zone).
  const schedule = timeConditionNode.read(
    node('time_condition', {
      settings: { timezone: 'Pacific/Honolulu', weekly: [{ days: ['wed'], from: '00:00', to: '24:00' }] },
    }),
    t,
  );
  assert.is(isOpen(schedule, new Date('2026-12-02T09:59:00Z')), false);
  assert.is(isOpen(schedule, new Date('2026-12-02T10:00:00Z')), true);
});

test('unusable data at call time: a clean rejection, logged under a reason, never a fall-through', () => {
  const badTz = node('time_condition', { dialCode: '900', settings: { timezone: 'Mars/Olympus', weekly: [] } });
  const target = node('hangup');
  Object.assign(badTz, { next: target.id, else: target.id });
  const badSound = node('announcement', { dialCode: '901', settings: { sound: '/etc/passwd' } });
  const gone = node('announcement', { dialCode: '902', settings: { sound: 'silence_stream://100' }, next: nid() });
  const t = tenant([badTz, target, badSound]);
  for (const [dest, field] of [
    ['900', 'settings.timezone'],
    ['901', 'settings.sound'],
  ] as const) {
    const d = decideTenantCall(call(dest), t, NOON_UTC);
    assert.is(d.kind, 'reject', dest);
    if (d.kind === 'reject') {
      assert.is(d.rejection.feature, 'flow_unusable');
      assert.match(d.rejection.detail, field);
    }
  }
  // A next that does not exist (the database refuses one; a stale snapshot could hold one): no route, 404.
  const g = tenant([gone]);
  const cont = decideTenantCall(call(`flow-${gone.next}`), g, NOON_UTC);
  assert.is(cont.kind === 'reject' && cont.rejection.sipCode, 404, 'unknown flow-<id> is no route');
  // Another tenant's node id is not a route here either.
  const elsewhere = decideTenantCall(call(`flow-${badTz.id}`), tenant([]), NOON_UTC);
  assert.is(elsewhere.kind === 'reject' && elsewhere.rejection.sipCode, 404);
});

test('a loop without a caller choice stops after MAX_FLOW_STEPS with 482; the write-time check names it', () => {
  const a = node('time_condition', { name: 'a', dialCode: '900', settings: { weekly: [] } });
  const b = node('time_condition', { name: 'b', settings: { weekly: [] } });
  Object.assign(a, { next: b.id, else: b.id });
  Object.assign(b, { next: a.id, else: a.id });
  const d = decideTenantCall(call('900'), tenant([a, b]), NOON_UTC);
  assert.is(d.kind === 'reject' && d.rejection.sipCode, 482);
  assert.is(d.kind === 'reject' && d.rejection.feature, 'flow_loop');
  assert.ok(MAX_FLOW_STEPS >= 8);
  assert.equal(findUnattendedLoop([a, b]), ['a', 'b', 'a']);
  // A menu's choices are the caller's: menu → time condition → menu through a choice is fine.
  const m = node('menu', { name: 'm', settings: { greeting: 'silence_stream://1' } });
  const tc = node('time_condition', { name: 'tc', next: m.id, else: m.id });
  (m.choices as Map<string, FlowNodeId>).set('1', tc.id);
  assert.is(findUnattendedLoop([m, tc]), undefined);
  // ... but the menu's own next (nobody chose) back to the time condition is a loop.
  const m2 = { ...m, next: tc.id };
  assert.equal(findUnattendedLoop([m2, tc]), ['m', 'tc', 'm']);
});

test('DID to a flow: inbound, and the route keeps inbound after transfers', () => {
  const e = node('extension', { extension: '1000' });
  const t = tenant([e], {
    dids: new Map([
      ['+15550000001', { e164: '+15550000001', enabled: true, destination: { type: 'flow', node: e.id } }],
    ]),
  });
  const d = decidePublicCall(call('+15550000001', { context: 'public' }), t, '+15550000001', NOON_UTC);
  assert.is(d.kind === 'route' && d.direction, 'inbound');
  const after = decideTenantCall(call(`flow-${e.id}`, { channelDirection: 'inbound' }), t, NOON_UTC);
  assert.is(after.kind === 'route' && after.direction, 'inbound');
});

test("ivr.conf: the requested menu only, for a channel of the menu's tenant; anything else is not found", () => {
  const op = node('extension', { extension: '1000' });
  const m = node('menu', {
    settings: {
      greeting: 'tone_stream://%(200,100,660)',
      invalidSound: 'silence_stream://500',
      digitLen: 2,
      maxFailures: 2,
    },
  });
  (m.choices as Map<string, FlowNodeId>).set('1', op.id);
  (m.choices as Map<string, FlowNodeId>).set('#', op.id);
  const other = node('menu', { settings: { greeting: 'silence_stream://100' } });
  const t = tenant([op, m, other]);
  const get = (menu: string, tid: string | undefined) => (name: string) =>
    ({ key_value: 'ivr.conf', 'Menu-Name': menu, variable_fs_tenant_id: tid })[name];
  const req = ivrConf.parse(get(m.id, ID));
  assert.equal(ivrConf.needs(req), { tenantId: ID });
  const answer = ivrConf.render(req, [t], {} as never)!;
  const doc = parseXml(answer.xml);
  const menus = findAll(doc, 'menu');
  assert.is(menus.length, 1, 'only the asked menu');
  assert.is(menus[0]!.attrs.name, m.id);
  assert.is(menus[0]!.attrs['digit-len'], '2');
  assert.is(menus[0]!.attrs['invalid-sound'], 'silence_stream://500');
  assert.equal(
    findAll(doc, 'entry').map((e) => [e.attrs.digits, e.attrs.param]),
    [
      ['#', `transfer flow-${op.id} XML t1.example`],
      ['1', `transfer flow-${op.id} XML t1.example`],
    ],
  );
  // Another tenant's channel asks for this menu: its own snapshot does not hold it.
  const theirs = tenant([], { id: OTHER });
  assert.is(ivrConf.render(ivrConf.parse(get(m.id, OTHER)), [theirs], {} as never), undefined);
  // No tenant on the channel, or no menu name: nothing is even loaded.
  assert.is(ivrConf.needs(ivrConf.parse(get(m.id, undefined))), 'none');
  assert.is(ivrConf.needs(ivrConf.parse(get(m.id, 'not-a-uuid'))), 'none');
  // A node that is not a menu is not served as one.
  assert.is(ivrConf.render(ivrConf.parse(get(op.id, ID)), [t], {} as never), undefined);
});

test('conference node: joins <room>@<domain>@<node>; conference.conf answers that room only', () => {
  const room = node('conference', { name: 'team', dialCode: '830', settings: { pin: '1234', maxMembers: 5 } });
  const t = tenant([room]);
  assert.equal(actions(t, call('830')).slice(-2), ['answer', `conference team@t1.example@${room.id}`]);
  const get = (conference_name: string, profile_name: string) => (name: string) =>
    ({ key_value: 'conference.conf', conference_name, profile_name })[name];
  const req = conferenceConf.parse(get('team@t1.example', room.id));
  assert.equal(conferenceConf.needs(req), { domain: 't1.example' });
  const doc = parseXml(conferenceConf.render(req, [t], {} as never)!.xml);
  const params = Object.fromEntries(findAll(doc, 'param').map((p) => [p.attrs.name, p.attrs.value]));
  assert.equal([findAll(doc, 'profile')[0]!.attrs.name, params.pin, params['max-members']], [room.id, '1234', '5']);
  // Another room name with this room's profile, or this profile asked in another tenant: nothing.
  assert.is(conferenceConf.render(conferenceConf.parse(get('other@t1.example', room.id)), [t], {} as never), undefined);
  const theirs = tenant([], { id: OTHER });
  assert.is(conferenceConf.render(req, [theirs], {} as never), undefined);
  // Module load and presence fetches get the skeleton, with no profile.
  const bare = conferenceConf.render(
    conferenceConf.parse(() => undefined),
    [],
    {} as never,
  )!;
  assert.is(findAll(parseXml(bare.xml), 'profile').length, 0);
  // A PIN that is not 3-12 digits is refused like any setting.
  const bad = node('conference', { dialCode: '831', settings: { pin: '12' } });
  const d = decideTenantCall(call('831'), tenant([bad]), NOON_UTC);
  assert.is(d.kind === 'reject' && d.rejection.feature, 'flow_unusable');
});

test('parking lot: dial code parks in the first free slot, a slot number parks there or picks up', () => {
  const lot = node('parking_lot', { dialCode: '840', settings: { firstSlot: 841, lastSlot: 849 } });
  const t = tenant([lot]);
  const name = parkingLotName(ID, lot.id);
  assert.not.match(name, /[a-z]/);
  assert.ok(name.includes('@'));
  assert.is(parkingLotName(OTHER, lot.id) === name, false, 'another tenant, another lot');
  assert.is(actions(t, call('840')).at(-1), `valet_park ${name} auto in 841 849`);
  assert.is(actions(t, call('845')).at(-1), `valet_park ${name} 845`);
  // Outside the slots: not the lot.
  assert.is(decideTenantCall(call('850'), t, NOON_UTC).kind, 'reject');
});

test('voicemail: *99<n> leaves a message in the tenant domain, *97 opens the own box, *98 asks; no box, no route', () => {
  const box = {
    enabled: true,
    pinHash: 'f'.repeat(32),
    pinRealm: 't1.example',
    quotaS: null,
    maxMessages: null,
    maxLengthS: null,
  };
  const t = tenant([], {
    extensions: new Map([
      ['1000', ext('1000', { voicemail: box })],
      ['1001', ext('1001', { voicemail: box })],
      ['1002', ext('1002')],
    ]),
  });
  assert.equal(actions(t, call('*991001')).slice(-3), [
    'set skip_record_check=true',
    'voicemail default t1.example 1001',
    'hangup NORMAL_CLEARING',
  ]);
  assert.is(decideTenantCall(call('*991002'), t, NOON_UTC).kind, 'reject', 'box off');
  assert.is(actions(t, call('*97')).at(-2), 'voicemail check auth default t1.example 1000');
  assert.is(actions(t, call('*98', { callerUser: '1002' })).at(-2), 'voicemail check default t1.example');
  // *97 from an extension without a box: no route.
  assert.is(decideTenantCall(call('*97', { callerUser: '1002' }), t, NOON_UTC).kind, 'reject');
  // Ringing 1001 (box on, no forwards): every unanswered cause goes to its box.
  const ring = actions(t, call('1001'));
  assert.ok(ring.includes('set fs_tenantd_forward_NO_ANSWER=*991001'), ring.join('\n'));
  assert.ok(ring.includes('set fs_tenantd_forward_USER_BUSY=*991001'));
});

test('voicemail limits: max length cuts the recording through uuid_break, max messages gates the deposit', () => {
  const box = { enabled: true, pinHash: null, pinRealm: null, quotaS: 600, maxMessages: 20, maxLengthS: 30 };
  const t = tenant([], { extensions: new Map([['1001', ext('1001', { voicemail: box })]]) });
  const d = decideTenantCall(call('*991001'), t, NOON_UTC);
  assert.is(d.kind, 'route');
  const doc = parseXml(renderRoute('t1.example', d as Extract<typeof d, { kind: 'route' }>));
  const acts = findAll(doc, 'action').map((a) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim());
  assert.equal(acts.slice(-4), [
    'set skip_record_check=true',
    'set api_on_record_start=sched_api +30 none uuid_break ${uuid}',
    'voicemail default t1.example 1001',
    'hangup NORMAL_CLEARING',
  ]);
  // The count is FreeSWITCH's, read when it hunts the route: the box of this tenant's primary domain only.
  const [cond] = findAll(doc, 'condition').filter((c) => c.attrs.field);
  assert.is(cond?.attrs.field, '${cond(${vm_boxcount(default/1001@t1.example|new)} >= 20 ? full : open)}');
  assert.is(cond?.attrs.expression, '^open$');
  const anti = findAll(doc, 'anti-action').map((a) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim());
  // A full box is still the tenant's call (its variables on both branches), hears the quota prompt and ends.
  assert.ok(anti.includes(`export fs_tenant_id=${ID}`), anti.join('\n'));
  assert.equal(anti.slice(-3), ['answer', 'phrase voicemail_disk_quota_exceeded', 'hangup NORMAL_CLEARING']);
  assert.not.ok(anti.some((a) => a.startsWith('voicemail ')));
  // No limits (or the profile's own length): neither the gate nor the scheduled break.
  const open = { ...box, maxMessages: null, maxLengthS: 300 };
  const t2 = tenant([], { extensions: new Map([['1001', ext('1001', { voicemail: open })]]) });
  const d2 = decideTenantCall(call('*991001'), t2, NOON_UTC);
  const doc2 = parseXml(renderRoute('t1.example', d2 as Extract<typeof d2, { kind: 'route' }>));
  assert.is(findAll(doc2, 'anti-action').length, 0);
  assert.is(findAll(doc2, 'condition').filter((c) => c.attrs.field).length, 0);
  assert.not.ok(findAll(doc2, 'action').some((a) => a.attrs.data?.startsWith('api_on_record_start')));
  // Checking one's box is never gated.
  const own = decideTenantCall(call('*97', { callerUser: '1001' }), t, NOON_UTC);
  const doc3 = parseXml(renderRoute('t1.example', own as Extract<typeof own, { kind: 'route' }>));
  assert.is(findAll(doc3, 'anti-action').length, 0);
});

test('directory: every user answer carries its box: folder from the tenant id, PIN digest or none', () => {
  const withPin = ext('1000', {
    voicemail: {
      enabled: true,
      pinHash: 'a'.repeat(32),
      pinRealm: 't1.example',
      quotaS: 600,
      maxMessages: null,
      maxLengthS: null,
    },
  });
  const stale = ext('1001', {
    voicemail: {
      enabled: true,
      pinHash: 'b'.repeat(32),
      pinRealm: 'old.example',
      quotaS: null,
      maxMessages: null,
      maxLengthS: null,
    },
  });
  const t = tenant([], {
    extensions: new Map([
      ['1000', withPin],
      ['1001', stale],
    ]),
  });
  const params = (e: Extension) => {
    const d = decideUser(
      { kind: 'voicemail-lookup', user: e.number, domain: 't1.example', verbatim: true },
      userIn(t, e.number),
    );
    assert.is(d.kind, 'user');
    const doc = parseXml(
      renderUser(d as Extract<typeof d, { kind: 'user' }>, { cacheableMs: 0, voicemailDir: '/srv/vm' }),
    );
    return Object.fromEntries(findAll(doc, 'param').map((p) => [p.attrs.name, p.attrs.value]));
  };
  const p = params(withPin);
  assert.equal(
    [p['vm-enabled'], p['vm-a1-hash'], p['vm-storage-dir'], p['vm-disk-quota']],
    ['true', 'a'.repeat(32), `/srv/vm/${ID}/1000`, '600'],
  );
  // A PIN digest made for another domain can never match here: the box cannot be opened with a PIN.
  assert.is(params(stale)['vm-a1-hash'], 'no-pin');
});

test.run();
