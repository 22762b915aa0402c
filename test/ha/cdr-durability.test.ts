// Issue 16: 1,000 calls end while one of two daemons is killed (kill -9) and PostgreSQL is down for 30 s; afterwards
// there is exactly one call record per call, none missing and none doubled. FreeSWITCH's side is mod_json_cdr's
// delivery as json_cdr.conf.xml configures it (mod_json_cdr.c process_cdr): each record posted to the first url,
// then the second, for 1 + retries rounds, and written to err-log-dir as <uuid>.cdr.json when no attempt got a 2xx;
// the captured record re-addressed per call is the body. Then `cdr-replay` posts the spooled files and deletes each
// after its 200, as the timer on the FreeSWITCH host would.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { projectRoot } from '../../daemon/paths.js';
import { cdrFor, postCdr } from '../json-cdr/harness.js';
import { dedicatedCluster, tenantIdOf } from '../helpers/postgres.js';
import { startDaemon, type DaemonProcess } from '../helpers/processes.js';

const test = suite('1,000 call records through a daemon kill and a 30 s PostgreSQL outage');

const CALLS = 1000;
const RATE_PER_S = 25;
const RETRIES = 3;
const RETRY_DELAY_MS = 300;

test('every call has exactly one record afterwards', async () => {
  const pg = await dedicatedCluster();
  const dirs: string[] = [];
  const daemons: DaemonProcess[] = [];
  try {
    const pool = pg.database.appPool(2);
    await seedDemo(pool);
    const globex = await tenantIdOf(pool, 'globex');
    await pool.end();
    for (const name of ['a', 'b']) {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fs-tenantd-cdr-${name}-`));
      dirs.push(dir);
      daemons.push(
        await startDaemon({
          DATABASE_URL: pg.database.appUrl,
          FS_TENANTD_STATE_DIR: dir,
          FS_TENANTD_ESL_NODES: 'none',
        }),
      );
    }
    const errDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-cdr-err-'));
    dirs.push(errDir);
    const urls = daemons.map((d) => `http://127.0.0.1:${d.httpPort}/freeswitch/cdr`);

    /** One record as mod_json_cdr delivers it: both urls per round, then the err-log-dir. */
    const deliver = async (uuid: string, body: string): Promise<'posted' | 'spooled'> => {
      for (let round = 0; round <= RETRIES; round++) {
        for (const url of urls) {
          const ok = await postCdr(url, body, { uuid })
            .then((r) => r.status >= 200 && r.status < 300)
            .catch(() => false);
          if (ok) return 'posted';
        }
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      }
      await fs.writeFile(path.join(errDir, `${uuid}.cdr.json`), body);
      return 'spooled';
    };

    const uuids: string[] = [];
    const outcomes = { posted: 0, spooled: 0 };
    const started = Date.now();
    let killedAt = -1;
    let outage: Promise<void> | undefined;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < CALLS; i++) {
      // Calls end at a steady rate, whatever happens to the daemons and the database.
      const due = started + (i * 1000) / RATE_PER_S;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      if (i === 100) {
        daemons[0]!.child.kill('SIGKILL');
        killedAt = i;
      }
      if (i === 150) {
        // 30 s without PostgreSQL, starting now; calls keep ending meanwhile.
        outage = (async () => {
          await pg.stop();
          await new Promise((r) => setTimeout(r, 30_000));
          await pg.restart();
        })();
      }
      const { uuid, body } = cdrFor(globex);
      uuids.push(uuid);
      inFlight.push(
        deliver(uuid, body).then((o) => {
          outcomes[o]++;
        }),
      );
    }
    await Promise.all(inFlight);
    await outage;
    assert.is(killedAt, 100);
    assert.ok(outcomes.spooled > 0, 'the outage spooled nothing: the test did not test it');
    assert.ok(outcomes.posted > 0);

    // The FreeSWITCH host's timer: cdr-replay posts the spooled records to the surviving daemon.
    const replay = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          path.join(projectRoot, 'dist/daemon/cli/cdr-replay.js'),
          '--dir',
          errDir,
          '--url',
          urls[1]!,
          '--min-age-s',
          '0',
        ],
        { env: { PATH: process.env.PATH ?? '' } },
      );
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.on('exit', (code) => resolve({ code, out }));
    });
    const b = daemons[1]!;
    assert.is(
      b.child.exitCode ?? b.child.signalCode,
      null,
      `daemon B died: ${b.stderr().slice(-2000)} ${JSON.stringify(b.lines.slice(-5))}`,
    );
    assert.is(replay.code, 0, replay.out.slice(-2000));
    assert.equal(await fs.readdir(errDir), [], 'cdr-replay left files behind');

    // Counted in globex's own context: row-level security is forced, so that is the only way to see its records.
    const reader = pg.database.appPool(1);
    try {
      const counts = await withTenant(
        reader,
        globex,
        async (c) =>
          (
            await c.query<{ n: number; distinct: number }>(
              'SELECT count(*)::int AS n, count(DISTINCT call_uuid)::int AS distinct FROM call_records WHERE call_uuid = ANY($1)',
              [uuids],
            )
          ).rows[0],
      );
      assert.equal(counts, { n: CALLS, distinct: CALLS }, `posted ${outcomes.posted}, spooled ${outcomes.spooled}`);
    } finally {
      await reader.end();
    }
    console.log(
      `    ${CALLS} calls in ${Math.round((Date.now() - started) / 1000)} s: ${outcomes.posted} delivered at once ` +
        `(daemon A killed at call ${killedAt}), ${outcomes.spooled} spooled during the 30 s outage and replayed`,
    );
  } finally {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
      await d.exited;
    }
    for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
    await pg.destroy();
  }
});

test.run();
