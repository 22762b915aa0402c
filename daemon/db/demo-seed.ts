// The demo tenants are a contract: README, freeswitch-conf/ and the tests use them.
import { createHash, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { asTenantId } from '../../xml-handlers/model.js';
import { withTenant } from './tenant-context.js';

export const a1Hash = (user: string, realm: string, password: string): string =>
  createHash('md5').update(`${user}:${realm}:${password}`).digest('hex');

interface DemoTenant {
  slug: string;
  name: string;
  domain: string;
  maxTotal: number;
  queueAgents: string[];
  did: string;
  didTo: { queue: string } | { extension: string };
  /** A second number, landing on the demo call flow (business hours → main menu). */
  flowDid: string;
  trunkCidr: string;
  trunkProxy: string;
}

export const DEMO_TENANTS: readonly DemoTenant[] = [
  {
    slug: 'acme',
    name: 'Acme Corp',
    domain: 'acme.pbx.test',
    maxTotal: 2,
    queueAgents: ['1001', '1002'],
    did: '+15550001000',
    didTo: { queue: 'support' },
    flowDid: '+15550001001',
    trunkCidr: '127.0.0.2/32',
    trunkProxy: '127.0.0.2:5090',
  },
  {
    slug: 'globex',
    name: 'Globex Corporation',
    domain: 'globex.pbx.test',
    maxTotal: 10,
    queueAgents: ['1001'],
    did: '+15550002000',
    didTo: { extension: '1000' },
    flowDid: '+15550002001',
    trunkCidr: '127.0.0.3/32',
    trunkProxy: '127.0.0.3:5090',
  },
];

export const DEMO_EXTENSIONS = ['1000', '1001', '1002', '1003'] as const;
export const demoPassword = (slug: string, ext: string): string => `${slug}-${ext}-demo`;

/** True if the database has no tenant at all (so seeding is a first start). */
export async function hasNoTenants(pool: pg.Pool): Promise<boolean> {
  return (await pool.query('SELECT 1 FROM list_tenants() LIMIT 1')).rowCount === 0;
}

/** Seeds the demo tenants through withTenant, as the serving role: the same path the API takes. */
export async function seedDemo(pool: pg.Pool): Promise<void> {
  for (const t of DEMO_TENANTS) {
    const tenantId = asTenantId(randomUUID());
    await withTenant(pool, tenantId, async (db) => {
      await db.query(
        `INSERT INTO tenants (id, slug, name, max_total, default_caller_id_number, default_caller_id_name)
        VALUES ($1, $2, $3, $4, $5, $3)`,
        [tenantId, t.slug, t.name, t.maxTotal, t.did],
      );
      await db.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [
        tenantId,
        t.domain,
      ]);
      const ext = new Map<string, string>();
      for (const n of DEMO_EXTENSIONS) {
        const {
          rows: [row],
        } = await db.query<{ id: string }>(
          `INSERT INTO extensions (tenant_id, number, caller_id_name, caller_id_number)
          VALUES ($1, $2, $3, $2) RETURNING id`,
          [tenantId, n, `${t.name.split(' ')[0]} ${n}`],
        );
        await db.query(
          'INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash) VALUES ($1, $2, $3, $4)',
          [tenantId, row!.id, t.domain, a1Hash(n, t.domain, demoPassword(t.slug, n))],
        );
        ext.set(n, row!.id);
      }
      const {
        rows: [queue],
      } = await db.query<{ id: string }>(
        "INSERT INTO queues (tenant_id, name, dial_code) VALUES ($1, 'support', '7000') RETURNING id",
        [tenantId],
      );
      for (const [i, n] of t.queueAgents.entries()) {
        const {
          rows: [agent],
        } = await db.query<{ id: string }>(
          'INSERT INTO agents (tenant_id, extension_id) VALUES ($1, $2) RETURNING id',
          [tenantId, ext.get(n)],
        );
        await db.query(
          'INSERT INTO tiers (tenant_id, queue_id, agent_id, level, position) VALUES ($1, $2, $3, 1, $4)',
          [tenantId, queue!.id, agent!.id, i + 1],
        );
      }
      const didTo =
        'queue' in t.didTo
          ? { type: 'queue', ext: null, queue: queue!.id }
          : { type: 'extension', ext: ext.get(t.didTo.extension), queue: null };
      await db.query(
        'INSERT INTO dids (tenant_id, e164, destination_type, extension_id, queue_id) VALUES ($1, $2, $3, $4, $5)',
        [tenantId, t.did, didTo.type, didTo.ext, didTo.queue],
      );
      const flow = await seedDemoFlow(db, tenantId, ext, queue!.id);
      await db.query("INSERT INTO dids (tenant_id, e164, destination_type, flow_node_id) VALUES ($1, $2, 'flow', $3)", [
        tenantId,
        t.flowDid,
        flow.get('business-hours'),
      ]);
      const {
        rows: [trunk],
      } = await db.query<{ id: string }>(
        `INSERT INTO sip_trunks (tenant_id, name, proxy, allowed_cidrs)
        VALUES ($1, 'carrier', $2, $3::cidr[]) RETURNING id`,
        [tenantId, t.trunkProxy, [t.trunkCidr]],
      );
      await db.query(
        `INSERT INTO outbound_routes (tenant_id, name, pattern, priority, trunk_id, caller_id_number)
        VALUES ($1, 'pstn', '^\\+?[1-9][0-9]{6,14}$', 100, $2, $3)`,
        [tenantId, trunk!.id, t.did],
      );
      await db.query(
        "INSERT INTO tenant_features (tenant_id, feature_key, enabled) VALUES ($1, 'call_recording', false)",
        [tenantId],
      );
      // A few historical calls so call listings have something to show.
      const base = Date.UTC(2026, 10, 20, 9, 0, 0);
      const calls: Array<[string, string, string, number, number, string]> = [
        ['internal', '1000', '1001', 0, 42, 'NORMAL_CLEARING'],
        ['internal', '1002', '1003', 600, 0, 'NO_ANSWER'],
        ['inbound', '+15557654321', t.did, 1200, 95, 'NORMAL_CLEARING'],
        ['outbound', '1001', '+15551234567', 1800, 310, 'NORMAL_CLEARING'],
      ];
      for (const [i, [direction, caller, callee, offsetS, billsec, cause]] of calls.entries()) {
        const created = new Date(base + offsetS * 1000);
        const answered = billsec > 0 ? new Date(created.getTime() + 4000) : null;
        const ended = new Date(created.getTime() + 4000 + billsec * 1000 + (billsec ? 0 : 26000));
        const callUuid = randomUUID();
        await db.query(
          `INSERT INTO call_records (tenant_id, call_uuid, node, direction, caller, callee,
          created_at, answered_at, ended_at, duration_s, billsec, hangup_cause)
          VALUES ($1, $2, 'demo', $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            tenantId,
            callUuid,
            direction,
            caller,
            callee,
            created,
            answered,
            ended,
            Math.round((ended.getTime() - created.getTime()) / 1000),
            billsec,
            cause,
          ],
        );
        // The first call was recorded: a row (its file is not part of the demo, so a download says it is missing).
        if (i === 0)
          await db.query(
            `INSERT INTO call_recordings (tenant_id, call_uuid, relative_path, started_at, ended_at, duration_ms)
            VALUES ($1, $2, $3, $4, $5, $6)`,
            [tenantId, callUuid, `${tenantId}/${callUuid}.wav`, answered, ended, billsec * 1000],
          );
      }
      // A recording policy to switch on (README "Call recordings"): off by default, so demo calls are not recorded.
      await db.query(
        "INSERT INTO recording_rules (tenant_id, scope, queue_id, enabled) VALUES ($1, 'queue', $2, false)",
        [tenantId, queue!.id],
      );
      // Music on hold (README "Music on hold"): one stream per tenant, its default, with one file row (the audio is
      // not part of the demo: the stream plays silence until a file is uploaded over it).
      const {
        rows: [stream],
      } = await db.query<{ id: string }>(
        "INSERT INTO moh_streams (tenant_id, name, is_default) VALUES ($1, 'lobby', true) RETURNING id",
        [tenantId],
      );
      await db.query(
        `INSERT INTO moh_stream_files (tenant_id, stream_id, name, size_bytes, sample_rate, duration_ms)
        VALUES ($1, $2, 'welcome.wav', 44, 8000, 0)`,
        [tenantId, stream!.id],
      );
    });
  }
}

/** Dial codes of the demo call flow (README "Call flows"). */
export const DEMO_FLOW_CODES = {
  menu: '8000',
  hours: '8100',
  ringGroup: '8200',
  /** Conference room `team` (no PIN, up to 10). */
  conference: '8300',
  /** Parking lot: 8400 parks in the first free slot, 8401-8420 park in or pick up from that slot. */
  parking: '8400',
} as const;
/** The demo menu's greeting: a short tone (no sound files are needed). */
const BEEP = 'tone_stream://%(200,100,660)';

/**
 * An auto attendant: business hours (Mon-Fri 09:00-17:00, the tenant's zone) → main menu (1: extension 1000,
 * 2: the support queue, 3: a ring group of 1001 and 1002), closed → an announcement. Returns node ids by name.
 */
async function seedDemoFlow(db: pg.PoolClient, tenantId: string, ext: Map<string, string>, queueId: string) {
  const ids = new Map<string, string>();
  const node = async (name: string, kind: string, cols: Record<string, unknown>) => {
    const names = Object.keys(cols);
    const {
      rows: [row],
    } = await db.query<{ id: string }>(
      `INSERT INTO call_flow_nodes (tenant_id, name, kind${names.map((n) => `, ${n}`).join('')})
      VALUES ($1, $2, $3${names.map((_, i) => `, $${i + 4}`).join('')}) RETURNING id`,
      [tenantId, name, kind, ...Object.values(cols)],
    );
    ids.set(name, row!.id);
    return row!.id;
  };
  const operator = await node('operator', 'extension', { extension_id: ext.get('1000'), settings: { ringS: 20 } });
  const support = await node('support', 'queue', { queue_id: queueId });
  const group = await node('sales-group', 'ring_group', {
    dial_code: DEMO_FLOW_CODES.ringGroup,
    settings: { strategy: 'simultaneous', members: [{ number: '1001' }, { number: '1002' }] },
  });
  const closed = await node('closed', 'announcement', { settings: { sound: `${BEEP};loops=3` } });
  const menu = await node('main-menu', 'menu', {
    dial_code: DEMO_FLOW_CODES.menu,
    settings: { greeting: BEEP, timeoutMs: 5000, maxFailures: 3, maxTimeouts: 3 },
    next_node_id: closed,
  });
  for (const [digits, target] of [
    ['1', operator],
    ['2', support],
    ['3', group],
  ]) {
    await db.query('INSERT INTO menu_choices (tenant_id, menu_id, digits, target_id) VALUES ($1, $2, $3, $4)', [
      tenantId,
      menu,
      digits,
      target,
    ]);
  }
  await node('team', 'conference', { dial_code: DEMO_FLOW_CODES.conference, settings: { maxMembers: 10 } });
  await node('parking', 'parking_lot', {
    dial_code: DEMO_FLOW_CODES.parking,
    settings: { firstSlot: 8401, lastSlot: 8420 },
  });
  await node('business-hours', 'time_condition', {
    dial_code: DEMO_FLOW_CODES.hours,
    settings: { weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' }], holidays: [] },
    next_node_id: menu,
    else_node_id: closed,
  });
  return ids;
}
