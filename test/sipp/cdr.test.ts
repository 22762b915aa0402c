// Call records through FreeSWITCH's own mod_json_cdr: an answered call's record arrives from the switch (the ESL
// writer's copy of it changes nothing), and calls that end while the daemon is dead wait in FreeSWITCH's
// err-log-dir until cdr-replay posts them: one row per call, the files gone.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';
import { inviteAnswers, sippSuite, type Stack } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: call records from mod_json_cdr');
const ACME = 'acme.pbx.test';

const counter = (text: string, series: string): number => {
  const m = new RegExp(`\\n${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
};
const WRITTEN = 'fs_tenantd_cdr_posts_total{outcome="written"}';
const ESL_WRITTEN = 'fs_tenantd_cdr_written_total';

type CallRow = Record<string, unknown>;
async function acmeCalls(s: Stack, since: string): Promise<CallRow[]> {
  const list = await s.api(
    'GET',
    `/calls?from=${encodeURIComponent(since)}&limit=500`,
    await s.token('tenant_admin', 'acme'),
  );
  return list.body.items as CallRow[];
}

const records = async (dir: string) =>
  (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cdr.json'));

function replay(s: Stack): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(projectRoot, 'dist/daemon/cli/cdr-replay.js'),
        '--dir',
        s.cdrErrDir,
        '--url',
        s.cdrUrl,
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
}

t.it(
  "an answered call is recorded by mod_json_cdr with FreeSWITCH's duration and billsec; ESL adds no row",
  async (s) => {
    const since = new Date(Date.now() - 1000).toISOString();
    const before = await s.metrics();
    const phone = await s.phone('1001', ACME, 'acme-1001-demo');
    try {
      const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: 'acme-1000-demo', holdMs: 2200 }).done;
      assert.equal(
        inviteAnswers(r.messages).filter((c) => c !== 407),
        [200],
        r.output,
      );
    } finally {
      await phone.stop();
    }
    // mod_json_cdr posts from the reporting state, before FreeSWITCH sends CHANNEL_HANGUP_COMPLETE: by the time the
    // ESL writer has written its copy, the record is there and that insert changes nothing.
    await s.until(
      async () => counter(await s.metrics(), ESL_WRITTEN) > counter(before, ESL_WRITTEN),
      "the ESL writer's copy",
    );
    const after = await s.metrics();
    assert.is(counter(after, WRITTEN) - counter(before, WRITTEN), 1, "one record posted and written: the A-leg's");
    const calls = (await acmeCalls(s, since)).filter((c) => c.caller === '1000' && c.callee === '1001');
    assert.is(calls.length, 1, JSON.stringify(calls));
    const rec = calls[0]!;
    assert.is(rec.node, 'fs1', 'named like the ESL writer names it (switchname -> ESL node)');
    assert.is(rec.direction, 'internal');
    assert.is(rec.hangupCause, 'NORMAL_CLEARING');
    // 2.2 s of talk in whole epoch seconds (switch_channel_set_timestamps): 2 or 3.
    assert.ok((rec.billsec as number) >= 2 && (rec.billsec as number) <= 3, `billsec ${String(rec.billsec)}`);
    assert.ok((rec.durationS as number) >= (rec.billsec as number), `duration ${String(rec.durationS)}`);
    assert.equal(await records(s.cdrErrDir), [], 'nothing left in the err-log-dir');
  },
);

t.it(
  'calls ending while the daemon is dead (SIGKILL) land in the err-log-dir; cdr-replay posts them once and removes them',
  async (s) => {
    const since = new Date(Date.now() - 1000).toISOString();
    const phone = await s.phone('1001', ACME, 'acme-1001-demo');
    try {
      const live = s.call({
        from: '1000',
        to: '1001',
        domain: ACME,
        password: 'acme-1000-demo',
        holdMs: 60_000,
        calls: 2,
      });
      await s.until(
        async () => /fs_tenantd_active_calls\{tenant="acme",direction="internal"\} 2\n/.test(await s.metrics()),
        'acme to have 2 live calls',
      );
      await s.stopDaemon('SIGKILL');
      // Neither ESL nor the CDR endpoint is there while they end.
      await s.fs.api('hupall NORMAL_CLEARING');
      await live.done;
      // Every attempt fails (connection refused), so backup_cdr writes <uuid>.cdr.json: one per call, A-legs only.
      await s.until(async () => (await records(s.cdrErrDir)).length >= 2, 'two records in the err-log-dir');
      await s.quiet();
      const files = await records(s.cdrErrDir);
      assert.is(files.length, 2, files.join(', '));
      await s.startDaemon();
      const r = await replay(s);
      assert.is(r.code, 0, r.out);
      assert.match(r.out, /2 delivered, 0 kept/);
      assert.equal(await records(s.cdrErrDir), []);
      const calls = await acmeCalls(s, since);
      for (const f of files) {
        const uuid = f.replace('.cdr.json', '');
        const rows = calls.filter((c) => c.callUuid === uuid);
        assert.is(rows.length, 1, `${uuid}: ${JSON.stringify(rows)}`);
        assert.is(rows[0]!.hangupCause, 'NORMAL_CLEARING');
        assert.ok((rows[0]!.billsec as number) >= 0 && rows[0]!.answeredAt !== null);
      }
      assert.is(calls.filter((c) => c.caller === '1000' && c.callee === '1001').length, 2, 'no other record of them');
      // Run again (a timer fires on an empty directory): nothing to do, success.
      const again = await replay(s);
      assert.is(again.code, 0, again.out);
      assert.match(again.out, /0 delivered, 0 kept/);
    } finally {
      if (s.daemon.child.exitCode !== null || s.daemon.child.signalCode !== null) await s.startDaemon();
      await phone.stop();
    }
  },
);

t.run();
