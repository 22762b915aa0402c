// Usage roll-up fixtures: an account tree, a seeded mix of call records (duplicates included) and the sums the
// roll-up must equal, computed from call_records itself (GROUP BY under each account's own context).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';

/** Creates an account (with a primary SIP domain <slug>.pbx.test, so tokens can name it) in its own context. */
export async function createAccount(
  pool: pg.Pool,
  slug: string,
  opts: { parent?: TenantId; reseller?: boolean } = {},
): Promise<TenantId> {
  const id = asTenantId(randomUUID());
  await withTenant(pool, id, async (db) => {
    await db.query('INSERT INTO tenants (id, slug, name, parent_id, is_reseller) VALUES ($1, $2, $3, $4, $5)', [
      id,
      slug,
      `Account ${slug}`,
      opts.parent ?? null,
      opts.reseller ?? false,
    ]);
    await db.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [
      id,
      `${slug}.pbx.test`,
    ]);
  });
  return id;
}

/** mulberry32, seeded: the same records on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rec {
  tenant: TenantId;
  callUuid: string;
  direction: 'inbound' | 'outbound' | 'internal';
  created: Date;
  answered: Date | null;
  ended: Date;
  durationS: number;
  billsec: number;
}

const DIRECTIONS = ['inbound', 'outbound', 'internal'] as const;

/**
 * n records spread over `days` UTC days from `firstDay`, a share of them in the last second before or the first
 * second of a UTC day (the boundary), a third unanswered, and `dupes` extra records that reuse an earlier record's
 * uuid and tenant with other numbers (as a second writer would): only the first stored may count.
 */
export function makeRecords(
  tenants: TenantId[],
  opts: { n: number; dupes: number; firstDay: string; days: number; seed: number },
): Rec[] {
  const r = rng(opts.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const day0 = Date.parse(`${opts.firstDay}T00:00:00Z`);
  const out: Rec[] = [];
  for (let i = 0; i < opts.n; i++) {
    const day = day0 + Math.floor(r() * opts.days) * 86_400_000;
    const u = r();
    // Just before midnight, right at it, or anywhere in the day.
    const offsetMs = u < 0.1 ? 86_399_500 : u < 0.2 ? 0 : Math.floor(r() * 86_400_000);
    const created = new Date(day + offsetMs);
    const billsec = r() < 0.33 ? 0 : 1 + Math.floor(r() * 900);
    const ring = Math.floor(r() * 30);
    const answered = billsec ? new Date(created.getTime() + ring * 1000) : null;
    const durationS = ring + billsec;
    out.push({
      tenant: pick(tenants),
      callUuid: randomUUID(),
      direction: pick(DIRECTIONS),
      created,
      answered,
      ended: new Date(created.getTime() + durationS * 1000),
      durationS,
      billsec,
    });
  }
  for (let i = 0; i < opts.dupes; i++) {
    const orig = out[Math.floor(r() * opts.n)]!;
    out.push({ ...orig, billsec: orig.billsec + 61, durationS: orig.durationS + 61, direction: pick(DIRECTIONS) });
  }
  return out;
}

const INSERT_BATCH = `SELECT insert_call_records($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
  $6::text[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::int[], $12::text[],
  $13::text[]) AS n`;

/** One insert_call_records batch (the ESL writer's path); returns the rows it stored. */
export async function insertBatch(pool: pg.Pool, recs: Rec[]): Promise<number> {
  const col = <T>(f: (x: Rec) => T) => recs.map(f);
  const { rows } = await pool.query(INSERT_BATCH, [
    col((x) => x.tenant),
    col((x) => x.callUuid),
    col(() => 'fs1'),
    col((x) => x.direction),
    col(() => '1000'),
    col(() => '1001'),
    col((x) => x.created),
    col((x) => x.answered),
    col((x) => x.ended),
    col((x) => x.durationS),
    col((x) => x.billsec),
    col(() => 'NORMAL_CLEARING'),
    col(() => null),
  ]);
  return rows[0].n as number;
}

/** One record in its tenant's own transaction (mod_json_cdr's path); true if it was stored. */
export async function insertOne(pool: pg.Pool, x: Rec): Promise<boolean> {
  return withTenant(pool, x.tenant, async (db) => {
    const res = await db.query(
      `INSERT INTO call_records (tenant_id, call_uuid, node, direction, caller, callee, created_at, answered_at,
        ended_at, duration_s, billsec, hangup_cause)
      VALUES ($1, $2, 'fs2', $3, '1000', '1001', $4, $5, $6, $7, $8, 'NORMAL_CLEARING')
      ON CONFLICT (tenant_id, call_uuid) DO NOTHING`,
      [x.tenant, x.callUuid, x.direction, x.created, x.answered, x.ended, x.durationS, x.billsec],
    );
    return res.rowCount === 1;
  });
}

/** "day|direction" -> [calls, answered, billsec, billed minutes, duration] for one account. */
export type Sums = Record<string, [number, number, number, number, number]>;

const SUMS = (table: 'call_records' | 'usage_daily', from: string, to: string) =>
  table === 'call_records'
    ? `SELECT (created_at AT TIME ZONE 'UTC')::date::text || '|' || direction AS k, count(*)::float8 AS c,
        count(answered_at)::float8 AS a, sum(billsec)::float8 AS b, sum(ceil(billsec / 60.0))::float8 AS m,
        sum(duration_s)::float8 AS d
      FROM call_records WHERE (created_at AT TIME ZONE 'UTC')::date BETWEEN '${from}' AND '${to}' GROUP BY 1`
    : `SELECT day::text || '|' || direction AS k, sum(calls)::float8 AS c, sum(answered)::float8 AS a,
        sum(billsec)::float8 AS b, sum(billed_minutes)::float8 AS m, sum(duration_s)::float8 AS d
      FROM usage_daily WHERE day BETWEEN '${from}' AND '${to}' GROUP BY 1`;

/** One account's sums, from call_records (the truth) or from usage_daily, read in its own context. */
export async function sumsOf(
  pool: pg.Pool,
  tenant: TenantId,
  table: 'call_records' | 'usage_daily',
  from = '1970-01-01',
  to = '9999-12-31',
): Promise<Sums> {
  const { rows } = await withTenant(pool, tenant, (db) => db.query(SUMS(table, from, to)));
  return Object.fromEntries(rows.map((x) => [x.k, [x.c, x.a, x.b, x.m, x.d]])) as Sums;
}

/** Adds sums (a subtree's). */
export function addSums(...all: Sums[]): Sums {
  const out: Sums = {};
  for (const s of all)
    for (const [k, v] of Object.entries(s)) {
      const t = (out[k] ??= [0, 0, 0, 0, 0]);
      for (let i = 0; i < t.length; i++) t[i] = t[i]! + v[i]!;
    }
  return out;
}

/** What the records say once duplicates are dropped (first stored wins), computed in JS: an independent check. */
export function expectedSums(recs: Rec[], tenant: TenantId): Sums {
  const seen = new Set<string>();
  const out: Sums = {};
  for (const x of recs) {
    if (x.tenant !== tenant || seen.has(x.callUuid)) continue;
    seen.add(x.callUuid);
    const k = `${x.created.toISOString().slice(0, 10)}|${x.direction}`;
    const t = (out[k] ??= [0, 0, 0, 0, 0]);
    t[0] += 1;
    t[1] += x.answered ? 1 : 0;
    t[2] += x.billsec;
    t[3] += Math.ceil(x.billsec / 60);
    t[4] += x.durationS;
  }
  return out;
}

/**
 * Writes `second` while another transaction still holds the roll-up row `first` went to (same account, day and
 * direction): the roll-up then takes a second row for that group (sql/017, shard), which every reader must sum.
 * The two connections are picked with different backend pids mod 16, so the second does not wait for the first.
 */
export async function insertWhileHeld(pool: pg.Pool, first: Rec, second: Rec): Promise<void> {
  const clients: pg.PoolClient[] = [];
  try {
    let a: pg.PoolClient | undefined;
    let b: pg.PoolClient | undefined;
    while (!b) {
      const c = await pool.connect();
      clients.push(c);
      const pid = (await c.query('SELECT pg_backend_pid() % 16 AS s')).rows[0].s as number;
      if (!a) a = c;
      else if (pid !== (await a.query('SELECT pg_backend_pid() % 16 AS s')).rows[0].s) b = c;
      if (clients.length > 20) throw new Error('no two backends with different pid mod 16');
    }
    const insert = async (c: pg.PoolClient, x: Rec) => {
      await c.query('BEGIN');
      await c.query("SELECT set_config('app.current_tenant', $1, true)", [x.tenant]);
      await c.query(
        `INSERT INTO call_records (tenant_id, call_uuid, node, direction, created_at, answered_at, ended_at,
          duration_s, billsec, hangup_cause) VALUES ($1, $2, 'fs1', $3, $4, $5, $6, $7, $8, 'NORMAL_CLEARING')`,
        [x.tenant, x.callUuid, x.direction, x.created, x.answered, x.ended, x.durationS, x.billsec],
      );
    };
    await insert(a!, first);
    await insert(b, second);
    await b.query('COMMIT');
    await a!.query('COMMIT');
  } finally {
    for (const c of clients) c.release();
  }
}
