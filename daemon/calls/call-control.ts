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

export interface CallControlOptions {
  clients: readonly EslClient[];
  ledger: CallLedger;
  cdr: CdrWriter;
  log: Logger;
  /** How often expired reservations are released (admission sweeps too). */
  sweepIntervalMs: number;
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
      ledger
        .resync(esl.node, async () => {
          ledger.setSwitchname(esl.node, (await esl.api('switchname')).trim());
          return readLiveChannels(esl, (uuid) => ledger.knowsLeg(uuid));
        })
        .catch((err: Error) => {
          // The node stays "down" for admission; a new connection brings a new resync.
          log.error({ node: esl.node, err: err.message }, 'call ledger resync failed; reconnecting');
          esl.reset(`resync failed: ${err.message}`);
        });
    });
  }
  const sweeper = setInterval(() => ledger.sweep(), opts.sweepIntervalMs);
  sweeper.unref();
  return { stop: () => clearInterval(sweeper) };
}
