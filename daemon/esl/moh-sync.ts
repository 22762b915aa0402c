// Starts, reloads and stops tenant music-on-hold streams on every FreeSWITCH
// node (README "Music on hold"). mod_local_stream starts the streams of
// local_stream.conf when it loads and never on first use: a source it does not
// hold falls back to `default` (local_stream_file_open). So, per node, from the
// same desired set the local_stream.conf answer renders (desiredMohStreams):
//   new stream       -> the folder is made, then `local_stream start <name>` (launch_streams fetches
//                       local_stream.conf and starts that one directory)
//   changed files    -> `local_stream reload <name>` (read_stream_thread starts it again from the answer at the end of
//                       the pass; it re-reads its folder every pass anyway, reload makes a change heard sooner)
//   deleted stream   -> `local_stream stop <name>` (the thread ends and leaves the table)
// Only names built by mohStreamName are ever stopped: the stock streams and anything an operator started by hand
// are left alone. The commands are idempotent (start of a running stream, stop of a stopping one answer +OK or
// -ERR without harm), so several daemons may push to one node without a lease.
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import client from 'prom-client';
import { type DesiredMohStream, desiredMohStreams } from '../../xml-handlers/configuration/local-stream.js';
import { parseMohStreamName } from '../../xml-handlers/media-names.js';
import type { PlatformTenant } from '../../xml-handlers/model.js';
import type { ChangeEvent, ChangeFeed } from '../db/change-feed.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import type { EslClient } from './client.js';

/** `local_stream show` lists one `<name>,<location>` line per running source (mod_local_stream.c local_stream_function). */
export function parseStreamList(showText: string): Map<string, string> {
  const streams = new Map<string, string>();
  for (const line of showText.split('\n')) {
    const comma = line.indexOf(',');
    if (comma > 0) streams.set(line.slice(0, comma).trim(), line.slice(comma + 1).trim());
  }
  return streams;
}

export interface MohPlan {
  start: string[];
  reload: string[];
  stop: string[];
}

/**
 * What to send a node running `actual` sources, of which `known` are the contents this daemon last saw or pushed.
 * A tenant stream running on the node but never seen by this daemon is adopted as it is (after a daemon restart it
 * came from a local_stream.conf answer; its folder is read again every pass).
 */
export function planMohStreams(
  desired: ReadonlyMap<string, string>,
  actual: ReadonlySet<string>,
  known: ReadonlyMap<string, string>,
): MohPlan {
  const start: string[] = [];
  const reload: string[] = [];
  const stop: string[] = [];
  for (const name of actual) {
    if (!parseMohStreamName(name)) continue; // stock or hand-made: not ours
    const want = desired.get(name);
    if (want === undefined) stop.push(name);
    else if (known.has(name) && known.get(name) !== want) reload.push(name);
  }
  for (const name of desired.keys()) if (!actual.has(name)) start.push(name);
  return { start: start.sort(), reload: reload.sort(), stop: stop.sort() };
}

export interface MohSyncOptions {
  feed: Pick<ChangeFeed, 'on' | 'off'>;
  clients: readonly EslClient[];
  /** Every tenant, as the local_stream.conf answer sees them. */
  tenants: () => Promise<readonly PlatformTenant[]>;
  /** FS_TENANTD_MOH_DIR. */
  dir: string;
  log: Logger;
  registry: MetricsRegistry;
  debounceMs?: number;
}

export interface MohSync {
  /** Resolves when nothing is pending or being sent. */
  idle(): Promise<void>;
  stop(): void;
}

type Verb = 'start' | 'reload' | 'stop';

export function createMohSync(opts: MohSyncOptions): MohSync {
  const { log } = opts;
  const sent = metric(
    opts.registry,
    'fs_tenantd_moh_sync_commands_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_moh_sync_commands_total',
        help: 'local_stream commands sent to FreeSWITCH for tenant music-on-hold streams, by command and outcome',
        labelNames: ['command', 'outcome'],
        registers: [opts.registry],
      }),
  );
  /** Per node: the contents of every tenant stream this daemon believes the node runs. */
  const known = new Map<string, Map<string, string>>();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const send = async (esl: EslClient, verb: Verb, name: string): Promise<boolean> => {
    try {
      const reply = (await esl.api(`local_stream ${verb} ${name}`)).trim();
      // start answers "+OK stream: <name>", or nothing at all when launch_streams found no such directory.
      if (!reply.startsWith('+OK')) throw new Error(reply || 'no answer (is the stream in local_stream.conf?)');
      sent.labels(verb, 'ok').inc();
      log.info({ node: esl.node, stream: name }, `moh stream ${verb}`);
      return true;
    } catch (err) {
      sent.labels(verb, 'error').inc();
      log.warn({ node: esl.node, stream: name, err: (err as Error).message }, `moh stream ${verb} failed`);
      return false;
    }
  };

  /** The folder must exist before `start`: a source whose folder cannot be opened ends at once (read_stream_thread). */
  const made = new Set<string>();
  const ensureDir = async (s: DesiredMohStream): Promise<boolean> => {
    if (made.has(s.path)) return true;
    try {
      await mkdir(s.path, { recursive: true });
      made.add(s.path);
      return true;
    } catch (err) {
      sent.labels('mkdir', 'error').inc();
      log.error({ stream: s.name, dir: s.path, err: (err as Error).message }, 'moh stream folder cannot be made');
      return false;
    }
  };

  const syncNode = async (esl: EslClient, desired: Map<string, DesiredMohStream>): Promise<void> => {
    // No source at all prints nothing, which mod_event_socket answers as "-ERR no reply" (api_exec).
    const listing = await esl.api('local_stream show').catch((err: Error) => {
      if (err.message.includes('-ERR no reply')) return '';
      throw err;
    });
    const actual = new Set(parseStreamList(listing).keys());
    const mine = known.get(esl.node) ?? new Map<string, string>();
    known.set(esl.node, mine);
    const contents = new Map([...desired].map(([n, s]) => [n, s.contents]));
    const plan = planMohStreams(contents, actual, mine);
    for (const name of actual) if (desired.has(name) && !mine.has(name)) mine.set(name, contents.get(name)!);
    for (const name of mine.keys()) if (!desired.has(name)) mine.delete(name);
    for (const name of plan.stop) await send(esl, 'stop', name);
    for (const name of plan.reload) if (await send(esl, 'reload', name)) mine.set(name, contents.get(name)!);
    for (const name of plan.start) {
      if (!(await ensureDir(desired.get(name)!))) continue;
      if (await send(esl, 'start', name)) mine.set(name, contents.get(name)!);
    }
    if (plan.start.length || plan.reload.length || plan.stop.length) {
      log.info(
        { node: esl.node, started: plan.start.length, reloaded: plan.reload.length, stopped: plan.stop.length },
        'moh streams synchronised',
      );
    }
  };

  const run = () => {
    timer = undefined;
    const nodes = [...dirty];
    dirty.clear();
    running = running.then(async () => {
      let desired: Map<string, DesiredMohStream>;
      try {
        desired = new Map(desiredMohStreams(await opts.tenants(), opts.dir).map((s) => [s.name, s]));
      } catch (err) {
        // The database is away: try again when the change feed resyncs or the node reconnects.
        log.warn({ err: (err as Error).message }, 'moh sync: cannot read the desired streams');
        return;
      }
      for (const esl of opts.clients) {
        if (!nodes.includes(esl.node) || !esl.connected) continue; // a node that comes back syncs on 'ready'
        try {
          await syncNode(esl, desired);
        } catch (err) {
          log.warn({ node: esl.node, err: (err as Error).message }, 'moh sync failed');
        }
      }
    });
  };

  const schedule = (nodes: readonly string[]) => {
    if (stopped) return;
    for (const n of nodes) dirty.add(n);
    timer ??= setTimeout(run, opts.debounceMs ?? 100);
  };
  const all = () => opts.clients.map((c) => c.node);

  const changeListener = (e: ChangeEvent) => {
    // A deleted tenant takes its streams with it (ON DELETE CASCADE).
    if (e.table === 'moh_streams' || e.table === 'moh_stream_files' || e.table === 'tenants') schedule(all());
  };
  const resyncListener = () => schedule(all());
  opts.feed.on('change', changeListener);
  opts.feed.on('resync', resyncListener);
  const readyListeners = opts.clients.map((esl) => {
    const fn = () => schedule([esl.node]);
    esl.on('ready', fn);
    return [esl, fn] as const;
  });

  return {
    async idle() {
      for (;;) {
        if (timer) {
          clearTimeout(timer);
          run();
        }
        await running;
        if (!timer && dirty.size === 0) return;
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      opts.feed.off('change', changeListener);
      opts.feed.off('resync', resyncListener);
      for (const [esl, fn] of readyListeners) esl.off('ready', fn);
    },
  };
}
