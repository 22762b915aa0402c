// The platform data set (issue 18 part 2): `tenants` tenants holding `extensions` extensions in all, a few large
// (LARGE tenants of `largeSize`) and many small ones of varied size, each with a primary SIP domain
// (t0000.bench.test, as scale-data.ts), one trunk (a sofia gateway to 127.0.0.1:9 with two allowed CIDRs; every
// tenth registers, with credentials), two DIDs to its extension 1000, and call centers: each large tenant 20 queues
// and 200 agents, every tenth other tenant one queue and 3 agents, one tier per agent.
//
// Written set-based, as the superuser (bench data only: every read the daemon makes still goes through the serving
// role and RLS), with session_replication_role = replica so that neither the change-notify triggers (1,000,000
// NOTIFYs nobody listens to) nor the FK checks run: the rows are built consistent by construction.
import pg from 'pg';

export interface PlatformSeed {
  tenants: number;
  extensions: number;
  largeTenants: number;
  largeSize: number;
}

export interface Seeded {
  tenants: number;
  extensions: number;
  trunks: number;
  registering: number;
  dids: number;
  queues: number;
  agents: number;
  tiers: number;
  seconds: number;
}

export const platformSeed = (quick: boolean): PlatformSeed =>
  quick
    ? { tenants: 500, extensions: 25_000, largeTenants: 5, largeSize: 2_000 }
    : { tenants: 20_000, extensions: 1_000_000, largeTenants: 5, largeSize: 20_000 };

/** Extensions per chunk statement: bounded transactions, and progress in the log. */
const CHUNK = 100_000;

export async function seedPlatform(superuserUrl: string, s: PlatformSeed, log: (m: string) => void): Promise<Seeded> {
  const t0 = performance.now();
  const c = new pg.Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    await c.query('SET session_replication_role = replica');
    await c.query('SET synchronous_commit = off');
    const small = (s.extensions - s.largeTenants * s.largeSize) / Math.max(1, s.tenants - s.largeTenants);
    // Small tenants' sizes spread from 0.2x to 1.8x the mean (deterministic, by index).
    await c.query(
      `CREATE TEMP TABLE bt AS
       SELECT i, gen_random_uuid() AS id, 't' || s AS slug, 't' || s || '.bench.test' AS domain,
         CASE WHEN i < $2 THEN $3::int
           ELSE greatest(3, round($4::float8 * (0.2 + 1.6 * ((i * 37) % 101) / 100.0)))::int END AS n
       -- As scaledSlug: at least 4 digits (lpad alone would cut t10000 to t1000).
       FROM generate_series(0, $1::int - 1) AS i, LATERAL (SELECT lpad(i::text, greatest(4, length(i::text)), '0')) x(s)`,
      [s.tenants, s.largeTenants, s.largeSize, small],
    );
    await c.query('CREATE INDEX ON bt (i)');
    await c.query(`INSERT INTO tenants (id, slug, name, max_total) SELECT id, slug, 'Bench ' || slug, 50 FROM bt`);
    await c.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) SELECT id, domain, true FROM bt');
    // Tenant index ranges of about CHUNK extensions each.
    const { rows: sizes } = await c.query<{ i: number; n: number }>('SELECT i, n FROM bt ORDER BY i');
    let from = 0;
    let acc = 0;
    let done = 0;
    const flush = async (to: number) => {
      await c.query(
        `WITH e AS (
           INSERT INTO extensions (tenant_id, number, caller_id_name, caller_id_number)
           SELECT bt.id, (1000 + g.x)::text, bt.slug || ' ' || (1000 + g.x), (1000 + g.x)::text
           FROM bt, generate_series(0, bt.n - 1) AS g(x) WHERE bt.i >= $1 AND bt.i < $2
           RETURNING tenant_id, id, number)
         INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
         SELECT e.tenant_id, e.id, bt.domain, md5(e.number || ':' || bt.domain || ':' || bt.slug || '-' || e.number)
         FROM e JOIN bt ON bt.id = e.tenant_id`,
        [from, to],
      );
      done += acc;
      log(`platform seed: ${done.toLocaleString('en-US')} extensions`);
      from = to;
      acc = 0;
    };
    for (const r of sizes) {
      acc += r.n;
      if (acc >= CHUNK) await flush(r.i + 1);
    }
    if (acc > 0) await flush(s.tenants);
    await c.query(
      `INSERT INTO sip_trunks (tenant_id, name, proxy, username, password, register, allowed_cidrs)
       SELECT id, 'carrier', '127.0.0.1:9',
         CASE WHEN i % 10 = 0 THEN 'u-' || slug END, CASE WHEN i % 10 = 0 THEN 'pw-' || slug END, i % 10 = 0,
         ARRAY[format('10.%s.%s.0/28', i / 256, i % 256)::cidr, format('100.64.%s.%s/32', i / 256, i % 256)::cidr]
       FROM bt`,
    );
    await c.query(
      `INSERT INTO dids (tenant_id, e164, destination_type, extension_id)
       SELECT bt.id, '+1555' || lpad(bt.i::text, 6, '0') || k, 'extension', e.id
       FROM bt CROSS JOIN generate_series(0, 1) AS k
       JOIN extensions e ON e.tenant_id = bt.id AND e.number = '1000'`,
    );
    // Call centers: large tenants 20 queues x 10 agents, every tenth other tenant 1 queue x 3 agents.
    await c.query(
      `CREATE TEMP TABLE bcc AS
       SELECT bt.id, q, a FROM bt,
         LATERAL (SELECT CASE WHEN bt.i < $1 THEN 20 ELSE 1 END AS queues, CASE WHEN bt.i < $1 THEN 10 ELSE 3 END AS per) k,
         generate_series(0, k.queues - 1) AS q, generate_series(0, k.per - 1) AS p,
         LATERAL (SELECT q * k.per + p AS a) x
       WHERE bt.i < $1 OR bt.i % 10 = 5`,
      [s.largeTenants],
    );
    await c.query(
      `INSERT INTO queues (tenant_id, name, dial_code)
       SELECT DISTINCT id, 'q' || lpad(q::text, 2, '0'), (7000 + q)::text FROM bcc`,
    );
    await c.query(
      `INSERT INTO agents (tenant_id, extension_id)
       SELECT b.id, e.id FROM bcc b JOIN extensions e ON e.tenant_id = b.id AND e.number = (1000 + b.a)::text`,
    );
    await c.query(
      `INSERT INTO tiers (tenant_id, queue_id, agent_id)
       SELECT b.id, q.id, g.id FROM bcc b
       JOIN queues q ON q.tenant_id = b.id AND q.name = 'q' || lpad(b.q::text, 2, '0')
       JOIN extensions e ON e.tenant_id = b.id AND e.number = (1000 + b.a)::text
       JOIN agents g ON g.tenant_id = b.id AND g.extension_id = e.id`,
    );
    await c.query('RESET session_replication_role');
    await c.query('ANALYZE');
    // Written out now, not by a checkpoint in the middle of the measurements (it held connections up for seconds).
    await c.query('CHECKPOINT');
    const count = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      tenants: await count('SELECT count(*) AS n FROM tenants'),
      extensions: await count('SELECT count(*) AS n FROM extensions'),
      trunks: await count('SELECT count(*) AS n FROM sip_trunks'),
      registering: await count('SELECT count(*) AS n FROM sip_trunks WHERE register'),
      dids: await count('SELECT count(*) AS n FROM dids'),
      queues: await count('SELECT count(*) AS n FROM queues'),
      agents: await count('SELECT count(*) AS n FROM agents'),
      tiers: await count('SELECT count(*) AS n FROM tiers'),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await c.end();
  }
}
