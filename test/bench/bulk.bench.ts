// Issue 18: a bulk import of 10,000 extensions (and their credentials) in one transaction, then a bulk password
// change and a bulk removal, against a daemon (own process, server core) that has the tenant cached and runs the
// change feed's consumers (tenant cache, FreeSWITCH cache flusher). Per operation: the notifications the daemon
// received, its CPU time from before the transaction until it has handled them all, the time until its xml_curl
// answers are exact, and the full snapshot loads. Baselines: rows changed (one notification each), one full reload of the
// tenant, and the same transaction with the notify triggers disabled (the pure database cost).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { freshDatabase } from '../helpers/postgres.js';
import {
  find,
  isFinalNotFound,
  loadFixture,
  post,
  sectionOf,
  withFields,
  type Target,
} from '../helpers/xml-curl-client.js';
import type { BenchContext } from './context.js';
import { layout, startChild, type Child } from './processes.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, scaledDomain, scaledSlug } from './requests.js';
import { seedScale } from './scale-data.js';
import type { DaemonStart } from './xmlcurl.bench.js';

const SENTINEL = '_bench_sentinel'; // servers/daemon-http.ts waits for it
const ROWS = 10_000;
const FIRST = 100_000;
const EXISTING = 1000;

interface Stats {
  changes: number;
  queries: number;
  fullLoads: number;
  rowReads: number;
  cpuS: number;
}

type Op = 'insert' | 'update' | 'delete';

/** One set-based statement per operation, as an admin API bulk path would send it. */
async function bulk(pool: pg.Pool, tenantId: TenantId, tenant: number, op: Op): Promise<number> {
  const domain = scaledDomain(tenant);
  const t0 = performance.now();
  await withTenant(pool, tenantId, async (db) => {
    if (op === 'insert')
      await db.query(
        `WITH e AS (INSERT INTO extensions (tenant_id, number, caller_id_name, caller_id_number)
          SELECT $1, n::text, 'Bulk ' || n::text, n::text FROM generate_series($4::int, $4::int + $5::int - 1) AS n
          RETURNING id, number)
        INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
        SELECT $1, e.id, $2::text, md5(e.number || ':' || $2::text || ':' || $3 || '-' || e.number) FROM e`,
        [tenantId, domain, scaledSlug(tenant), FIRST, ROWS],
      );
    else if (op === 'update')
      await db.query(
        `UPDATE extension_credentials c SET a1_hash = md5(x.number || ':' || c.realm || ':new-' || x.number)
        FROM extensions x WHERE x.id = c.extension_id AND x.number::int >= $1`,
        [FIRST],
      );
    else await db.query('DELETE FROM extensions WHERE number::int >= $1', [FIRST]);
  });
  return performance.now() - t0;
}

/** What user `n` of `tenant` should be answered with after `op`: its a1-hash, or undefined (not found). */
const expected = (tenant: number, op: Op, n: number): string | undefined =>
  op === 'delete'
    ? undefined
    : a1Hash(String(n), scaledDomain(tenant), op === 'insert' ? `${scaledSlug(tenant)}-${n}` : `new-${n}`);

export async function benchBulk(ctx: BenchContext): Promise<Figure[]> {
  const db = await freshDatabase(ctx.cluster);
  const app = db.appPool(2);
  const owner = db.ownerPool(1);
  let daemon: Child | undefined;
  try {
    // t0000 is the cached tenant under test, t0001 the no-trigger baseline, t0002 an unrelated cached tenant.
    await seedScale(app, { tenants: 3, usersPerTenant: EXISTING, parallel: 1 });
    await owner.query('ANALYZE');
    const ids = await Promise.all(
      [0, 1, 2].map(async (t) => {
        const { rows } = await app.query<{ id: string }>('SELECT tenant_id AS id FROM resolve_sip_domain($1)', [
          scaledDomain(t),
        ]);
        return asTenantId(rows[0]!.id);
      }),
    );
    const [a, b] = ids as [TenantId, TenantId, TenantId];

    daemon = await startChild('servers/daemon-http.js', layout.serverCpu);
    const started = await daemon.call<DaemonStart>('start', {
      appUrl: db.appUrl,
      poolMax: ctx.poolMax,
      feedConsumers: true,
    });
    const target: Target = { host: '127.0.0.1', port: started.port, ...started.auth };
    const fx = loadFixture(FIXTURES.sipAuthRegister);
    const answer = async (tenant: number, user: number): Promise<string | undefined | 'error'> => {
      const d = scaledDomain(tenant);
      const r = await post(
        target,
        fx,
        withFields(fx, {
          key_value: d,
          domain: d,
          user: String(user),
          sip_auth_realm: d,
          sip_to_host: d,
          sip_from_host: d,
        }),
      );
      // A failed look-up answers the retryable not-found (answer-fetch.ts): only the final one means "no such user".
      if (r.status !== 200) return 'error';
      if (isFinalNotFound(r.body)) return undefined;
      return find(sectionOf(r.body), 'param', { name: 'a1-hash' })?.attrs.value ?? 'error';
    };
    // The tenants' snapshots cached, as a running daemon would have them.
    for (const t of [0, 2]) for (const u of [1000, 1001, 1500]) await answer(t, u);

    // Pure database cost: the same statements on t0001 with the notify triggers off.
    const tables = ['extensions', 'extension_credentials'];
    const dbOnly: Record<Op, number> = { insert: 0, update: 0, delete: 0 };
    for (const t of tables) await owner.query(`ALTER TABLE ${t} DISABLE TRIGGER notify_change`);
    try {
      for (const op of ['insert', 'update', 'delete'] as const) dbOnly[op] = await bulk(app, b, 1, op);
    } finally {
      for (const t of tables) await owner.query(`ALTER TABLE ${t} ENABLE TRIGGER notify_change`);
    }

    const figures: Figure[] = [];
    let reload: { cpuMs: number; wallMs: number } | undefined;
    for (const op of ['insert', 'update', 'delete'] as const) {
      const last = FIRST + ROWS - 1;
      const s0 = await daemon.call<Stats>('feedStats');
      const dbMs = await bulk(app, a, 0, op);
      const committed = performance.now();
      const token = randomUUID();
      await app.query('SELECT pg_notify($1, $2)', [
        'fs_tenantd_changes',
        JSON.stringify({ table: SENTINEL, op: 'UPDATE', tenant_id: randomUUID(), id: token, keys: {} }),
      ]);
      // Asked every 5 ms (each request costs the daemon a little CPU, counted below; `polls` says how many).
      let polls = 0;
      let failed = 0;
      for (;;) {
        polls++;
        const got = await answer(0, last);
        if (got === expected(0, op, last)) break;
        if (got === 'error') failed++;
        if (performance.now() - committed > 120_000) throw new Error(`bulk ${op}: not exact after 120 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const exactMs = performance.now() - committed;
      const s1 = await daemon.call<Stats>('drain', { token });
      // Exact for more than the polled user: every 50th new user, an old one, and the unrelated tenant.
      for (let n = FIRST; n <= last; n += 50) {
        const got = await answer(0, n);
        if (got !== expected(0, op, n)) throw new Error(`bulk ${op}: user ${n} answered ${got}`);
      }
      if ((await answer(0, 1000)) !== a1Hash('1000', scaledDomain(0), `${scaledSlug(0)}-1000`))
        throw new Error(`bulk ${op}: an existing user is answered wrongly`);
      if ((await answer(2, 1000)) !== a1Hash('1000', scaledDomain(2), `${scaledSlug(2)}-1000`))
        throw new Error(`bulk ${op}: the unrelated tenant is answered wrongly`);
      // Loads counted up to here: the one the first look-up after the flood made is among them.
      const s2 = await daemon.call<Stats>('feedStats');
      const d = {
        changes: s1.changes - s0.changes,
        queries: s1.queries - s0.queries,
        fullLoads: s2.fullLoads - s0.fullLoads,
        rowReads: s2.rowReads - s0.rowReads,
        cpuMs: (s1.cpuS - s0.cpuS) * 1000,
      };
      // One full reload of the tenant at its largest (11,000 extensions), for scale.
      if (op === 'insert') {
        reload = await daemon.call<{ cpuMs: number; wallMs: number }>('reload', { tenantId: a });
        await answer(0, 1000);
      }
      const rows = op === 'update' ? ROWS : 2 * ROWS; // credentials only, or extensions and credentials
      ctx.log(
        `bulk ${op}: ${d.changes} notifications (${rows} rows), daemon CPU ${d.cpuMs.toFixed(0)} ms, exact after ${exactMs.toFixed(0)} ms (${polls} polls, ${failed} failed), ${d.fullLoads} full loads, ${d.rowReads} row reads, ${d.queries} queries; transaction ${dbMs.toFixed(0)} ms (${dbOnly[op].toFixed(0)} ms without notify triggers)`,
      );
      const what = `${op} of ${ROWS.toLocaleString('en-US')} ${op === 'update' ? 'passwords' : 'extensions + credentials'} in one statement, tenant cached`;
      figures.push(
        figure({
          id: `bulk.${op}.notifications`,
          what: `${what}: notifications received`,
          unit: 'count',
          better: 'lower',
          value: d.changes,
          baseline: rows,
          baselineName: 'rows changed (one notification per row)',
        }),
        figure({
          id: `bulk.${op}.cpu`,
          what: `${what}: daemon CPU handling it`,
          unit: 'ms',
          better: 'lower',
          value: d.cpuMs,
          baseline: reload?.cpuMs ?? null,
          baselineName: 'daemon CPU of one full reload of the tenant (11,000 extensions)',
          note: `${d.fullLoads} full snapshot loads (up to the first answers after), ${d.rowReads} row re-reads, ${d.queries} SQL statements sent until handled; includes ${polls} xml_curl polls`,
        }),
        figure({
          id: `bulk.${op}.exact`,
          what: `${what}: commit to exact xml_curl answer`,
          unit: 'ms',
          better: 'lower',
          value: exactMs,
          baseline: dbMs,
          baselineName: 'the transaction itself (begin to commit)',
          note: `polled every 5 ms: ${polls} requests, ${failed} of them failed (answered "not found, ask elsewhere")`,
        }),
        figure({
          id: `bulk.${op}.db`,
          what: `${what}: the transaction, notify triggers on`,
          unit: 'ms',
          better: 'lower',
          value: dbMs,
          baseline: dbOnly[op],
          baselineName: 'the same transaction (another tenant) with the notify triggers disabled',
        }),
      );
    }
    return figures;
  } finally {
    await daemon?.stop();
    await app.end();
    await owner.end();
    await db.drop();
  }
}
