// What the benches through a real FreeSWITCH and SIPp share (register-storm.bench.ts, calls.bench.ts): the scaled
// users seeded in a fresh database, two daemons (FreeSWITCH's user cache on and off) following one ESL port, a
// fresh FreeSWITCH per measured run (from freeswitch-conf/, or from a static-XML copy for the baseline), SIPp runs
// read from their statistics file, and the daemons' fetch counters.
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
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { freePort, startDaemon, which, type DaemonProcess } from '../helpers/processes.js';
import type { BenchContext } from './context.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, fixtureBody, rewriteSipAuth, scaledDomain, scaledSlug, scaledUser } from './requests.js';
import { seedScale } from './scale-data.js';

export const XMLCURL_AUTH = `Basic ${Buffer.from('freeswitch:demo-xmlcurl').toString('base64')}`;

/** fs_tenantd_xmlcurl_requests_total by section (all outcomes), e.g. { directory: 12, dialplan: 4 }. */
export async function fetchCounts(d: DaemonProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^fs_tenantd_xmlcurl_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm)) {
    const section = /section="([^"]*)"/.exec(m[1]!)?.[1] ?? 'unknown';
    out[section] = (out[section] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The fetches both daemons answered between two readings of fetchCounts each, by section. */
export function fetchesBetween(before: Array<Record<string, number>>, after: Array<Record<string, number>>) {
  const out: Record<string, number> = {};
  after.forEach((a, i) => {
    for (const [s, n] of Object.entries(a)) out[s] = (out[s] ?? 0) + n - (before[i]?.[s] ?? 0);
  });
  return out;
}

export const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, n) => a + n, 0);

export async function until(ok: () => Promise<boolean>, what: string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`gave up after ${guardMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** FreeSWITCH and sipp, or the figure that says why the item was skipped. */
export function switchTools(
  ctx: BenchContext,
  id: string,
  what: string,
  unit: string,
): { freeswitchBin: string; sippBin: string } | Figure {
  const freeswitchBin = findFreeswitch();
  const sippBin = which('sipp');
  if (freeswitchBin && sippBin) return { freeswitchBin, sippBin };
  const why = !freeswitchBin ? 'no FreeSWITCH (FREESWITCH_BIN, PATH, /usr/local/freeswitch)' : 'no sipp';
  ctx.log(`${id}: SKIPPED: ${why}`);
  return figure({
    id,
    what,
    unit,
    better: 'higher',
    value: null,
    baseline: null,
    baselineName: 'static XML FreeSWITCH',
    note: `skipped: ${why}`,
  });
}

/** [user, domain, password] */
export type BenchUser = [string, string, string];

export interface Rig {
  name: string;
  freeswitchBin: string;
  sippBin: string;
  dir: string;
  /** Where each FreeSWITCH gets its folders: /dev/shm where there is one. */
  fsRoot: string;
  db: TestDatabase;
  users: BenchUser[];
  ports: { internal: number; external: number; esl: number };
  cacheOn: DaemonProcess;
  cacheOff: DaemonProcess;
  /** Every child the rig started; killed by close(). */
  children: ChildProcess[];
  close(): Promise<void>;
}

/**
 * Seeds tenants x perTenant users (scale-data.ts) in a fresh database and starts two daemons on it, one with
 * FreeSWITCH's user cache on (default) and one with FS_TENANTD_DIRECTORY_CACHEABLE_MS=0. Both follow the one ESL
 * port every FreeSWITCH of the rig listens on, whichever variant is measured.
 */
export async function startRig(
  ctx: BenchContext,
  tools: { freeswitchBin: string; sippBin: string },
  name: string,
  tenants: number,
  perTenant: number,
): Promise<Rig> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fs-tenantd-${name}-`));
  const shm = existsSync('/dev/shm') ? await fs.mkdtemp(`/dev/shm/fs-tenantd-${name}-`) : undefined;
  const db = await freshDatabase(ctx.cluster);
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await db.drop().catch(() => undefined);
    // FS_TENANTD_BENCH_KEEP=1 keeps the folders (FreeSWITCH logs, static XML, SIPp errors) for a post-mortem.
    if (process.env.FS_TENANTD_BENCH_KEEP === '1') return console.log(`${name}: kept ${dir} ${shm ?? ''}`);
    if (shm) await fs.rm(shm, { recursive: true, force: true });
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await seedScale(db.appPool(2), { tenants, usersPerTenant: perTenant, parallel: 2 });
    const users: BenchUser[] = [];
    for (let t = 0; t < tenants; t++)
      for (let u = 0; u < perTenant; u++)
        users.push([scaledUser(u), scaledDomain(t), `${scaledSlug(t)}-${scaledUser(u)}`]);
    const ports = { internal: await freePort(), external: await freePort(), esl: await freePort() };
    const daemonEnv = (state: string, extra: Record<string, string> = {}) => ({
      DATABASE_URL: db.appUrl,
      FS_TENANTD_STATE_DIR: path.join(dir, state),
      FS_TENANTD_ESL_NODES: `fs1=127.0.0.1:${ports.esl}`,
      FS_TENANTD_SIP_INTERNAL: `127.0.0.1:${ports.internal}`,
      FS_TENANTD_SIP_EXTERNAL: `127.0.0.1:${ports.external}`,
      FS_TENANTD_LOG_LEVEL: 'info', // startDaemon waits for the info line "listening"
      ...extra,
    });
    const cacheOn = await startDaemon(daemonEnv('daemon-on'));
    children.push(cacheOn.child);
    const cacheOff = await startDaemon(daemonEnv('daemon-off', { FS_TENANTD_DIRECTORY_CACHEABLE_MS: '0' }));
    children.push(cacheOff.child);
    // Warm both daemons' tenant caches: the bench measures FreeSWITCH's fetch path, not a cold daemon.
    for (const [user, domain] of users) for (const d of [cacheOn, cacheOff]) await answerOf(d, domain, user);
    // FreeSWITCH's folders (its SQLite databases above all: sofia writes each digest nonce synchronously) go on
    // tmpfs where there is one, so the baseline is FreeSWITCH's own limit, not this VM's disk.
    return { name, ...tools, dir, fsRoot: shm ?? dir, db, users, ports, cacheOn, cacheOff, children, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The daemon's sip_auth answer for user@domain, from the captured REGISTER fetch rewritten for that user. */
export async function answerOf(daemon: DaemonProcess, domain: string, user: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${daemon.httpPort}/freeswitch/xml`, {
    method: 'POST',
    headers: { authorization: XMLCURL_AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: rewriteSipAuth(fixtureBody(FIXTURES.sipAuthRegister), domain, user),
  });
  return r.text();
}

/** A throwaway copy of freeswitch-conf/ in `dir`, for a variant that needs the bootstrap changed. */
export async function copyConf(dir: string, name: string): Promise<string> {
  const conf = path.join(dir, name);
  await fs.cp(path.join(projectRoot, 'freeswitch-conf'), conf, { recursive: true });
  return conf;
}

/** Rewrites one file of a bootstrap copy. */
export async function editConf(conf: string, file: string, edit: (xml: string) => string): Promise<void> {
  const p = path.join(conf, file);
  await fs.writeFile(p, edit(await fs.readFile(p, 'utf8')));
}

/**
 * The static-XML bootstrap: a copy of freeswitch-conf whose xml_curl bindings no longer serve `sections` (the
 * directory, and the dialplan when one is given), plus a directory section holding exactly what the daemon answers
 * for each user (its own answers, minus `cacheable`) and, if given, a dialplan section (`dialplan`: its contexts).
 */
export async function staticConf(rig: Rig, dialplan?: string): Promise<string> {
  const conf = await copyConf(rig.dir, 'conf-static');
  const gone = new Set(dialplan === undefined ? ['directory'] : ['directory', 'dialplan']);
  // Each binding keeps the sections it still serves (bindings="directory|..."); one left with none goes.
  await editConf(conf, 'autoload_configs/xml_curl.conf.xml', (xml) =>
    xml.replace(/<binding name="[^"]*">[\s\S]*?<\/binding>/g, (binding) => {
      const kept = (/bindings="([^"]*)"/.exec(binding)?.[1] ?? '').split('|').filter((s) => !gone.has(s));
      return kept.length ? binding.replace(/bindings="[^"]*"/, `bindings="${kept.join('|')}"`) : '';
    }),
  );
  const byDomain = new Map<string, { params: string; users: string[] }>();
  for (const [user, domain] of rig.users) {
    const answer = await answerOf(rig.cacheOn, domain, user);
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
  const sections: Array<[string, string]> = [['directory', `<include>\n${domains.join('\n')}\n</include>\n`]];
  if (dialplan !== undefined) sections.push(['dialplan', `<include>\n${dialplan}\n</include>\n`]);
  for (const [section, body] of sections) {
    await fs.mkdir(path.join(conf, section));
    await fs.writeFile(path.join(conf, section, 'bench.xml'), body);
    // The preprocessor takes an X-PRE-PROCESS line as a whole: the include must stand on its own line.
    await editConf(conf, 'freeswitch.xml', (xml) =>
      xml.replace(
        '</document>',
        [
          `  <section name="${section}">`,
          `    <X-PRE-PROCESS cmd="include" data="${section}/*.xml"/>`,
          '  </section>',
          '</document>',
        ].join('\n'),
      ),
    );
  }
  return conf;
}

export interface Switch {
  /** ESL straight to this FreeSWITCH. */
  client: EslClient;
  /** Registrations sofia has filed in its database (its SQL queue runs behind the 200s it sends). */
  filed(): Promise<number>;
  /** user@domain of every registration sofia holds. */
  registered(): Promise<string[]>;
  stop(): Promise<void>;
}

let switches = 0;

/**
 * A fresh FreeSWITCH (empty user cache, empty registration database) from `conf`, its xml_curl bindings pointed at
 * `daemon`; resolves once its internal profile runs and both daemons follow it over ESL.
 */
export async function startSwitch(rig: Rig, conf: string, daemon: DaemonProcess): Promise<Switch> {
  const fsDir = path.join(rig.fsRoot, `fs-${++switches}`);
  const sub = ['log', 'db', 'run', 'temp', 'storage', 'recordings', 'cache'];
  await Promise.all(sub.map((d) => fs.mkdir(path.join(fsDir, d), { recursive: true })));
  const url = `http://127.0.0.1:${daemon.httpPort}/freeswitch/xml`;
  const child = spawn(
    rig.freeswitchBin,
    ['-nf', '-nc', '-nonat', '-conf', conf, ...sub.flatMap((d) => [`-${d}`, path.join(fsDir, d)])],
    {
      env: {
        ...process.env,
        FS_TENANTD_XMLCURL_URL: url,
        FS_TENANTD_XMLCURL_URL_2: url,
        FS_TENANTD_ESL_LISTEN_PORT: String(rig.ports.esl),
        FS_TENANTD_CDR_URL: `http://127.0.0.1:${rig.cacheOn.httpPort}/freeswitch/cdr`,
        FS_TENANTD_CDR_ERR_DIR: path.join(fsDir, 'log', 'json_cdr'),
      },
      stdio: 'ignore',
    },
  );
  rig.children.push(child);
  const exited = new Promise((r) => child.once('exit', r));
  const client = new EslClient({
    node: { name: 'bench', host: '127.0.0.1', port: rig.ports.esl, password: 'ClueCon' },
    log: createLogger('silent'),
    registry: createRegistry(),
    commandTimeoutMs: 10_000,
    backoff: { initialMs: 100, maxMs: 500 },
  });
  client.start();
  const stop = async () => {
    client.stop();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
    if (process.env.FS_TENANTD_BENCH_KEEP !== '1') await fs.rm(fsDir, { recursive: true, force: true });
  };
  try {
    await until(async () => client.connected, 'an ESL connection to FreeSWITCH');
    await until(
      async () => /internal\s+profile\s+\S+\s+RUNNING/.test(await client.api('sofia status')),
      'the internal profile',
    );
    for (const d of [rig.cacheOn, rig.cacheOff])
      await until(
        async () =>
          /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(
            await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text(),
          ),
        "the daemons' ESL connections",
      );
  } catch (err) {
    await stop();
    throw err;
  }
  const filed = async () =>
    Number(/REGISTRATIONS\s+(\d+)/.exec(await client.api('sofia status profile internal'))?.[1] ?? 0);
  const registered = async () =>
    [...(await client.api('sofia status profile internal reg')).matchAll(/^User:\s+(\S+)$/gm)].map((m) => m[1]!);
  return { client, filed, registered, stop };
}

export interface SippStats {
  ok: number;
  failed: number;
  seconds: number;
  /** The last line of SIPp's statistics file, by column name. */
  col(name: string): number;
  output: string;
}

/**
 * One SIPp run of `scenario` (test/sipp/) against the internal profile, to completion, in the rig's folder; counts
 * from its statistics file (-trace_stat), the first SIPp errors printed when any call failed.
 */
export async function runSipp(rig: Rig, scenario: string, args: string[], expected: number): Promise<SippStats> {
  const stat = path.join(rig.dir, `${path.basename(scenario, '.xml')}-${Date.now()}.csv`);
  const t0 = performance.now();
  const child = spawn(
    rig.sippBin,
    [
      '-sf',
      path.join(projectRoot, 'test', 'sipp', scenario),
      `127.0.0.1:${rig.ports.internal}`,
      '-i',
      '127.0.0.1',
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
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: rig.dir },
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
  const lines = (await fs.readFile(stat, 'utf8').catch(() => '')).trim().split('\n');
  if (lines.length < 2) throw new Error(`SIPp wrote no statistics: ${output.slice(-2000)}`);
  const head = lines[0]!.split(';');
  const last = lines.at(-1)!.split(';');
  const col = (name: string) => Number(last[head.indexOf(name)]);
  const ok = col('SuccessfulCall(C)');
  const failed = col('FailedCall(C)');
  if (failed > 0 || ok < expected) {
    const errors = (await fs.readFile(`${stat}.err`, 'utf8').catch(() => '')).slice(0, 1500);
    console.log(`${rig.name}: ${failed} failed; SIPp errors (start):\n${errors}\n${output.slice(-1500)}`);
  }
  return { ok, failed, seconds, col, output };
}
