// Pushes trunk changes into sofia's running external profile. sofia reads a
// gateway from sofia.conf only when the profile starts, on `rescan` or on
// `startgw` (sofia.c config_sofia/config_gateway), and `rescan` ignores a name
// it already holds ("Ignoring duplicate gateway"). So, per node:
//   removed or disabled gateway -> `killgw <name>` (marked deleted, unregistered, reaped by sofia)
//   changed gateway             -> `killgw <name>`, then started again from the new answer
//   new gateway                 -> `startgw <name>` (one sofia.conf fetch, answered for that gateway only)
// Other gateways, and the calls on them, are not touched. The desired set is the
// same snapshot data the sofia.conf answer renders, so the two cannot disagree.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import client from 'prom-client';
import { desiredGateways } from '../../xml-handlers/configuration/sofia.js';
import type { PlatformTenant } from '../../xml-handlers/model.js';
import type { ChangeEvent, ChangeFeed } from '../db/change-feed.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import type { EslClient } from './client.js';
import type { Fence, LeaseGate, LeaseJob } from '../ha/node-leases.js';

const PROFILE = 'external';

/** `sofia status` lists gateways as `external::<name>  gateway  <url>  <state>` (mod_sofia.c cmd_status). */
export function parseGatewayList(statusText: string): Set<string> {
  const names = new Set<string>();
  for (const m of statusText.matchAll(new RegExp(`^\\s*${PROFILE}::(\\S+)\\s+gateway\\s`, 'gm'))) names.add(m[1]!);
  return names;
}

/** Fingerprint of a gateway's params; the password is part of it, so it is hashed, never kept. */
const fingerprint = (p: ReadonlyArray<readonly [string, string]>): string =>
  createHash('sha256').update(JSON.stringify(p)).digest('base64url');

export interface GatewayPlan {
  kill: string[];
  start: string[];
}

/**
 * What to send a node holding `actual` gateways, of which `known` are the fingerprints this daemon last pushed
 * or adopted. A gateway present on the node but never seen by this daemon is adopted as it is: after a daemon
 * restart the node's gateways came from a sofia.conf answer of the same data.
 */
export function planGateways(
  desired: ReadonlyMap<string, string>,
  actual: ReadonlySet<string>,
  known: ReadonlyMap<string, string>,
): GatewayPlan {
  const kill: string[] = [];
  const start: string[] = [];
  for (const name of actual) {
    const want = desired.get(name);
    if (want === undefined) kill.push(name);
    else if (known.has(name) && known.get(name) !== want) {
      kill.push(name);
      start.push(name);
    }
  }
  for (const name of desired.keys()) if (!actual.has(name)) start.push(name);
  return { kill: kill.sort(), start: start.sort() };
}

export interface GatewaySyncOptions {
  feed: Pick<ChangeFeed, 'on' | 'off'>;
  clients: readonly EslClient[];
  /** Every tenant, as the sofia.conf answer sees them. */
  tenants: () => Promise<readonly PlatformTenant[]>;
  log: Logger;
  registry: MetricsRegistry;
  debounceMs?: number;
  /**
   * Several daemons: a node's gateways are pushed only by the holder of its 'gateways' lease, checked again right
   * before the batch of killgw/startgw commands. Without it, this daemon pushes to every node.
   */
  leases?: LeaseGate;
}

export interface GatewaySync {
  /** Resolves when nothing is pending or being sent. */
  idle(): Promise<void>;
  stop(): void;
}

export function createGatewaySync(opts: GatewaySyncOptions): GatewaySync {
  const { log } = opts;
  const sent = metric(
    opts.registry,
    'fs_tenantd_gateway_sync_commands_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_gateway_sync_commands_total',
        help: 'sofia gateway commands sent to FreeSWITCH (killgw, startgw), by command and outcome',
        labelNames: ['command', 'outcome'],
        registers: [opts.registry],
      }),
  );
  /** Per node: the fingerprint of every gateway this daemon believes the node holds. */
  const known = new Map<string, Map<string, string>>();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const send = async (esl: EslClient, verb: 'killgw' | 'startgw', name: string): Promise<boolean> => {
    try {
      const reply = await esl.api(`sofia profile ${PROFILE} ${verb} ${name}`);
      // `startgw` also prints "Reload XML [Success]"; a missing profile answers "Invalid Profile" without -ERR.
      if (!reply.includes('+OK')) throw new Error(reply.trim());
      sent.labels(verb, 'ok').inc();
      log.info({ node: esl.node, gateway: name, reply: reply.trim().split('\n').pop() }, `gateway ${verb}`);
      return true;
    } catch (err) {
      sent.labels(verb, 'error').inc();
      log.warn({ node: esl.node, gateway: name, err: (err as Error).message }, `gateway ${verb} failed`);
      return false;
    }
  };

  /**
   * Per node: gateways this daemon killed that `sofia status` may still list. killgw only marks a gateway deleted;
   * sofia_reg_check_gateway unlinks it on its next pass, and cmd_status lists it until then. Counting it as present
   * would make a kill followed soon by a start (a tenant suspended and reactivated) adopt the dying gateway.
   */
  const dying = new Map<string, Set<string>>();

  const syncNode = async (esl: EslClient, desired: Map<string, string>, fence?: Fence): Promise<void> => {
    const listed = parseGatewayList(await esl.api('sofia status'));
    const mine = known.get(esl.node) ?? new Map<string, string>();
    known.set(esl.node, mine);
    const killed = dying.get(esl.node) ?? new Set<string>();
    dying.set(esl.node, killed);
    for (const name of killed) if (!listed.has(name)) killed.delete(name);
    const actual = new Set([...listed].filter((name) => !killed.has(name)));
    const plan = planGateways(desired, actual, mine);
    for (const name of actual) if (desired.has(name) && !mine.has(name)) mine.set(name, desired.get(name)!);
    // Right before the batch: a former holder paused past its lease sends nothing.
    if ((plan.kill.length || plan.start.length) && fence && !(await fence.still())) return;
    for (const name of plan.kill) {
      if (await send(esl, 'killgw', name)) {
        mine.delete(name);
        killed.add(name);
      }
    }
    for (const name of plan.start) {
      if (await send(esl, 'startgw', name)) {
        mine.set(name, desired.get(name)!);
        killed.delete(name);
      }
    }
    if (plan.kill.length || plan.start.length) {
      log.info({ node: esl.node, killed: plan.kill.length, started: plan.start.length }, 'gateways synchronised');
    }
  };

  const run = () => {
    timer = undefined;
    const nodes = [...dirty];
    dirty.clear();
    running = running.then(async () => {
      let desired: Map<string, string>;
      try {
        desired = new Map([...desiredGateways(await opts.tenants())].map(([n, p]) => [n, fingerprint(p)]));
      } catch (err) {
        // The database is away: try again when the change feed resyncs or the node reconnects.
        log.warn({ err: (err as Error).message }, 'gateway sync: cannot read the desired gateways');
        return;
      }
      for (const esl of opts.clients) {
        if (!nodes.includes(esl.node) || !esl.connected) continue; // a node that comes back syncs on 'ready'
        const fence = opts.leases?.fence(esl.node, 'gateways');
        if (opts.leases && !fence) continue; // another daemon holds this node's lease
        try {
          await syncNode(esl, desired, fence);
        } catch (err) {
          log.warn({ node: esl.node, err: (err as Error).message }, 'gateway sync failed');
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
    // A tenant's status or slug changes every gateway name or presence of that tenant.
    if (e.table === 'sip_trunks' || e.table === 'tenants') schedule(all());
  };
  const resyncListener = () => schedule(all());
  opts.feed.on('change', changeListener);
  opts.feed.on('resync', resyncListener);
  // A new holder syncs at once: the previous one may have died before pushing a change.
  const acquiredListener = (node: string, job: LeaseJob) => {
    if (job === 'gateways') schedule([node]);
  };
  opts.leases?.on('acquired', acquiredListener);
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
      opts.leases?.off('acquired', acquiredListener);
      for (const [esl, fn] of readyListeners) esl.off('ready', fn);
    },
  };
}
