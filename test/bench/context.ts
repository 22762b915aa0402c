// What every benchmark gets from run.ts, and the one helper they all use to
// drive the load generator.
import type { TestCluster } from '../helpers/postgres.js';
import type { LoadJob, LoadResult } from './load-generator.js';
import { layout, startChild, type Child } from './processes.js';

export interface BenchContext {
  quick: boolean;
  cluster: TestCluster;
  /** Measured seconds per throughput run (after a warm-up). */
  durationMs: number;
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

/** Runs one load job against `server` in a fresh generator process on the generator's core. */
export async function generate(server: Child, job: LoadJob): Promise<LoadRun> {
  const gen = await startChild('load-generator.js', layout.generatorCpu);
  try {
    const cpu0 = await server.call<number>('cpuSeconds');
    const t0 = performance.now();
    const run = await gen.call<LoadResult>('run', job);
    const cpu = await server.call<number>('cpuSeconds') - cpu0;
    const serverCpuShare = cpu / ((performance.now() - t0) / 1000);
    const result = { ...run, serverCpuShare, serverCpuUsPerRequest: (cpu * 1e6) / (run.requests + run.warmupRequests) };
    if (result.errors > 0) throw new Error(`load run had ${result.errors} failed requests (first: ${result.firstError})`);
    if (result.mismatches > 0) throw new Error(`load run had ${result.mismatches} answers without ${JSON.stringify(job.expect)} (first: ${result.firstMismatch})`);
    const bad = Object.entries(result.statuses).filter(([s]) => s !== '200');
    if (bad.length) throw new Error(`load run got non-200 answers: ${JSON.stringify(result.statuses)}`);
    return result;
  } finally {
    await gen.stop();
  }
}
