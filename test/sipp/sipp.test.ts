// End to end with real SIP: FreeSWITCH started from freeswitch-conf/ against a
// daemon started here, driven by SIPp. Runs when FREESWITCH_BIN points at a
// freeswitch binary (with mod_xml_curl and mod_callcenter) and sipp is
// installed (Debian: sip-tester); otherwise every case is skipped with a note.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';
import { makeClusterDir, removeClusterDir } from '../helpers/postgres.js';
import { freePort, startDaemon, which, type DaemonProcess } from '../helpers/processes.js';

const test = suite('SIPp against FreeSWITCH + fs-tenantd');
const freeswitchBin = process.env.FREESWITCH_BIN;
const sippBin = which('sipp');
const skipReason = !freeswitchBin ? 'FREESWITCH_BIN is not set' : !sippBin ? 'sipp is not installed (Debian: apt-get install sip-tester)' : undefined;
if (skipReason) console.log(`\n  note: SIPp end-to-end tests skipped: ${skipReason}\n`);
const scenarios = path.join(projectRoot, 'test', 'sipp');

let dir: string;
let daemon: DaemonProcess | undefined;
let freeswitch: ChildProcess | undefined;
let fsExited: Promise<number | null> | undefined;
const ports = { sip: 0, uas: 0, uac: 0, globex: 0, esl: 0 };

function sipp(scenario: string, args: string[]): { done: Promise<{ code: number | null; output: string }>; child: ChildProcess } {
  // -timeout makes a scenario stuck waiting for a message fail instead of hanging the suite.
  const child = spawn(sippBin!, ['-sf', path.join(scenarios, scenario), `127.0.0.1:${ports.sip}`, '-i', '127.0.0.1', '-m', '1',
    '-nostdin', '-timeout', '20s', '-timeout_error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => { output += c; });
  child.stderr!.on('data', (c) => { output += c; });
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, output: output.slice(-2000) }))) };
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${daemon!.httpPort}/metrics`)).text();
}

/** Polls until `ok` holds (a condition to wait for, not a speed check); fails with `what` after `guardMs`. */
async function until(ok: () => Promise<boolean>, what: string, guardMs = 60_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await ok().catch(() => false))) {
    if (freeswitch && freeswitch.exitCode !== null) {
      throw new Error(`FreeSWITCH exited (code ${freeswitch.exitCode}) while waiting for ${what}; see ${path.join(dir, 'freeswitch', 'log')}`);
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const register = (user: string, domain: string, password: string, port: number, scenario = 'register.xml') =>
  sipp(scenario, ['-p', String(port), '-s', user, '-key', 'domain', domain, '-au', user, '-ap', password]).done;

const cases: Array<[string, () => Promise<void>]> = [];
const it = (name: string, fn: () => Promise<void>) => cases.push([name, fn]);

it('REGISTER 1001@acme.pbx.test with its password succeeds', async () => {
  const r = await register('1001', 'acme.pbx.test', 'acme-1001-demo', ports.uas);
  assert.is(r.code, 0, r.output);
});

it("REGISTER 1000@globex.pbx.test with acme's password is refused with 403", async () => {
  const r = await register('1000', 'globex.pbx.test', 'acme-1000-demo', ports.globex, 'register_forbidden.xml');
  assert.is(r.code, 0, r.output);
});

it('acme 1000 calls 1001: the registered UAS answers, the caller hangs up', async () => {
  const uas = sipp('uas.xml', ['-p', String(ports.uas)]);
  const uac = await sipp('uac_call.xml', ['-p', String(ports.uac), '-s', '1001', '-d', '500', '-key', 'domain', 'acme.pbx.test',
    '-key', 'from_user', '1000', '-key', 'cidname', 'Zoë Acme', '-au', '1000', '-ap', 'acme-1000-demo']).done;
  assert.is(uac.code, 0, uac.output);
  const callee = await uas.done;
  assert.is(callee.code, 0, callee.output);
});

it('globex 1000 dialing 2000 (no such extension, no route) gets 404', async () => {
  const r = await sipp('uac_not_found.xml', ['-p', String(ports.globex), '-s', '2000', '-key', 'domain', 'globex.pbx.test',
    '-key', 'from_user', '1000', '-key', 'cidname', 'Globex 1000', '-au', '1000', '-ap', 'globex-1000-demo']).done;
  assert.is(r.code, 0, r.output);
});

it('the daemon counted the fetches and holds the ESL connection', async () => {
  const text = await metricsText();
  assert.match(text, /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/);
  for (const section of ['directory', 'dialplan', 'configuration']) {
    assert.match(text, new RegExp(`\\nfs_tenantd_xmlcurl_requests_total\\{[^}]*section="${section}"[^}]*\\} [1-9]`), `${section} fetches counted`);
  }
});

if (skipReason) {
  for (const [name] of cases) test.skip(`${name} (SKIPPED: ${skipReason})`, () => undefined);
} else {
  test.before(async () => {
    dir = await makeClusterDir('fs-tenantd-sipp-');
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
    daemon = await startDaemon({
      FS_TENANTD_STATE_DIR: dir, FS_TENANTD_EMBEDDED_PG_PORT: String(await freePort()),
      FS_TENANTD_ESL_NODES: `fs1=127.0.0.1:${ports.esl}`, FS_TENANTD_SIP_INTERNAL: `127.0.0.1:${ports.sip}`,
      FS_TENANTD_SIP_EXTERNAL: `127.0.0.1:${await freePort()}`,
    });
    const fsDirs = ['log', 'db', 'run'].map((d) => path.join(dir, 'freeswitch', d));
    await Promise.all(fsDirs.map((d) => fs.mkdir(d, { recursive: true })));
    freeswitch = spawn(freeswitchBin!, ['-nf', '-nc', '-nonat', '-conf', path.join(projectRoot, 'freeswitch-conf'),
      '-log', fsDirs[0]!, '-db', fsDirs[1]!, '-run', fsDirs[2]!], {
      env: { ...process.env, FS_TENANTD_XMLCURL_URL: `http://127.0.0.1:${daemon.httpPort}/freeswitch/xml`, FS_TENANTD_ESL_LISTEN_PORT: String(ports.esl) },
      stdio: 'ignore',
    });
    fsExited = new Promise((resolve) => freeswitch!.on('exit', (code) => resolve(code)));
    await until(async () => /\nfs_tenantd_esl_connected\{node="fs1"\} 1\n/.test(await metricsText()), 'the daemon to connect to FreeSWITCH over ESL');
    // The internal profile comes up after ESL; a REGISTER that gets its 200 proves it is listening.
    await until(async () => (await register('1001', 'acme.pbx.test', 'acme-1001-demo', ports.uas)).code === 0, 'the internal SIP profile');
  });
  test.after(async () => {
    if (freeswitch && freeswitch.exitCode === null) { freeswitch.kill('SIGTERM'); await fsExited; }
    if (daemon && daemon.child.exitCode === null) { daemon.child.kill('SIGTERM'); await daemon.exited; }
    if (dir) await removeClusterDir(dir);
  });
  for (const [name, fn] of cases) test(name, fn);
}

test.run();
