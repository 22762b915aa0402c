// cdr-replay against a scripted HTTP server: what it posts (as mod_json_cdr posts), and that a file goes only
// after a 200 and stays after anything else.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { projectRoot } from '../../daemon/paths.js';
import { freePort } from '../helpers/processes.js';
import { BASIC, cdrFor } from './harness.js';

const test = suite('cdr-replay');

interface Seen {
  url: string;
  type: string | undefined;
  auth: string | undefined;
  body: string;
}

/** Answers each POST with answer(uuid, path); records what it got. */
async function server(answer: (uuid: string, p: string) => number) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ url: req.url!, type: req.headers['content-type'], auth: req.headers.authorization, body });
      const u = new URL(req.url!, 'http://x');
      const status = answer(u.searchParams.get('uuid') ?? '', u.pathname);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'written\n' : 'not today\n');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  return { base, seen, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

function replay(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist/daemon/cli/cdr-replay.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
test.before.each(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-replay-'));
});
test.after.each(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A record file as backup_cdr writes it. */
async function spoolFile(name?: string, sub = '') {
  const c = cdrFor(randomUUID());
  await fs.mkdir(path.join(dir, sub), { recursive: true });
  const file = path.join(dir, sub, name ?? `${c.uuid}.cdr.json`);
  await fs.writeFile(file, `${c.body}\n`);
  return { ...c, file };
}
const exists = (f: string) =>
  fs.access(f).then(
    () => true,
    () => false,
  );

test('posts each file as mod_json_cdr does; deletes it after a 200, keeps it after a 500, exits 1 saying so', async () => {
  const ok = await spoolFile();
  const refused = await spoolFile();
  const rotated = await spoolFile(undefined, '2026-12-02-03-00-00'); // `rotate` files records under dated directories
  const prefixed = await spoolFile(`a_${randomUUID()}.cdr.json`); // prefix-a-leg
  const srv = await server((uuid) => (uuid === refused.uuid ? 500 : 200));
  try {
    const r = await replay(['--dir', dir, '--url', `${srv.base}/freeswitch/cdr`, '--min-age-s', '0'], {
      FS_TENANTD_XMLCURL_PASSWORD: 'demo-xmlcurl',
    });
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /3 delivered, 1 kept/);
    assert.match(r.stderr, new RegExp(`kept .*${refused.uuid}\\.cdr\\.json: .*HTTP 500 not today`));
    assert.equal(
      [await exists(ok.file), await exists(refused.file), await exists(rotated.file), await exists(prefixed.file)],
      [false, true, false, false],
    );
    const first = srv.seen.find((s) => s.url === `/freeswitch/cdr?uuid=${ok.uuid}`);
    assert.ok(first, 'POST <url>?uuid=<uuid>');
    assert.equal([first.type, first.auth, first.body], ['application/json', BASIC, ok.body]);
  } finally {
    await srv.close();
  }
});

test('the second url is tried when the first fails; nothing reachable keeps every file', async () => {
  const f = await spoolFile();
  const srv = await server((_uuid, p) => (p === '/first' ? 503 : 200));
  const dead = `http://127.0.0.1:${await freePort()}/nobody`;
  try {
    const r = await replay(['--dir', dir, '--min-age-s', '0'], {
      FS_TENANTD_CDR_URL: `${srv.base}/first`,
      FS_TENANTD_CDR_URL_2: `${srv.base}/second`,
    });
    assert.is(r.code, 0, r.stderr);
    assert.equal(
      srv.seen.map((s) => new URL(s.url, 'http://x').pathname),
      ['/first', '/second'],
    );
    assert.not.ok(await exists(f.file));
    const g = await spoolFile();
    const down = await replay(['--dir', dir, '--url', dead, '--min-age-s', '0']);
    assert.is(down.code, 1);
    assert.match(down.stderr, /ECONNREFUSED/);
    assert.ok(await exists(g.file));
  } finally {
    await srv.close();
  }
});

test('files younger than --min-age-s wait; unreadable ones are kept and reported, never posted', async () => {
  const young = await spoolFile();
  const garbage = path.join(dir, `${randomUUID()}.cdr.json`);
  await fs.writeFile(garbage, 'eyJjb3JlLXV1aWQiOiJ4In0=\n'); // encode=base64
  const minuteAgo = new Date(Date.now() - 60_000);
  await fs.utimes(garbage, minuteAgo, minuteAgo);
  const srv = await server(() => 200);
  try {
    const r = await replay(['--dir', dir, '--url', srv.base]);
    assert.is(r.code, 1);
    assert.match(r.stdout, /0 delivered, 1 kept, 1 left for the next run/);
    assert.match(r.stderr, /base64 is not supported/);
    assert.is(srv.seen.length, 0);
    assert.ok(await exists(young.file));
    assert.ok(await exists(garbage));
  } finally {
    await srv.close();
  }
});

test('a file from a module with `encode` on (URL-encoded JSON) is posted as the form it sent', async () => {
  const c = cdrFor(randomUUID());
  await fs.writeFile(path.join(dir, `${c.uuid}.cdr.json`), `${encodeURIComponent(c.body)}\n`);
  const srv = await server(() => 200);
  try {
    const r = await replay(['--dir', dir, '--url', srv.base, '--min-age-s', '0']);
    assert.is(r.code, 0, r.stderr);
    assert.is(srv.seen[0]?.type, 'application/x-www-form-urlencoded');
    assert.is(new URLSearchParams(srv.seen[0]!.body).get('cdr'), c.body);
  } finally {
    await srv.close();
  }
});

test('bad usage exits 2 and says why', async () => {
  const r = await replay(['--url', 'http://127.0.0.1:1/x']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--dir is required/);
  assert.is((await replay(['--dir', dir, '--bogus'])).code, 2);
  assert.is((await replay(['--dir', dir, '--url', 'ftp://x/y'])).code, 2);
});

test.run();
