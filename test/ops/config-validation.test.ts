// Every setting is validated at start-up: a bad value stops the daemon with a
// message naming the variable and the expected form. The variables are
// discovered from the source, so knobs added later are covered too.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig } from '../../daemon/config.js';
import { projectRoot } from '../../daemon/paths.js';

const test = suite('configuration validation');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
  });
}

interface Knob {
  name: string;
  bad: string;
  why: string;
}

/** One bad value per variable read through EnvReader, chosen from how it is read. */
function discoverKnobs(): Knob[] {
  const src = sources(path.join(projectRoot, 'daemon')).join('\n');
  const knobs = new Map<string, Knob>();
  const add = (name: string, bad: string, why: string) => {
    if (!knobs.has(`${name}=${bad}`)) knobs.set(`${name}=${bad}`, { name, bad, why });
  };
  const num = (s: string) =>
    Number(
      s
        .replace(/_/g, '')
        .replace(/\s/g, '')
        .split('*')
        .reduce((a, b) => a * Number(b), 1),
    );
  for (const m of src.matchAll(/r\.int\(\s*'([A-Z0-9_]+)',\s*[^,]+,\s*([-\d_ *]+),\s*([\d_ *]+?)\s*,?\s*\)/g)) {
    add(m[1]!, 'ten', 'not a number');
    add(m[1]!, '1.5', 'not whole');
    add(m[1]!, String(num(m[3]!) + 1), 'above the maximum');
    if (num(m[2]!) > 0) add(m[1]!, String(num(m[2]!) - 1), 'below the minimum');
  }
  for (const m of src.matchAll(/r\.oneOf(?:<[^>]+>)?\(\s*'([A-Z0-9_]+)'/g))
    add(m[1]!, 'bogus', 'not one of the allowed values');
  for (const m of src.matchAll(/r\.bool\(\s*'([A-Z0-9_]+)'/g)) add(m[1]!, 'maybe', 'not a boolean');
  for (const m of src.matchAll(/r\.postgresUrl\(\s*'([A-Z0-9_]+)'/g))
    add(m[1]!, 'mysql://u:p@h/db', 'not a PostgreSQL URL');
  for (const m of src.matchAll(/r\.cidrList\(\s*'([A-Z0-9_]+)'/g)) add(m[1]!, '10.0.0.0/33', 'prefix too long');
  for (const m of src.matchAll(/r\.string\(\s*'([A-Z0-9_]+)',\s*[^,]+,\s*\//g))
    add(m[1]!, 'has spaces : and colons', 'fails its pattern');
  for (const m of src.matchAll(/sipListen\(\s*r,\s*'([A-Z0-9_]+)'/g)) add(m[1]!, 'localhost', 'no port');
  return [...knobs.values()];
}

function problemsFor(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as ConfigError).problems;
  }
}

test('defaults load without any variable set', () => {
  const config = loadConfig({});
  assert.is(config.http.port, 8080);
  assert.is(config.database.mode, 'embedded');
  assert.is(config.shutdownTimeoutMs, 8000);
  assert.equal(
    config.esl.nodes.map((n) => [n.name, n.host, n.port]),
    [['fs1', '127.0.0.1', 8021]],
  );
});

test('every discovered variable rejects a bad value, naming itself', () => {
  const knobs = discoverKnobs();
  const names = new Set(knobs.map((k) => k.name));
  // Guards the discovery itself: if these vanish, the regexes no longer match the source.
  for (const expected of [
    'FS_TENANTD_HTTP_PORT',
    'FS_TENANTD_LOG_LEVEL',
    'FS_TENANTD_SHUTDOWN_TIMEOUT_MS',
    'FS_TENANTD_METRICS_MAX_TENANTS',
    'FS_TENANTD_XMLCURL_PASSWORD',
    'FS_TENANTD_XMLCURL_ALLOW_FROM',
    'DATABASE_URL',
    'FS_TENANTD_DB_POOL_MAX',
  ]) {
    assert.ok(names.has(expected), `discovered ${expected}`);
  }
  assert.ok(names.size >= 15, `discovered ${names.size} variables`);
  const silent = knobs.filter((k) => !problemsFor({ [k.name]: k.bad }).some((p) => p.includes(k.name)));
  assert.equal(
    silent.map((k) => `${k.name}=${k.bad} (${k.why})`),
    [],
    'accepted silently',
  );
});

test('hand-picked values: ESL nodes, JWT, database URLs, endpoint paths', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ FS_TENANTD_ESL_NODES: '127.0.0.1:8021' }, /FS_TENANTD_ESL_NODES: "127\.0\.0\.1:8021": expected name=host:port/],
    [{ FS_TENANTD_ESL_NODES: 'fs1=host:99999' }, /FS_TENANTD_ESL_NODES/],
    [{ FS_TENANTD_ESL_NODES: 'fs1=a:8021,fs1=b:8021' }, /FS_TENANTD_ESL_NODES: node name fs1 is used twice/],
    [{ FS_TENANTD_JWT_ALGORITHMS: 'HS256' }, /FS_TENANTD_JWT_ALGORITHMS: "HS256" is not allowed/],
    [{ FS_TENANTD_JWT_JWKS_URL: 'ftp://keys' }, /FS_TENANTD_JWT_JWKS_URL: expected an https:\/\/ URL/],
    [{ FS_TENANTD_JWT_JWKS_FILE: '/a', FS_TENANTD_JWT_PUBLIC_KEY_FILE: '/b' }, /set only one JWT key source/],
    [{ DATABASE_MIGRATE_URL: 'postgresql://o:p@h/db' }, /DATABASE_MIGRATE_URL is set without DATABASE_URL/],
    [{ DATABASE_URL: 'not a url' }, /^DATABASE_URL: expected a postgresql:\/\//],
    [
      { FS_TENANTD_CDR_PATH: '/fs/x', FS_TENANTD_XMLCURL_PATH: '/fs/x' },
      /FS_TENANTD_CDR_PATH="\/fs\/x": must differ from FS_TENANTD_XMLCURL_PATH/,
    ],
  ];
  for (const [env, pattern] of cases) {
    const problems = problemsFor(env);
    assert.ok(
      problems.some((p) => pattern.test(p)),
      `${JSON.stringify(env)} -> ${JSON.stringify(problems)}`,
    );
  }
});

test('a message never echoes a database password', () => {
  const problems = problemsFor({ DATABASE_URL: 'mysql://app:hunter2-secret@db/x' });
  assert.ok(problems.length === 1);
  assert.not.match(problems[0]!, /hunter2/);
});

test("set FS_TENANTD_* variables that nothing reads are reported (typos), known ones and other programs' are not", () => {
  const config = loadConfig({
    FS_TENANTD_HTTP_PORT: '8081',
    FS_TENANTD_ESL_NODE: 'fs1=127.0.0.1:8021', // typo of FS_TENANTD_ESL_NODES
    FS_TENANTD_ESL_NODES: 'fs1=127.0.0.1:8021,fs2=127.0.0.2:8021',
    FS_TENANTD_ESL_PASSWORD: 'shared',
    FS_TENANTD_ESL_PASSWORD_FS1: 'one',
    FS_TENANTD_ESL_PASSWORD_FS3: 'no such node',
    FS_TENANTD_JWT_PRIVATE_KEY_FILE: '/x', // the token CLI's
    FS_TENANTD_BENCH_OUT: '/tmp/x.json',
    FS_TENANTD_TEST_PG: '1',
  });
  assert.equal(config.unknownVariables, ['FS_TENANTD_ESL_NODE', 'FS_TENANTD_ESL_PASSWORD_FS3']);
  assert.is(config.esl.nodes.find((n) => n.name === 'fs2')?.password, 'shared');
  assert.equal(loadConfig({}).unknownVariables, []);
});

test('all problems are reported at once', () => {
  const problems = problemsFor({
    FS_TENANTD_HTTP_PORT: '70000',
    FS_TENANTD_LOG_LEVEL: 'loud',
    FS_TENANTD_SHUTDOWN_TIMEOUT_MS: 'soon',
  });
  assert.is(problems.length, 3);
});

function runDaemon(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'daemon', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, stdout }));
  });
}

test('the daemon refuses to start on bad values: exit 78 (EX_CONFIG), one line per variable, no stack trace', async () => {
  const { code, stderr, stdout } = await runDaemon({
    FS_TENANTD_HTTP_PORT: 'eighty',
    FS_TENANTD_XMLCURL_PASSWORD: 'short',
    FS_TENANTD_ESL_NODES: 'fs1=127.0.0.1',
  });
  assert.is(code, 78);
  assert.is(stdout, '');
  assert.match(stderr, /^fs-tenantd: invalid configuration:\n/);
  assert.match(stderr, /\n {2}- FS_TENANTD_HTTP_PORT="eighty": expected a whole number from 0 to 65535\n/);
  assert.match(stderr, /\n {2}- FS_TENANTD_XMLCURL_PASSWORD="short": expected at least 8 characters without spaces\n/);
  assert.match(stderr, /\n {2}- FS_TENANTD_ESL_NODES: "fs1=127\.0\.0\.1": expected name=host:port/);
  assert.not.match(stderr, /\n\s+at /, 'no stack trace');
});

test('an unreachable external database stops start-up with exit 1 and names the cause', async () => {
  const { code, stderr } = await runDaemon({
    DATABASE_URL: 'postgresql://app:pw@127.0.0.1:1/fs_tenantd',
    FS_TENANTD_ESL_NODES: 'none',
    FS_TENANTD_LOG_LEVEL: 'silent',
  });
  assert.is(code, 1);
  assert.match(stderr, /^fs-tenantd: failed to start: .*ECONNREFUSED 127\.0\.0\.1:1/);
  assert.not.match(stderr, /pw@/, 'no password in the message');
});

test.run();
