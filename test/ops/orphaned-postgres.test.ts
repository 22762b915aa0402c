// A daemon killed with SIGKILL leaves its embedded PostgreSQL running (re-parented to init). The next start shuts
// that orphan down and starts its own, so a clean shutdown afterwards leaves no PostgreSQL behind.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeClusterDir, removeClusterDir } from '../helpers/postgres.js';
import { freePort, startDaemon } from '../helpers/processes.js';

async function postmasterPid(stateDir: string): Promise<number | undefined> {
  const lock = await fs.readFile(path.join(stateDir, 'pgdata', 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(lock?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
}

test('after kill -9 the next start stops the orphaned PostgreSQL; a clean stop then leaves none', async () => {
  const dir = await makeClusterDir('fs-tenantd-orphan-');
  const stateDir = path.join(dir, 'state');
  const env = {
    FS_TENANTD_STATE_DIR: stateDir,
    FS_TENANTD_EMBEDDED_PG_PORT: String(await freePort()),
    FS_TENANTD_ESL_NODES: 'none',
  };
  try {
    const first = await startDaemon(env);
    first.child.kill('SIGKILL');
    await first.exited;
    const orphan = await postmasterPid(stateDir);
    assert.ok(orphan, 'the killed daemon left its PostgreSQL running');

    const second = await startDaemon(env);
    assert.ok(!existsSync(`/proc/${orphan}`), 'the orphan was stopped');
    assert.ok(second.lines.some((l) => /left running by a daemon that did not shut down/.test(JSON.stringify(l))));
    const own = await postmasterPid(stateDir);
    assert.ok(own && own !== orphan, 'a PostgreSQL of its own');
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, { code: 0, signal: null }, second.stderr());
    assert.is(await postmasterPid(stateDir), undefined, 'no PostgreSQL left after a clean shutdown');
  } finally {
    const left = await postmasterPid(stateDir);
    if (left) process.kill(left, 'SIGKILL');
    await removeClusterDir(stateDir);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test.run();
