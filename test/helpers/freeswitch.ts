// A real FreeSWITCH, started from freeswitch-conf/ against a real daemon (embedded
// PostgreSQL with the demo tenants), for the SIPp suites under test/sipp/. One
// stack serves every suite of the run (started on first use, stopped by
// test/run.ts), so its start-up is paid once. Everything waits on state
// (ESL answers, registrations, channel counts, log lines), never on sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import pg from 'pg';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { suite } from 'uvu';
import { mintToken, privateKeyFromPem } from '../../daemon/auth/mint-token.js';
import type { Role } from '../../daemon/auth/claims.js';
import { EslClient } from '../../daemon/esl/client.js';
import { createLogger } from '../../daemon/log.js';
import { createRegistry } from '../../daemon/metrics.js';
import { projectRoot } from '../../daemon/paths.js';
import { makeClusterDir, removeClusterDir } from './postgres.js';
import { freePort, startDaemon, which, type DaemonProcess } from './processes.js';

/** FREESWITCH_BIN (`none`: skip the SIPp suites), else `freeswitch` on PATH, else the source install's default. */
export function findFreeswitch(): string | undefined {
  if (process.env.FREESWITCH_BIN === 'none') return undefined;
  if (process.env.FREESWITCH_BIN) return process.env.FREESWITCH_BIN;
  const onPath = which('freeswitch');
  if (onPath) return onPath;
  const installed = '/usr/local/freeswitch/bin/freeswitch';
  return existsSync(installed) ? installed : undefined;
}

const freeswitchBin = findFreeswitch();
const sippBin = which('sipp');

/** Why the SIPp suites cannot run here, or undefined when they can. */
export const sippSkipReason: string | undefined =
  process.env.FREESWITCH_BIN === 'none'
    ? 'FREESWITCH_BIN=none'
    : !freeswitchBin
      ? 'no FreeSWITCH found (FREESWITCH_BIN, `freeswitch` on PATH, /usr/local/freeswitch/bin/freeswitch)'
      : !sippBin
        ? 'sipp is not installed (Debian: apt-get install sip-tester)'
        : undefined;

const scenarios = path.join(projectRoot, 'test', 'sipp');

export interface SippResult {
  code: number | null;
  output: string;
  messages: string;
}
export interface SippRun {
  child: ChildProcess;
  done: Promise<SippResult>;
  msgFile: string;
}

export interface Stack {
  dir: string;
  daemon: DaemonProcess;
  /** ESL straight to FreeSWITCH, for the tests' own questions (`sofia status`, `show channels`). */
  fs: EslClient;
  ports: { internal: number; external: number; esl: number };
  /** Raw 8 kHz mu-law silence for SIPp's rtp_stream (a call that carries RTP hangs up promptly). */
  rtpFile: string;
  sipp(
    scenario: string,
    args: string[],
    opts?: { ip?: string; target?: 'internal' | 'external'; calls?: number },
  ): SippRun;
  /** A SIPp answering calls at ip:port (answer.xml), resolved once its socket is bound. */
  answerAt(ip: string, port: number, calls?: number): Promise<SippRun>;
  /** Places calls with call.xml; the answers are in the result's `messages` (see inviteAnswers). */
  call(c: CallSpec): SippRun;
  api(
    method: string,
    url: string,
    token: string,
    body?: unknown,
    asTenant?: string,
  ): Promise<{ status: number; body: any }>;
  token(role: Role, tenant?: string, sub?: string): Promise<string>;
  metrics(): Promise<string>;
  /** Registers user@domain from a fresh port and answers calls there (or only rings: ring.xml) until stopped. */
  phone(
    user: string,
    domain: string,
    password: string,
    scenario?: 'answer.xml' | 'ring.xml' | 'mwi.xml',
  ): Promise<Phone>;
  /** The shared-admission slots held in PostgreSQL, every tenant's. */
  slots(): Promise<Array<{ tenant: string; callUuid: string; state: string }>>;
  /** Waits until FreeSWITCH holds no channel (the previous case's calls are gone). */
  quiet(): Promise<void>;
  /** Stops FreeSWITCH with `signal` and starts it again on the same folders (a new Core-UUID). */
  restartFreeswitch(signal: NodeJS.Signals): Promise<void>;
  /** Restarts the daemon on the same state (database, keys, spool). */
  restartDaemon(signal: NodeJS.Signals): Promise<void>;
  /** Stops the daemon with `signal` and waits for it to exit (bring it back with startDaemon). */
  stopDaemon(signal: NodeJS.Signals): Promise<void>;
  /** Starts the daemon again on the same state and port; resolves once its ESL connection is up. */
  startDaemon(): Promise<void>;
  /** mod_json_cdr's err-log-dir: records no daemon accepted (json_cdr.conf.xml). */
  cdrErrDir: string;
  /** The daemon's mod_json_cdr endpoint. */
  cdrUrl: string;
  /**
   * FreeSWITCH's first xml_curl binding: a TCP relay to the daemon, standing for a first daemon (the second
   * binding is the daemon itself). `mode('dead')` refuses connections (a killed daemon), `mode('hung')` accepts
   * and never answers, `mode('up')` relays again.
   */
  firstBinding: Relay;
  /** The second binding: a relay to the daemon too, which a test can point at another daemon (`retarget`). */
  secondBinding: Relay;
  /** The stack's state dir and embedded PostgreSQL port: a second daemon process can share the database. */
  daemonEnv: Record<string, string>;
  /** FreeSWITCH's -recordings and the daemon's FS_TENANTD_RECORDINGS_DIR (one folder). */
  recordingsDir: string;
  until(ok: () => Promise<boolean>, what: string, guardMs?: number): Promise<void>;
}

export interface Phone {
  port: number;
  /** INVITEs this phone has received so far. */
  invites(): Promise<number>;
  /** Everything it received so far (SIPp's -trace_msg file). */
  received(): Promise<string>;
  /** Stops answering and drops the registration. */
  stop(): Promise<void>;
}

/** Options for one call with call.xml: `from` calls `to` in `domain`, authenticating with `password`. */
export interface CallSpec {
  from: string;
  to: string;
  domain: string;
  password?: string;
  /** Talk time after the answer (ms). */
  holdMs?: number;
  /** Source address (trunk calls come from a carrier's address) and which profile receives it. */
  ip?: string;
  target?: 'internal' | 'external';
  /** Calls placed by this one SIPp (-m), all at once (-l, -r). */
  calls?: number;
}

export function callArgs(c: CallSpec): string[] {
  const n = c.calls ?? 1;
  return [
    '-s',
    c.to,
    '-key',
    'domain',
    c.domain,
    '-key',
    'from_user',
    c.from,
    '-d',
    String(c.holdMs ?? 500),
    ...(c.password ? ['-au', c.from, '-ap', c.password] : []),
    '-l',
    String(n),
    '-r',
    String(Math.max(n * 5, 10)),
  ];
}

/** Final answers to the INVITEs of a finished SIPp run, without the digest challenges (401/407). */
export const callOutcomes = (messages: string): number[] =>
  inviteAnswers(messages).filter((c) => c !== 401 && c !== 407);

/**
 * Registers phones ([user, domain, password] each, and 'ring' for one that never answers), runs `fn` with them,
 * and stops them whatever happens.
 */
export async function withPhones(
  s: Stack,
  specs: Array<[string, string, string] | [string, string, string, 'ring' | 'mwi']>,
  fn: (phones: Phone[]) => Promise<void>,
): Promise<void> {
  const phones: Phone[] = [];
  try {
    for (const [user, domain, password, kind] of specs)
      phones.push(await s.phone(user, domain, password, kind ? `${kind}.xml` : 'answer.xml'));
    await fn(phones);
  } finally {
    for (const p of phones) await p.stop();
  }
}

/** The SIP start lines of the messages SIPp received (from its -trace_msg file), in order. */
export function receivedStartLines(messages: string): string[] {
  return messages
    .split(/^-{10,}.*$/m)
    .filter((b) => /message received/.test(b))
    .map(
      (b) =>
        b
          .split('\n')
          .map((l) => l.trim())
          .find((l) => /^(SIP\/2\.0 \d{3}|[A-Z]+ sip:)/.test(l)) ?? '',
    );
}

/** The final answers SIPp received to INVITEs (e.g. [407, 200]), from its -trace_msg file. */
export function inviteAnswers(messages: string): number[] {
  return messages
    .split(/^-{10,}.*$/m)
    .filter((b) => /message received/.test(b) && /^CSeq:\s*\d+\s+INVITE/im.test(b))
    .map((b) => /^SIP\/2\.0 (\d{3})/m.exec(b))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .filter((c) => c >= 200);
}

/** A UDP port nothing holds right now on 127.0.0.1 (SIP and RTP are UDP: a free TCP port says nothing). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** True while something holds UDP ip:port (a SIPp that answers calls has bound its socket). */
export async function udpInUse(ip: string, port: number): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err.code === 'EADDRINUSE');
    });
    socket.bind(port, ip, () => socket.close(() => resolve(false)));
  });
}

let shared: Promise<Stack> | undefined;
let teardown: (() => Promise<void>) | undefined;

/** The run's stack, started on first call. */
export function freeswitchStack(): Promise<Stack> {
  shared ??= startStack();
  return shared;
}

/** Stops the shared stack, if one was started (test/run.ts calls this after the last suite). */
export async function stopFreeswitchStack(): Promise<void> {
  if (teardown) await teardown();
}

async function startStack(): Promise<Stack> {
  if (sippSkipReason) throw new Error(sippSkipReason);
  const dir = await makeClusterDir('fs-tenantd-sipp-');
  const ports = { internal: await freePort(), external: await freePort(), esl: await freePort() };
  const fsDir = path.join(dir, 'freeswitch');
  // FreeSWITCH's -recordings below and the daemon's recordings directory are one folder, as on a real host.
  const recordingsDir = path.join(fsDir, 'recordings');
  const daemonEnv = {
    FS_TENANTD_STATE_DIR: path.join(dir, 'state'),
    FS_TENANTD_EMBEDDED_PG_PORT: String(await freePort()),
    FS_TENANTD_HTTP_PORT: String(await freePort()),
    FS_TENANTD_ESL_NODES: `fs1=127.0.0.1:${ports.esl}`,
    FS_TENANTD_SIP_INTERNAL: `127.0.0.1:${ports.internal}`,
    FS_TENANTD_SIP_EXTERNAL: `127.0.0.1:${ports.external}`,
    FS_TENANTD_LOG_LEVEL: 'debug',
    FS_TENANTD_RECORDINGS_DIR: recordingsDir,
  };
  let daemon = await startDaemon(daemonEnv);
  const sub = ['log', 'db', 'run', 'temp', 'storage', 'recordings', 'cache'];
  await Promise.all(sub.map((d) => fs.mkdir(path.join(fsDir, d), { recursive: true })));
  // A private copy of the bootstrap, as an operator would deploy it: FreeSWITCH writes nothing there,
  // but every flag that names a directory points into this run's folder.
  const args = [
    '-nf',
    '-nc',
    '-nonat',
    '-conf',
    path.join(projectRoot, 'freeswitch-conf'),
    ...sub.flatMap((d) => [`-${d}`, path.join(fsDir, d)]),
  ];
  const cdrUrl = `http://127.0.0.1:${daemon.httpPort}/freeswitch/cdr`;
  const firstBinding = await startRelay(daemon.httpPort);
  const secondBinding = await startRelay(daemon.httpPort);
  // json_cdr.conf.xml's default ($${log_dir}/json_cdr, inside this run's folder), set so no outer value leaks in.
  const cdrErrDir = path.join(fsDir, 'log', 'json_cdr');
  const spawnFreeswitch = () => {
    const child = spawn(freeswitchBin!, args, {
      env: {
        ...process.env,
        // Both bindings of xml_curl.conf.xml, each a relay to the daemon that a test can kill or point elsewhere.
        FS_TENANTD_XMLCURL_URL: `http://127.0.0.1:${firstBinding.port}/freeswitch/xml`,
        FS_TENANTD_XMLCURL_URL_2: `http://127.0.0.1:${secondBinding.port}/freeswitch/xml`,
        FS_TENANTD_ESL_LISTEN_PORT: String(ports.esl),
        FS_TENANTD_CDR_URL: cdrUrl,
        FS_TENANTD_CDR_URL_2: cdrUrl,
        FS_TENANTD_CDR_ERR_DIR: cdrErrDir,
      },
      stdio: 'ignore',
    });
    return { child, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
  };
  const first = spawnFreeswitch();
  let freeswitch = first.child;
  let fsExited = first.exited;
  const fsLog = path.join(fsDir, 'log', 'freeswitch.log');

  const until = async (ok: () => Promise<boolean>, what: string, guardMs = 30_000): Promise<void> => {
    const deadline = Date.now() + guardMs;
    while (!(await ok().catch(() => false))) {
      if (freeswitch.exitCode !== null)
        throw new Error(`FreeSWITCH exited (${freeswitch.exitCode}) while waiting for ${what}; see ${fsLog}`);
      if (Date.now() > deadline) {
        // What the daemon warned about meanwhile is usually why.
        const warnings = daemon.lines.filter((l) => Number(l.level) >= 40).slice(-8);
        throw new Error(
          `gave up after ${guardMs} ms waiting for ${what}; FreeSWITCH log: ${fsLog}; daemon warnings:\n` +
            warnings.map((l) => JSON.stringify(l)).join('\n'),
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const log = createLogger('silent');
  const esl = new EslClient({
    node: { name: 'test', host: '127.0.0.1', port: ports.esl, password: 'ClueCon' },
    log,
    registry: createRegistry(),
    commandTimeoutMs: 10_000,
    backoff: { initialMs: 100, maxMs: 500 },
  });
  esl.start();
  await until(async () => esl.connected, 'an ESL connection to FreeSWITCH');
  const profilesUp = async () => {
    const status = await esl.api('sofia status');
    return /internal\s+profile\s+\S+\s+RUNNING/.test(status) && /external\s+profile\s+\S+\s+RUNNING/.test(status);
  };
  await until(profilesUp, 'both sofia profiles to run');
  const metrics = async () => (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
  await until(
    async () => /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(await metrics()),
    "the daemon's ESL connection",
  );

  // Scenarios stream this file (rtp_stream names it relative to SIPp's working directory, `dir`).
  const rtpFile = path.join(dir, 'silence.ulaw');
  await fs.writeFile(rtpFile, Buffer.alloc(8000 * 30, 0xff)); // 30 s of mu-law silence

  let key: KeyObject | undefined;
  const token = async (role: Role, tenant?: string, sub?: string) => {
    key ??= privateKeyFromPem(
      await fs.readFile(path.join(daemonEnv.FS_TENANTD_STATE_DIR, 'jwt', 'private.pem'), 'utf8'),
    );
    // Demo tenants: the SIP domain claim is <slug>.pbx.test (daemon/db/demo-seed.ts).
    return mintToken(key, {
      sub: sub ?? `sipp-${role}`,
      role,
      tenantSlug: tenant,
      sipDomain: tenant && `${tenant}.pbx.test`,
      ttlSeconds: 600,
      alg: 'ES256',
    });
  };

  let runCount = 0;
  const sipp = (
    scenario: string,
    sargs: string[],
    opts: { ip?: string; target?: 'internal' | 'external'; calls?: number } = {},
  ) => {
    const msgFile = path.join(dir, `sipp-${++runCount}.msg`);
    const port = opts.target === 'external' ? ports.external : ports.internal;
    // SIPp's default media port is fixed (6000): give each run its own, below FreeSWITCH's RTP range (16384-32768)
    // and the kernel's ephemeral ports (32768-60999), so nothing else is handed it meanwhile.
    const media = sargs.includes('-mp') ? [] : ['-mp', String(10_000 + (runCount % 1500) * 4)];
    // -timeout turns a scenario stuck waiting for a message into a failure instead of a hang.
    const child = spawn(
      sippBin!,
      [
        '-sf',
        path.join(scenarios, scenario),
        `127.0.0.1:${port}`,
        '-i',
        opts.ip ?? '127.0.0.1',
        '-m',
        String(opts.calls ?? 1),
        '-nostdin',
        '-timeout',
        '30s',
        '-timeout_error',
        '-trace_msg',
        '-message_file',
        msgFile,
        ...media,
        ...sargs,
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
    const done = new Promise<SippResult>((resolve) =>
      child.on('exit', (code) => {
        void fs
          .readFile(msgFile, 'utf8')
          .catch(() => '')
          .then((messages) => resolve({ code, output: output.slice(-3000), messages }));
      }),
    );
    return { child, done, msgFile };
  };

  const api = async (method: string, url: string, tok: string, body?: unknown, asTenant?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${tok}` };
    if (asTenant) headers['x-tenant-id'] = asTenant;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`http://127.0.0.1:${daemon.httpPort}/api${url}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  const phone = async (user: string, domain: string, password: string, scenario = 'answer.xml'): Promise<Phone> => {
    // The REGISTER and the answering SIPp share the port (it is the registered contact). Another process can take
    // the port in between, or SIPp's media port; then the answering SIPp exits at once, and a fresh pair is tried.
    for (let attempt = 1; ; attempt++) {
      const port = await freeUdpPort();
      const reg = await sipp('register.xml', [
        '-p',
        String(port),
        '-s',
        user,
        '-key',
        'domain',
        domain,
        '-au',
        user,
        '-ap',
        password,
      ]).done;
      if (reg.code !== 0) throw new Error(`REGISTER ${user}@${domain} failed: ${reg.output}`);
      const uas = sipp(scenario, ['-p', String(port), '-mp', String(await freeUdpPort()), '-m', '100']);
      const exited = () => uas.child.exitCode !== null || uas.child.signalCode !== null;
      await until(async () => exited() || (await udpInUse('127.0.0.1', port)), `the phone ${user}@${domain} to listen`);
      if (exited()) {
        await esl.api(`sofia profile internal flush_inbound_reg ${user}@${domain}`).catch(() => undefined);
        if (attempt < 3) continue;
        throw new Error(`the phone ${user}@${domain} could not listen on ${port}: ${(await uas.done).output}`);
      }
      return {
        port,
        received: () => fs.readFile(uas.msgFile, 'utf8').catch(() => ''),
        invites: async () =>
          receivedStartLines(await fs.readFile(uas.msgFile, 'utf8').catch(() => '')).filter((l) =>
            l.startsWith('INVITE'),
          ).length,
        async stop() {
          await esl.api(`sofia profile internal flush_inbound_reg ${user}@${domain}`).catch(() => undefined);
          uas.child.kill('SIGKILL');
          await uas.done;
        },
      };
    }
  };

  const answerAt = async (ip: string, port: number, calls = 100) => {
    const run = sipp('answer.xml', ['-p', String(port), '-m', String(calls)], { ip });
    await until(() => udpInUse(ip, port), `SIPp answering at ${ip}:${port}`);
    return run;
  };

  const call = (c: CallSpec) => sipp('call.xml', callArgs(c), { ip: c.ip, target: c.target, calls: c.calls });

  /** Every tenant's slots that count (call_slots: live, or reserved and not expired), read in each tenant's context. */
  const slots = async (): Promise<Array<{ tenant: string; callUuid: string; state: string }>> => {
    const secrets = JSON.parse(
      await fs.readFile(path.join(daemonEnv.FS_TENANTD_STATE_DIR, 'embedded-secrets.json'), 'utf8'),
    ) as { appPassword: string };
    const port = daemonEnv.FS_TENANTD_EMBEDDED_PG_PORT;
    const url = `postgresql://fs_tenantd:${encodeURIComponent(secrets.appPassword)}@127.0.0.1:${port}/fs_tenantd`;
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const out: Array<{ tenant: string; callUuid: string; state: string }> = [];
      for (const t of (await pool.query('SELECT tenant_id, tenant_slug FROM list_tenants()')).rows) {
        const rows = await withTenant(
          pool,
          asTenantId(t.tenant_id),
          async (c) =>
            (await c.query("SELECT call_uuid, state FROM call_slots WHERE state = 'live' OR expires_at > now()")).rows,
        );
        for (const r of rows) out.push({ tenant: t.tenant_slug, callUuid: r.call_uuid, state: r.state });
      }
      return out;
    } finally {
      await pool.end();
    }
  };

  const quiet = () =>
    until(async () => /^0 total\./m.test(await esl.api('show channels count')), 'FreeSWITCH to hold no channel');

  const stack: Stack = {
    dir,
    daemon,
    fs: esl,
    ports,
    rtpFile,
    sipp,
    answerAt,
    call,
    api,
    token,
    metrics,
    until,
    phone,
    quiet,
    slots,
    cdrUrl,
    cdrErrDir,
    firstBinding,
    secondBinding,
    daemonEnv,
    recordingsDir,
    async stopDaemon(signal) {
      if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill(signal);
      await daemon.exited;
    },
    async startDaemon() {
      daemon = await startDaemon(daemonEnv);
      stack.daemon = daemon;
      await until(
        async () => /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(await metrics()),
        "the restarted daemon's ESL connection",
      );
      // After a kill -9 the dead process's node leases run out first (5 s): until the new one holds 'resync' and
      // has reconciled, a call that ended while no daemon listened still holds its slot in PostgreSQL. Wait until
      // every slot is a call FreeSWITCH still has, so the next case starts from the true state.
      await until(
        async () => /\nfs_tenantd_node_lease_held\{node="fs1",job="resync"\} 1\n/.test(await metrics()),
        "the restarted daemon to hold fs1's resync lease",
        20_000,
      );
      await until(
        async () => {
          const up = await esl.api('show channels as json');
          return (await slots()).every((x) => up.includes(x.callUuid));
        },
        'the slots of calls that ended while no daemon listened to be released',
        40_000,
      );
    },
    async restartDaemon(signal) {
      await stack.stopDaemon(signal);
      await stack.startDaemon();
    },
    async restartFreeswitch(signal) {
      freeswitch.kill(signal);
      await fsExited;
      const next = spawnFreeswitch();
      freeswitch = next.child;
      fsExited = next.exited;
      await until(async () => esl.connected && (await profilesUp()), 'FreeSWITCH to run both sofia profiles again');
      await until(
        async () => /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(await metrics()),
        "the daemon's ESL connection to the restarted FreeSWITCH",
      );
    },
  };
  teardown = async () => {
    await firstBinding.close();
    await secondBinding.close();
    esl.stop();
    if (freeswitch.exitCode === null) {
      freeswitch.kill('SIGTERM');
      await Promise.race([fsExited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    if (freeswitch.exitCode === null) freeswitch.kill('SIGKILL');
    if (stack.daemon.child.exitCode === null) {
      stack.daemon.child.kill('SIGTERM');
      await stack.daemon.exited;
    }
    await removeClusterDir(daemonEnv.FS_TENANTD_STATE_DIR);
    // FS_TENANTD_TEST_KEEP=1 keeps the run's folder (FreeSWITCH log, SIPp traces) for a post-mortem.
    if (process.env.FS_TENANTD_TEST_KEEP !== '1') await fs.rm(dir, { recursive: true, force: true });
  };
  return stack;
}

export interface Relay {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** 'dead' refuses connections (a killed daemon), 'hung' accepts and never answers, 'up' relays. */
  mode(m: 'up' | 'dead' | 'hung'): Promise<void>;
  /** Relays new connections to another port from now on. */
  retarget(port: number): void;
  close(): Promise<void>;
}

/** A TCP relay to 127.0.0.1:`to` on a fixed free port, which can refuse (dead) or swallow (hung) connections. */
async function startRelay(initialTarget: number): Promise<Relay> {
  let to = initialTarget;
  const sockets = new Set<net.Socket>();
  let mode: 'up' | 'dead' | 'hung' = 'up';
  let connections = 0;
  const server = net.createServer((client) => {
    connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode === 'hung') return; // accepted, never answered: mod_xml_curl waits for its timeout
    const upstream = net.connect(to, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const port = await freePort();
  await listen(port);
  const close = async () => {
    for (const sk of sockets) sk.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    port,
    get connections() {
      return connections;
    },
    async mode(m: 'up' | 'dead' | 'hung') {
      mode = m;
      if (m === 'dead') await close();
      else if (!server.listening) await listen(port);
    },
    retarget(port: number) {
      to = port;
    },
    close,
  };
}

/**
 * A uvu suite of cases against the shared stack; on a machine without FreeSWITCH or sipp every case is
 * reported as skipped, with the reason, so `npm test` still passes there.
 */
export function sippSuite(name: string): { it(title: string, fn: (s: Stack) => Promise<void>): void; run(): void } {
  const cases: Array<[string, (s: Stack) => Promise<void>]> = [];
  return {
    it: (title, fn) => {
      cases.push([title, fn]);
    },
    run() {
      const test = suite(name);
      if (sippSkipReason) {
        console.log(`\n  note: ${name}: SIPp end-to-end cases skipped: ${sippSkipReason}\n`);
        for (const [title] of cases) test.skip(`${title} (SKIPPED: ${sippSkipReason})`, () => undefined);
      } else {
        let stack: Stack;
        test.before(async () => {
          stack = await freeswitchStack();
        });
        for (const [title, fn] of cases)
          test(title, async () => {
            await stack.quiet();
            await fn(stack);
          });
      }
      test.run();
    },
  };
}
