// The daemon's ESL side in a process of its own (the server slot): the ESL
// client for one node feeding the call ledger (events, and a resync from
// `show channels as json` on every ready). The composition root does not wire
// them yet, so this does it the way the ledger's contract describes. Counts
// events after the ledger has seen them (listeners run in registration order),
// and times admission decisions one at a time. No CDR writer: item 4 is the ledger.
import type { CallDirection } from '../../../daemon/calls/admission-types.js';
import { CallLedger } from '../../../daemon/calls/call-ledger.js';
import type { TenantId } from '../../../daemon/db/tenant-context.js';
import { EslClient } from '../../../daemon/esl/client.js';
import { parseJsonEvent, type EslEvent } from '../../../daemon/esl/event.js';
import { createLogger } from '../../../daemon/log.js';
import { createRegistry, TenantLabels } from '../../../daemon/metrics.js';
import { percentiles } from '../percentiles.js';
import type { AdmissionResult } from '../esl.bench.js';
import { CallWriter, callUuid, capturedCall, type Tenant } from '../esl-stream.js';
import { serveCalls } from '../processes.js';

const registry = createRegistry();
const log = createLogger((process.env.FS_TENANTD_LOG_LEVEL ?? 'warn') as 'warn');
let client: EslClient | undefined;
const NODE = 'bench';
const ledger = new CallLedger({
  log, registry, tenantLabels: new TenantLabels(500), reservationTtlMs: 30_000, downNodePolicy: 'enforce',
  rejection: { sipCode: 503, reason: 'tenant call limit reached' },
});

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

/** Admission runs use call numbers far from the replayed ones. */
const ADMISSION_CALLS = 1_000_000_000;

/**
 * The captured call's A and B CHANNEL_CREATE and CHANNEL_HANGUP_COMPLETE, parsed once by the
 * daemon's own parser; call n gets copies with its leg UUIDs and tenant in every header that held them.
 */
function lifecycleEvents(sample: Tenant): (n: number, tenant: Tenant) => EslEvent[] {
  const writer = new CallWriter(capturedCall(), new Set(['create', 'hangup']), sample.slug.length, 1);
  const buf = writer.frames(0, sample);
  const templates: EslEvent[] = [];
  for (let i = 0; i < buf.length;) {
    const end = buf.indexOf('\n\n', i);
    const len = Number(/Content-Length: (\d+)/.exec(buf.toString('latin1', i, end))![1]);
    templates.push(parseJsonEvent(buf.subarray(end + 2, end + 2 + len)));
    i = end + 2 + len;
  }
  const swap: Record<string, 'a' | 'b' | 'tenant' | 'slug'> = { [callUuid(0, 'a')]: 'a', [callUuid(0, 'b')]: 'b', [sample.id]: 'tenant', [sample.slug]: 'slug' };
  return (n, tenant) => {
    const values = { a: callUuid(n, 'a'), b: callUuid(n, 'b'), tenant: tenant.id, slug: tenant.slug };
    return templates.map((t) => {
      const headers: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const k in t.headers) { const v = t.headers[k]!; const w = swap[v]; headers[k] = w ? values[w] : v; }
      return { name: t.name, headers, body: t.body };
    });
  };
}

serveCalls({
  start: async (args: { port: number }) => {
    client = new EslClient({
      node: { name: 'bench', host: '127.0.0.1', port: args.port, password: 'ClueCon' },
      log, registry, commandTimeoutMs: 5000,
      events: ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE'],
    });
    const c = client;
    c.on('event', (ev: EslEvent) => ledger.onEvent(NODE, ev));
    c.on('event', onEvent);
    let resynced!: () => void;
    const ready = new Promise<void>((resolve) => { resynced = resolve; });
    c.on('ready', () => {
      void ledger.resync(NODE, async () => {
        // The replayer answers with the captured idle list; anything else would need the real parser.
        const body = await c.api('show channels as json');
        if (!/"row_count":\s*0/.test(body)) throw new Error(`bench expects an idle node, got: ${body.slice(0, 80)}`);
        return [];
      }).then(resynced);
    });
    c.on('down', (reason: string) => { ledger.nodeDown(NODE); log.warn({ reason }, 'bench ESL connection down'); });
    c.start();
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
  ledgerState: () => ({ liveCalls: ledger.sizes().calls, ...ledger.sizes() }),
  /**
   * `decisions` admissions, one at a time, each for a new call of a tenant taken in turn, with a
   * ceiling high enough to admit (the common case) and the ledger's reservation left in place;
   * then the same sequence against a bare Map counter, the floor of any in-memory decision.
   */
  admission: async (args: { decisions: number; tenants: Tenant[] }): Promise<AdmissionResult> => {
    const lifecycle = lifecycleEvents(args.tenants[0]!);
    const ceilings = { maxInbound: null, maxOutbound: null, maxTotal: 1_000_000 };
    const direction: CallDirection = 'internal';
    const times = new Float64Array(args.decisions);
    let admitted = 0;
    for (let i = 0; i < args.decisions; i++) {
      const tenant = args.tenants[i % args.tenants.length]!;
      const n = ADMISSION_CALLS + i;
      const t0 = performance.now();
      const d = await ledger.admit({ tenantId: tenant.id as TenantId, callUuid: callUuid(n, 'a'), direction, ceilings, node: NODE });
      times[i] = performance.now() - t0;
      if (d.admitted) admitted++;
      // The call then appears and ends, as it would on FreeSWITCH: reservations stay few, live calls steady.
      for (const ev of lifecycle(n, tenant)) ledger.onEvent(NODE, ev);
    }
    const counts = new Map<string, number>();
    const bare = async (tenantId: string, max: number) => {
      const n = counts.get(tenantId) ?? 0;
      if (n >= max) return false;
      counts.set(tenantId, n + 1);
      return true;
    };
    const baseTimes = new Float64Array(args.decisions);
    for (let i = 0; i < args.decisions; i++) {
      const t0 = performance.now();
      await bare(args.tenants[i % args.tenants.length]!.id, 1_000_000);
      baseTimes[i] = performance.now() - t0;
    }
    return { decisions: args.decisions, admitted, ledger: percentiles(times), baseline: percentiles(baseTimes) };
  },
}, async () => { await client?.stop(); });
