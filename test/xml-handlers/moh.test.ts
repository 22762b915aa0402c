// Music on hold per tenant (README "Music on hold"): stream names that cannot
// collide, the local_stream.conf answer, hold_music on every route and user, and
// queues and parking lots that can never name another tenant's stream.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { desiredCallcenter } from '../../xml-handlers/callcenter-state.js';
import { renderCallcenterQueue } from '../../xml-handlers/configuration/callcenter.js';
import { desiredMohStreams, renderLocalStreamConf } from '../../xml-handlers/configuration/local-stream.js';
import { decideTenantCall, renderRoute } from '../../xml-handlers/dialplan/index.js';
import { renderUser } from '../../xml-handlers/directory.js';
import { mohStreamDir, mohStreamName, parseMohStreamName } from '../../xml-handlers/media-names.js';
import type { FlowNodeId, MohStream, TenantId, TenantSnapshot } from '../../xml-handlers/model.js';
import { mohSoundAllowed, resolveMohSound, tenantHoldMusic } from '../../xml-handlers/moh.js';
import { find, findAll, parseXml, sectionOf } from '../helpers/xml-curl-client.js';
import { call, ID, NOW, tenant } from './recording-fixtures.js';

const test = suite('xml-handlers: music on hold');
const OTHER = '99999999-8888-4777-8666-555555555555' as TenantId;
const S1 = 'aaaaaaaa-0000-4000-8000-000000000001';
const S2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const S3 = 'bbbbbbbb-0000-4000-8000-000000000003';

const stream = (id: string, name: string, over: Partial<MohStream> = {}): MohStream => ({
  id,
  name,
  isDefault: false,
  files: [{ name: 'a.wav', sizeBytes: 1000, updatedAt: '2026-12-02T12:00:00Z' }],
  ...over,
});
const acme = (streams: MohStream[], over: Partial<TenantSnapshot> = {}) =>
  tenant(undefined, { mohStreams: streams, ...over });
const globex = (streams: MohStream[]) => tenant(undefined, { id: OTHER, slug: 't2', mohStreams: streams });

function routeActions(t: TenantSnapshot, dest: string): string[] {
  const d = decideTenantCall(call(dest), t, NOW);
  assert.is(d.kind, 'route', JSON.stringify(d));
  const doc = parseXml(renderRoute('t1.example', d as Extract<typeof d, { kind: 'route' }>));
  return findAll(doc, 'action').map((a) => `${a.attrs.application} ${a.attrs.data ?? ''}`.trim());
}

test('stream names: from both ids, parseable, never the same for two tenants, no "/" and no "default"', () => {
  const a = mohStreamName(ID, S1);
  assert.is(a, `moh_${ID}_${S1}`);
  assert.equal(parseMohStreamName(a), { tenant: ID, stream: S1 });
  assert.is.not(mohStreamName(OTHER, S1), a, 'the same stream id under another tenant is another name');
  // local_stream_file_open tries <name>/<rate> first and falls back to "default" for a name without it.
  assert.not.ok(a.includes('/'));
  assert.not.ok(/default/i.test(a));
  for (const stock of ['default', 'moh', 'moh/8000', `moh_${ID}`, `moh_${ID}_${S1}/8000`, 'MOH_x'])
    assert.is(parseMohStreamName(stock), undefined, stock);
  assert.is(mohStreamDir('/srv/moh/', ID, S1), `/srv/moh/${ID}/${S1}`);
});

test('local_stream.conf: the stock streams, then one directory per tenant stream with its folder', () => {
  const tenants = [acme([stream(S1, 'lobby'), stream(S2, 'sales')]), globex([stream(S3, 'lobby')])];
  const s = sectionOf(renderLocalStreamConf(tenants, '/srv/moh'));
  const conf = find(s, 'configuration', { name: 'local_stream.conf' });
  assert.ok(conf);
  const dirs = findAll(s, 'directory').map((d) => [d.attrs.name, d.attrs.path]);
  assert.equal(dirs, [
    ['default', '$${sounds_dir}/music/8000'],
    ['moh/8000', '$${sounds_dir}/music/8000'],
    [mohStreamName(ID, S1), `/srv/moh/${ID}/${S1}`],
    [mohStreamName(ID, S2), `/srv/moh/${ID}/${S2}`],
    [mohStreamName(OTHER, S3), `/srv/moh/${OTHER}/${S3}`],
  ]);
  // Two tenants with a stream of the same name: two directories, no name in common.
  assert.is(new Set(dirs.map(([n]) => n)).size, dirs.length);
  for (const d of findAll(s, 'directory')) {
    assert.is(find(d, 'param', { name: 'rate' })?.attrs.value, '8000');
    assert.is(find(d, 'param', { name: 'channels' })?.attrs.value, '1');
  }
  // Without a directory: stock only.
  assert.is(findAll(sectionOf(renderLocalStreamConf(tenants, undefined)), 'directory').length, 2);
});

test('the desired set changes when a file is added, replaced or removed (the ESL sync reloads on it)', () => {
  const base = desiredMohStreams([acme([stream(S1, 'lobby')])], '/srv/moh')[0]!;
  const file = { name: 'a.wav', sizeBytes: 1000, updatedAt: '2026-12-02T12:00:00Z' };
  for (const files of [
    [],
    [file, { ...file, name: 'b.wav' }],
    [{ ...file, sizeBytes: 2 }],
    [{ ...file, updatedAt: 'x' }],
  ])
    assert.is.not(desiredMohStreams([acme([stream(S1, 'lobby', { files })])], '/srv/moh')[0]!.contents, base.contents);
  assert.is(desiredMohStreams([acme([stream(S1, 'lobby')])], '/srv/moh')[0]!.contents, base.contents);
});

test('hold_music: exported on every route, the tenant default stream, else the stock one', () => {
  const withDefault = acme([stream(S1, 'lobby'), stream(S2, 'sales', { isDefault: true })]);
  assert.is(tenantHoldMusic(withDefault), `local_stream://${mohStreamName(ID, S2)}`);
  for (const dest of ['1001', '7000', '+15557654321'])
    assert.ok(routeActions(withDefault, dest).includes(`export hold_music=local_stream://${mohStreamName(ID, S2)}`));
  for (const t of [acme([stream(S1, 'lobby')]), tenant(undefined)]) {
    assert.is(tenantHoldMusic(t), 'local_stream://moh');
    assert.ok(routeActions(t, '1001').includes('export hold_music=local_stream://moh'));
  }
});

test('hold_music on every user (legs originated to the phone), and an extension variable cannot override it', () => {
  const t = acme([stream(S1, 'lobby', { isDefault: true })]);
  const e = t.extensions.get('1001')!;
  const evil = { ...e, variables: { hold_music: `local_stream://${mohStreamName(OTHER, S3)}`, cc_moh_override: 'x' } };
  const user = renderUser(
    {
      kind: 'user',
      tenant: t,
      extension: evil,
      domain: 't1.example',
      withHash: true,
      cacheable: true,
    },
    { cacheableMs: 0, voicemailDir: '/srv/vm' },
  );
  const vars = findAll(parseXml(user), 'variable').filter((v) => v.attrs.name === 'hold_music');
  assert.equal(
    vars.map((v) => v.attrs.value),
    [`local_stream://${mohStreamName(ID, S1)}`],
  );
  assert.not.ok(user.includes('cc_moh_override'));
  assert.not.ok(user.includes(OTHER));
});

test("queues: own stream by name, stock names, other sources; another tenant's stream is never rendered", () => {
  const mine = [stream(S1, 'lobby'), stream(S2, 'sales', { isDefault: true })];
  const q = (mohSound: string) => {
    const base = tenant(undefined).queues.get('sales')!;
    return acme(mine, { queues: new Map([['sales', { ...base, mohSound }]]) });
  };
  const rendered = (mohSound: string) => {
    const xml = renderCallcenterQueue(q(mohSound), 't1.example', 'sales')!;
    return find(sectionOf(xml), 'param', { name: 'moh-sound' })?.attrs.value;
  };
  assert.is(rendered('local_stream://lobby'), `local_stream://${mohStreamName(ID, S1)}`);
  // `moh` is the column default: it inherits the tenant's hold music. `default` is the stock stream, chosen.
  assert.is(rendered('local_stream://moh'), `local_stream://${mohStreamName(ID, S2)}`);
  assert.is(rendered('local_stream://default'), 'local_stream://default');
  assert.is(rendered('silence_stream://-1'), 'silence_stream://-1');
  assert.is(rendered('tone_stream://%(200,0,500)'), 'tone_stream://%(200,0,500)');
  // Another tenant's stream, by its node-wide name or by a name this tenant lacks: this tenant's hold music.
  for (const other of [`local_stream://${mohStreamName(OTHER, S3)}`, 'local_stream://globex-only', 'local_stream://x'])
    assert.is(rendered(other), `local_stream://${mohStreamName(ID, S2)}`, other);
  // The reconciler plans from the same state, so it never pushes the raw value either.
  assert.is(
    desiredCallcenter(q(`local_stream://${mohStreamName(OTHER, S3)}`))!.queues[0]!.mohSound,
    `local_stream://${mohStreamName(ID, S2)}`,
  );
  assert.is(resolveMohSound(acme([]), 'local_stream://lobby'), 'local_stream://moh');
});

test('the API check: own names and stock names only', () => {
  assert.ok(mohSoundAllowed(['lobby'], 'local_stream://lobby'));
  assert.ok(mohSoundAllowed([], 'local_stream://moh'));
  assert.ok(mohSoundAllowed([], 'local_stream://default'));
  assert.ok(mohSoundAllowed([], 'silence_stream://-1'));
  assert.not.ok(mohSoundAllowed(['lobby'], 'local_stream://sales'));
  assert.not.ok(mohSoundAllowed(['lobby'], `local_stream://${mohStreamName(OTHER, S3)}`));
});

test("parking: the parked caller hears its own tenant's hold music", () => {
  const lotId = '00000000-0000-4000-8000-00000000abcd' as FlowNodeId;
  const lot = {
    id: lotId,
    name: 'lot',
    kind: 'parking_lot' as const,
    dialCode: '840',
    extension: null,
    queue: null,
    settings: { firstSlot: 841, lastSlot: 849 },
    next: null,
    else: null,
    choices: new Map(),
  };
  const t = acme([stream(S1, 'lobby', { isDefault: true })], { flowNodes: new Map([[lotId, lot]]) });
  const acts = routeActions(t, '840');
  assert.ok(acts.includes(`set valet_hold_music=local_stream://${mohStreamName(ID, S1)}`), acts.join('\n'));
  assert.ok(acts.indexOf(`set valet_hold_music=local_stream://${mohStreamName(ID, S1)}`) < acts.length - 1);
  const stock = routeActions(acme([], { flowNodes: new Map([[lotId, lot]]) }), '840');
  assert.ok(stock.includes('set valet_hold_music=local_stream://moh'));
});

test('hold music inherited from a reseller: its stream until the customer has a default of its own', () => {
  const up = { tenant: OTHER, stream: S3 };
  assert.is(tenantHoldMusic(acme([], { inheritedMoh: up })), `local_stream://${mohStreamName(OTHER, S3)}`);
  assert.ok(
    routeActions(acme([], { inheritedMoh: up }), '1001').includes(
      `export hold_music=local_stream://${mohStreamName(OTHER, S3)}`,
    ),
  );
  const own = acme([stream(S1, 'lobby', { isDefault: true })], { inheritedMoh: up });
  assert.is(tenantHoldMusic(own), `local_stream://${mohStreamName(ID, S1)}`);
  // A queue's `moh` is the tenant's hold music, so it follows the inheritance too.
  assert.is(
    resolveMohSound(acme([], { inheritedMoh: up }), 'local_stream://moh'),
    `local_stream://${mohStreamName(OTHER, S3)}`,
  );
});

test.run();
