// The real daemon as an operator runs it: embedded PostgreSQL under a fresh
// state dir, /healthz, /readyz, /metrics (checked by promtool when present),
// then SIGTERM while an xml_curl fetch is in flight.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';
import { makeClusterDir, removeClusterDir } from '../helpers/postgres.js';
import { freePort, startDaemon, which, type DaemonProcess } from '../helpers/processes.js';

const test = suite('daemon process: health, readiness, metrics, graceful shutdown');
const promtool = which('promtool');
if (!promtool)
  console.log('\n  note: promtool not installed (Debian: apt-get install prometheus): promtool checks are skipped\n');
let dir: string;
let pgPort: number;
let daemon: DaemonProcess | undefined;
let startError: Error | undefined;

test.before(async () => {
  dir = await makeClusterDir('fs-tenantd-daemon-');
  pgPort = await freePort();
  try {
    daemon = await startDaemon({
      FS_TENANTD_STATE_DIR: dir,
      FS_TENANTD_EMBEDDED_PG_PORT: String(pgPort),
      FS_TENANTD_ESL_NODES: 'none',
    });
  } catch (err) {
    startError = err as Error;
  }
});

test.after(async () => {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  }
  await removeClusterDir(dir);
});

/** The daemon before() started; a failed start fails each test with the reason instead of crashing the run. */
function running(): DaemonProcess {
  if (!daemon) throw startError ?? new Error('daemon not started');
  return daemon;
}
const url = (p: string) => `http://127.0.0.1:${running().httpPort}${p}`;

test('/healthz answers 200', async () => {
  const res = await fetch(url('/healthz'));
  assert.is(res.status, 200);
  assert.equal(await res.json(), { status: 'ok' });
});

test('/readyz answers 200 with the database check', async () => {
  const res = await fetch(url('/readyz'));
  const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: unknown }> };
  assert.is(res.status, 200, JSON.stringify(body));
  assert.is(body.status, 'ready');
  assert.is(body.checks.database?.ok, true);
});

test('/metrics exposes the daemon series in Prometheus text format', async () => {
  const res = await fetch(url('/metrics'));
  assert.is(res.status, 200);
  const text = await res.text();
  for (const name of [
    'fs_tenantd_db_query_duration_seconds_bucket',
    'fs_tenantd_db_pool_waiting_clients',
    'fs_tenantd_db_pool_total_clients',
    'nodejs_eventloop_lag_seconds',
    'process_cpu_seconds_total',
  ]) {
    assert.ok(text.includes(`\n${name}`), `${name} is exported`);
  }
});

(promtool ? test : test.skip)(
  `promtool check metrics accepts the real /metrics output${promtool ? '' : ' (SKIPPED: promtool not installed; apt-get install prometheus)'}`,
  async () => {
    const text = await (await fetch(url('/metrics'))).text();
    const r = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.is(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  },
);

/** Sends request headers with Expect: 100-continue and resolves once the server has parsed them. */
function startRequest(port: number, head: string): Promise<{ socket: net.Socket; response: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let continued = false;
    const response = new Promise<string>((resolveResponse, rejectResponse) => {
      socket.on('end', () => resolveResponse(received));
      socket.on('error', rejectResponse);
    });
    socket.on('data', (c: Buffer) => {
      received += c.toString('utf8');
      const interim = 'HTTP/1.1 100 Continue\r\n\r\n';
      if (!continued && received.startsWith(interim)) {
        continued = true;
        received = received.slice(interim.length);
        resolve({ socket, response });
      }
    });
    socket.on('error', reject);
    socket.write(head);
  });
}

test('SIGTERM: the fetch in flight is answered, new ones are not, PostgreSQL stops, exit 0', async () => {
  const daemon = running();
  const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
  const postgresPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  assert.ok(postgresPid > 0);

  const fixture = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'xml-curl', '028-dialplan-acme-1001');
  const body = readFileSync(`${fixture}.body`);
  const auth = Buffer.from('freeswitch:demo-xmlcurl').toString('base64');
  const head =
    `POST /freeswitch/xml HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: freeswitch-xml/1.0\r\nAccept: */*\r\n` +
    `Authorization: Basic ${auth}\r\nContent-Length: ${body.length}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
    'Expect: 100-continue\r\n\r\n';
  // The same fetch, complete, before shutdown: the one in flight must get the same answer.
  const before = await fetch(url('/freeswitch/xml'), {
    method: 'POST',
    body,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  const beforeText = await before.text();
  const inFlight = await startRequest(daemon.httpPort, head);

  daemon.child.kill('SIGTERM');
  await daemon.waitForLog((l) => l.msg === 'shutting down', 'shutting down');
  // Nothing new is served once shutdown has begun.
  const late = await new Promise<string>((resolve) => {
    const s = net.connect(daemon.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (c) => {
      got += c;
    });
    s.on('end', () => resolve(got.split('\r\n')[0] || 'closed without a response'));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
  assert.ok(!late.includes(' 200 '), `a request made after SIGTERM was served: ${late}`);

  inFlight.socket.write(body);
  const response = await inFlight.response;
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1];
  assert.ok(status, `the in-flight request got a full response: ${JSON.stringify(response.slice(0, 200))}`);
  assert.is(Number(status), before.status, 'the in-flight request was served as before shutdown, not refused');
  assert.ok(response.endsWith(beforeText), 'with the same body');

  const { code, signal } = await daemon.exited;
  assert.equal({ code, signal }, { code: 0, signal: null }, `exit status; stderr: ${daemon.stderr()}`);
  assert.ok(
    daemon.lines.some((l) => l.msg === 'stopped'),
    'logged "stopped"',
  );
  const steps = daemon.lines.filter((l) => l.msg === 'shutdown step done').map((l) => l.step);
  assert.is(steps[0], 'http', 'HTTP drains first');
  assert.is(steps[steps.length - 1], 'database', 'the database closes last');

  // The embedded PostgreSQL is gone, not orphaned.
  assert.not.ok(existsSync(pidFile), 'postmaster.pid removed');
  assert.throws(() => process.kill(postgresPid, 0), /ESRCH/, 'postgres process no longer exists');
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(pgPort, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  assert.is(refused, 'ECONNREFUSED');
});

test.run();
