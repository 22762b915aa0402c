// Issue 18 part 2: the platform at 20,000 tenants / 1,000,000 extensions (platform-data.ts; --quick: 500 / 25,000).
// Every figure against an empty database served by the same build in the same run, unless said otherwise:
//  1. daemon start-up: spawn until it listens, and until its first answer;
//  2. sofia.conf (every tenant's gateways) and acl.conf (every tenant's CIDRs): the first (cold) and a warm answer,
//     bytes; the new answers after one tenant's trunk changes (its CIDRs; its password), with the daemon's CPU;
//     then a real FreeSWITCH loading them: start until the external profile runs with every gateway, `reloadacl`,
//     `sofia profile external rescan`; plus, once, the previous way of reading them (every tenant's full snapshot
//     through the tenant store), in process;
//  3. the call-center full reconciliation a FreeSWITCH gets when the daemon connects (real mod_callcenter), and the
//     pass after a daemon restart, which finds nothing to change;
//  4. the series /metrics exposes after sip_auth for one user of every tenant and the call-center passes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EslClient } from '../../daemon/esl/client.js';
import { createLogger } from '../../daemon/log.js';
import { createRegistry } from '../../daemon/metrics.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { projectRoot } from '../../daemon/paths.js';
import { TenantStore } from '../../daemon/tenants/tenant-store.js';
import { renderAcl } from '../../xml-handlers/configuration/acl.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { renderSofia } from '../../xml-handlers/configuration/sofia.js';
import { findFreeswitch } from '../helpers/freeswitch.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { freePort, startDaemon, type DaemonProcess } from '../helpers/processes.js';
import type { BenchContext } from './context.js';
import { platformSeed, seedPlatform, type Seeded } from './platform-data.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, fixtureBody, rewriteSipAuth, scaledDomain, scaledUser } from './requests.js';

const AUTH = `Basic ${Buffer.from('freeswitch:demo-xmlcurl').toString('base64')}`;
const SOFIA_EXTERNAL = '005-configuration-sofia.conf-profile-external';
const ACL = '016-configuration-acl.conf';
const MB = 2 ** 20;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function post(port: number, body: string): Promise<{ ms: number; text: string; bytes: number }> {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${port}/freeswitch/xml`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const buf = Buffer.from(await r.arrayBuffer());
  if (r.status !== 200) throw new Error(`xml_curl answered ${r.status}`);
  return { ms: performance.now() - t0, text: buf.toString('utf8'), bytes: buf.length };
}

interface Answers {
  coldMs: number;
  warmMs: number;
  bytes: number;
  count: number;
}

/** The first answer and the median of 10 more. `count` counts `what` in the answer. */
async function answers(port: number, fixture: string, what: RegExp): Promise<Answers> {
  const body = fixtureBody(fixture);
  const first = await post(port, body);
  const warm: number[] = [];
  for (let i = 0; i < 10; i++) warm.push((await post(port, body)).ms);
  return { coldMs: first.ms, warmMs: median(warm), bytes: first.bytes, count: first.text.match(what)?.length ?? 0 };
}

async function cpuSeconds(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

interface Change {
  /** Commit until the first file shows the change (asked every 20 ms). */
  firstMs: number;
  /** The other file's request after it. */
  thenMs: number;
  /** Daemon CPU from before the commit until both answers. */
  cpuMs: number;
  polls: number;
}

/**
 * t0011's trunk changed as an admin would (`set`, through the notify trigger); then `first` asked until `shows` finds
 * the change in it, and `then` asked once (which must satisfy `thenShows`).
 */
async function trunkChange(
  superuserUrl: string,
  port: number,
  set: string,
  first: string,
  shows: (xml: string) => boolean,
  then: string,
  thenShows: (xml: string) => boolean,
): Promise<Change> {
  const c = new pg.Client({ connectionString: superuserUrl });
  await c.connect();
  try {
    const cpu0 = await cpuSeconds(port);
    const t0 = performance.now();
    await c.query(`UPDATE sip_trunks SET ${set} WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 't0011')`);
    let polls = 0;
    for (;;) {
      polls++;
      if (shows((await post(port, fixtureBody(first))).text)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`${first} without "${set}" after 120 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const firstMs = performance.now() - t0;
    const next = await post(port, fixtureBody(then));
    if (!thenShows(next.text)) throw new Error(`${then} wrong after "${set}"`);
    return { firstMs, thenMs: next.ms, cpuMs: ((await cpuSeconds(port)) - cpu0) * 1000, polls };
  } finally {
    await c.end();
  }
}

interface Started {
  daemon: DaemonProcess;
  readyMs: number;
  firstMs: number;
}

async function startAndAsk(env: Record<string, string>, port: number | undefined): Promise<Started> {
  const t0 = performance.now();
  const daemon = await startDaemon(port ? { ...env, FS_TENANTD_HTTP_PORT: String(port) } : env, 300_000);
  const readyMs = performance.now() - t0;
  // The first answer a phone would get: t0000's user 1000 registering (a cold directory fetch).
  const r = await post(
    daemon.httpPort,
    rewriteSipAuth(fixtureBody(FIXTURES.sipAuthRegister), scaledDomain(0), scaledUser(0)),
  );
  if (!r.text.includes('<section name="directory"')) throw new Error(`odd first answer: ${r.text}`);
  return { daemon, readyMs, firstMs: performance.now() - t0 };
}

async function stopDaemon(d: DaemonProcess): Promise<void> {
  d.child.kill('SIGTERM');
  const killer = setTimeout(() => d.child.kill('SIGKILL'), 20_000);
  await d.exited;
  clearTimeout(killer);
}

async function until(ok: () => Promise<boolean>, what: string, guardMs: number): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`gave up after ${guardMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface FsRun {
  /** Spawn until the external profile runs with every gateway. */
  upMs: number;
  gateways: number;
  reloadaclMs: number;
  rescanMs: number;
  /** Sequential `api uptime` round trips per second on one ESL connection: the ceiling for one-by-one commands. */
  roundTripsPerS: number;
}

/** A FreeSWITCH (freeswitch-conf/) pointed at `daemon`, measured, left running for `during`, then stopped. */
async function withFreeswitch(
  bin: string,
  dir: string,
  daemon: DaemonProcess,
  eslPort: number,
  expectGateways: number,
  during: (run: FsRun, esl: EslClient) => Promise<void>,
): Promise<FsRun> {
  const shm = existsSync('/dev/shm') ? '/dev/shm' : dir;
  const fsDir = await fs.mkdtemp(path.join(shm, 'fs-tenantd-platform-'));
  const sub = ['log', 'db', 'run', 'temp', 'storage', 'recordings', 'cache'];
  await Promise.all(sub.map((d) => fs.mkdir(path.join(fsDir, d), { recursive: true })));
  const url = `http://127.0.0.1:${daemon.httpPort}/freeswitch/xml`;
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    bin,
    [
      '-nf',
      '-nc',
      '-nonat',
      '-conf',
      path.join(projectRoot, 'freeswitch-conf'),
      ...sub.flatMap((d) => [`-${d}`, path.join(fsDir, d)]),
    ],
    {
      env: {
        ...process.env,
        FS_TENANTD_XMLCURL_URL: url,
        FS_TENANTD_XMLCURL_URL_2: url,
        FS_TENANTD_ESL_LISTEN_PORT: String(eslPort),
        FS_TENANTD_CDR_URL: `http://127.0.0.1:${daemon.httpPort}/freeswitch/cdr`,
        FS_TENANTD_CDR_ERR_DIR: path.join(fsDir, 'log', 'json_cdr'),
        // Not the default 2 s: runs on this shared machine twice had FreeSWITCH give up on sofia.conf at start-up
        // (and abort) with an empty database; the fetch times are measured by the daemon and reported as such.
        FS_TENANTD_XMLCURL_TIMEOUT_S: '10',
      },
      stdio: 'ignore',
    },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const esl = new EslClient({
    node: { name: 'bench', host: '127.0.0.1', port: eslPort, password: 'ClueCon' },
    log: createLogger('silent'),
    registry: createRegistry(),
    commandTimeoutMs: 300_000,
    backoff: { initialMs: 100, maxMs: 500 },
  });
  esl.start();
  try {
    await until(async () => esl.connected, 'an ESL connection to FreeSWITCH', 120_000).catch(async (err: Error) => {
      const log = await fs.readFile(path.join(fsDir, 'log', 'freeswitch.log'), 'utf8').catch(() => '(no log)');
      const curl = log.split('\n').filter((l) => /curl|sofia\.conf|ERR|CRIT/.test(l) && l.length < 600);
      const daemonLog = daemon.lines.filter((l) => Number(l.level) >= 40).map((l) => JSON.stringify(l));
      throw new Error(
        `${err.message}; FreeSWITCH exit ${child.exitCode}; log:\n${curl.slice(-30).join('\n')}\ndaemon warnings:\n${daemonLog.slice(-20).join('\n')}`,
      );
    });
    const gateways = async () => ((await esl.api('sofia status')).match(/::\S+\s+gateway\s/g) ?? []).length;
    await until(
      async () =>
        /external\s+profile\s+\S+\s+RUNNING/.test(await esl.api('sofia status')) &&
        (await gateways()) >= expectGateways,
      `the external profile with ${expectGateways} gateways`,
      600_000,
    );
    const upMs = performance.now() - t0;
    const timed = async (cmd: string) => {
      const t = performance.now();
      await esl.api(cmd);
      return performance.now() - t;
    };
    const acl: number[] = [];
    for (let i = 0; i < 3; i++) acl.push(await timed('reloadacl'));
    const rescanMs = await timed('sofia profile external rescan');
    const n = 500;
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await esl.api('uptime');
    const run: FsRun = {
      upMs,
      gateways: await gateways(),
      reloadaclMs: median(acl),
      rescanMs,
      roundTripsPerS: n / ((performance.now() - t1) / 1000),
    };
    await during(run, esl);
    return run;
  } finally {
    esl.stop();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
    await fs.rm(fsDir, { recursive: true, force: true });
  }
}

interface Pass {
  commands: number;
  failed: number;
  tenants: number;
  dbMs: number;
  ms: number;
}

const isPass = (l: Record<string, unknown>, mode: string) =>
  typeof l.msg === 'string' && l.msg.startsWith('callcenter: reconciled') && l.mode === mode;

async function nextPass(d: DaemonProcess, after: number, mode: 'full' | 'incremental' = 'full'): Promise<Pass> {
  const l = await d.waitForLog((x) => isPass(x, mode) && d.lines.indexOf(x) >= after, `a ${mode} call-center pass`);
  return l as unknown as Pass;
}

/** One tenant's edit (its row, as a rename would): the call-center pass it causes, from commit to the pass's end. */
async function oneTenantEdit(db: TestDatabase, d: DaemonProcess): Promise<Pass & { sinceCommitMs: number }> {
  const pool = new pg.Pool({ connectionString: db.appUrl, max: 1 });
  try {
    const { rows } = await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM list_tenants() LIMIT 1');
    const after = d.lines.length;
    await withTenant(pool, asTenantId(rows[0]!.tenant_id), (c) => c.query('UPDATE tenants SET name = name'));
    const t0 = performance.now();
    const pass = await nextPass(d, after, 'incremental');
    return { ...pass, sinceCommitMs: performance.now() - t0 };
  } finally {
    await pool.end();
  }
}

interface Series {
  total: number;
  withTenant: number;
  tenantValues: number;
}

async function series(d: DaemonProcess): Promise<Series> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  const tenants = new Set<string>();
  let withTenant = 0;
  for (const l of lines) {
    const m = /[{,]tenant="([^"]*)"/.exec(l);
    if (m) {
      withTenant++;
      tenants.add(m[1]!);
    }
  }
  return { total: lines.length, withTenant, tenantValues: tenants.size };
}

/** sip_auth for user 1000 of every tenant, 16 at a time: traffic that touches every tenant. */
async function touchEveryTenant(d: DaemonProcess, tenants: number): Promise<number> {
  const body = fixtureBody(FIXTURES.sipAuthRegister);
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (let t = next++; t < tenants; t = next++) {
      const r = await post(d.httpPort, rewriteSipAuth(body, scaledDomain(t), scaledUser(0)));
      if (!r.text.includes('<user ')) throw new Error(`no user for tenant ${t}: ${r.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return tenants / ((performance.now() - t0) / 1000);
}

/** The previous way: every tenant's full snapshot from a TenantStore as main.ts configures it, then the render. */
async function previousWay(db: TestDatabase, poolMax: number): Promise<{ ms: number; rssMB: number }> {
  // Without the daemon's 5 s limit on waiting for a pooled connection (createPool): with it, the 20,000 loads
  // queued at once time out (measured: "timeout exceeded when trying to connect"), so no time could be given.
  const pool = new pg.Pool({ connectionString: db.appUrl, max: poolMax });
  const log = createLogger('silent');
  try {
    const store = new TenantStore({
      pool,
      log,
      registry: createRegistry(),
      ttlMs: 300_000,
      maxTenants: 5000, // FS_TENANTD_TENANT_CACHE_MAX's default
      maxUsers: 200_000,
      maxNegative: 10_000,
      negativeTtlMs: 60_000,
    });
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const all = await store.all();
    renderSofia(
      { internal: { ip: '127.0.0.1', port: 5060 }, external: { ip: '127.0.0.1', port: 5080 } },
      all,
      'external',
    );
    renderAcl(all);
    return { ms: performance.now() - t0, rssMB: (process.memoryUsage().rss - rss0) / MB };
  } finally {
    await pool.end();
  }
}

export async function benchPlatform(ctx: BenchContext): Promise<Figure[]> {
  const seed = platformSeed(ctx.quick);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-platform-'));
  const empty = await freshDatabase(ctx.cluster);
  const db = await freshDatabase(ctx.cluster);
  const daemons: DaemonProcess[] = [];
  const figures: Figure[] = [];
  const fsBin = findFreeswitch();
  try {
    const sip = { internal: await freePort(), external: await freePort() };
    const envFor = (d: TestDatabase, name: string, eslPort?: number) => ({
      DATABASE_URL: d.appUrl,
      FS_TENANTD_STATE_DIR: path.join(dir, name),
      FS_TENANTD_ESL_NODES: eslPort ? `fs1=127.0.0.1:${eslPort}` : 'none',
      FS_TENANTD_SIP_INTERNAL: `127.0.0.1:${sip.internal}`,
      FS_TENANTD_SIP_EXTERNAL: `127.0.0.1:${sip.external}`,
      FS_TENANTD_DB_POOL_MAX: String(ctx.poolMax),
      FS_TENANTD_LOG_LEVEL: 'info',
    });

    // --- 1 and 2 on the empty database (baselines) ------------------------------------------------------------
    const e = await startAndAsk(envFor(empty, 'empty'), undefined);
    daemons.push(e.daemon);
    const eSofia = await answers(e.daemon.httpPort, SOFIA_EXTERNAL, /<gateway /g);
    const eAcl = await answers(e.daemon.httpPort, ACL, /<list /g);
    await stopDaemon(e.daemon);

    const seeded: Seeded = await seedPlatform(db.superuserUrl, seed, ctx.log);
    ctx.log(`platform: seeded ${JSON.stringify(seeded)}`);
    const size = `${seeded.tenants.toLocaleString('en-US')} tenants, ${seeded.extensions.toLocaleString('en-US')} extensions`;

    // --- 1 and 2 on the platform data set --------------------------------------------------------------------
    const b = await startAndAsk(envFor(db, 'big'), undefined);
    daemons.push(b.daemon);
    const bSofia = await answers(b.daemon.httpPort, SOFIA_EXTERNAL, /<gateway /g);
    const bAcl = await answers(b.daemon.httpPort, ACL, /<list /g);
    // One tenant's trunk: new CIDRs (acl.conf changes), then a new password (sofia.conf changes).
    const gw = /<gateway name="t0011_carrier">[\s\S]*?<\/gateway>/;
    const sofiaBefore = gw.exec((await post(b.daemon.httpPort, fixtureBody(SOFIA_EXTERNAL))).text)?.[0];
    const cidrChange = await trunkChange(
      db.superuserUrl,
      b.daemon.httpPort,
      "allowed_cidrs = '{192.0.2.11/32}'",
      ACL,
      (x) => x.includes('cidr="192.0.2.11/32"') && !x.includes('cidr="10.0.11.0/28"'),
      SOFIA_EXTERNAL,
      (x) => gw.exec(x)?.[0] === sofiaBefore,
    );
    const pwChange = await trunkChange(
      db.superuserUrl,
      b.daemon.httpPort,
      "password = 'pw-changed'",
      SOFIA_EXTERNAL,
      (x) => x.includes('value="pw-changed"'),
      ACL,
      (x) => x.includes('cidr="192.0.2.11/32"'),
    );
    const rss =
      Number(
        /process_resident_memory_bytes (\d+)/.exec(
          await (await fetch(`http://127.0.0.1:${b.daemon.httpPort}/metrics`)).text(),
        )?.[1] ?? Number.NaN,
      ) / MB;
    await stopDaemon(b.daemon);
    figures.push(
      figure({
        id: 'platform.start.ready',
        what: `daemon start-up, spawn until listening, ${size}`,
        unit: 'ms',
        better: 'lower',
        value: b.readyMs,
        baseline: e.readyMs,
        baselineName: 'same, empty database',
      }),
      figure({
        id: 'platform.start.first',
        what: '  same, spawn until the first answer (a cold sip_auth)',
        unit: 'ms',
        better: 'lower',
        value: b.firstMs,
        baseline: e.firstMs,
        baselineName: 'same, empty database (a not-found)',
      }),
      figure({
        id: 'platform.sofia.cold',
        what: `sofia.conf (external: ${bSofia.count.toLocaleString('en-US')} gateways), first answer after start`,
        unit: 'ms',
        better: 'lower',
        value: bSofia.coldMs,
        baseline: eSofia.coldMs,
        baselineName: 'same, empty database',
        note: `${(bSofia.bytes / MB).toFixed(2)} MB (empty: ${eSofia.bytes} bytes); daemon RSS after both files ${rss.toFixed(0)} MB`,
      }),
      figure({
        id: 'platform.sofia.warm',
        what: '  same, warm (median of 10)',
        unit: 'ms',
        better: 'lower',
        value: bSofia.warmMs,
        baseline: eSofia.warmMs,
        baselineName: 'same, empty database',
      }),
      figure({
        id: 'platform.acl.cold',
        what: `acl.conf (${bAcl.count.toLocaleString('en-US')} lists), first answer (view already read by sofia.conf)`,
        unit: 'ms',
        better: 'lower',
        value: bAcl.coldMs,
        baseline: eAcl.coldMs,
        baselineName: 'same, empty database',
        note: `${(bAcl.bytes / MB).toFixed(2)} MB (empty: ${eAcl.bytes} bytes)`,
      }),
      figure({
        id: 'platform.acl.warm',
        what: '  same, warm (median of 10)',
        unit: 'ms',
        better: 'lower',
        value: bAcl.warmMs,
        baseline: eAcl.warmMs,
        baselineName: 'same, empty database',
      }),
      figure({
        id: 'platform.change.cidr',
        what: "one tenant's trunk CIDRs changed: commit until acl.conf answers them",
        unit: 'ms',
        better: 'lower',
        value: cidrChange.firstMs,
        baseline: bAcl.warmMs,
        baselineName: 'acl.conf warm (above)',
        note: `then sofia.conf ${cidrChange.thenMs.toFixed(0)} ms; daemon CPU for both ${cidrChange.cpuMs.toFixed(0)} ms (${cidrChange.polls} polls)`,
      }),
      figure({
        id: 'platform.change.cidr.cpu',
        what: '  same, daemon CPU until both files answered (polls included)',
        unit: 'ms',
        better: 'lower',
        value: cidrChange.cpuMs,
        baseline: null,
        baselineName: '-',
      }),
      figure({
        id: 'platform.change.password',
        what: "one tenant's trunk password changed: commit until sofia.conf answers it",
        unit: 'ms',
        better: 'lower',
        value: pwChange.firstMs,
        baseline: bSofia.warmMs,
        baselineName: 'sofia.conf warm (above)',
        note: `then acl.conf ${pwChange.thenMs.toFixed(0)} ms; daemon CPU for both ${pwChange.cpuMs.toFixed(0)} ms (${pwChange.polls} polls)`,
      }),
      figure({
        id: 'platform.change.password.cpu',
        what: '  same, daemon CPU until both files answered (polls included)',
        unit: 'ms',
        better: 'lower',
        value: pwChange.cpuMs,
        baseline: null,
        baselineName: '-',
      }),
    );

    // --- 2 (FreeSWITCH), 3 and 4 ------------------------------------------------------------------------------
    if (!fsBin) {
      ctx.log('platform: no FreeSWITCH, FreeSWITCH and call-center figures skipped');
    } else
      try {
        const eslPort = await freePort();
        const emptyD = await startDaemon(envFor(empty, 'empty-fs', eslPort), 300_000);
        daemons.push(emptyD);
        const fsEmpty = await withFreeswitch(fsBin, dir, emptyD, eslPort, 0, async () => undefined);
        await stopDaemon(emptyD);

        const bigD = await startDaemon(envFor(db, 'big-fs', eslPort), 300_000);
        daemons.push(bigD);
        let first: Pass | undefined;
        let again: Pass | undefined;
        let edit: (Pass & { sinceCommitMs: number }) | undefined;
        let restartReadyMs = Number.NaN;
        let metricsBefore: Series | undefined;
        let metricsAfter: Series | undefined;
        let sipAuthRate = Number.NaN;
        let bigD2: DaemonProcess | undefined;
        const fsBig = await withFreeswitch(fsBin, dir, bigD, eslPort, seeded.trunks, async () => {
          first = await nextPass(bigD, 0);
          ctx.log(`platform: first full call-center pass ${JSON.stringify(first)}`);
          // A daemon restart with FreeSWITCH up: a full pass that finds nothing to change.
          await stopDaemon(bigD);
          const t0 = performance.now();
          // debug: a pass that changes nothing logs its summary at debug level.
          bigD2 = await startDaemon({ ...envFor(db, 'big-fs', eslPort), FS_TENANTD_LOG_LEVEL: 'debug' }, 300_000);
          restartReadyMs = performance.now() - t0;
          daemons.push(bigD2);
          again = await nextPass(bigD2, 0);
          ctx.log(`platform: full pass after restart ${JSON.stringify(again)}`);
          edit = await oneTenantEdit(db, bigD2);
          ctx.log(`platform: pass after one tenant's edit ${JSON.stringify(edit)}`);
          metricsBefore = await series(bigD2);
          sipAuthRate = await touchEveryTenant(bigD2, seeded.tenants);
          metricsAfter = await series(bigD2);
        });
        if (bigD2) await stopDaemon(bigD2);
        figures.push(
          figure({
            id: 'platform.fs.up',
            what: `FreeSWITCH start until the external profile runs with all ${fsBig.gateways.toLocaleString('en-US')} gateways`,
            unit: 'ms',
            better: 'lower',
            value: fsBig.upMs,
            baseline: fsEmpty.upMs,
            baselineName: 'same FreeSWITCH, empty database (0 gateways)',
            note: `${seeded.registering.toLocaleString('en-US')} of them register (to 127.0.0.1:9, refused)`,
          }),
          figure({
            id: 'platform.fs.reloadacl',
            what: '  reloadacl (median of 3), fetch of acl.conf included',
            unit: 'ms',
            better: 'lower',
            value: fsBig.reloadaclMs,
            baseline: fsEmpty.reloadaclMs,
            baselineName: 'same, empty database',
          }),
          figure({
            id: 'platform.fs.rescan',
            what: '  sofia profile external rescan (every gateway already there)',
            unit: 'ms',
            better: 'lower',
            value: fsBig.rescanMs,
            baseline: fsEmpty.rescanMs,
            baselineName: 'same, empty database',
          }),
        );
        if (first && again) {
          const sendS = (first.ms - first.dbMs) / 1000;
          figures.push(
            figure({
              id: 'platform.cc.full',
              what: `call-center full pass on an empty mod_callcenter: ${seeded.queues} queues, ${seeded.agents} agents, ${seeded.tiers} tiers`,
              unit: 'ms',
              better: 'lower',
              value: first.ms,
              baseline: null,
              baselineName: '-',
              note: `${first.commands} commands (${first.failed} failed) for ${first.tenants} tenants; database read ${first.dbMs} ms`,
            }),
            figure({
              id: 'platform.cc.rate',
              what: '  same, commands per second (lists, plan and commands)',
              unit: 'cmd/s',
              better: 'higher',
              value: first.commands / sendS,
              baseline: fsBig.roundTripsPerS,
              baselineName: 'sequential `api uptime` round trips on one ESL connection, same FreeSWITCH',
            }),
            figure({
              id: 'platform.cc.steady',
              what: '  full pass after a daemon restart (nothing to change)',
              unit: 'ms',
              better: 'lower',
              value: again.ms,
              baseline: null,
              baselineName: '-',
              note: `${again.commands} commands; database read ${again.dbMs} ms; restarted daemon listening after ${restartReadyMs.toFixed(0)} ms`,
            }),
          );
          if (edit)
            figures.push(
              figure({
                id: 'platform.cc.tenant-edit',
                what: "  one tenant's row changed: commit until its call-center pass has ended",
                unit: 'ms',
                better: 'lower',
                value: edit.sinceCommitMs,
                baseline: again.ms,
                baselineName: 'the full pass such an edit made before (the line above)',
                note: `incremental pass of ${edit.tenants} tenant(s): ${edit.ms} ms, database read ${edit.dbMs} ms, ${edit.commands} commands`,
              }),
            );
        }
        if (metricsBefore && metricsAfter) {
          figures.push(
            figure({
              id: 'platform.metrics.series',
              what: `/metrics series after sip_auth in all ${seeded.tenants.toLocaleString('en-US')} tenants and the call-center passes`,
              unit: 'series',
              better: 'lower',
              value: metricsAfter.total,
              baseline: metricsBefore.total,
              baselineName: 'same daemon before the sip_auth traffic (after its call-center pass)',
              note:
                `${metricsAfter.withTenant} series carry a tenant label, ${metricsAfter.tenantValues} distinct values ` +
                `(FS_TENANTD_METRICS_MAX_TENANTS 500 + _other); sip_auth cold over all tenants at ${sipAuthRate.toFixed(0)}/s`,
            }),
          );
        }
      } catch (err) {
        ctx.log(`platform: FreeSWITCH part FAILED: ${(err as Error).stack}`);
        figures.push(
          figure({
            id: 'platform.fs',
            what: 'FreeSWITCH, call-center and metrics figures',
            unit: '',
            better: 'lower',
            value: null,
            baseline: null,
            baselineName: '-',
            note: `failed: ${(err as Error).message.split('\n')[0]}`,
          }),
        );
      }

    // --- the previous way, once, last (memory) -----------------------------------------------------------------
    // FS_TENANTD_BENCH_PLATFORM_PREVIOUS=0 leaves it out (it takes minutes at full size).
    const skip = process.env.FS_TENANTD_BENCH_PLATFORM_PREVIOUS === '0';
    const prev = await (skip ? Promise.reject(new Error('skipped')) : previousWay(db, ctx.poolMax)).catch(
      (err: Error) => {
        ctx.log(`platform: previous way FAILED: ${err.stack}`);
        return { ms: Number.NaN, rssMB: Number.NaN };
      },
    );
    figures.push(
      figure({
        id: 'platform.previous',
        what: 'before this change: every full snapshot (store.all()) + sofia/acl render, in process',
        unit: 'ms',
        better: 'lower',
        value: prev.ms,
        baseline: bSofia.coldMs,
        baselineName: 'platform view: first sofia.conf answer over HTTP (above)',
        note: `RSS grew ${prev.rssMB.toFixed(0)} MB; with FS_TENANTD_TENANT_CACHE_MAX 5000 < tenants, every answer paid this`,
      }),
    );
    return figures;
  } finally {
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await empty.drop().catch(() => undefined);
    await db.drop().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  }
}
