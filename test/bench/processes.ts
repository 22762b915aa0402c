// Process layout on a small machine: the server under test (daemon or baseline)
// runs in a child pinned to one core, the load generator in a child pinned to
// the other, so neither starves the other's event loop; PostgreSQL is left to
// the scheduler (it is needed by the server only in the cold-cache run). This
// orchestrating process only waits. Without `taskset` the children run unpinned.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const cpuCount = os.availableParallelism();

/** Which core each role gets; null = unpinned. */
export const layout = {
  pinned: hasTaskset && cpuCount >= 2,
  serverCpu: hasTaskset && cpuCount >= 2 ? '0' : null,
  generatorCpu: hasTaskset && cpuCount >= 2 ? String(cpuCount - 1) : null,
  cpus: cpuCount,
};

/**
 * FS_TENANTD_BENCH_PROFILE=<dir>: the daemon-side processes write V8 CPU profiles
 * (.cpuprofile, open in Chrome DevTools or speedscope) there, one per process.
 */
export function profileArgs(): string[] {
  const dir = process.env.FS_TENANTD_BENCH_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface Child {
  call<T>(cmd: string, args?: unknown): Promise<T>;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `script` (relative to dist/test/bench) as a node child on `cpu`, speaking the RPC below. */
export async function startChild(
  script: string,
  cpu: string | null,
  nodeArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<Child> {
  const file = path.join(here, script);
  const argv = [...nodeArgs, file];
  const proc: ChildProcess =
    cpu === null
      ? spawn(process.execPath, argv, {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env: { ...process.env, ...env },
        })
      : spawn('taskset', ['-c', cpu, process.execPath, ...argv], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          env: { ...process.env, ...env },
        });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`${script} exited (${code ?? signal}) with a call pending`));
      pending.clear();
      resolve();
    }),
  );
  proc.on('message', (m: Reply | { ready: true }) => {
    if ('ready' in m) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${script}: ${m.error}`));
  });
  await new Promise<void>((resolve, reject) => {
    proc.once('message', (m: { ready?: boolean }) =>
      m.ready ? resolve() : reject(new Error(`${script}: unexpected first message`)),
    );
    proc.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  return {
    pid: proc.pid!,
    call: <T>(cmd: string, args?: unknown) =>
      new Promise<T>((resolve, reject) => {
        if (exited) return reject(new Error(`${script} is not running`));
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ id, cmd, args });
      }),
    stop: async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}

export type Handlers = Record<string, (args: never) => unknown>;

/** Child side: answers calls with `handlers`, tells the parent it is ready, exits on SIGTERM via `onStop`. */
export function serveCalls(own: Handlers, onStop: () => Promise<void> = async () => undefined): void {
  const handlers: Handlers = { memory, cpuSeconds, ...own };
  process.on('message', (m: { id: number; cmd: string; args: unknown }) => {
    const handler = handlers[m.cmd];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${m.cmd}`);
        const result = await handler(m.args as never);
        process.send!({ id: m.id, ok: true, result });
      } catch (err) {
        process.send!({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) });
      }
    })();
  });
  process.on('SIGTERM', () => {
    void onStop().finally(() => process.exit(0));
  });
  process.send!({ ready: true });
}

export interface Memory {
  rssBytes: number;
  /** Live JavaScript objects after the collections: what the process retains. */
  heapUsedBytes: number;
  /** What V8 holds for its heap, live or not: the heap grows to a run's peak and gives pages back only slowly. */
  heapTotalBytes: number;
}

/**
 * Resident set size and heap of this process, after full collections when --expose-gc is on. Collected three times,
 * idle in between, so V8 has the chance to give back pages emptied by the first (its memory reducer runs on idle).
 */
export async function memory(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; gc && i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal };
}

/** CPU time (user + system) this process has used so far, in seconds. */
/** CPU seconds (user, system) used by this process since `since`. */
export function cpuUsage(since?: { userS: number; systemS: number }): { userS: number; systemS: number } {
  const u = process.cpuUsage();
  return { userS: u.user / 1e6 - (since?.userS ?? 0), systemS: u.system / 1e6 - (since?.systemS ?? 0) };
}

export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
