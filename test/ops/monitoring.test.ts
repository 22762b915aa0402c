// The shipped Grafana dashboard and Prometheus alerting rules: syntax (promtool),
// alert behaviour (promtool unit tests), and metric names that really exist.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRegistry } from '../../daemon/metrics.js';
import { projectRoot } from '../../daemon/paths.js';
import { which } from '../helpers/processes.js';

const test = suite('monitoring: dashboard and alert rules');
const dir = path.join(projectRoot, 'daemon', 'monitoring');
const rulesFile = path.join(dir, 'alerts.rules.yml');
const promtool = which('promtool');
if (!promtool)
  console.log('\n  note: promtool not installed (Debian: apt-get install prometheus): promtool checks are skipped\n');
const withPromtool = (name: string, fn: () => void | Promise<void>) =>
  promtool ? test(name, fn) : test.skip(`${name} (SKIPPED: promtool not installed; apt-get install prometheus)`, fn);

interface Target {
  expr: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: Target[];
}
const dashboard = JSON.parse(readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string }> };
};
const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);

/** Metric names the contract between engineers promises (see the brief); typos show up as names outside it. */
const CONTRACT = new Set(
  `fs_tenantd_xmlcurl_requests_total fs_tenantd_xmlcurl_request_duration_seconds fs_tenantd_tenant_cache_entries
  fs_tenantd_tenant_cache_hits_total fs_tenantd_tenant_cache_misses_total fs_tenantd_tenant_cache_evictions_total fs_tenantd_tenant_cache_stale_answers_total
  fs_tenantd_db_query_duration_seconds fs_tenantd_db_query_errors_total fs_tenantd_db_pool_waiting_clients fs_tenantd_db_pool_total_clients fs_tenantd_db_pool_idle_clients
  fs_tenantd_change_feed_connected fs_tenantd_esl_connected fs_tenantd_esl_reconnects_total fs_tenantd_esl_events_total fs_tenantd_esl_command_duration_seconds
  fs_tenantd_esl_malformed_frames_total fs_tenantd_active_calls fs_tenantd_ceiling_rejections_total fs_tenantd_cdr_queue_depth fs_tenantd_cdr_spool_bytes
  fs_tenantd_cdr_written_total fs_tenantd_cdr_spooled_total fs_tenantd_callcenter_members_waiting fs_tenantd_callcenter_agents_available
  fs_tenantd_callcenter_abandoned_total fs_tenantd_callcenter_sync_errors_total fs_tenantd_api_auth_failures_total fs_tenantd_api_requests_total`.split(
    /\s+/,
  ),
);

function referencedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\b((?:fs_tenantd|nodejs|process)_[a-z0-9_]+)\b/g))
    names.add(m[1]!.replace(/_(bucket|count|sum)$/, ''));
  return names;
}

function run(args: string[], cwd = dir) {
  return spawnSync(promtool!, args, { cwd, encoding: 'utf8' });
}

withPromtool('promtool check rules accepts alerts.rules.yml', () => {
  const r = run(['check', 'rules', rulesFile]);
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

withPromtool('promtool test rules: each alert fires on its condition and stays quiet otherwise', () => {
  const r = run(['test', 'rules', 'alerts.test.yml']);
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test('the rules cover the alerts the issue asks for', () => {
  const rules = readFileSync(rulesFile, 'utf8');
  for (const alert of [
    'FsTenantdEslDown',
    'FsTenantdXmlCurlErrors',
    'FsTenantdXmlCurlSlow',
    'FsTenantdCdrSpoolGrowing',
    'FsTenantdTenantAtCeiling',
  ]) {
    assert.match(rules, new RegExp(`- alert: ${alert}\\n`), alert);
    assert.match(
      readFileSync(path.join(dir, 'alerts.test.yml'), 'utf8'),
      new RegExp(`alertname: ${alert}\\n`),
      `${alert} is unit-tested`,
    );
  }
});

withPromtool('every dashboard query is valid PromQL', async () => {
  // promtool has no query linter; recording rules with the dashboard's expressions get the same parser.
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-dash-'));
  try {
    const rules = exprs.map(
      (e, i) =>
        `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(e.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'))}`,
    );
    await fs.writeFile(path.join(tmp, 'dash.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
    const r = run(['check', 'rules', path.join(tmp, 'dash.yml')], tmp);
    assert.is(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
});

test('dashboard layout: unique ids, panels inside the 24-column grid, no overlaps, one data-source variable', () => {
  assert.is(dashboard.uid, 'fs-tenantd');
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource'));
  const ids = dashboard.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length, 'unique panel ids');
  const cells = new Set<string>();
  for (const p of dashboard.panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title} fits the grid`);
    for (let i = x; i < x + w; i++)
      for (let j = y; j < y + h; j++) {
        assert.not.ok(cells.has(`${i},${j}`), `${p.title} overlaps another panel at ${i},${j}`);
        cells.add(`${i},${j}`);
      }
    if (p.type !== 'row') {
      assert.is(p.datasource?.uid, '${datasource}', `${p.title} uses the data-source variable`);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has a query`);
    }
  }
});

test('dashboard and alerts use only promised fs_tenantd_ names and real prom-client defaults', async () => {
  const defaults = referencedNames(await createRegistry().metrics());
  const used = new Set([...referencedNames(exprs.join('\n')), ...referencedNames(readFileSync(rulesFile, 'utf8'))]);
  const unknown = [...used].filter((n) => !CONTRACT.has(n) && !defaults.has(n));
  assert.equal(unknown, [], 'names neither in the contract nor exported by prom-client');
  for (const n of [
    'fs_tenantd_esl_connected',
    'fs_tenantd_xmlcurl_request_duration_seconds',
    'fs_tenantd_cdr_spool_bytes',
    'fs_tenantd_ceiling_rejections_total',
  ]) {
    assert.ok(used.has(n), `${n} is used`);
  }
});

function daemonSources(d: string): string {
  return readdirSync(d, { withFileTypes: true })
    .map((e) => {
      const p = path.join(d, e.name);
      return e.isDirectory() ? daemonSources(p) : e.name.endsWith('.ts') ? readFileSync(p, 'utf8') : '';
    })
    .join('\n');
}

test('every fs_tenantd_ series the dashboard and alerts read is registered by some daemon module', () => {
  const src = daemonSources(path.join(projectRoot, 'daemon'));
  const used = new Set([...referencedNames(exprs.join('\n')), ...referencedNames(readFileSync(rulesFile, 'utf8'))]);
  const missing = [...used].filter((n) => n.startsWith('fs_tenantd_') && !src.includes(`'${n}'`));
  assert.equal(missing, [], 'read by monitoring but registered nowhere in daemon/');
});

test.run();
