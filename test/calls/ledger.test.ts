import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CallInfo } from '../../daemon/calls/call-ledger.js';
import type { EslEvent } from '../../daemon/esl/event.js';
import { ACME, GLOBEX, asEslEvent, ceilings, channelEvent, fixtureCall, makeLedger, uuid } from './ledger-fixtures.js';

const A_LEG = '17b5458f-8bd4-4a2f-9d2e-0d0ecf9b9c7a';

async function metricValue(
  registry: ReturnType<typeof makeLedger>['registry'],
  name: string,
  labels: Record<string, string>,
) {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

test('a burst of N+k simultaneous admissions at ceiling N admits exactly N', async () => {
  const { ledger, registry } = makeLedger();
  const results = await Promise.all(
    Array.from({ length: 25 }, () =>
      ledger.admit({ tenantId: ACME, callUuid: uuid(), direction: 'inbound', ceilings: ceilings(10), node: 'fs1' }),
    ),
  );
  assert.is(results.filter((r) => r.admitted).length, 10);
  const refused = results.find((r) => !r.admitted);
  assert.equal(refused, { admitted: false, sipCode: 503, reason: 'Tenant call limit reached' });
  assert.is(ledger.active(ACME).total, 10);
  assert.is(await metricValue(registry, 'fs_tenantd_ceiling_rejections_total', { direction: 'inbound' }), 15);
  assert.is(await metricValue(registry, 'fs_tenantd_active_calls', { direction: 'inbound' }), 10);
});

test('a rejection is labelled with the tenant slug the dialplan passed, even before any call of that tenant was seen', async () => {
  const { ledger, registry } = makeLedger();
  const r = await ledger.admit({
    tenantId: ACME,
    tenantSlug: 'acme',
    callUuid: uuid(),
    direction: 'inbound',
    ceilings: ceilings(0),
    node: 'fs1',
  });
  assert.is(r.admitted, false);
  assert.is(
    await metricValue(registry, 'fs_tenantd_ceiling_rejections_total', { tenant: 'acme', direction: 'inbound' }),
    1,
  );
});

test('the same burst split across two nodes still admits exactly N; tenants do not share slots', async () => {
  const { ledger } = makeLedger();
  const attempts = Array.from({ length: 30 }, (_, i) =>
    ledger.admit({
      tenantId: i % 3 === 2 ? GLOBEX : ACME,
      callUuid: uuid(),
      direction: 'internal',
      ceilings: ceilings(7),
      node: i % 2 ? 'fs1' : 'fs2',
    }),
  );
  await Promise.all(attempts);
  assert.is(ledger.active(ACME).total, 7);
  assert.is(ledger.active(GLOBEX).total, 7);
});

test('per-direction ceilings: inbound and outbound limits, internal counts toward the total only', async () => {
  const { ledger } = makeLedger();
  const c = ceilings(3, 1, 1);
  const admit = (direction: 'inbound' | 'outbound' | 'internal') =>
    ledger.admit({ tenantId: ACME, callUuid: uuid(), direction, ceilings: c, node: 'fs1' }).then((r) => r.admitted);
  assert.equal(
    [
      await admit('inbound'),
      await admit('inbound'),
      await admit('outbound'),
      await admit('outbound'),
      await admit('internal'),
      await admit('internal'),
    ],
    [true, false, true, false, true, false],
  );
});

test('the captured call counts once (two legs), ends once, and yields exactly one record', () => {
  const { ledger } = makeLedger();
  const ended: CallInfo[] = [];
  ledger.onCallEnded((c) => ended.push(c));
  const events = fixtureCall().map(asEslEvent);
  const bridge = events.findIndex((e) => e.name === 'CHANNEL_BRIDGE');
  for (const e of events.slice(0, bridge + 1)) ledger.onEvent('fs1', e);
  assert.equal(ledger.active(ACME), { inbound: 0, outbound: 0, internal: 1, total: 1 });
  assert.is(ledger.sizes().legs, 2);
  for (const e of events.slice(bridge + 1)) ledger.onEvent('fs1', e);
  assert.is(ledger.active(ACME).total, 0);
  assert.is(ended.length, 1);
  assert.is(ended[0]!.key.slice(0, 8), A_LEG.slice(0, 8));
  assert.is(ended[0]!.tenantSlug, 'acme');
  // Replaying the whole capture again (duplicates, late events) changes nothing.
  for (const e of events) ledger.onEvent('fs1', e);
  assert.is(ledger.active(ACME).total, 0);
  assert.is(ended.length, 1);
  assert.equal({ calls: ledger.sizes().calls, legs: ledger.sizes().legs }, { calls: 0, legs: 0 });
});

test('admission before CHANNEL_CREATE (the dialplan fetch wins the race) and after it count the call once', async () => {
  for (const admitFirst of [true, false]) {
    const { ledger } = makeLedger();
    const events = fixtureCall().map(asEslEvent);
    const a = events.find((e) => e.name === 'CHANNEL_CREATE')!;
    const req = {
      tenantId: ACME,
      callUuid: a.headers['Unique-ID']!,
      direction: 'internal' as const,
      ceilings: ceilings(1),
      node: 'vm',
    };
    if (admitFirst) {
      assert.ok((await ledger.admit(req)).admitted);
      ledger.onEvent('fs1', a);
    } else {
      ledger.onEvent('fs1', a);
      assert.ok((await ledger.admit(req)).admitted);
    }
    assert.is(ledger.active(ACME).total, 1, `admitFirst=${admitFirst}`);
    // Another call is refused: the slot is taken by this one.
    assert.not.ok((await ledger.admit({ ...req, callUuid: uuid() })).admitted);
    for (const e of events) ledger.onEvent('fs1', e);
    assert.is(ledger.active(ACME).total, 0);
  }
});

test('CHANNEL_CREATE without the direction variable is not counted until admission classifies it', async () => {
  const { ledger } = makeLedger();
  const leg = uuid();
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', leg, { variable_fs_tenant_id: ACME }));
  assert.is(ledger.active(ACME).total, 0);
  // A full tenant must still refuse it: knowing the channel is not admitting it.
  assert.not.ok(
    (await ledger.admit({ tenantId: ACME, callUuid: leg, direction: 'internal', ceilings: ceilings(0), node: 'fs1' }))
      .admitted,
  );
  assert.ok(
    (await ledger.admit({ tenantId: ACME, callUuid: leg, direction: 'internal', ceilings: ceilings(1), node: 'fs1' }))
      .admitted,
  );
  assert.ok(
    (await ledger.admit({ tenantId: ACME, callUuid: leg, direction: 'internal', ceilings: ceilings(1), node: 'fs1' }))
      .admitted,
    'a re-fetch of the same call is idempotent',
  );
  assert.is(ledger.active(ACME).total, 1);
});

test('duplicate, reordered and late hangups release exactly once; DESTROY before HANGUP_COMPLETE still gives one record', () => {
  const { ledger } = makeLedger();
  const ended: EslEvent[] = [];
  ledger.onCallEnded((_c, ev) => ended.push(ev));
  const a = uuid();
  const b = uuid();
  const vars = { variable_fs_tenant_id: ACME, variable_fs_call_direction: 'outbound' };
  // B-leg first (reordered), linked by variable_originator.
  ledger.onEvent(
    'fs1',
    channelEvent('CHANNEL_CREATE', b, { variable_originator: a, 'Call-Direction': 'outbound', ...vars }),
  );
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars));
  assert.is(ledger.active(ACME).outbound, 1);
  ledger.onEvent('fs1', channelEvent('CHANNEL_DESTROY', a));
  assert.is(ledger.active(ACME).outbound, 0);
  ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', a, vars));
  ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', a, vars));
  ledger.onEvent('fs1', channelEvent('CALL_UPDATE', b, { variable_originator: a, ...vars }));
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars));
  assert.is(ledger.active(ACME).outbound, 0);
  assert.is(ended.length, 1);
});

test('a reservation whose call never appears expires; its slot comes back', async () => {
  const { ledger, advance } = makeLedger({ reservationTtlMs: 5000 });
  const req = { tenantId: ACME, direction: 'internal' as const, ceilings: ceilings(1), node: 'fs1' };
  assert.ok((await ledger.admit({ ...req, callUuid: uuid() })).admitted);
  assert.not.ok((await ledger.admit({ ...req, callUuid: uuid() })).admitted);
  advance(5001);
  assert.ok((await ledger.admit({ ...req, callUuid: uuid() })).admitted);
  assert.is(ledger.active(ACME).total, 1);
});

test('resync: lost hangups are released once, unknown live channels added, admission waits for it', async () => {
  const { ledger } = makeLedger();
  const gone = uuid();
  const stays = uuid();
  const vars = { variable_fs_tenant_id: ACME, variable_fs_call_direction: 'internal' };
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', gone, vars));
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', stays, vars));
  ledger.onEvent('fs2', channelEvent('CHANNEL_CREATE', uuid(), vars)); // other node: untouched
  ledger.nodeDown('fs1');
  assert.is(ledger.active(ACME).total, 3, 'enforce: last known state while down');
  const appeared = uuid();
  let release!: () => void;
  const listed = new Promise<void>((r) => {
    release = r;
  });
  const resync = ledger.resync('fs1', async () => {
    await listed;
    return [stays, appeared].map((u) => ({
      uuid: u,
      linkedTo: undefined,
      tenantId: ACME,
      tenantSlug: 'acme',
      direction: 'internal' as const,
    }));
  });
  const admission = ledger.admit({
    tenantId: ACME,
    callUuid: uuid(),
    direction: 'internal',
    ceilings: ceilings(4),
    node: 'fs1',
  });
  let decided = false;
  void admission.then(() => {
    decided = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.not.ok(decided, 'admission waits for the resync');
  release();
  assert.equal(await resync, { added: 1, released: 1 });
  assert.ok((await admission).admitted);
  assert.is(ledger.active(ACME).total, 4);
  // The lost call's late hangup does not release a second time.
  ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', gone, vars));
  assert.is(ledger.active(ACME).total, 4);
});

test('down-node policies: admit fails open, reject fails closed', async () => {
  for (const [policy, expected] of [
    ['admit', true],
    ['reject', false],
  ] as const) {
    const { ledger } = makeLedger({ downNodePolicy: policy });
    ledger.nodeDown('fs1');
    const r = await ledger.admit({
      tenantId: ACME,
      callUuid: uuid(),
      direction: 'internal',
      ceilings: ceilings(5),
      node: 'fs1',
    });
    assert.is(r.admitted, expected, policy);
    assert.ok(
      (
        await ledger.admit({
          tenantId: ACME,
          callUuid: uuid(),
          direction: 'internal',
          ceilings: ceilings(5),
          node: 'fs2',
        })
      ).admitted,
      'other nodes unaffected',
    );
  }
});

test('bounded memory: 50,000 calls through the ledger leave nothing behind but capped tombstones', () => {
  const { ledger } = makeLedger({ tombstones: { max: 1000, ttlMs: 60_000 } });
  const vars = { variable_fs_tenant_id: ACME, variable_fs_call_direction: 'internal' };
  for (let i = 0; i < 50_000; i++) {
    const a = uuid();
    const b = uuid();
    ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars));
    ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', b, { variable_originator: a, 'Call-Direction': 'outbound' }));
    ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', b));
    ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', a, vars));
    ledger.onEvent('fs1', channelEvent('CHANNEL_DESTROY', a));
  }
  const s = ledger.sizes();
  assert.equal({ calls: s.calls, legs: s.legs, reservations: s.reservations }, { calls: 0, legs: 0, reservations: 0 });
  assert.ok(s.tombstones <= 1000, `tombstones ${s.tombstones}`);
  assert.ok(s.burials <= 2000, `burial queue ${s.burials}`);
});

test('tombstones: a late event within the TTL changes nothing, after it the uuid is forgotten; re-burials keep the queue bounded', async () => {
  const { ledger, advance } = makeLedger({ tombstones: { max: 100, ttlMs: 60_000 } });
  const vars = { variable_fs_tenant_id: ACME, variable_fs_call_direction: 'internal' };
  const a = uuid();
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars));
  ledger.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', a, vars));
  assert.is(ledger.active(ACME).total, 0);
  advance(59_000);
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars)); // late duplicate: no resurrection
  assert.is(ledger.active(ACME).total, 0);
  // A leg of the ended call keeps turning up: each event buries it again.
  const late = uuid();
  for (let i = 0; i < 1000; i++)
    ledger.onEvent(
      'fs1',
      channelEvent('CHANNEL_CREATE', late, { variable_originator: a, 'Call-Direction': 'outbound' }),
    );
  assert.ok(ledger.sizes().burials <= 200, `burial queue ${ledger.sizes().burials}`);
  assert.ok(ledger.knowsLeg(late) === false);
  advance(2_000);
  await ledger.admit({ tenantId: ACME, callUuid: uuid(), direction: 'internal', ceilings: ceilings(5), node: 'fs1' }); // sweeps
  // a's tombstone is past its TTL: the uuid is free again (a new call under it counts).
  ledger.onEvent('fs1', channelEvent('CHANNEL_CREATE', a, vars));
  assert.is(ledger.active(ACME).total, 2);
});

test.run();
