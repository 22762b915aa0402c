// The daemon's ESL side in a process of its own (the server slot): the ESL
// client for one node, feeding the call ledger, wired as the composition root
// wires them. Counts events after the ledger has seen them (listeners run in
// registration order), and times admission decisions one at a time.
import { EslClient } from '../../../daemon/esl/client.js';
import type { EslEvent } from '../../../daemon/esl/event.js';
import { createLogger } from '../../../daemon/log.js';
import { createRegistry } from '../../../daemon/metrics.js';
import type { AdmissionResult } from '../esl.bench.js';
import type { Tenant } from '../esl-stream.js';
import { serveCalls } from '../processes.js';

const registry = createRegistry();
const log = createLogger((process.env.FS_TENANTD_LOG_LEVEL ?? 'warn') as 'warn');
let client: EslClient | undefined;

let counted = 0;
let firstAt = 0;
let target = Infinity;
let finished: Promise<unknown> = Promise.resolve();
let finish: (v: unknown) => void = () => undefined;

function onEvent(_ev: EslEvent) {
  if (!firstAt) firstAt = performance.now();
  if (++counted === target) {
    const elapsedS = (performance.now() - firstAt) / 1000;
    finish({ events: counted, elapsedS, eventsPerS: counted / elapsedS });
  }
}

const LEDGER_MISSING = 'the call ledger (issue 4: daemon/calls/) is not in the tree yet';

serveCalls({
  start: async (args: { port: number }) => {
    client = new EslClient({
      node: { name: 'bench', host: '127.0.0.1', port: args.port, password: 'ClueCon' },
      log, registry, commandTimeoutMs: 5000,
      events: ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE'],
    });
    const ready = new Promise<void>((resolve) => client!.once('ready', resolve));
    client.on('event', onEvent);
    client.start();
    await ready;
  },
  /** Arms the counter for the next `events` events (call before the replay starts). */
  expect: (args: { events: number }) => {
    firstAt = 0;
    counted = 0;
    target = args.events;
    finished = new Promise((resolve) => { finish = resolve; });
  },
  /** The armed run's rate, counted from its first event to its last, once they all went through. */
  done: () => finished,
  ledgerState: async () => { throw new Error(LEDGER_MISSING); },
  admission: async (_args: { decisions: number; tenants: Tenant[] }): Promise<AdmissionResult> => {
    throw new Error(LEDGER_MISSING);
  },
}, async () => { await client?.stop(); });
