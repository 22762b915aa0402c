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

export interface CallControlOptions {
  clients: readonly EslClient[];
  ledger: CallLedger;
  cdr: CdrWriter;
  log: Logger;
  /** How often expired reservations are released (admission sweeps too). */
  sweepIntervalMs: number;
  /** Shared admission: after each resync, the node's slots in PostgreSQL are reconciled with its channels. */
  shared?: SharedAdmission;
}

export function createCallControl(opts: CallControlOptions): { stop(): void } {
  const { ledger, cdr, log } = opts;
  ledger.onCallEnded((call, hangup) => cdr.submit(callRecordFromHangup(call, hangup)));
  for (const esl of opts.clients) {
    // Until the first resync the node's calls are unknown: the down-node policy applies.
    ledger.nodeDown(esl.node);
    esl.on('event', (ev) => ledger.onEvent(esl.node, ev));
    esl.on('down', () => ledger.nodeDown(esl.node));
    esl.on('ready', () => {
      let listed: { before: Date; uuids: Set<string> } | undefined;
      ledger
        .resync(esl.node, async () => {
          ledger.setSwitchname(esl.node, (await esl.api('switchname')).trim());
          // PostgreSQL down must not hold up the ESL resync: the slots are then reconciled on the next one.
          const before = await opts.shared?.dbNow().catch(() => undefined);
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
            const released = await opts.shared
              .reconcileNode(esl.node, listed.uuids, listed.before)
              .catch((err: Error) => log.warn({ node: esl.node, err: err.message }, 'shared slots not reconciled'));
            if (released) log.info({ node: esl.node, released }, 'shared admission: slots of ended calls released');
          },
          (err: Error) => {
            // The node stays "down" for admission; a new connection brings a new resync.
            log.error({ node: esl.node, err: err.message }, 'call ledger resync failed; reconnecting');
            esl.reset(`resync failed: ${err.message}`);
          },
        );
    });
  }
  const sweeper = setInterval(() => ledger.sweep(), opts.sweepIntervalMs);
  sweeper.unref();
  return { stop: () => clearInterval(sweeper) };
}
