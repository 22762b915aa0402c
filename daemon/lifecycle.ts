// Orderly shutdown on SIGTERM/SIGINT. Modules register their teardown right
// where main creates them; teardowns run in reverse order of registration
// (last started, first stopped), like a stack of defers: the HTTP server stops
// accepting and drains first, the database closes last.
import type { Logger } from 'pino';

export interface Lifecycle {
  /** Registers a teardown step. Steps run one at a time, newest first. */
  onShutdown(name: string, run: () => Promise<void> | void): void;
  /** Registers `module.stop()` as the teardown step `name`; returns the module, so main creates and owns it at once. */
  own<T extends { stop(): Promise<void> | void }>(name: string, module: T): T;
  /** Runs every step once, then calls exit: 0 if all completed in time, 1 otherwise. */
  shutdown(reason: string): Promise<number>;
  readonly stopping: boolean;
  /** Routes SIGTERM and SIGINT to shutdown(). */
  handleSignals(proc?: NodeJS.Process): void;
}

export interface LifecycleOptions {
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The whole shutdown's bound (FS_TENANTD_SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  exit?: (code: number) => void;
}

export function createLifecycle(opts: LifecycleOptions): Lifecycle {
  const steps: Array<{ name: string; run: () => Promise<void> | void }> = [];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;

  const runSteps = async (state: { current: string; failed: string[] }) => {
    for (const step of [...steps].reverse()) {
      state.current = step.name;
      const started = Date.now();
      try {
        await step.run();
        opts.log.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
      } catch (err) {
        // Keep going: a failed ESL close must not leave the database open.
        state.failed.push(step.name);
        opts.log.error({ step: step.name, err }, 'shutdown step failed');
      }
    }
  };

  const lifecycle: Lifecycle = {
    get stopping() {
      return running !== undefined;
    },
    onShutdown(name, run) {
      steps.push({ name, run });
    },
    own(name, module) {
      steps.push({ name, run: () => module.stop() });
      return module;
    },
    shutdown(reason) {
      if (running) {
        opts.log.warn({ reason }, 'shutdown already in progress');
        return running;
      }
      opts.log.info({ reason, timeoutMs: opts.timeoutMs }, 'shutting down');
      const state = { current: '', failed: [] as string[] };
      running = (async () => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
        });
        const outcome = await Promise.race([runSteps(state).then(() => 'done' as const), deadline]);
        clearTimeout(timer);
        let code = 0;
        if (outcome === 'timeout') {
          opts.log.error(
            { step: state.current, timeoutMs: opts.timeoutMs },
            `shutdown did not finish in time (stuck in step "${state.current}"); exiting anyway`,
          );
          code = 1;
        } else if (state.failed.length) {
          opts.log.error({ failed: state.failed }, 'stopped with errors');
          code = 1;
        } else {
          opts.log.info({}, 'stopped');
        }
        exit(code);
        return code;
      })();
      return running;
    },
    handleSignals(proc = process) {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) proc.on(signal, () => void lifecycle.shutdown(signal));
    },
  };
  return lifecycle;
}
