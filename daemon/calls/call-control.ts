// Connects the ESL clients to the ledger and the CDR writer: events feed the
// ledger, an ended call becomes a record, and every (re)connect rebuilds that
// node's share of the ledger before admission trusts it again. Also sweeps the
// ledger's expired reservations. stop() ends only the sweep: events keep
// flowing until the ESL clients stop, so late hangups still reach the CDR
// writer (which spools them once stopped).
import type { Logger } from 'pino';
import type { EslClient } from '../esl/client.js';
import type { CallLedger } from './call-ledger.js';
import { callRecordFromHangup } from './call-record.js';
import type { CdrWriter } from './cdr-writer.js';
import { readLiveChannels } from './live-channels.js';
import type { SharedAdmission } from './shared-admission.js';
import type { LeaseGate } from '../ha/node-leases.js';
import client from 'prom-client';
import { createRegistry, metric, type MetricsRegistry } from '../metrics.js';

export interface CallControlOptions {
  clients: readonly EslClient[];
  ledger: CallLedger;
  cdr: CdrWriter;
  log: Logger;
  /** How often expired reservations are released (admission sweeps too). */
  sweepIntervalMs: number;
  /** Shared admission: after each resync, the node's slots in PostgreSQL are reconciled with its channels. */
  shared?: SharedAdmission;
  /**
   * Several daemons: the reconciliation of a node's slots in PostgreSQL is done by the holder of its 'resync'
   * lease, fenced in the same statement. Every daemon still rebuilds its own ledger (its cache) on each connect.
   */
  leases?: LeaseGate;
  /** Where fs_tenantd_node_core_checks_total is counted (a private registry when absent: tests). */
  registry?: MetricsRegistry;
}

/**
 * The node's Core-UUID (a new one per FreeSWITCH start: switch_core_init sets the core_uuid variable) and how
 * long it has been up, in whole seconds (mod_commands uptime). Undefined when the node does not say.
 */
async function readCore(esl: EslClient): Promise<{ uuid: string; uptimeS: number } | undefined> {
  const [uuid, uptime] = await Promise.all([
    esl.api('global_getvar core_uuid').then((r) => r.trim()),
    esl.api('uptime s').then((r) => Number(r.trim())),
  ]).catch(() => [undefined, undefined] as const);
  if (!uuid || !/^[0-9a-f-]{36}$/i.test(uuid) || !Number.isFinite(uptime)) return undefined;
  return { uuid, uptimeS: uptime! };
}

export function createCallControl(opts: CallControlOptions): { stop(): void } {
  const { ledger, cdr, log } = opts;
  const registry = opts.registry ?? createRegistry();
  const coreChecks = metric(
    registry,
    'fs_tenantd_node_core_checks_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_node_core_checks_total',
        help: "ESL connects by what the node's Core-UUID said: same core, restarted, unknown (not told), not_recorded",
        labelNames: ['node', 'outcome'],
        registers: [registry],
      }),
  );
  ledger.onCallEnded((call, hangup) => cdr.submit(callRecordFromHangup(call, hangup)));
  for (const esl of opts.clients) {
    // Until the first resync the node's calls are unknown: the down-node policy applies.
    ledger.nodeDown(esl.node);
    esl.on('event', (ev) => ledger.onEvent(esl.node, ev));
    esl.on('down', () => ledger.nodeDown(esl.node));
    const runResync = () => {
      let listed: { before: Date; uuids: Set<string> } | undefined;
      return ledger
        .resync(esl.node, async () => {
          ledger.setSwitchname(esl.node, (await esl.api('switchname')).trim());
          // PostgreSQL down must not hold up the ESL resync: the slots are then reconciled on the next one.
          const before = await opts.shared?.dbNow().catch(() => undefined);
          const core = await readCore(esl);
          if (core) {
            // A restarted node: the ledger's calls of the old core go now, before the channel list is read.
            ledger.coreSeen(esl.node, core.uuid);
            let restarted = ledger.restartedLast(esl.node);
            if (opts.shared && before) {
              // The new core started no earlier than `before` minus its uptime (and the uptime's rounding).
              const startedBefore = new Date(before.getTime() - (core.uptimeS + 1) * 1000);
              await opts.shared.nodeCoreSeen(esl.node, core.uuid, startedBefore).then(
                (r) => {
                  if (!r.previousCore) return;
                  restarted = true;
                  log.warn(
                    { node: esl.node, previousCore: r.previousCore, core: core.uuid, released: r.released },
                    'shared admission: node restarted (new Core-UUID); its earlier slots released',
                  );
                },
                (err: Error) => {
                  coreChecks.inc({ node: esl.node, outcome: 'not_recorded' });
                  log.warn({ node: esl.node, err: err.message }, 'node Core-UUID not recorded in PostgreSQL');
                },
              );
            }
            coreChecks.inc({ node: esl.node, outcome: restarted ? 'restarted' : 'same' });
          } else {
            coreChecks.inc({ node: esl.node, outcome: 'unknown' });
            log.warn({ node: esl.node }, 'node did not tell its Core-UUID; a restart is found by the resync only');
          }
          const channels = await readLiveChannels(esl, (uuid) => ledger.knowsLeg(uuid));
          if (before) {
            const uuids = new Set<string>();
            for (const ch of channels) uuids.add(ch.linkedTo ?? ch.uuid).add(ch.uuid);
            listed = { before, uuids };
          }
          return channels;
        })
        .then(
          async () => {
            // Only this node's slots: other nodes' calls, whoever admitted them, are not this list's to judge.
            if (!opts.shared || !listed) return;
            // Once per node: the lease holder (fenced in the statement); other daemons only rebuilt their ledger.
            const fence = opts.leases ? opts.leases.fence(esl.node, 'resync') : null;
            if (fence === undefined) return;
            const released = await opts.shared
              .reconcileNode(esl.node, listed.uuids, listed.before, fence ?? undefined)
              .catch((err: Error) => log.warn({ node: esl.node, err: err.message }, 'shared slots not reconciled'));
            if (released) log.info({ node: esl.node, released }, 'shared admission: slots of ended calls released');
          },
          (err: Error) => {
            // The node stays "down" for admission; a new connection brings a new resync.
            log.error({ node: esl.node, err: err.message }, 'call ledger resync failed; reconnecting');
            esl.reset(`resync failed: ${err.message}`);
          },
        );
    };
    // One resync of a node at a time: a lease taken over during the connect's own resync queues one more.
    let last: Promise<unknown> = Promise.resolve();
    const resync = () => {
      last = last.then(runResync);
    };
    esl.on('ready', resync);
    // A daemon that takes the node's 'resync' lease over reconciles its slots at once (the holder may have died
    // before it could), when connected; otherwise its next connect does.
    opts.leases?.on('acquired', (node, job) => {
      if (node === esl.node && job === 'resync' && esl.connected) resync();
    });
  }
  const sweeper = setInterval(() => ledger.sweep(), opts.sweepIntervalMs);
  sweeper.unref();
  return { stop: () => clearInterval(sweeper) };
}
