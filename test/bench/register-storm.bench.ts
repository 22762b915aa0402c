// Issue 18 part 1: a registration storm through a real FreeSWITCH and SIPp. 2,000 distinct users (a few tenants)
// REGISTER with digest auth at an offered rate, against (a) a FreeSWITCH holding the same users in static XML (no
// directory binding: the physical limit of this machine), (b) the daemon with FreeSWITCH's user cache on and (c) the
// daemon with it off. Every variant gets a fresh FreeSWITCH (empty user cache, empty registration db); variants take
// turns, round after round, so drift of the shared machine falls on all of them alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EslClient } from '../../daemon/esl/client.js';
import { createLogger } from '../../daemon/log.js';
import { createRegistry } from '../../daemon/metrics.js';
import { projectRoot } from '../../daemon/paths.js';
import { findFreeswitch } from '../helpers/freeswitch.js';
import { freshDatabase } from '../helpers/postgres.js';
import { freePort, startDaemon, which, type DaemonProcess } from '../helpers/processes.js';
import type { BenchContext } from './context.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, fixtureBody, rewriteSipAuth, scaledDomain, scaledSlug, scaledUser } from './requests.js';
import { seedScale } from './scale-data.js';

const XMLCURL_AUTH = `Basic ${Buffer.from('freeswitch:demo-xmlcurl').toString('base64')}`;
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
  const conf = path.join(dir, 'conf-allvars');
  await fs.cp(path.join(projectRoot, 'freeswitch-conf'), conf, { recursive: true });
  const curl = path.join(conf, 'autoload_configs', 'xml_curl.conf.xml');
  await fs.writeFile(curl, (await fs.readFile(curl, 'utf8')).replace(/^.*name="enable-post-var".*\n/gm, ''));
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

/** Sum of every series of fs_tenantd_xmlcurl_requests_total (all sections and outcomes). */
async function fetchCount(d: DaemonProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^fs_tenantd_xmlcurl_requests_total\{[^}]*\} (\d+(?:\.\d+)?)$/gm)) n += Number(m[1]);
  return n;
}

async function until(ok: () => Promise<boolean>, what: string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`gave up after ${guardMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The static-XML bootstrap: a copy of freeswitch-conf whose xml_curl bindings no longer serve the directory, plus
 * a directory section holding exactly what the daemon answers for each user (its own answers, minus `cacheable`).
 */
async function staticConf(dir: string, daemon: DaemonProcess, users: Array<[string, string, string]>) {
  const conf = path.join(dir, 'conf-static');
  await fs.cp(path.join(projectRoot, 'freeswitch-conf'), conf, { recursive: true });
  const curl = path.join(conf, 'autoload_configs', 'xml_curl.conf.xml');
  const xml = await fs.readFile(curl, 'utf8');
  // Drop the directory from every binding (bindings="directory|..."), and the bindings that served only it.
  await fs.writeFile(
    curl,
    xml
      .replace(
        /<binding name="[^"]*">(?:(?!<\/binding>)[\s\S])*bindings="directory"(?:(?!<\/binding>)[\s\S])*<\/binding>/g,
        '',
      )
      .replace(/bindings="directory\|/g, 'bindings="'),
  );
  const byDomain = new Map<string, { params: string; users: string[] }>();
  for (const [user, domain] of users) {
    const answer = await answerOf(daemon, domain, user);
    const params = /<domain [^>]*>\s*(<params>[\s\S]*?<\/params>)/.exec(answer)?.[1];
    const entry = /<user [\s\S]*<\/user>/.exec(answer)?.[0];
    if (!params || !entry) throw new Error(`no user in the daemon's answer for ${user}@${domain}: ${answer}`);
    const d = byDomain.get(domain) ?? { params, users: [] };
    d.users.push(entry.replace(/ cacheable="\d+"/, ''));
    byDomain.set(domain, d);
  }
  const domains = [...byDomain].map(
    ([name, d]) => `<domain name="${name}">${d.params}<users>${d.users.join('\n')}</users></domain>`,
  );
  await fs.mkdir(path.join(conf, 'directory'));
  await fs.writeFile(path.join(conf, 'directory', 'bench.xml'), `<include>\n${domains.join('\n')}\n</include>\n`);
  const main = path.join(conf, 'freeswitch.xml');
  await fs.writeFile(
    main,
    (await fs.readFile(main, 'utf8')).replace(
      '</document>',
      // The preprocessor takes an X-PRE-PROCESS line as a whole: the include must stand on its own line.
      [
        '  <section name="directory">',
        '    <X-PRE-PROCESS cmd="include" data="directory/*.xml"/>',
        '  </section>',
        '</document>',
      ].join('\n'),
    ),
  );
  return conf;
}

/** The daemon's sip_auth answer for user@domain, from the captured REGISTER fetch rewritten for that user. */
async function answerOf(daemon: DaemonProcess, domain: string, user: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${daemon.httpPort}/freeswitch/xml`, {
    method: 'POST',
    headers: { authorization: XMLCURL_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: rewriteSipAuth(fixtureBody(FIXTURES.sipAuthRegister), domain, user),
  });
  return r.text();
}

export async function benchRegisterStorm(ctx: BenchContext): Promise<Figure[]> {
  const freeswitchBin = findFreeswitch();
  const sippBin = which('sipp');
  if (!freeswitchBin || !sippBin) {
    const why = !freeswitchBin ? 'no FreeSWITCH (FREESWITCH_BIN, PATH, /usr/local/freeswitch)' : 'no sipp';
    ctx.log(`storm: SKIPPED: ${why}`);
    return [skipped(why)];
  }
  const tenants = 4;
  const perTenant = ctx.quick ? 125 : 500;
  const rounds = Number(process.env.FS_TENANTD_BENCH_STORM_ROUNDS ?? (ctx.quick ? 1 : 2));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-storm-'));
  const shm = existsSync('/dev/shm') ? await fs.mkdtemp('/dev/shm/fs-tenantd-storm-') : undefined;
  const db = await freshDatabase(ctx.cluster);
  const children: ChildProcess[] = [];
  const esl: EslClient[] = [];
  try {
    await seedScale(db.appPool(2), { tenants, usersPerTenant: perTenant, parallel: 2 });
    const users: Array<[string, string, string]> = [];
    for (let t = 0; t < tenants; t++)
      for (let u = 0; u < perTenant; u++)
        users.push([scaledUser(u), scaledDomain(t), `${scaledSlug(t)}-${scaledUser(u)}`]);
    const csv = path.join(dir, 'users.csv');
    await fs.writeFile(csv, `SEQUENTIAL\n${users.map((u) => u.join(';')).join('\n')}\n`);

    const ports = { internal: await freePort(), external: await freePort(), esl: await freePort() };
    const daemonEnv = (name: string, extra: Record<string, string> = {}) => ({
      DATABASE_URL: db.appUrl,
      FS_TENANTD_STATE_DIR: path.join(dir, name),
      FS_TENANTD_ESL_NODES: `fs1=127.0.0.1:${ports.esl}`,
      FS_TENANTD_SIP_INTERNAL: `127.0.0.1:${ports.internal}`,
      FS_TENANTD_SIP_EXTERNAL: `127.0.0.1:${ports.external}`,
      FS_TENANTD_LOG_LEVEL: 'info', // startDaemon waits for the info line "listening"
      ...extra,
    });
    // Both daemons run (and follow FreeSWITCH's events) throughout, whichever variant is measured.
    const cacheOn = await startDaemon(daemonEnv('daemon-on'));
    children.push(cacheOn.child);
    const cacheOff = await startDaemon(daemonEnv('daemon-off', { FS_TENANTD_DIRECTORY_CACHEABLE_MS: '0' }));
    children.push(cacheOff.child);
    const conf = await staticConf(dir, cacheOn, users);
    // Warm both daemons' tenant caches: the storm measures FreeSWITCH's fetch path, not a cold daemon.
    for (const [user, domain] of users) await answerOf(cacheOff, domain, user);
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
        conf: await allVarsConf(dir),
      });
    const results = new Map<string, Storm[]>(variants.map((v) => [v.key, []]));
    let run = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const v of variants) {
        // FreeSWITCH's folders (its SQLite databases above all: sofia writes each digest nonce synchronously) on
        // tmpfs where there is one, so the baseline is FreeSWITCH's own limit, not this VM's disk.
        const fsDir = path.join(shm ?? dir, `fs-${++run}`);
        const sub = ['log', 'db', 'run', 'temp', 'storage', 'recordings', 'cache'];
        await Promise.all(sub.map((d) => fs.mkdir(path.join(fsDir, d), { recursive: true })));
        const url = `http://127.0.0.1:${(v.daemon ?? cacheOn).httpPort}/freeswitch/xml`;
        const child = spawn(
          freeswitchBin,
          [
            '-nf',
            '-nc',
            '-nonat',
            '-conf',
            v.conf ?? (v.daemon ? path.join(projectRoot, 'freeswitch-conf') : conf),
            ...sub.flatMap((d) => [`-${d}`, path.join(fsDir, d)]),
          ],
          {
            env: {
              ...process.env,
              FS_TENANTD_XMLCURL_URL: url,
              FS_TENANTD_XMLCURL_URL_2: url,
              FS_TENANTD_ESL_LISTEN_PORT: String(ports.esl),
              FS_TENANTD_CDR_URL: `http://127.0.0.1:${cacheOn.httpPort}/freeswitch/cdr`,
              FS_TENANTD_CDR_ERR_DIR: path.join(fsDir, 'log', 'json_cdr'),
            },
            stdio: 'ignore',
          },
        );
        children.push(child);
        const exited = new Promise((r) => child.once('exit', r));
        const client = new EslClient({
          node: { name: 'bench', host: '127.0.0.1', port: ports.esl, password: 'ClueCon' },
          log: createLogger('silent'),
          registry: createRegistry(),
          commandTimeoutMs: 10_000,
          backoff: { initialMs: 100, maxMs: 500 },
        });
        esl.push(client);
        client.start();
        try {
          await until(async () => client.connected, 'an ESL connection to FreeSWITCH');
          await until(
            async () => /internal\s+profile\s+\S+\s+RUNNING/.test(await client.api('sofia status')),
            'the internal profile',
          );
          for (const d of [cacheOn, cacheOff])
            await until(
              async () =>
                /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(
                  await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text(),
                ),
              "the daemons' ESL connections",
            );
          // Every successful registration fires CUSTOM sofia::register: their times give the rate of the bulk.
          await client.subscribe(['CUSTOM sofia::register']);
          const marks: number[] = [];
          client.on('event', () => marks.push(performance.now()));
          const storm = await registerStorm(
            sippBin,
            dir,
            csv,
            ports.internal,
            users.length,
            [cacheOn, cacheOff],
            marks,
          );
          // sofia answers 200 before its SQL queue writes the registration (SQLite here, far behind after a storm):
          // what it holds 2 s after the storm says how far behind, not whether REGISTERs succeeded.
          const filed = async () =>
            Number(/REGISTRATIONS\s+(\d+)/.exec(await client.api('sofia status profile internal'))?.[1] ?? 0);
          await until(async () => (await filed()) >= storm.ok, 'sofia to file every registration', 2_000).catch(
            () => undefined,
          );
          storm.registered = await filed();
          results.get(v.key)!.push(storm);
          ctx.log(
            `storm round ${round} ${v.key}: ${storm.ok} ok, ${storm.failed} failed in ${storm.seconds.toFixed(2)} s = ` +
              `${storm.perSecond.toFixed(0)} REGISTER/s (bulk: 90% at ${storm.bulkPerSecond.toFixed(0)}/s), ` +
              `${storm.retransmissions} retransmissions; ${storm.fetches} fetches ` +
              `(${(storm.fetches / Math.max(1, storm.ok)).toFixed(2)} per REGISTER); sofia holds ${storm.registered}`,
          );
        } finally {
          client.stop();
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(killer);
          if (process.env.FS_TENANTD_BENCH_KEEP !== '1') await fs.rm(fsDir, { recursive: true, force: true });
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
    for (const c of esl) c.stop();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await db.drop().catch(() => undefined);
    // FS_TENANTD_BENCH_KEEP=1 keeps the folder (FreeSWITCH logs, static directory, SIPp errors) for a post-mortem.
    if (shm) await fs.rm(shm, { recursive: true, force: true });
    if (process.env.FS_TENANTD_BENCH_KEEP !== '1') await fs.rm(dir, { recursive: true, force: true });
    else console.log(`storm: kept ${dir}`);
  }
}

/** One storm: every line of the CSV once, at RATE offered; counts from SIPp's statistics file. */
async function registerStorm(
  sipp: string,
  dir: string,
  csv: string,
  port: number,
  count: number,
  daemons: DaemonProcess[],
  marks: number[],
): Promise<Storm> {
  const stat = path.join(dir, `storm-${Date.now()}.csv`);
  const before = await Promise.all(daemons.map(fetchCount));
  const t0 = performance.now();
  const child = spawn(
    sipp,
    [
      '-sf',
      path.join(projectRoot, 'test', 'sipp', 'register_storm.xml'),
      `127.0.0.1:${port}`,
      '-i',
      '127.0.0.1',
      '-p',
      String(await freePort()),
      '-inf',
      csv,
      '-au',
      '[field0]',
      '-ap',
      '[field2]',
      '-m',
      String(count),
      '-r',
      String(RATE),
      '-rp',
      '1000',
      '-nostdin',
      '-timeout',
      '120s',
      '-trace_stat',
      '-stf',
      stat,
      '-fd',
      '1',
      '-trace_err',
      '-error_file',
      `${stat}.err`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let output = '';
  child.stdout!.on('data', (c) => {
    output += c;
  });
  child.stderr!.on('data', (c) => {
    output += c;
  });
  await new Promise((r) => child.once('exit', r));
  const seconds = (performance.now() - t0) / 1000;
  const after = await Promise.all(daemons.map(fetchCount));
  const lines = (await fs.readFile(stat, 'utf8').catch(() => '')).trim().split('\n');
  if (lines.length < 2) throw new Error(`SIPp wrote no statistics: ${output.slice(-2000)}`);
  const head = lines[0]!.split(';');
  const last = lines.at(-1)!.split(';');
  const col = (name: string) => Number(last[head.indexOf(name)]);
  const ok = col('SuccessfulCall(C)');
  const failed = col('FailedCall(C)');
  if (failed > 0 || ok < count) {
    const errors = (await fs.readFile(`${stat}.err`, 'utf8').catch(() => '')).slice(0, 1500);
    console.log(`storm: ${failed} failed; SIPp errors (start):\n${errors.slice(0, 1500)}\n${output.slice(-1500)}`);
  }
  const at90 = marks.filter((t) => t >= t0).sort((a, b) => a - b)[Math.ceil(count * 0.9) - 1];
  return {
    ok,
    failed,
    seconds,
    perSecond: ok / seconds,
    bulkPerSecond: at90 === undefined ? Number.NaN : (Math.ceil(count * 0.9) * 1000) / (at90 - t0),
    retransmissions: col('Retransmissions(C)'),
    fetches: after.reduce((a, n, i) => a + n - before[i]!, 0),
    registered: 0,
  };
}

function skipped(why: string): Figure {
  return figure({
    id: 'storm',
    what: 'REGISTER storm through FreeSWITCH + SIPp',
    unit: 'REGISTER/s',
    better: 'higher',
    value: null,
    baseline: null,
    baselineName: 'static XML FreeSWITCH',
    note: `skipped: ${why}`,
  });
}
