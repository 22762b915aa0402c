// Issue 16: the cost of shared admission. The decision as one statement in
// PostgreSQL (admit_call: per-tenant advisory lock, expiry, count, reserve)
// against today's in-process ledger decision, in the same run, same process:
// latency one at a time, and admissions/s for one hot tenant under concurrent
// attempts (which all queue on that tenant's lock). Every admitted call is
// released again in the loop (its hangup), so the tenant's count stays level.
// Issue 17 adds a side in the same blocks: the same shared decision for a
// customer under a reseller (a 2-level chain: two accounts locked, both
// levels' ceilings and subtree counts read and written).
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { AdmissionRequest, CallAdmission } from '../../daemon/calls/admission-types.js';
import { SharedAdmission } from '../../daemon/calls/shared-admission.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { ceilings, channelEvent, makeLedger } from '../calls/ledger-fixtures.js';
import { freshDatabase } from '../helpers/postgres.js';
import type { BenchContext } from './context.js';
import { percentiles } from './percentiles.js';
import { figure, type Figure } from './report.js';

/** Live calls the hot tenant holds throughout (its ceiling is twice that). */
const LIVE = 200;

export async function benchAdmission(ctx: BenchContext): Promise<Figure[]> {
  const db = await freshDatabase(ctx.cluster);
  const pool = db.appPool(ctx.poolMax);
  try {
    const tenant = asTenantId(randomUUID());
    await withTenant(pool, tenant, (c) =>
      c.query("INSERT INTO tenants (id, slug, name, max_total) VALUES ($1, 'hot', 'hot', $2)", [tenant, 2 * LIVE]),
    );
    // Cascading ceilings: a customer under a reseller, holding the same calls as the flat tenant.
    const reseller = asTenantId(randomUUID());
    const customer = asTenantId(randomUUID());
    await withTenant(pool, reseller, (c) =>
      c.query("INSERT INTO tenants (id, slug, name, max_total, is_reseller) VALUES ($1, 'res', 'res', $2, true)", [
        reseller,
        4 * LIVE,
      ]),
    );
    await withTenant(pool, customer, (c) =>
      c.query("INSERT INTO tenants (id, slug, name, max_total, parent_id) VALUES ($1, 'cust', 'cust', $2, $3)", [
        customer,
        2 * LIVE,
        reseller,
      ]),
    );
    const sharedLedger = makeLedger().ledger;
    const shared = new SharedAdmission({
      pool,
      ledger: sharedLedger,
      log: pino({ level: 'silent' }),
      reservationTtlMs: 30_000,
      downPolicy: 'enforce',
      timeoutMs: 5000,
    });
    const chained = new SharedAdmission({
      pool,
      ledger: makeLedger().ledger,
      log: pino({ level: 'silent' }),
      reservationTtlMs: 30_000,
      downPolicy: 'enforce',
      timeoutMs: 5000,
    });
    const local = makeLedger().ledger;
    const req = (tenantId = tenant): AdmissionRequest => ({
      tenantId,
      callUuid: randomUUID(),
      direction: 'inbound',
      ceilings: ceilings(2 * LIVE),
      node: 'fs1',
    });
    // A call's end, as each side learns it: the hangup through the ledger (shared: it also releases in PostgreSQL,
    // awaited here so the count is level when the next attempt comes).
    const endShared = (uuid: string) => pool.query('SELECT release_call($1, $2)', [tenant, uuid]);
    const endLocal = async (uuid: string) => local.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', uuid));
    const endChained = (uuid: string) => pool.query('SELECT release_call($1, $2)', [customer, uuid]);
    const sides: Array<{
      name: string;
      adm: CallAdmission;
      end: (uuid: string) => Promise<unknown>;
      tenant: typeof tenant;
    }> = [
      { name: 'shared', adm: shared, end: endShared, tenant },
      { name: 'chained', adm: chained, end: endChained, tenant: customer },
      { name: 'local', adm: local, end: endLocal, tenant },
    ];
    for (const s of sides)
      for (let i = 0; i < LIVE; i++) if (!(await s.adm.admit(req(s.tenant))).admitted) throw new Error('prefill');

    // One at a time: blocks of each side alternate, so both see the same drift of this shared machine.
    const samples: Record<string, number[]> = { shared: [], chained: [], local: [], roundTrip: [] };
    const decisions = ctx.quick ? 2000 : 20_000;
    for (let block = 0; block < 20; block++) {
      for (const s of block % 2 ? [...sides].reverse() : sides) {
        for (let i = 0; i < decisions / 20; i++) {
          const r = req(s.tenant);
          const t0 = performance.now();
          const v = await s.adm.admit(r);
          samples[s.name]!.push(performance.now() - t0);
          if (!v.admitted) throw new Error(`${s.name}: refused below the ceiling`);
          await s.end(r.callUuid);
        }
      }
      // The floor of any shared decision on this machine: one bare round trip to PostgreSQL, in the same blocks.
      for (let i = 0; i < decisions / 20; i++) {
        const t0 = performance.now();
        await pool.query('SELECT 1');
        samples.roundTrip!.push(performance.now() - t0);
      }
    }
    const floor = percentiles(samples.roundTrip!);
    const lat = {
      shared: percentiles(samples.shared!),
      chained: percentiles(samples.chained!),
      local: percentiles(samples.local!),
    };

    // One hot tenant, `connections` attempts in flight at once, for a fixed time per side.
    const durationMs = ctx.quick ? 1500 : 5000;
    const hot = async (s: (typeof sides)[number]) => {
      const stop = performance.now() + durationMs;
      let admitted = 0;
      const lats: number[] = [];
      await Promise.all(
        Array.from({ length: ctx.connections }, async () => {
          while (performance.now() < stop) {
            const r = req(s.tenant);
            const t0 = performance.now();
            const v = await s.adm.admit(r);
            lats.push(performance.now() - t0);
            if (!v.admitted) throw new Error(`${s.name}: refused below the ceiling`);
            admitted++;
            await s.end(r.callUuid);
            // The local side never yields otherwise.
            if (s.name === 'local' && admitted % 256 === 0) await new Promise((x) => setImmediate(x));
          }
        }),
      );
      return { perSecond: admitted / (durationMs / 1000), ...percentiles(lats) };
    };
    const hotShared = await hot(sides[0]!);
    const hotChained = await hot(sides[1]!);
    const hotLocal = await hot(sides[2]!);
    ctx.log(
      `admission: one at a time p50/p99 shared ${lat.shared.p50Ms.toFixed(3)}/${lat.shared.p99Ms.toFixed(3)} ms, ` +
        `local ${lat.local.p50Ms.toFixed(4)}/${lat.local.p99Ms.toFixed(4)} ms, SELECT 1 ` +
        `${floor.p50Ms.toFixed(3)}/${floor.p99Ms.toFixed(3)} ms; customer under a reseller (shared) ` +
        `${lat.chained.p50Ms.toFixed(3)}/${lat.chained.p99Ms.toFixed(3)} ms; hot tenant ` +
        `${Math.round(hotShared.perSecond)}/s shared (p99 ${hotShared.p99Ms.toFixed(2)} ms), ` +
        `${Math.round(hotChained.perSecond)}/s chained (p99 ${hotChained.p99Ms.toFixed(2)} ms), ` +
        `${Math.round(hotLocal.perSecond)}/s local`,
    );
    const base = "today's in-process ledger decision (CallLedger.admit), same process, same run";
    const what = `admission, one hot tenant holding ${LIVE} calls, one decision at a time`;
    return [
      figure({
        id: '16.admit.p99',
        what: `${what}: p99 (shared: one admit_call statement)`,
        unit: 'ms',
        better: 'lower',
        value: lat.shared.p99Ms,
        baseline: lat.local.p99Ms,
        baselineName: base,
        target: { on: 'value', op: '<=', limit: 2 },
        note:
          `${decisions} decisions per side, each call released after its decision; a bare SELECT 1 round trip ` +
          `in the same run: p50 ${floor.p50Ms.toFixed(3)} ms, p99 ${floor.p99Ms.toFixed(3)} ms`,
      }),
      figure({
        id: '16.admit.p50',
        what: `${what}: p50`,
        unit: 'ms',
        better: 'lower',
        value: lat.shared.p50Ms,
        baseline: lat.local.p50Ms,
        baselineName: base,
      }),
      figure({
        id: '16.hot.rps',
        what: `admissions/s for one hot tenant, ${ctx.connections} attempts in flight, each call released after`,
        unit: 'adm/s',
        better: 'higher',
        value: hotShared.perSecond,
        baseline: hotLocal.perSecond,
        baselineName: base,
        note: `shared under that load: p50 ${hotShared.p50Ms.toFixed(2)} ms, p99 ${hotShared.p99Ms.toFixed(2)} ms; pool ${ctx.poolMax}`,
      }),
      figure({
        id: '17.cascade.p99',
        what: `${what}, the tenant a customer under a reseller (2-level chain): p99`,
        unit: 'ms',
        better: 'lower',
        value: lat.chained.p99Ms,
        baseline: lat.shared.p99Ms,
        baselineName: 'the same shared decision for a tenant without a parent, same blocks',
        target: { on: 'value', op: '<=', limit: 2 },
        note: `p50 ${lat.chained.p50Ms.toFixed(3)} ms vs ${lat.shared.p50Ms.toFixed(3)} ms flat`,
      }),
      figure({
        id: '17.cascade.hot.rps',
        what: `admissions/s for one hot customer under a reseller, ${ctx.connections} attempts in flight`,
        unit: 'adm/s',
        better: 'higher',
        value: hotChained.perSecond,
        baseline: hotShared.perSecond,
        baselineName: 'the same for a tenant without a parent',
        note: `p50 ${hotChained.p50Ms.toFixed(2)} ms, p99 ${hotChained.p99Ms.toFixed(2)} ms`,
      }),
    ];
  } finally {
    await db.drop();
  }
}
