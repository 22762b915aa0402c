// FreeSWITCH's two xml_curl bindings (freeswitch-conf/autoload_configs/xml_curl.conf.xml): the first daemon dies or
// hangs while phones keep registering; the second binding answers and no registration fails. The first binding is
// a relay to the daemon (test/helpers/freeswitch.ts firstBinding), the second the daemon itself.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { callOutcomes, inviteAnswers, sippSuite, type Stack } from '../helpers/freeswitch.js';
import { startDaemon, type DaemonProcess } from '../helpers/processes.js';

const t = sippSuite('SIPp: xml_curl failover to the second binding');
const ACME = 'acme.pbx.test';
const GLOBEX = 'globex.pbx.test';

/** One REGISTER of 1000@acme that must fetch the directory (FreeSWITCH's user cache is flushed first). */
async function register(s: Stack): Promise<{ ok: boolean; ms: number; output: string }> {
  await s.fs.api(`xml_flush_cache id 1000 ${ACME}`);
  const started = performance.now();
  const r = await s.sipp('register.xml', ['-s', '1000', '-key', 'domain', ACME, '-au', '1000', '-ap', 'acme-1000-demo'])
    .done;
  return { ok: r.code === 0, ms: performance.now() - started, output: r.output };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t.it('the first daemon killed while phones register in a loop: zero failed registrations, then calls', async (s) => {
  try {
    const relayedBefore = s.firstBinding.connections;
    const up: number[] = [];
    const dead: number[] = [];
    for (let i = 0; i < 15; i++) {
      // kill -9 of the first daemon after the fifth REGISTER: its port refuses from then on.
      if (i === 5) {
        assert.ok(s.firstBinding.connections - relayedBefore >= 5, 'the first binding answered while up');
        await s.firstBinding.mode('dead');
      }
      const r = await register(s);
      assert.ok(r.ok, `registration ${i} failed: ${r.output}`);
      (i < 5 ? up : dead).push(r.ms);
    }
    console.log(
      `    REGISTER (SIPp run included) median ${median(up).toFixed(0)} ms with the first binding up, ` +
        `${median(dead).toFixed(0)} ms with it dead (connection refused)`,
    );

    // Call set-up (a dialplan fetch, with its admission) goes through the second binding too.
    const phone = await s.phone('1001', ACME, 'acme-1001-demo');
    try {
      const call = await s.call({ from: '1000', to: '1001', domain: ACME, password: 'acme-1000-demo' }).done;
      assert.equal(
        inviteAnswers(call.messages).filter((c) => c !== 407),
        [200],
        call.output,
      );
    } finally {
      await phone.stop();
    }
  } finally {
    await s.firstBinding.mode('up');
    await s.fs.api(`sofia profile internal flush_inbound_reg 1000@${ACME}`).catch(() => undefined);
  }
});

t.it('a hung first daemon costs each fetch the binding timeout, and still no registration fails', async (s) => {
  try {
    await s.firstBinding.mode('hung');
    const r = await register(s);
    assert.ok(r.ok, r.output);
    console.log(`    REGISTER took ${r.ms.toFixed(0)} ms with the first binding hung (timeout 2 s)`);
    assert.ok(r.ms >= 1900, `the fetch waited for the first binding's timeout (${r.ms} ms)`);
  } finally {
    await s.firstBinding.mode('up');
    await s.fs.api(`sofia profile internal flush_inbound_reg 1000@${ACME}`).catch(() => undefined);
  }
});

/** One series' value in a daemon's /metrics (exact labels as written there), 0 when absent. */
async function sample(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
const directoryFetches = async (port: number) =>
  (await sample(port, 'fs_tenantd_xmlcurl_requests_total{section="directory",outcome="miss"}')) +
  (await sample(port, 'fs_tenantd_xmlcurl_requests_total{section="directory",outcome="hit"}'));
const JOBS = ['callcenter', 'gateways', 'resync'];
const holds = async (port: number) =>
  (await Promise.all(JOBS.map((j) => sample(port, `fs_tenantd_node_lease_held{node="fs1",job="${j}"}`)))).every(
    (v) => v === 1,
  );

t.it('two daemon processes behind the two bindings: kill -9 of the first while phones register and call', async (s) => {
  // A second daemon on the stack daemon's own (embedded) database, with ESL to the same FreeSWITCH.
  const secrets = JSON.parse(
    await fs.readFile(path.join(s.daemonEnv.FS_TENANTD_STATE_DIR!, 'embedded-secrets.json'), 'utf8'),
  ) as { appPassword: string };
  const pgPort = s.daemonEnv.FS_TENANTD_EMBEDDED_PG_PORT;
  const url = `postgresql://fs_tenantd:${encodeURIComponent(secrets.appPassword)}@127.0.0.1:${pgPort}/fs_tenantd`;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-second-'));
  let b: DaemonProcess | undefined;
  let aKilled = false;
  try {
    b = await startDaemon({
      DATABASE_URL: url,
      FS_TENANTD_STATE_DIR: dir,
      FS_TENANTD_ESL_NODES: s.daemonEnv.FS_TENANTD_ESL_NODES!,
      FS_TENANTD_SIP_INTERNAL: s.daemonEnv.FS_TENANTD_SIP_INTERNAL!,
      FS_TENANTD_SIP_EXTERNAL: s.daemonEnv.FS_TENANTD_SIP_EXTERNAL!,
    });
    const bPort = b.httpPort;
    await s.until(async () => (await sample(bPort, 'fs_tenantd_esl_connected{node="fs1"}')) === 1, "B's ESL");
    s.secondBinding.retarget(bPort);
    // The stack daemon (A) has held fs1's leases all along; B holds none.
    await s.until(async () => holds(s.daemon.httpPort), 'A to hold the leases');
    assert.not.ok(await holds(bPort));
    const bFetchesBefore = await directoryFetches(bPort);
    const bPassesBefore = await sample(bPort, 'fs_tenantd_callcenter_reconciliations_total{mode="full",outcome="ok"}');

    let killedAt = 0;
    // Calls too: each round a call from globex 1000 to 1001 (a dialplan fetch with its shared admission, a user
    // look-up). Globex (ceiling 10), because this stack posts call records to A only: with A dead each hangup waits
    // out mod_json_cdr's retries (README Known limits) and holds its slot meanwhile.
    const callee = await s.phone('1001', GLOBEX, 'globex-1001-demo');
    try {
      for (let i = 0; i < 15; i++) {
        if (i === 5) {
          killedAt = performance.now();
          await s.stopDaemon('SIGKILL');
          aKilled = true;
        }
        const r = await register(s);
        assert.ok(r.ok, `registration ${i} failed: ${r.output}`);
        const call = await s.call({
          from: '1000',
          to: '1001',
          domain: GLOBEX,
          password: 'globex-1000-demo',
          holdMs: 200,
        }).done;
        const warnings = () => JSON.stringify(b!.lines.filter((l) => Number(l.level) >= 40).slice(-6));
        assert.equal(callOutcomes(call.messages), [200], `call ${i}: B's warnings: ${warnings()}`);
      }
      assert.is(await callee.invites(), 15);
    } finally {
      await callee.stop();
    }
    assert.ok((await directoryFetches(bPort)) - bFetchesBefore >= 10, 'B answered once A was dead');
    await s.until(async () => holds(bPort), "B to take fs1's leases", 20_000);
    const movedMs = performance.now() - killedAt;
    console.log(`    fs1's leases moved to B ${Math.round(movedMs)} ms after kill -9 of A (5 s leases)`);
    // And B did the work: a full call-center pass on the real node.
    await s.until(
      async () =>
        (await sample(bPort, 'fs_tenantd_callcenter_reconciliations_total{mode="full",outcome="ok"}')) > bPassesBefore,
      'B to reconcile mod_callcenter',
    );
  } finally {
    // B first, while the database (A's embedded PostgreSQL, orphaned by the kill) is up: it hands its leases back.
    if (b && b.child.exitCode === null && b.child.signalCode === null) {
      b.child.kill('SIGTERM');
      await b.exited;
    }
    s.secondBinding.retarget(s.daemon.httpPort);
    if (aKilled) await s.startDaemon();
    await s.until(async () => holds(s.daemon.httpPort), 'A to hold the leases again', 20_000);
    await fs.rm(dir, { recursive: true, force: true });
    await s.fs.api(`sofia profile internal flush_inbound_reg 1000@${ACME}`).catch(() => undefined);
  }
});

t.it(
  "the daemon reads the real node's Core-UUID and uptime (node restarts are told apart from reconnects)",
  async (s) => {
    const core = (await s.fs.api('global_getvar core_uuid')).trim();
    assert.match(core, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match((await s.fs.api('uptime s')).trim(), /^\d+$/);
    assert.not.ok(
      s.daemon.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('node did not tell its Core-UUID')),
      'the daemon got both answers on its ESL connect',
    );
  },
);

t.run();
