// Trunk gateways pushed into sofia: the plan (pure) and the sync against an emulated node whose `sofia status`,
// `killgw` and `startgw` behave as mod_sofia's do. The real switch is exercised in test/sipp/changes.test.ts.
import { EventEmitter, once } from 'node:events';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChangeFeed } from '../../daemon/db/change-feed.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createGatewaySync, parseGatewayList, planGateways } from '../../daemon/esl/gateway-sync.js';
import { createRegistry } from '../../daemon/metrics.js';
import type { TenantSnapshot, Trunk } from '../../xml-handlers/model.js';
import { EslTestServer } from '../helpers/esl-server.js';

const test = suite('ESL: trunk gateways follow the database');

// mod_sofia.c cmd_status: "%25s\t%s\t  %40s\t%s" per profile, alias and gateway.
const status = (gateways: Array<[string, string]>) =>
  [
    '                     Name\t   Type\t                                       Data\tState',
    '=================================================================================================',
    '                 internal\tprofile\t            sip:mod_sofia@127.0.0.1:5060\tRUNNING (0)',
    '                 external\tprofile\t            sip:mod_sofia@127.0.0.1:5080\tRUNNING (0)',
    ...gateways.map(
      ([name, proxy]) =>
        `${`external::${name}`.padStart(25)}\tgateway\t  ${`sip:${name}@${proxy}`.padStart(40)}\tNOREG`,
    ),
    '=================================================================================================',
    `2 profiles 0 aliases`,
    '',
  ].join('\n');

test('parseGatewayList reads the gateway names of the external profile', () => {
  const names = parseGatewayList(
    status([
      ['acme_carrier', '127.0.0.2:5090'],
      ['globex_carrier', '127.0.0.3:5090'],
    ]),
  );
  assert.equal([...names].sort(), ['acme_carrier', 'globex_carrier']);
  assert.equal([...parseGatewayList(status([]))], []);
});

test('planGateways: new ones started, vanished killed, changed ones restarted, unknown present ones adopted', () => {
  const desired = new Map([
    ['a_new', 'f1'],
    ['a_same', 'f2'],
    ['a_changed', 'f3-new'],
    ['a_adopted', 'f4'],
  ]);
  const actual = new Set(['a_same', 'a_changed', 'a_gone', 'a_adopted']);
  const known = new Map([
    ['a_same', 'f2'],
    ['a_changed', 'f3-old'],
    ['a_gone', 'f5'],
  ]);
  assert.equal(planGateways(desired, actual, known), { kill: ['a_changed', 'a_gone'], start: ['a_changed', 'a_new'] });
});

const trunk = (name: string, proxy: string, extra: Partial<Trunk> = {}): Trunk => ({
  name,
  proxy,
  username: null,
  password: null,
  register: false,
  allowedCidrs: [],
  enabled: true,
  ...extra,
});
const tenant = (slug: string, trunks: Trunk[], status: 'active' | 'suspended' = 'active') =>
  ({ slug, status, trunks }) as unknown as TenantSnapshot;

test('the sync sends killgw/startgw for exactly the gateways that changed', async () => {
  const server = await EslTestServer.start();
  // The emulated sofia: startgw adds the gateway as the database has it now, killgw removes it.
  let db: TenantSnapshot[] = [
    tenant('acme', [trunk('carrier', '127.0.0.2:5090')]),
    tenant('globex', [trunk('carrier', '127.0.0.3:5090')]),
  ];
  const held = new Map<string, string>([
    ['acme_carrier', '127.0.0.2:5090'],
    ['globex_carrier', '127.0.0.3:5090'],
  ]);
  const sent: string[] = [];
  // Killed gateways sofia still lists until sofia_reg_check_gateway reaps them (cmd_status walks the whole list).
  const dying = new Map<string, string>();
  server.onApi((cmd) => {
    if (cmd === 'sofia status') return status([...held, ...dying]);
    const m = /^sofia profile external (killgw|startgw) (\S+)$/.exec(cmd);
    if (!m) return undefined;
    sent.push(`${m[1]} ${m[2]}`);
    if (m[1] === 'killgw') {
      const proxy = held.get(m[2]!);
      if (proxy === undefined) return '-ERR no such gateway.\n';
      held.delete(m[2]!);
      dying.set(m[2]!, proxy);
      return '+OK gateway marked for deletion.\n';
    }
    const [slug, name] = m[2]!.split('_');
    const t = db.find((x) => x.slug === slug)?.trunks.find((x) => x.name === name);
    if (t?.proxy) held.set(m[2]!, t.proxy);
    return `Reload XML [Success]\n+OK start gateway ${m[2]} complete\n`;
  });
  const feed = new EventEmitter();
  const registry = createRegistry();
  const client = new EslClient({
    node: { name: 'fs1', host: '127.0.0.1', port: server.port, password: 'ClueCon' },
    log: pino({ level: 'silent' }),
    registry,
    commandTimeoutMs: 2000,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  const sync = createGatewaySync({
    feed: feed as unknown as ChangeFeed,
    clients: [client],
    tenants: async () => db,
    log: pino({ level: 'silent' }),
    registry,
    debounceMs: 5,
  });
  try {
    client.start();
    await once(client, 'ready');
    await sync.idle();
    assert.equal(sent, [], 'nothing to do when the node holds what the database says');

    db = [tenant('acme', [trunk('carrier', '127.0.0.2:5090'), trunk('backup', '127.0.0.4:5090')]), db[1]!];
    feed.emit('change', { table: 'sip_trunks', op: 'INSERT', tenantId: 'x', id: null, keys: {} });
    await sync.idle();
    assert.equal(sent.splice(0), ['startgw acme_backup']);

    db = [tenant('acme', [trunk('carrier', '127.0.0.2:5090'), trunk('backup', '127.0.0.5:5090')]), db[1]!];
    feed.emit('change', { table: 'sip_trunks', op: 'UPDATE', tenantId: 'x', id: null, keys: {} });
    await sync.idle();
    assert.equal(sent.splice(0), ['killgw acme_backup', 'startgw acme_backup']);
    assert.is(held.get('acme_backup'), '127.0.0.5:5090');

    // A CIDR-only change leaves the gateway alone.
    db = [
      tenant('acme', [
        trunk('carrier', '127.0.0.2:5090', { allowedCidrs: ['10.0.0.0/8'] }),
        trunk('backup', '127.0.0.5:5090'),
      ]),
      db[1]!,
    ];
    feed.emit('change', { table: 'sip_trunks', op: 'UPDATE', tenantId: 'x', id: null, keys: {} });
    await sync.idle();
    assert.equal(sent.splice(0), []);

    // Suspending acme takes its gateways out; globex's stays.
    db = [tenant('acme', db[0]!.trunks as Trunk[], 'suspended'), db[1]!];
    feed.emit('change', { table: 'tenants', op: 'UPDATE', tenantId: 'x', id: null, keys: {} });
    await sync.idle();
    assert.equal(sent.splice(0), ['killgw acme_backup', 'killgw acme_carrier']);
    assert.equal([...held.keys()], ['globex_carrier']);

    // Reactivated before sofia reaped the killed gateways (they are still listed): they are started again.
    db = [tenant('acme', db[0]!.trunks as Trunk[], 'active'), db[1]!];
    feed.emit('change', { table: 'tenants', op: 'UPDATE', tenantId: 'x', id: null, keys: {} });
    await sync.idle();
    assert.equal(sent.splice(0), ['startgw acme_backup', 'startgw acme_carrier']);
    assert.equal([...held.keys()].sort(), ['acme_backup', 'acme_carrier', 'globex_carrier']);

    const counted = await registry.getSingleMetric('fs_tenantd_gateway_sync_commands_total')!.get();
    assert.is(
      counted.values.reduce((n, v) => n + v.value, 0),
      7,
    );
  } finally {
    sync.stop();
    await client.stop();
    await server.close();
  }
});

test.run();
