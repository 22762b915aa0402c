// Issue 18 part 1: a registration storm through a real FreeSWITCH and SIPp. 2,000 distinct users (a few tenants)
// REGISTER with digest auth at an offered rate, against (a) a FreeSWITCH holding the same users in static XML (no
// directory binding: the physical limit of this machine), (b) the daemon with FreeSWITCH's user cache on and (c) the
// daemon with it off. Every variant gets a fresh FreeSWITCH (empty user cache, empty registration db); variants take
// turns, round after round, so drift of the shared machine falls on all of them alike.
import fs from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';
import { freePort, type DaemonProcess } from '../helpers/processes.js';
import type { BenchContext } from './context.js';
import { figure, type Figure } from './report.js';
import {
  copyConf,
  editConf,
  fetchCounts,
  fetchesBetween,
  runSipp,
  startRig,
  startSwitch,
  staticConf,
  switchTools,
  total,
  until,
  type Rig,
} from './switch-rig.js';

const RATE = 800;

interface Variant {
  key: string;
  what: string;
  /** The daemon FreeSWITCH's directory binding asks; undefined for static XML. */
  daemon?: DaemonProcess;
  /** The bootstrap FreeSWITCH starts from (default freeswitch-conf/). */
  conf?: string;
}

/** Investigation only (FS_TENANTD_BENCH_STORM_EXTRA=allvars): freeswitch-conf with every enable-post-var removed. */
async function allVarsConf(dir: string): Promise<string> {
  const conf = await copyConf(dir, 'conf-allvars');
  await editConf(conf, 'autoload_configs/xml_curl.conf.xml', (xml) =>
    xml.replace(/^.*name="enable-post-var".*\n/gm, ''),
  );
  return conf;
}

interface Storm {
  ok: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** REGISTER/s until 90% were filed (sofia::register events): the bulk, without the retransmission tail. */
  bulkPerSecond: number;
  retransmissions: number;
  fetches: number;
  registered: number;
}

export async function benchRegisterStorm(ctx: BenchContext): Promise<Figure[]> {
  const tools = switchTools(ctx, 'storm', 'REGISTER storm through FreeSWITCH + SIPp', 'REGISTER/s');
  if (!('sippBin' in tools)) return [tools];
  const tenants = 4;
  const perTenant = ctx.quick ? 125 : 500;
  const rounds = Number(process.env.FS_TENANTD_BENCH_STORM_ROUNDS ?? (ctx.quick ? 1 : 2));
  const rig = await startRig(ctx, tools, 'storm', tenants, perTenant);
  try {
    const { users, cacheOn, cacheOff } = rig;
    const csv = path.join(rig.dir, 'users.csv');
    await fs.writeFile(csv, `SEQUENTIAL\n${users.map((u) => u.join(';')).join('\n')}\n`);
    const conf = await staticConf(rig);
    ctx.log(`storm: ${users.length} users in ${tenants} tenants seeded; static directory written`);

    const variants: Variant[] = [
      { key: 'static', what: 'static XML directory (no fetch)' },
      { key: 'cache-on', what: 'daemon, FreeSWITCH user cache on', daemon: cacheOn },
      { key: 'cache-off', what: 'daemon, user cache off (FS_TENANTD_DIRECTORY_CACHEABLE_MS=0)', daemon: cacheOff },
    ];
    const extra = (process.env.FS_TENANTD_BENCH_STORM_EXTRA ?? '').split(',');
    if (extra.includes('allvars'))
      variants.push({
        key: 'cache-on-allvars',
        what: 'daemon, user cache on, every event header posted (no enable-post-var)',
        daemon: cacheOn,
        conf: await allVarsConf(rig.dir),
      });
    const results = new Map<string, Storm[]>(variants.map((v) => [v.key, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const v of variants) {
        const sw = await startSwitch(
          rig,
          v.conf ?? (v.daemon ? path.join(projectRoot, 'freeswitch-conf') : conf),
          v.daemon ?? cacheOn,
        );
        try {
          // Every successful registration fires CUSTOM sofia::register: their times give the rate of the bulk.
          await sw.client.subscribe(['CUSTOM sofia::register']);
          const marks: number[] = [];
          sw.client.on('event', () => marks.push(performance.now()));
          const storm = await registerStorm(rig, csv, users.length, marks);
          // What sofia holds 2 s after the storm is not how many succeeded: its SQL queue runs behind its 200s.
          await until(async () => (await sw.filed()) >= storm.ok, 'sofia to file every registration', 2_000).catch(
            () => undefined,
          );
          storm.registered = await sw.filed();
          results.get(v.key)!.push(storm);
          ctx.log(
            `storm round ${round} ${v.key}: ${storm.ok} ok, ${storm.failed} failed in ${storm.seconds.toFixed(2)} s = ` +
              `${storm.perSecond.toFixed(0)} REGISTER/s (bulk: 90% at ${storm.bulkPerSecond.toFixed(0)}/s), ` +
              `${storm.retransmissions} retransmissions; ${storm.fetches} fetches ` +
              `(${(storm.fetches / Math.max(1, storm.ok)).toFixed(2)} per REGISTER); sofia holds ${storm.registered}`,
          );
        } finally {
          await sw.stop();
        }
      }
    }

    // Pooled over rounds: registrations over summed storm time.
    const pooled = (k: string) => {
      const r = results.get(k)!;
      const ok = r.reduce((a, s) => a + s.ok, 0);
      return {
        rate: ok / r.reduce((a, s) => a + s.seconds, 0),
        failed: r.reduce((a, s) => a + s.failed, 0),
        perRegister: r.reduce((a, s) => a + s.fetches, 0) / Math.max(1, ok),
        each: r.map((s) => s.perSecond.toFixed(0)).join(', '),
        bulk: r.map((s) => s.bulkPerSecond.toFixed(0)).join(', '),
        bulkRate: r.reduce((a, s) => a + s.bulkPerSecond, 0) / r.length,
        retrans: r.map((s) => s.retransmissions).join(', '),
      };
    };
    const base = pooled('static');
    return variants
      .filter((v) => v.key !== 'static')
      .flatMap((v) => {
        const p = pooled(v.key);
        const bulk = figure({
          id: `storm.${v.key}.bulk`,
          what: `  same, the bulk: REGISTER/s until 90% were filed (sofia::register), mean of rounds`,
          unit: 'REGISTER/s',
          better: 'higher',
          value: p.bulkRate,
          baseline: base.bulkRate,
          baselineName: 'static XML FreeSWITCH, same measure',
        });
        return [
          figure({
            id: `storm.${v.key}`,
            what: `REGISTER storm, ${users.length} users at ${RATE}/s offered: ${v.what}`,
            unit: 'REGISTER/s',
            better: 'higher',
            value: p.rate,
            baseline: base.rate,
            baselineName:
              `static XML FreeSWITCH, same users (rounds: ${base.each}/s, 90% at ${base.bulk}/s, ` +
              `retransmissions ${base.retrans}, ${base.failed} failed)`,
            target: { on: 'ratio', op: '>=', limit: v.key.startsWith('cache-on') ? 0.9 : 0.75 },
            note:
              `rounds: ${p.each}/s, 90% at ${p.bulk}/s, retransmissions ${p.retrans}; ${p.failed} failed; ` +
              `${p.perRegister.toFixed(2)} fetches per REGISTER`,
          }),
          bulk,
        ];
      });
  } finally {
    await rig.close();
  }
}

/** One storm: every line of the CSV once, at RATE offered; counts from SIPp's statistics file. */
async function registerStorm(rig: Rig, csv: string, count: number, marks: number[]): Promise<Storm> {
  const daemons = [rig.cacheOn, rig.cacheOff];
  const before = await Promise.all(daemons.map(fetchCounts));
  const t0 = performance.now();
  const run = await runSipp(
    rig,
    'register_storm.xml',
    [
      ...['-p', String(await freePort()), '-inf', csv, '-au', '[field0]', '-ap', '[field2]'],
      ...['-m', String(count), '-r', String(RATE), '-rp', '1000'],
    ],
    count,
  );
  const fetches = total(fetchesBetween(before, await Promise.all(daemons.map(fetchCounts))));
  const at90 = marks.filter((t) => t >= t0).sort((a, b) => a - b)[Math.ceil(count * 0.9) - 1];
  return {
    ok: run.ok,
    failed: run.failed,
    seconds: run.seconds,
    perSecond: run.ok / run.seconds,
    bulkPerSecond: at90 === undefined ? Number.NaN : (Math.ceil(count * 0.9) * 1000) / (at90 - t0),
    retransmissions: run.col('Retransmissions(C)'),
    fetches,
    registered: 0,
  };
}
