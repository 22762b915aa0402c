// No Docker engine here: check what can be checked without one. The instructions
// (stages, production-only install, non-root user, exec-form CMD, HEALTHCHECK),
// that every COPY source exists and is not excluded, and that the HEALTHCHECK
// command itself tells a live daemon from a dead one.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { createHttpServer } from '../../daemon/http/server.js';
import { projectRoot } from '../../daemon/paths.js';
import { freePort } from '../helpers/processes.js';

const test = suite('Dockerfile');

interface Instruction {
  op: string;
  args: string;
}
/** Dockerfile instructions with line continuations joined and comments dropped. */
function parse(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf(' ');
      return { op: l.slice(0, i).toUpperCase(), args: l.slice(i + 1).trim() };
    });
}

const instructions = parse(readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8'));
const stages: Instruction[][] = [];
for (const ins of instructions) {
  if (ins.op === 'FROM') stages.push([]);
  stages[stages.length - 1]!.push(ins);
}
const runtime = stages[stages.length - 1]!;
const ignored = readFileSync(path.join(projectRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);

test('multi-stage: a build stage compiles, the runtime stage installs production dependencies only', () => {
  assert.ok(stages.length >= 2, 'at least two stages');
  assert.match(stages[0]![0]!.args, /^node:20\S* AS build$/);
  assert.ok(
    stages[0]!.some((i) => i.op === 'RUN' && /npx tsc -p \./.test(i.args)),
    'build stage runs tsc',
  );
  const runs = runtime
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args)
    .join('\n');
  assert.match(runs, /npm ci --omit=dev/);
  assert.not.match(
    runs,
    /npm (ci|install)(?![^\n]*--omit=dev)/,
    'no install with dev dependencies in the runtime stage',
  );
  assert.ok(
    runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build ') && i.args.includes('/app/dist/daemon')),
    'runtime takes the compiled daemon from the build stage',
  );
});

test('runtime: non-root user, configuration by environment, exec-form CMD, state volume', () => {
  const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
  assert.ok(users.length > 0, 'USER is set');
  assert.not.ok(['root', '0', '0:0'].includes(users[users.length - 1]!), 'the final user is not root');
  const cmdIndex = runtime.findIndex((i) => i.op === 'CMD');
  assert.ok(runtime.findIndex((i) => i.op === 'USER') < cmdIndex, 'USER comes before CMD');
  assert.equal(
    JSON.parse(runtime[cmdIndex]!.args),
    ['node', 'dist/daemon/main.js'],
    'exec form, so SIGTERM reaches node',
  );
  const env = runtime
    .filter((i) => i.op === 'ENV')
    .map((i) => i.args)
    .join(' ');
  assert.match(env, /FS_TENANTD_HTTP_HOST=0\.0\.0\.0/, 'listens beyond the container loopback');
  assert.match(env, /FS_TENANTD_STATE_DIR=\/var\/lib\/fs-tenantd/);
  assert.ok(runtime.some((i) => i.op === 'VOLUME' && i.args.includes('/var/lib/fs-tenantd')));
  assert.ok(runtime.some((i) => i.op === 'STOPSIGNAL' && i.args === 'SIGTERM'));
});

test('every COPY source exists in the repository and is not excluded by .dockerignore', () => {
  const copies = instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='));
  assert.ok(copies.length >= 4);
  for (const c of copies) {
    const parts = c.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      assert.ok(existsSync(path.join(projectRoot, src)), `${src} exists`);
      assert.not.ok(
        ignored.some((g) => src === g || src.startsWith(`${g}/`)),
        `${src} is not in .dockerignore`,
      );
    }
  }
  for (const g of ['node_modules', 'dist', 'var', '.git'])
    assert.ok(ignored.includes(g), `.dockerignore excludes ${g}`);
});

function healthcheckArgv(): string[] {
  const hc = instructions.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc, 'HEALTHCHECK is present');
  const cmd = /CMD (\[.*\])$/.exec(hc!.args);
  assert.ok(cmd, 'HEALTHCHECK uses exec form');
  const argv = JSON.parse(cmd![1]!) as string[];
  assert.match(argv.join(' '), /\/healthz/);
  return argv;
}

test('the HEALTHCHECK command passes against a live /healthz and fails when nothing answers', async () => {
  const [program, ...args] = healthcheckArgv();
  assert.is(program, 'node');
  const app = createHttpServer({ logger: pino({ level: 'silent' }), bodyLimitBytes: 65536 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as net.AddressInfo).port;
  // The check runs in a separate process: run it asynchronously so this process keeps serving.
  const check = (p: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, args, {
        env: { PATH: process.env.PATH ?? '', FS_TENANTD_HTTP_PORT: String(p) },
        stdio: 'ignore',
      });
      child.on('exit', (code) => resolve(code));
    });
  try {
    assert.is(await check(port), 0, 'healthy');
  } finally {
    await app.close();
  }
  assert.is(await check(await freePort()), 1, 'nothing listening');
});

test.run();
