// Once-per-node work under a lease (daemon/ha/node-leases.ts): the call-center reconciliation and the gateway
// pushes do nothing on a node whose lease another daemon holds, stop before a batch of commands once the lease is
// lost, and run at once when the lease is acquired.
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CallcenterSync } from '../../daemon/callcenter/callcenter-sync.js';
import type { CallcenterNode } from '../../daemon/callcenter/node-port.js';
import { loadAllCallcenters } from '../../daemon/callcenter/load-desired.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import type { EslClient } from '../../daemon/esl/client.js';
import { createGatewaySync } from '../../daemon/esl/gateway-sync.js';
import type { Fence, LeaseGate, LeaseJob } from '../../daemon/ha/node-leases.js';
import { createRegistry } from '../../daemon/metrics.js';
import { TenantLabels } from '../../daemon/metrics.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { ccQueueAnswer, ModCallcenterEmulator, type QueueConfig } from '../callcenter/mod-callcenter-emulator.js';

interface Ctx {
  db: TestDatabase;
  pool: import('pg').Pool;
}
const test = suite<Ctx>('fenced once-per-node work');
const quiet = pino({ level: 'silent' });

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pool = ctx.db.appPool(4);
  await seedDemo(ctx.pool);
});
test.after(async (ctx) => {
  await ctx.pool.end();
  await ctx.db.drop();
});

/** A lease gate under the test's control: held or not, and whether the check before a batch still passes. */
class TestGate extends EventEmitter implements LeaseGate {
  held = false;
  valid = true;
  checks = 0;
  fence(node: string, job: LeaseJob): Fence | undefined {
    if (!this.held) return undefined;
    return {
      node,
      job,
      holder: 'test',
      epoch: 1,
      still: async () => {
        this.checks++;
        return this.valid;
      },
    };
  }
}

async function callcenterRig(ctx: Ctx, gate: TestGate) {
  const config = new Map<string, QueueConfig>();
  for (const t of await loadAllCallcenters(ctx.pool))
    for (const q of t.queues) config.set(q.fsName, ccQueueAnswer(t, q));
  const emu = new ModCallcenterEmulator((q) => config.get(q));
  const events = new EventEmitter();
  const node: CallcenterNode = {
    name: 'fs1',
    connected: true,
    api: async (command) => emu.api(command),
    on: (ev: string, fn: Parameters<EventEmitter['on']>[1]) => events.on(ev, fn),
    off: (ev: string, fn: Parameters<EventEmitter['off']>[1]) => events.off(ev, fn),
  } as CallcenterNode;
  const registry = createRegistry();
  const sync = new CallcenterSync({
    pool: ctx.pool,
    log: quiet,
    registry,
    tenantLabels: new TenantLabels(10),
    nodes: [node],
    leases: gate,
  });
  sync.start();
  await sync.idle();
  const runs = async (outcome: string) =>
    (await registry.getSingleMetric('fs_tenantd_callcenter_reconciliations_total')?.get())?.values
      .filter((v) => v.labels.outcome === outcome)
      .reduce((a, v) => a + v.value, 0) ?? 0;
  return { emu, sync, runs };
}

const mutating = (received: string[]) => received.filter((c) => !/ list/.test(c));

test('call center: no lease, no pass; the lease lost before the first batch, nothing sent', async (ctx) => {
  const gate = new TestGate();
  const { emu, sync, runs } = await callcenterRig(ctx, gate);
  try {
    await sync.reconcileAll();
    assert.equal(emu.received, [], 'another daemon holds the lease: the node is not even read');

    gate.held = true;
    gate.valid = false; // a paused holder: its lease moved while it was reading the lists
    await sync.reconcileAll();
    assert.ok(emu.received.length > 0, 'the lists were read');
    assert.equal(mutating(emu.received), [], 'no command after the lease was lost');
    assert.is(gate.checks, 1);
    assert.is(await runs('lease_lost'), 1);
    assert.is(emu.queues.size, 0);
  } finally {
    await sync.stop();
  }
});

test('call center: acquiring the lease reconciles the node at once, each batch checked', async (ctx) => {
  const gate = new TestGate();
  const { emu, sync } = await callcenterRig(ctx, gate);
  try {
    gate.held = true;
    gate.emit('acquired', 'fs1', 'callcenter');
    await sync.idle();
    assert.ok(mutating(emu.received).length > 0, 'commands sent');
    assert.equal([...emu.queues.keys()].sort(), ['support@acme.pbx.test', 'support@globex.pbx.test']);
    // Checked before the batch of queue loads (mod_callcenter imported their agents and tiers: no second batch).
    assert.is(gate.checks, 1);
  } finally {
    await sync.stop();
  }
});

test('gateways: nothing pushed without the lease or once it is lost; pushed by the holder', async () => {
  const gate = new TestGate();
  const sent: string[] = [];
  const esl = Object.assign(new EventEmitter(), {
    node: 'fs1',
    connected: true,
    api: async (command: string) => {
      sent.push(command);
      if (command === 'sofia status')
        return '  external::oldco_carrier\tgateway\t  sip:oldco_carrier@127.0.0.9:5090\tNOREG\n';
      return '+OK\n';
    },
  }) as unknown as EslClient;
  const feed = new EventEmitter();
  const sync = createGatewaySync({
    feed: feed as never,
    clients: [esl],
    tenants: async () => [],
    log: quiet,
    registry: createRegistry(),
    debounceMs: 1,
    leases: gate,
  });
  try {
    const push = async () => {
      esl.emit('ready');
      await sync.idle();
    };
    await push();
    assert.equal(sent, [], 'not the holder: the node is not even asked');
    gate.held = true;
    gate.valid = false;
    await push();
    assert.equal(sent, ['sofia status'], 'lease lost before the batch: no killgw');
    gate.valid = true;
    gate.emit('acquired', 'fs1', 'gateways');
    await sync.idle();
    assert.equal(sent.slice(1), ['sofia status', 'sofia profile external killgw oldco_carrier']);
  } finally {
    sync.stop();
  }
});

test.run();
