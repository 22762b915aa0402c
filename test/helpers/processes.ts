// Spawning the real daemon (and other programs) for end-to-end tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Absolute path of a program on PATH, or undefined. */
export function which(program: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

export interface DaemonProcess {
  child: ChildProcess;
  httpPort: number;
  /** Every JSON log line so far. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node dist/daemon/main.js` with the given environment (merged over a
 * minimal one) and resolves once it logs that it is listening. A guard timer
 * turns a daemon that never gets there into a failure with its output, not a hang.
 */
export async function startDaemon(env: Record<string, string>, guardMs = 60_000): Promise<DaemonProcess> {
  const httpPort = Number(env.FS_TENANTD_HTTP_PORT ?? (await freePort()));
  const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'daemon', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', FS_TENANTD_LOG_LEVEL: 'info', ...env, FS_TENANTD_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let stderr = '';
  let partial = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  child.stdout!.on('data', (c: Buffer) => {
    partial += c.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const raw of parts) {
      if (!raw.trim()) continue;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        line = { msg: raw, unparsed: true };
      }
      lines.push(line);
      for (const w of [...waiters])
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitForLog = (match: (l: Record<string, unknown>) => boolean, what: string) => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const guard = setTimeout(
        () =>
          reject(
            new Error(`daemon never logged ${what}; stderr: ${stderr}; log: ${lines.map((l) => l.msg).join(' | ')}`),
          ),
        guardMs,
      );
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(guard);
          resolve(l);
        },
      });
      void exited.then(({ code }) => {
        clearTimeout(guard);
        reject(new Error(`daemon exited (${code}) before logging ${what}; stderr: ${stderr}`));
      });
    });
  };
  const daemon: DaemonProcess = { child, httpPort, lines, stderr: () => stderr, waitForLog, exited };
  try {
    await waitForLog(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('fs-tenantd listening'),
      'that it is listening',
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return daemon;
}
