// Issue 13: as root, in a checkout under a directory other users cannot enter (e.g. /root, 0700), `npm start`
// works with no manual step. The embedded PostgreSQL runs as its own system user, which cannot reach the state
// dir there, so its data lives under /var/lib/fs-tenantd (the state dir links to it), the log says where, later
// starts reuse it, and the private directory stays private.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeClusterDir } from '../helpers/postgres.js';
import { freePort, startDaemon, type DaemonProcess } from '../helpers/processes.js';

const test = suite('root: state dir inside a private (0700) directory');
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log('\n  note: not running as root: the private-directory start test is skipped\n');
let dir: string | undefined;
const daemons: DaemonProcess[] = [];

test.after(async () => {
  for (const d of daemons) {
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill('SIGKILL');
      await d.exited;
    }
  }
  if (dir) {
    await removeClusterDir(path.join(dir, 'var'));
    await fs.rm(dir, { recursive: true, force: true });
  }
});

const isReady = (l: Record<string, unknown>) =>
  typeof l.msg === 'string' && l.msg.startsWith('embedded PostgreSQL ready');

async function startAndStop(env: Record<string, string>): Promise<Record<string, unknown>> {
  const daemon = await startDaemon(env);
  daemons.push(daemon);
  const ready = daemon.lines.find(isReady);
  assert.ok(ready, `logged "embedded PostgreSQL ready": ${daemon.lines.map((l) => l.msg).join(' | ')}`);
  assert.is((await fetch(`http://127.0.0.1:${daemon.httpPort}/readyz`)).status, 200);
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, { code: 0, signal: null }, `clean exit; stderr: ${daemon.stderr()}`);
  return ready;
}

const title = `starts, says where the data lives, reuses it${isRoot ? '' : ' (SKIPPED: needs root)'}`;
(isRoot ? test : test.skip)(title, async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-private-')); // 0700, like /root
  const stateDir = path.join(dir, 'var');
  const link = path.join(stateDir, 'pgdata');
  const env = {
    FS_TENANTD_STATE_DIR: stateDir,
    FS_TENANTD_EMBEDDED_PG_PORT: String(await freePort()),
    FS_TENANTD_ESL_NODES: 'none',
  };

  const first = await startAndStop(env);
  const dataDir = String(first.dataDir);
  assert.ok(dataDir.startsWith('/var/lib/fs-tenantd/'), `data kept where the database user reaches it: ${dataDir}`);
  assert.is(first.msg, `embedded PostgreSQL ready, data in ${dataDir} (linked from ${link})`);
  assert.is(first.created, true);
  assert.is(await fs.readlink(link), dataDir, 'the state dir links to the data');
  const st = await fs.stat(dataDir);
  const pgUid = Number(spawnSync('id', ['-u', 'fs-tenantd-pg'], { encoding: 'utf8' }).stdout.trim());
  assert.is(st.uid, pgUid, 'owned by the database user');
  assert.is(st.mode & 0o777, 0o700, 'private to it');
  assert.is((await fs.stat(dir)).mode & 0o777, 0o700, 'the private directory was not opened');

  const second = await startAndStop(env);
  assert.is(second.dataDir, dataDir, 'a later start uses the same data');
  assert.is(second.created, false, 'without a new initdb');
});

test.run();
