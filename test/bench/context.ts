// What every benchmark gets from run.ts, and the helpers that drive the load
// generator against the servers under test.
import type { TestCluster } from '../helpers/postgres.js';
import type { LoadJob, LoadResult } from './load-generator.js';
import { percentiles } from './percentiles.js';
import { layout, startChild, type Child } from './processes.js';

export interface BenchContext {
  quick: boolean;
  cluster: TestCluster;
  /** Throughput comparisons: this many slices per side, each this long, alternating (see generateInterleaved). */
  slices: number;
  sliceMs: number;
  warmupMs: number;
  /** Connections the generator keeps busy (mod_xml_curl: one per FreeSWITCH thread waiting on a fetch). */
  connections: number;
  /** PostgreSQL pool size for the daemon and for the plain-pg baseline alike. */
  poolMax: number;
  /** Scale data set (item 2 and 5): tenants x users per tenant. */
  tenants: number;
  usersPerTenant: number;
  log(message: string): void;
}

export interface LoadRun extends LoadResult {
  /** The server's CPU seconds per elapsed second during the run (warm-up included): near 1 = the server was the bottleneck. */
  serverCpuShare: number;
  /**
   * The server's CPU time per answered request (warm-up included), in microseconds. Unlike req/s it
   * barely moves when other work on a shared machine takes the core away.
   */
  serverCpuUsPerRequest: number;
}

/** A run with failed requests, wrong answers or non-200 statuses measures nothing: it throws. */
function checked<T extends LoadResult>(result: T, job: LoadJob): T {
  if (result.errors > 0) throw new Error(`load run had ${result.errors} failed requests (first: ${result.firstError})`);
  if (result.mismatches > 0)
    throw new Error(
      `load run had ${result.mismatches} answers without ${JSON.stringify(job.expect)} (first: ${result.firstMismatch})`,
    );
  const bad = Object.entries(result.statuses).filter(([s]) => s !== '200');
  if (bad.length) throw new Error(`load run got non-200 answers: ${JSON.stringify(result.statuses)}`);
  return result;
}

/** Runs one load job against `server` in a fresh generator process on the generator's core. */
export async function generate(server: Child, job: LoadJob): Promise<LoadRun> {
  const gen = await startChild('load-generator.js', layout.generatorCpu);
  try {
    const cpu0 = await server.call<number>('cpuSeconds');
    const t0 = performance.now();
    const run = await gen.call<LoadResult>('run', job);
    const cpu = (await server.call<number>('cpuSeconds')) - cpu0;
    const serverCpuShare = cpu / ((performance.now() - t0) / 1000);
    return checked(
      { ...run, serverCpuShare, serverCpuUsPerRequest: (cpu * 1e6) / (run.requests + run.warmupRequests) },
      job,
    );
  } finally {
    await gen.stop();
  }
}

export interface Side {
  server: Child;
  job: LoadJob;
}

export interface Interleaved {
  /** Each side's slices pooled: requests over the summed slice time, latencies over every request. */
  runs: [LoadRun, LoadRun];
  /** First side's req/s over the second's, slice pair by slice pair. */
  pairRatios: number[];
}

/**
 * Two servers (both on the server core, one at a time) under the same load,
 * alternating every `sliceMs` for `slices` slices each, after an unmeasured
 * warm-up of each. On a shared VM the speed of a core drifts by tens of percent
 * over seconds; slices this short put both sides under nearly the same drift,
 * which runs of several seconds each do not.
 */
export async function generateInterleaved(
  sides: [Side, Side],
  slices: number,
  sliceMs: number,
  warmupMs: number,
): Promise<Interleaved> {
  const gen = await startChild('load-generator.js', layout.generatorCpu);
  try {
    for (const { job } of sides)
      checked(await gen.call<LoadResult>('run', { ...job, durationMs: warmupMs, warmupMs: 0 }), job);
    const pooled = sides.map(() => ({
      requests: 0,
      elapsedS: 0,
      serverCpuS: 0,
      generatorCpuS: 0,
      samples: [] as number[],
      statuses: {} as Record<string, number>,
    }));
    const pairRatios: number[] = [];
    for (let i = 0; i < slices; i++) {
      const rps = [0, 0];
      // Which side goes first alternates, so neither always runs on the heels of the other.
      for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const { server, job } = sides[k]!;
        const cpu0 = await server.call<number>('cpuSeconds');
        const r = checked(
          await gen.call<LoadResult>('run', { ...job, durationMs: sliceMs, warmupMs: 0, keepSamples: true }),
          job,
        );
        const p = pooled[k]!;
        p.serverCpuS += (await server.call<number>('cpuSeconds')) - cpu0;
        p.requests += r.requests;
        p.elapsedS += r.elapsedS;
        p.generatorCpuS += r.generatorCpuShare * r.elapsedS;
        for (const x of r.samples ?? []) p.samples.push(x);
        for (const [status, n] of Object.entries(r.statuses)) p.statuses[status] = (p.statuses[status] ?? 0) + n;
        rps[k] = r.rps;
      }
      pairRatios.push(rps[0]! / rps[1]!);
    }
    const runs = pooled.map(
      (p): LoadRun => ({
        requests: p.requests,
        errors: 0,
        mismatches: 0,
        statuses: p.statuses,
        warmupRequests: 0,
        elapsedS: p.elapsedS,
        rps: p.requests / p.elapsedS,
        generatorCpuShare: p.generatorCpuS / p.elapsedS,
        ...percentiles(p.samples),
        serverCpuShare: p.serverCpuS / p.elapsedS,
        serverCpuUsPerRequest: (p.serverCpuS * 1e6) / p.requests,
      }),
    );
    return { runs: [runs[0]!, runs[1]!], pairRatios };
  } finally {
    await gen.stop();
  }
}
