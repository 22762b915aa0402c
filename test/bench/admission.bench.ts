// Issue 16: the cost of shared admission. The decision as one statement in
// PostgreSQL (admit_call: per-tenant advisory lock, expiry, count, reserve)
// against today's in-process ledger decision, in the same run, same process:
// latency one at a time, and admissions/s for one hot tenant under concurrent
// attempts (which all queue on that tenant's lock). Every admitted call is
// released again in the loop (its hangup), so the tenant's count stays level.
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
    const sharedLedger = makeLedger().ledger;
    const shared = new SharedAdmission({
      pool,
      ledger: sharedLedger,
      log: pino({ level: 'silent' }),
      reservationTtlMs: 30_000,
      downPolicy: 'enforce',
      timeoutMs: 5000,
    });
    const local = makeLedger().ledger;
    const req = (): AdmissionRequest => ({
      tenantId: tenant,
      callUuid: randomUUID(),
      direction: 'inbound',
      ceilings: ceilings(2 * LIVE),
      node: 'fs1',
    });
    // A call's end, as each side learns it: the hangup through the ledger (shared: it also releases in PostgreSQL,
    // awaited here so the count is level when the next attempt comes).
    const endShared = (uuid: string) => pool.query('SELECT release_call($1, $2)', [tenant, uuid]);
    const endLocal = async (uuid: string) => local.onEvent('fs1', channelEvent('CHANNEL_HANGUP_COMPLETE', uuid));
    const sides: Array<{ name: string; adm: CallAdmission; end: (uuid: string) => Promise<unknown> }> = [
      { name: 'shared', adm: shared, end: endShared },
      { name: 'local', adm: local, end: endLocal },
    ];
    for (const s of sides)
      for (let i = 0; i < LIVE; i++) if (!(await s.adm.admit(req())).admitted) throw new Error('prefill');

    // One at a time: blocks of each side alternate, so both see the same drift of this shared machine.
    const samples: Record<string, number[]> = { shared: [], local: [], roundTrip: [] };
    const decisions = ctx.quick ? 2000 : 20_000;
    for (let block = 0; block < 20; block++) {
      for (const s of block % 2 ? [...sides].reverse() : sides) {
        for (let i = 0; i < decisions / 20; i++) {
          const r = req();
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
    const lat = { shared: percentiles(samples.shared!), local: percentiles(samples.local!) };

    // One hot tenant, `connections` attempts in flight at once, for a fixed time per side.
    const durationMs = ctx.quick ? 1500 : 5000;
    const hot = async (s: (typeof sides)[number]) => {
      const stop = performance.now() + durationMs;
      let admitted = 0;
      const lats: number[] = [];
      await Promise.all(
        Array.from({ length: ctx.connections }, async () => {
          while (performance.now() < stop) {
            const r = req();
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
    const hotLocal = await hot(sides[1]!);
    ctx.log(
      `admission: one at a time p50/p99 shared ${lat.shared.p50Ms.toFixed(3)}/${lat.shared.p99Ms.toFixed(3)} ms, ` +
        `local ${lat.local.p50Ms.toFixed(4)}/${lat.local.p99Ms.toFixed(4)} ms, SELECT 1 ` +
        `${floor.p50Ms.toFixed(3)}/${floor.p99Ms.toFixed(3)} ms; hot tenant ` +
        `${Math.round(hotShared.perSecond)}/s shared (p99 ${hotShared.p99Ms.toFixed(2)} ms), ` +
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
    ];
  } finally {
    await db.drop();
  }
}
