// Item 4: ESL events per second through the daemon's ESL client and call ledger,
// and admission decision latency; item 5 (second half): RSS with 10,000 live
// calls in the ledger. Baseline: the same bytes from the same server through a
// minimal split-and-count reader.
import { freshDatabase } from '../helpers/postgres.js';
import type { BenchContext } from './context.js';
import type { Phase, Tenant } from './esl-stream.js';
import type { LatencySummary } from './percentiles.js';
import { layout, profileArgs, startChild, type Child } from './processes.js';
import { figure, type Figure } from './report.js';
import { seedScale } from './scale-data.js';

const MB = 2 ** 20;
const ALL: Phase[] = ['create', 'answer', 'hangup'];

interface Rate {
  events: number;
  elapsedS: number;
  eventsPerS: number;
  cpu: { userS: number; systemS: number };
}

/** Reader CPU per event in microseconds, user + system (steadier than a rate on a shared machine). */
const cpuPerEvent = (r: Rate) =>
  `${(((r.cpu.userS + r.cpu.systemS) / r.events) * 1e6).toFixed(1)} us (user ${((r.cpu.userS / r.events) * 1e6).toFixed(1)}, system ${((r.cpu.systemS / r.events) * 1e6).toFixed(1)})`;
interface Replayed {
  events: number;
  bytes: number;
  cpuShare: number;
}
export interface AdmissionResult {
  decisions: number;
  admitted: number;
  ledger: LatencySummary;
  baseline: LatencySummary;
}
type Memory = { rssBytes: number; heapUsedBytes: number };

export async function benchEsl(ctx: BenchContext): Promise<Figure[]> {
  const calls = ctx.quick ? 3000 : 20_000;
  // Replayed first and not counted, so the figure is the reader's steady state, not V8 compiling it.
  const warmCalls = ctx.quick ? 500 : 3000;
  // Measured more than once: a rate is an absolute figure, and this machine's speed drifts.
  const floods = ctx.quick ? 1 : 3;
  const liveCalls = 10_000;
  // The tenants exist in the database, so the CDR writer's records are accepted.
  const db = await freshDatabase(ctx.cluster);
  const seedPool = db.appPool(4);
  await seedScale(seedPool, { tenants: ctx.tenants, usersPerTenant: 1, parallel: 4 });
  const { rows } = await seedPool.query<{ tenant_id: string; tenant_slug: string }>(
    'SELECT tenant_id, tenant_slug FROM list_tenants()',
  );
  await seedPool.end();
  const tenants: Tenant[] = rows.map((r) => ({ id: r.tenant_id, slug: r.tenant_slug }));
  let replayer: Child | undefined;
  let counter: Child | undefined;
  let ledger: Child | undefined;
  const figures: Figure[] = [];
  try {
    replayer = await startChild('servers/esl-replayer.js', layout.generatorCpu);
    const { port } = await replayer.call<{ port: number }>('start');

    const span = warmCalls + floods * calls;
    /**
     * Warm-up calls, then `floods` floods of `calls` measured ones, numbered from `first`, once the
     * reader has sent `pattern`; between floods the reader's backlog (CDR writes) is let drain.
     */
    const run = async (
      reader: Child,
      pattern: string,
      first: number,
      drain: () => Promise<unknown>,
    ): Promise<Array<{ rate: Rate; sent: Replayed }>> => {
      await reader.call('expect', { events: warmCalls * 6 });
      await replayer!.call<Replayed>('replay', { pattern, after: 1, first, count: warmCalls, tenants, phases: ALL });
      await reader.call<Rate>('done');
      const out: Array<{ rate: Rate; sent: Replayed }> = [];
      for (let f = 0; f < floods; f++) {
        await drain();
        await reader.call('expect', { events: calls * 6 });
        const sent = await replayer!.call<Replayed>('replay', {
          pattern,
          after: 1,
          first: first + warmCalls + f * calls,
          count: calls,
          tenants,
          phases: ALL,
        });
        out.push({ rate: await reader.call<Rate>('done'), sent });
      }
      return out;
    };
    /** The flood with the median rate (odd count). */
    const median = (runs: Array<{ rate: Rate; sent: Replayed }>) =>
      [...runs].sort((a, b) => a.rate.eventsPerS - b.rate.eventsPerS)[(runs.length - 1) >> 1]!;
    const rates = (runs: Array<{ rate: Rate }>) =>
      runs.map((r) => Math.round(r.rate.eventsPerS).toLocaleString('en-US')).join(', ');

    counter = await startChild('servers/esl-count-baseline.js', layout.serverCpu);
    await counter.call('connect', { port });
    const baseRuns = await run(counter, '^event ', 0, async () => undefined);
    const { rate: base, sent: baseSent } = median(baseRuns);
    await counter.stop();
    counter = undefined;

    ledger = await startChild('servers/esl-ledger.js', layout.serverCpu, ['--expose-gc', ...profileArgs()]);
    await ledger.call('start', { port, appUrl: db.appUrl });
    const ledgerRuns = await run(ledger, '^api show channels', span, () => ledger!.call('cdrIdle'));
    const { rate: through, sent } = median(ledgerRuns);
    const afterFlow = await ledger.call<{ liveCalls: number; cdrWritten: number; cdrSpooled: number }>('ledgerState');
    ctx.log(
      `esl: client + ledger + CDR writer ${Math.round(through.eventsPerS)} events/s, split-and-count ${Math.round(base.eventsPerS)} events/s (median of ${floods} floods of ${sent.events} events, ${(sent.bytes / MB).toFixed(0)} MB each; all: ${rates(ledgerRuns)} vs ${rates(baseRuns)}); replayer CPU share ${Math.round(sent.cpuShare * 100)}% (baseline run ${Math.round(baseSent.cpuShare * 100)}%)`,
    );
    ctx.log(`esl: reader CPU per event: fs-tenantd ${cpuPerEvent(through)}, split-and-count ${cpuPerEvent(base)}`);
    figures.push(
      figure({
        id: '4.esl.events',
        what: 'ESL events/s through client + ledger + CDR writer (real CHANNEL_CREATE/ANSWER/HANGUP_COMPLETE, json)',
        unit: 'events/s',
        better: 'higher',
        value: through.eventsPerS,
        baseline: base.eventsPerS,
        baselineName: 'same bytes, same server, minimal split-and-count reader',
        target: { on: 'value', op: '>=', limit: 50_000 },
        note:
          `median of ${floods} floods of ${calls} calls x 6 events (all: ${rates(ledgerRuns)} vs ${rates(baseRuns)}) after ${warmCalls} warm-up calls, ${(sent.bytes / sent.events / 1024).toFixed(1)} KiB per event; ` +
          `reader CPU per event ${cpuPerEvent(through)} vs ${cpuPerEvent(base)}; ledger left ${afterFlow.liveCalls} live calls (expected 0); CDRs written by the end ${afterFlow.cdrWritten}, spooled ${afterFlow.cdrSpooled}`,
      }),
    );

    const idle = await ledger.call<Memory>('memory');
    await ledger.call('expect', { events: liveCalls * 4 });
    await replayer.call<Replayed>('replay', {
      pattern: '^api show channels',
      after: 1,
      first: 2 * span,
      count: liveCalls,
      tenants,
      phases: ['create', 'answer'],
    });
    await ledger.call<Rate>('done');
    const live = await ledger.call<{ liveCalls: number }>('ledgerState');
    const loaded = await ledger.call<Memory>('memory');
    figures.push(
      figure({
        id: '5.rss.live-calls',
        what: `ledger process RSS with ${live.liveCalls.toLocaleString('en-US')} live calls (after GC)`,
        unit: 'MB',
        better: 'lower',
        value: loaded.rssBytes / MB,
        baseline: idle.rssBytes / MB,
        baselineName: 'the same process with no live call, just before',
        note: `heap ${(idle.heapUsedBytes / MB).toFixed(0)} -> ${(loaded.heapUsedBytes / MB).toFixed(0)} MB`,
      }),
    );

    const adm = await ledger.call<AdmissionResult>('admission', { decisions: ctx.quick ? 3000 : 20_000, tenants });
    ctx.log(
      `esl: admission p99 ${adm.ledger.p99Ms.toFixed(4)} ms (baseline ${adm.baseline.p99Ms.toFixed(4)} ms), ${adm.admitted}/${adm.decisions} admitted, with ${live.liveCalls} live calls`,
    );
    const admWhat = `admission decision with ${live.liveCalls.toLocaleString('en-US')} live calls, one at a time`;
    const admBase = 'a Map counter checked and bumped in the same process (the floor of an in-memory decision)';
    figures.push(
      figure({
        id: '4.admit.p99',
        what: `${admWhat}: p99`,
        unit: 'ms',
        better: 'lower',
        value: adm.ledger.p99Ms,
        baseline: adm.baseline.p99Ms,
        baselineName: admBase,
        target: { on: 'value', op: '<', limit: 1 },
        note: `${adm.decisions} decisions over ${tenants.length} tenants, ${adm.admitted} admitted`,
      }),
      figure({
        id: '4.admit.p50',
        what: `${admWhat}: p50`,
        unit: 'ms',
        better: 'lower',
        value: adm.ledger.p50Ms,
        baseline: adm.baseline.p50Ms,
        baselineName: admBase,
      }),
    );
  } finally {
    await counter?.stop();
    await ledger?.stop();
    await replayer?.stop();
    await db.drop();
  }
  return figures;
}
