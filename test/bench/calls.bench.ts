// Issue 18 part 1, second half: call set-up through a real FreeSWITCH and SIPp. Extension-to-extension calls inside
// a tenant (authenticated INVITE, then a bridge to the callee's registration) at an offered rate, against (a) a
// FreeSWITCH holding the same users in static directory XML and a static dialplan routing the same numbers, (b) the
// daemon's directory and dialplan with FreeSWITCH's user cache on and (c) with it off. Every callee is registered
// from one answering SIPp; every caller is registered too (a phone that calls is a phone that registered). Variants
// take turns round after round, each on a fresh FreeSWITCH, as in register-storm.bench.ts.
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';
import { freeUdpPort, udpInUse } from '../helpers/freeswitch.js';
import type { DaemonProcess } from '../helpers/processes.js';
import type { BenchContext } from './context.js';
import { percentiles } from './percentiles.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, fixtureBody, scaledDomain, scaledUser, withFields } from './requests.js';
import {
  answerOf,
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
  XMLCURL_AUTH,
  type BenchUser,
  type Rig,
} from './switch-rig.js';

const RATE = Number(process.env.FS_TENANTD_BENCH_CALLS_RATE ?? 20);
/** Talk time of each answered call (SIPp -d): short, so the machine's work is set-up, not media. */
const HOLD_MS = 500;
const SECTIONS = ['directory', 'dialplan', 'configuration'] as const;

interface Variant {
  key: string;
  what: string;
  /** The daemon FreeSWITCH's bindings ask; undefined for static XML. */
  daemon?: DaemonProcess;
}

interface CallRun {
  ok: number;
  failed: number;
  /** Answered calls over the time from the first INVITE to the last 200. */
  perSecond: number;
  /** First INVITE → 200 OK, challenge included (SIPp response time 1), ms, one per answered call. */
  setupMs: number[];
  retransmissions: number;
  fetches: Record<string, number>;
}

/**
 * The static dialplan: per tenant, the daemon's own answer to a call from its first caller to its first callee,
 * with the callee's number made the match of a condition on any extension number (what an operator would write).
 */
async function staticDialplan(rig: Rig, tenants: number, caller: string, callee: string): Promise<string> {
  const contexts: string[] = [];
  for (let t = 0; t < tenants; t++) {
    const domain = scaledDomain(t);
    const user = await answerOf(rig.cacheOn, domain, caller);
    const tenantId = /name="fs_tenant_id" value="([^"]+)"/.exec(user)?.[1];
    if (!tenantId) throw new Error(`no fs_tenant_id in the daemon's answer for ${caller}@${domain}: ${user}`);
    const uuid = randomUUID();
    const r = await fetch(`http://127.0.0.1:${rig.cacheOn.httpPort}/freeswitch/xml`, {
      method: 'POST',
      headers: { authorization: XMLCURL_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
      body: withFields(fixtureBody(FIXTURES.dialplanInternal), {
        'Caller-Context': domain,
        'Hunt-Context': domain,
        'Caller-Destination-Number': callee,
        'Hunt-Destination-Number': callee,
        'Unique-ID': uuid,
        'Channel-Call-UUID': uuid,
        variable_fs_tenant_id: tenantId,
        variable_user_name: caller,
      }),
    });
    const answer = await r.text();
    const actions = /<condition>([\s\S]*?)<\/condition>/.exec(answer)?.[1];
    const name = /<extension name="([^"]+)"/.exec(answer)?.[1];
    if (!actions?.includes(`user/${callee}@${domain}`) || !name)
      throw new Error(`the daemon does not route ${caller} -> ${callee}@${domain}: ${answer}`);
    contexts.push(
      `<context name="${domain}"><extension name="${name}">` +
        '<condition field="destination_number" expression="^(1[0-9]{3})$">' +
        `${actions.replaceAll(`user/${callee}@`, 'user/$1@')}</condition></extension></context>`,
    );
  }
  return contexts.join('\n');
}

export async function benchCalls(ctx: BenchContext): Promise<Figure[]> {
  const tools = switchTools(ctx, 'calls', 'call set-up through FreeSWITCH + SIPp', 'calls/s');
  if (!('sippBin' in tools)) return [tools];
  const tenants = 4;
  const perTenant = ctx.quick ? 50 : 100;
  const calls = ctx.quick ? 100 : 300;
  const rounds = Number(process.env.FS_TENANTD_BENCH_CALLS_ROUNDS ?? (ctx.quick ? 1 : 2));
  const rig = await startRig(ctx, tools, 'calls', tenants, perTenant);
  try {
    const { users, cacheOn, cacheOff } = rig;
    // The first half of each tenant's extensions call a few of the second half, tenants interleaved.
    const half = perTenant / 2;
    const perCallee = Math.floor(half / tenants);
    const pairs: string[] = [];
    const callees: BenchUser[] = [];
    for (let t = 0; t < tenants; t++)
      for (let k = 0; k < perCallee; k++) callees.push(users[t * perTenant + half + t * perCallee + k]!);
    for (let u = 0; u < half; u++)
      for (let t = 0; t < tenants; t++) {
        const [caller, domain, password] = users[t * perTenant + u]!;
        pairs.push([caller, domain, password, scaledUser(half + t * perCallee + (u % perCallee))].join(';'));
      }
    const callers = users.filter((_, i) => i % perTenant < half);
    const callsCsv = path.join(rig.dir, 'calls.csv');
    await fs.writeFile(callsCsv, `SEQUENTIAL\n${pairs.join('\n')}\n`);
    // answer.xml and call_storm.xml stream this (rtp_stream, relative to SIPp's working directory).
    await fs.writeFile(path.join(rig.dir, 'silence.ulaw'), Buffer.alloc(8000 * 30, 0xff));
    // The bootstrap's sessions-per-second (30, switch.conf.xml) caps a node at 15 calls/s of two legs each, and
    // FreeSWITCH refuses the rest with 503 Maximum Calls In Progress: every variant gets a copy with the cap raised,
    // so the bench measures set-up, not the cap.
    const uncapped = (conf: string) =>
      editConf(conf, 'autoload_configs/switch.conf.xml', (xml) =>
        xml.replace(/name="sessions-per-second" value="\d+"/, 'name="sessions-per-second" value="1000"'),
      );
    const conf = await staticConf(rig, await staticDialplan(rig, tenants, scaledUser(0), scaledUser(half)));
    await uncapped(conf);
    const daemonConf = await copyConf(rig.dir, 'conf-daemon');
    await uncapped(daemonConf);
    ctx.log(`calls: ${users.length} users in ${tenants} tenants seeded; static directory and dialplan written`);

    const variants: Variant[] = [
      { key: 'static', what: 'static XML directory + dialplan (no fetch)' },
      { key: 'cache-on', what: 'daemon directory + dialplan, FreeSWITCH user cache on', daemon: cacheOn },
      { key: 'cache-off', what: 'daemon, user cache off (FS_TENANTD_DIRECTORY_CACHEABLE_MS=0)', daemon: cacheOff },
    ];
    const results = new Map<string, CallRun[]>(variants.map((v) => [v.key, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const v of variants) {
        const sw = await startSwitch(rig, v.daemon ? daemonConf : conf, v.daemon ?? cacheOn);
        try {
          const run = await callStorm(rig, sw.registered, callers, callees, callsCsv, calls);
          results.get(v.key)!.push(run);
          const s = percentiles(run.setupMs);
          ctx.log(
            `calls round ${round} ${v.key}: ${run.ok} answered, ${run.failed} failed, ${run.perSecond.toFixed(1)} ` +
              `calls/s; set-up p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms; ` +
              `${run.retransmissions} retransmissions; fetches per call: ${perCall(run.fetches, run.ok + run.failed)}`,
          );
        } finally {
          await sw.stop();
        }
      }
    }

    const pooled = (k: string) => {
      const r = results.get(k)!;
      const setup = percentiles(r.flatMap((x) => x.setupMs));
      const fetches: Record<string, number> = {};
      for (const x of r) for (const [s, n] of Object.entries(x.fetches)) fetches[s] = (fetches[s] ?? 0) + n;
      return {
        rate: r.reduce((a, x) => a + x.perSecond, 0) / r.length,
        failed: r.reduce((a, x) => a + x.failed, 0),
        each: r.map((x) => x.perSecond.toFixed(1)).join(', '),
        p50: setup.p50Ms,
        p99: setup.p99Ms,
        perCall: perCall(
          fetches,
          r.reduce((a, x) => a + x.ok + x.failed, 0),
        ),
        retrans: r.map((x) => x.retransmissions).join(', '),
      };
    };
    const base = pooled('static');
    const offered = `${calls} calls at ${RATE}/s offered, ${HOLD_MS} ms talk`;
    return variants
      .filter((v) => v.key !== 'static')
      .flatMap((v) => {
        const p = pooled(v.key);
        const latency = (q: 'p50' | 'p99') =>
          figure({
            id: `calls.${v.key}.${q}`,
            what: `  same, set-up ${q} (first INVITE → 200, 407 challenge included), all rounds`,
            unit: 'ms',
            better: 'lower',
            value: p[q],
            baseline: base[q],
            baselineName: 'static XML FreeSWITCH, same measure',
          });
        return [
          figure({
            id: `calls.${v.key}`,
            what: `extension-to-extension calls, ${offered}: ${v.what}`,
            unit: 'calls/s',
            better: 'higher',
            value: p.rate,
            baseline: base.rate,
            baselineName:
              `static XML FreeSWITCH, same users and numbers (rounds: ${base.each}/s, retransmissions ` +
              `${base.retrans}, ${base.failed} failed)`,
            note: `rounds: ${p.each}/s, retransmissions ${p.retrans}; ${p.failed} failed; fetches per call: ${p.perCall}`,
          }),
          latency('p50'),
          latency('p99'),
        ];
      });
  } finally {
    await rig.close();
  }
}

const perCall = (fetches: Record<string, number>, n: number): string =>
  SECTIONS.map((s) => `${s} ${((fetches[s] ?? 0) / Math.max(1, n)).toFixed(2)}`).join(', ') +
  ` (total ${(total(fetches) / Math.max(1, n)).toFixed(2)})`;

/** Waits until neither daemon has answered a fetch for `quietMs` (a registration's MWI look-up runs late). */
async function fetchesSettle(rig: Rig, quietMs = 500): Promise<void> {
  const read = async () => JSON.stringify(await Promise.all([rig.cacheOn, rig.cacheOff].map(fetchCounts)));
  let last = await read();
  let since = Date.now();
  await until(async () => {
    const now = await read();
    if (now !== last) [last, since] = [now, Date.now()];
    return Date.now() - since >= quietMs;
  }, 'the fetches to settle');
}

/**
 * One run: callers and callees REGISTER from the answering SIPp's port (unmeasured), then `calls` calls at RATE offered,
 * each answered by that SIPp; set-up times from SIPp's -trace_rtt file, fetches from both daemons' counters.
 */
async function callStorm(
  rig: Rig,
  registered: () => Promise<string[]>,
  callers: BenchUser[],
  callees: BenchUser[],
  callsCsv: string,
  calls: number,
): Promise<CallRun> {
  const port = await freeUdpPort();
  // Under a burst of REGISTERs sofia can drop a registration (its SQLite answers BUSY, switch_core_db.c): callees
  // sofia does not hold are registered again. Callers register once, which fills FreeSWITCH's user cache (cache on)
  // as a phone's registration would.
  let missing = [...callers, ...callees];
  for (let pass = 1; missing.length; pass++) {
    if (pass > 4) throw new Error(`sofia has not filed ${missing.length} callees after ${pass - 1} passes`);
    const csv = path.join(rig.dir, `register-${pass}.csv`);
    await fs.writeFile(csv, `SEQUENTIAL\n${missing.map((u) => u.join(';')).join('\n')}\n`);
    const m = String(missing.length);
    const reg = await runSipp(
      rig,
      'register_storm.xml',
      ['-p', String(port), '-inf', csv, '-au', '[field0]', '-ap', '[field2]', '-m', m, '-r', '100'],
      missing.length,
    );
    if (reg.ok < missing.length) throw new Error(`only ${reg.ok} of ${m} REGISTERs succeeded`);
    // sofia's SQL queue files registrations (and deletes) behind its 200s: let it catch up before checking.
    const held = async () => new Set((await registered()).map((r) => r.toLowerCase()));
    const absent = async () => {
      const h = await held();
      return callees.filter(([user, domain]) => !h.has(`${user}@${domain}`));
    };
    await until(async () => (await absent()).length === 0, 'sofia to file every callee', 3_000).catch(() => undefined);
    missing = await absent();
  }
  await fetchesSettle(rig);

  // The two SIPps' media ports (-mp) apart, and below FreeSWITCH's RTP range (16384-32768).
  const uas = spawn(
    rig.sippBin,
    [
      '-sf',
      path.join(projectRoot, 'test', 'sipp', 'answer.xml'),
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-mp',
      '8000',
      '-m',
      String(calls),
      '-nostdin',
    ],
    { stdio: 'ignore', cwd: rig.dir },
  );
  rig.children.push(uas);
  const uasExited = new Promise((r) => uas.once('exit', r));
  try {
    await until(async () => uas.exitCode === null && (await udpInUse('127.0.0.1', port)), 'the answering SIPp', 10_000);
    const daemons = [rig.cacheOn, rig.cacheOff];
    const before = await Promise.all(daemons.map(fetchCounts));
    const run = await runSipp(
      rig,
      'call_storm.xml',
      [
        '-inf',
        callsCsv,
        '-au',
        '[field0]',
        '-ap',
        '[field2]',
        '-m',
        String(calls),
        '-r',
        String(RATE),
        '-d',
        String(HOLD_MS),
        '-mp',
        '12000',
        '-trace_rtt',
        '-rtt_freq',
        '1',
      ],
      calls,
    );
    await fetchesSettle(rig);
    const fetches = fetchesBetween(before, await Promise.all(daemons.map(fetchCounts)));
    // call_storm_<pid>_rtt.csv: date_ms;response_time_ms;rtd_no, one line per answered call.
    const rtt = (await fs.readdir(rig.dir)).filter((f) => /^call_storm_\d+_rtt\.csv$/.test(f));
    const rows: Array<[number, number]> = [];
    for (const f of rtt) {
      for (const line of (await fs.readFile(path.join(rig.dir, f), 'utf8')).split('\n')) {
        const [date, ms] = line.split(';').map(Number);
        if (Number.isFinite(date) && Number.isFinite(ms)) rows.push([date!, ms!]);
      }
      await fs.rm(path.join(rig.dir, f));
    }
    // Date_ms counts from SIPp's start: the first INVITE went out at the earliest (200 time - set-up time).
    const first = Math.min(...rows.map(([d, ms]) => d - ms));
    const last = Math.max(...rows.map(([d]) => d));
    return {
      ok: run.ok,
      failed: run.failed,
      perSecond: rows.length / ((last - first) / 1000),
      setupMs: rows.map(([, ms]) => ms),
      retransmissions: run.col('Retransmissions(C)'),
      fetches,
    };
  } finally {
    uas.kill('SIGKILL');
    await uasExited;
  }
}
