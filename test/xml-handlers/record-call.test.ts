// Call recording in the dialplan answer (xml-handlers/dialplan/record-call.ts): which
// calls each policy rule records, the actions that do it, and that nothing in the
// request can steer where the file goes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type DialplanDecision,
  decidePublicCall,
  decideTenantCall,
  renderRoute,
} from '../../xml-handlers/dialplan/index.js';
import { RECORDINGS_DIR, recordingPath, shouldRecord } from '../../xml-handlers/dialplan/record-call.js';
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import { NO_FEATURES, type TenantSnapshot } from '../../xml-handlers/model.js';
import { type El, findAll, parseXml } from '../helpers/xml-curl-client.js';
import { call, DIR, ext, ID, NOW, tenant, UUID } from './recording-fixtures.js';

const test = suite('xml-handlers: call recording');
type Route = Extract<DialplanDecision, { kind: 'route' }>;
const route = (d: DialplanDecision): Route => {
  assert.is(d.kind, 'route', JSON.stringify(d.kind === 'reject' ? d.rejection : d.kind));
  return d as Route;
};
const internal = (t: TenantSnapshot, dest: string, over: Partial<DialplanRequest> = {}) =>
  route(decideTenantCall(call(dest, over), t, NOW));
const inbound = (t: TenantSnapshot, did: string, over: Partial<DialplanRequest> = {}) =>
  route(decidePublicCall(call(did, { context: 'public', callerUser: undefined, ...over }), t, did, NOW));

const line = (a: El) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim();

/** The answer's conditions, each as its field and its actions / anti-actions. */
function conditions(xml: string) {
  return findAll(parseXml(xml), 'condition').map((c) => ({
    attrs: c.attrs,
    actions: c.children.filter((e) => e.name === 'action').map(line),
    anti: c.children.filter((e) => e.name === 'anti-action').map(line),
  }));
}

const FILE = `${DIR}/${ID}/\${uuid}.wav`;

test('no policy, or only rules that do not match: the answer is exactly the unrecorded one', () => {
  for (const rules of [undefined, [], [{ scope: 'inbound' } as const], [{ scope: 'queue', queue: 'sales' } as const]]) {
    const d = internal(tenant(rules), '1001');
    assert.is(d.record, undefined);
    const xml = renderRoute('t1.example', d, { recordingsDir: DIR });
    assert.is(xml, renderRoute('t1.example', d));
    assert.not.ok(xml.includes('record_session'));
  }
});

test('a recorded call: a condition of its own before the route, recording from the answer', () => {
  const d = internal(tenant([{ scope: 'all' }]), '1001');
  assert.is(d.record, true);
  const [rec, routeCond, ...rest] = conditions(renderRoute('t1.example', d, { recordingsDir: DIR }));
  assert.is(rest.length, 0);
  assert.equal(rec!.attrs, { field: '${endpoint_disposition}', expression: '^ANSWER$', break: 'never' });
  // Already answered (a menu transferred it here): record now. Not yet: when it is answered, so a ringing
  // caller is never pre-answered by record_session.
  assert.equal(rec!.actions, [
    `set fs_recording=${ID}/\${uuid}.wav`,
    'set recording_follow_transfer=true',
    `record_session ${FILE} {RECORD_STEREO=true}`,
  ]);
  assert.equal(rec!.anti, [
    `set fs_recording=${ID}/\${uuid}.wav`,
    'set recording_follow_transfer=true',
    `set execute_on_answer=record_session ${FILE} {RECORD_STEREO=true}`,
  ]);
  // The route itself is unchanged.
  assert.equal(routeCond!.attrs, {});
  assert.ok(routeCond!.actions.some((a) => a.startsWith('bridge ') && a.endsWith('user/1001@t1.example')));
  const unrecorded = conditions(renderRoute('t1.example', { ...d, record: undefined }));
  assert.equal(routeCond!.actions, unrecorded[0]!.actions);
});

test('inbound and outbound rules follow the direction the dialplan decided', () => {
  const t = tenant([{ scope: 'inbound' }]);
  assert.is(inbound(t, '+15550000001').record, true);
  assert.is(inbound(t, '+15550000002').record, true);
  assert.is(internal(t, '1001').record, undefined);
  assert.is(internal(t, '+15551234567').record, undefined);
  const o = tenant([{ scope: 'outbound' }]);
  const out = internal(o, '+15551234567');
  assert.is(out.target.type, 'gateway');
  assert.is(out.record, true);
  assert.is(internal(o, '1001').record, undefined);
  assert.is(inbound(o, '+15550000001').record, undefined);
  // A transferred call keeps its admitted direction, and with it its recording.
  assert.is(internal(t, '1001', { channelDirection: 'inbound' }).record, true);
});

test('an extension rule: calls to it (dialled, forwarded, from a DID) and calls it places', () => {
  const t = tenant([{ scope: 'extension', extension: '1001' }]);
  assert.is(internal(t, '1001').record, true, 'dialled');
  assert.is(internal(t, '1002', { callerUser: '1001' }).record, true, 'placed by 1001');
  assert.is(internal(t, '+15551234567', { callerUser: '1001' }).record, true, 'outbound placed by 1001');
  assert.is(internal(t, '1002').record, undefined, 'neither end is 1001');
  const fwd = tenant([{ scope: 'extension', extension: '1001' }], {
    extensions: new Map([
      ['1000', ext('1000')],
      ['1001', ext('1001')],
      ['1002', ext('1002', { features: { ...NO_FEATURES, forwardAlways: '1001' } })],
    ]),
  });
  assert.is(internal(fwd, '1002').record, true, 'forwarded to 1001');
  const did = tenant([{ scope: 'extension', extension: '1000' }]);
  assert.is(inbound(did, '+15550000001').record, true, 'DID to 1000');
  // From a trunk nobody is a calling extension, whatever the request says.
  assert.is(inbound(t, '+15550000001', { callerUser: '1001' }).record, undefined);
  // A disabled extension places no recorded calls (its rule cannot be matched by a stale user name).
  const off = tenant([{ scope: 'extension', extension: '1003' }]);
  assert.is(internal(off, '1002', { callerUser: '1003' }).record, undefined);
});

test('a queue rule: calls entering that queue, dialled or from a DID', () => {
  const t = tenant([{ scope: 'queue', queue: 'sales' }]);
  assert.is(internal(t, '7000').record, true);
  assert.is(inbound(t, '+15550000002').record, true);
  assert.is(internal(t, '1001').record, undefined);
  assert.is(internal(tenant([{ scope: 'queue', queue: 'other' }]), '7000').record, undefined);
  const xml = renderRoute('t1.example', internal(t, '7000'), { recordingsDir: DIR });
  const [rec, q] = conditions(xml);
  assert.ok(rec!.anti.includes(`set execute_on_answer=record_session ${FILE} {RECORD_STEREO=true}`));
  // The queue answers the caller: that is when recording starts.
  assert.equal(q!.actions[q!.actions.length - 3], 'answer');
});

test('the file path comes from the tenant id and the channel uuid only, never from the request', () => {
  const t = tenant([{ scope: 'all' }]);
  const hostile = call('1001', {
    callUuid: '../../../etc/passwd',
    callerUser: '../../x',
    sourceIp: '192.0.2.1',
  });
  const d = route(decideTenantCall(hostile, t, NOW));
  const xml = renderRoute('t1.example', d, { recordingsDir: DIR });
  assert.not.ok(xml.includes('passwd'));
  assert.not.ok(xml.includes('../'));
  const [rec] = conditions(xml);
  for (const a of [...rec!.actions, ...rec!.anti].filter((x) => x.includes('.wav'))) {
    assert.ok(a.includes(`${DIR}/${ID}/\${uuid}.wav`) || a.includes(`=${ID}/\${uuid}.wav`), a);
  }
  // Without a recordings directory nothing is recorded, whatever the decision says.
  assert.not.ok(renderRoute('t1.example', d).includes('record_session'));
});

test('recordingPath and the directory form: only uuids, only plain absolute paths', () => {
  assert.is(recordingPath(ID, UUID), `${ID}/${UUID}.wav`);
  for (const bad of ['../x', `${UUID}/..`, UUID.toUpperCase(), '', `${UUID}.wav`]) {
    assert.is(recordingPath(ID, bad), undefined, bad);
  }
  for (const ok of ['/var/lib/freeswitch/recordings', '/a', '/srv/rec-1/x.y']) assert.ok(RECORDINGS_DIR.test(ok), ok);
  for (const bad of ['relative/dir', '/', '/with space', '/a$b', '/a/${x}', '/a/', '/a,b', '/a{b}']) {
    assert.not.ok(RECORDINGS_DIR.test(bad), bad);
  }
  // shouldRecord on a tenant with no rules at all.
  assert.not.ok(shouldRecord(tenant(undefined), 'inbound', { type: 'extension', number: '1000' }, '1000'));
});

test.run();
