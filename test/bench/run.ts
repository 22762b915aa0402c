// `npm run bench [-- --quick] [-- --out file.json] [-- --only regex]`: starts a
// throwaway PostgreSQL, runs issue 8's benchmarks, prints each figure next to
// the baseline measured in the same run, and writes the same as JSON
// (default ./bench-results.json, or FS_TENANTD_BENCH_OUT).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../../daemon/paths.js';
import { makeClusterDir, removeClusterDir, startTestCluster } from '../helpers/postgres.js';
import { benchAdmission } from './admission.bench.js';
import { benchBulk } from './bulk.bench.js';
import { benchCalls } from './calls.bench.js';
import { benchColdCache } from './cold-cache.bench.js';
import type { BenchContext } from './context.js';
import { benchEsl } from './esl.bench.js';
import { benchLargeTenant } from './large-tenant.bench.js';
import { benchPlatform } from './platform.bench.js';
import { layout } from './processes.js';
import { benchRegisterStorm } from './register-storm.bench.js';
import { figure, machine, table, writeJson, type Figure } from './report.js';
import { benchWarmFetches } from './xmlcurl.bench.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const quick = flags.quick ?? false;
const out = path.resolve(flags.out ?? process.env.FS_TENANTD_BENCH_OUT ?? path.join(projectRoot, 'bench-results.json'));
const only = flags.only ? new RegExp(flags.only) : null;

const suites: Array<{ key: string; title: string; run(ctx: BenchContext): Promise<Figure[]> }> = [
  { key: 'xmlcurl', title: 'items 1 and 3: warm xml_curl fetches', run: benchWarmFetches },
  { key: 'cold', title: 'items 2 and 5: cold cache over the scale data set, memory', run: benchColdCache },
  { key: 'esl', title: 'items 4 and 5: ESL events through the ledger, admission, memory', run: benchEsl },
  {
    key: 'large',
    title: 'issue 18: a tenant of 10,000 extensions, first fetches and one added',
    run: benchLargeTenant,
  },
  { key: 'admission', title: 'issue 16: shared admission in PostgreSQL vs the in-process ledger', run: benchAdmission },
  { key: 'bulk', title: 'issue 18: a bulk import, password change and removal of 10,000 extensions', run: benchBulk },
  { key: 'storm', title: 'issue 18: REGISTER storm through FreeSWITCH, daemon vs static XML', run: benchRegisterStorm },
  { key: 'calls', title: 'issue 18: call set-up through FreeSWITCH, daemon vs static XML', run: benchCalls },
  {
    key: 'platform',
    title: 'issue 18: 20,000 tenants, 1,000,000 extensions: start-up, sofia/acl, call center',
    run: benchPlatform,
  },
];

const started = Date.now();
const log = (m: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}`);
const dir = await makeClusterDir('fs-tenantd-bench-');
const { cluster, info } = await startTestCluster(dir);
log(
  `PostgreSQL ready on 127.0.0.1:${info.port}; layout: ${layout.pinned ? `server on cpu ${layout.serverCpu}, generator on cpu ${layout.generatorCpu}` : 'unpinned (no taskset or one cpu)'}`,
);

const ctx: BenchContext = {
  quick,
  cluster: info,
  slices: quick ? 4 : 30,
  sliceMs: 500,
  warmupMs: quick ? 500 : 1000,
  connections: 16,
  poolMax: 10,
  tenants: quick ? 100 : 1000,
  usersPerTenant: 100,
  log,
};

const figures: Figure[] = [];
let failed = false;
try {
  for (const s of suites) {
    if (only && !only.test(s.key)) continue;
    log(`${s.key}: ${s.title}`);
    try {
      figures.push(...(await s.run(ctx)));
    } catch (err) {
      failed = true;
      log(`${s.key} FAILED: ${(err as Error).stack ?? String(err)}`);
      figures.push(
        figure({
          id: s.key,
          what: s.title,
          unit: '',
          better: 'higher',
          value: null,
          baseline: null,
          baselineName: '-',
          note: `failed: ${(err as Error).message.split('\n')[0]}`,
        }),
      );
    }
  }
} finally {
  await cluster.stop();
  await removeClusterDir(dir);
}

console.log(`\n${table(figures)}`);
await writeJson(out, {
  command: `npm run bench${quick ? ' -- --quick' : ''}`,
  date: new Date().toISOString(),
  quick,
  machine: machine(),
  settings: {
    slices: ctx.slices,
    sliceMs: ctx.sliceMs,
    warmupMs: ctx.warmupMs,
    connections: ctx.connections,
    poolMax: ctx.poolMax,
    tenants: ctx.tenants,
    usersPerTenant: ctx.usersPerTenant,
  },
  figures,
});
console.log(`\nresults written to ${out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exit(failed ? 1 : 0);
