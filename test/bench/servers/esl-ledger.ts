// The daemon's ESL side in a process of its own (the server slot), built as
// daemon/main.ts builds it: one ESL client, the call ledger and the CDR writer
// (on the bench database, spool in a temporary directory) joined by
// createCallControl (events, resync from `show channels as json` on every ready,
// a record per ended call). Counts events after the ledger has seen them
// (listeners run in registration order) and times admission decisions.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CallDirection, TenantId } from '../../../xml-handlers/model.js';
import { createCallControl } from '../../../daemon/calls/call-control.js';
import { CallLedger } from '../../../daemon/calls/call-ledger.js';
import { CdrWriter } from '../../../daemon/calls/cdr-writer.js';
import { loadConfig } from '../../../daemon/config.js';
import { createPool } from '../../../daemon/db/open-database.js';
import { EslClient } from '../../../daemon/esl/client.js';
import { eventFromHeaders, parseJsonEvent, type EslEvent } from '../../../daemon/esl/event.js';
import { createLogger } from '../../../daemon/log.js';
import { createRegistry, TenantLabels } from '../../../daemon/metrics.js';
import type { AdmissionResult } from '../esl.bench.js';
import { CallWriter, callUuid, capturedCall, type Tenant } from '../esl-stream.js';
import { percentiles } from '../percentiles.js';
import { cpuUsage, serveCalls } from '../processes.js';

const registry = createRegistry();
const log = createLogger((process.env.FS_TENANTD_LOG_LEVEL ?? 'warn') as 'warn');
const NODE = 'bench';
let ledger: CallLedger | undefined;
let cdrWriter: CdrWriter | undefined;
let stop = async (): Promise<void> => undefined;

let counted = 0;
let firstAt = 0;
let cpuAtFirst = cpuUsage();
let target = Infinity;
let finished: Promise<unknown> = Promise.resolve();
let finish: (v: unknown) => void = () => undefined;

function onEvent(_ev: EslEvent) {
  if (!firstAt) {
    firstAt = performance.now();
    cpuAtFirst = cpuUsage();
  }
  if (++counted === target) {
    const elapsedS = (performance.now() - firstAt) / 1000;
    finish({ events: counted, elapsedS, eventsPerS: counted / elapsedS, cpu: cpuUsage(cpuAtFirst) });
  }
}

async function counter(name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
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
  for (let i = 0; i < buf.length; ) {
    const end = buf.indexOf('\n\n', i);
    const len = Number(/Content-Length: (\d+)/.exec(buf.toString('latin1', i, end))![1]);
    templates.push(parseJsonEvent(buf.subarray(end + 2, end + 2 + len)));
    i = end + 2 + len;
  }
  const swap: Record<string, 'a' | 'b' | 'tenant' | 'slug'> = {
    [callUuid(0, 'a')]: 'a',
    [callUuid(0, 'b')]: 'b',
    [sample.id]: 'tenant',
    [sample.slug]: 'slug',
  };
  return (n, tenant) => {
    const values = { a: callUuid(n, 'a'), b: callUuid(n, 'b'), tenant: tenant.id, slug: tenant.slug };
    return templates.map((t) => {
      const headers: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const k in t.headers) {
        const v = t.headers[k]!;
        const w = swap[v];
        headers[k] = w ? values[w] : v;
      }
      return eventFromHeaders(headers, t.body);
    });
  };
}

serveCalls(
  {
    start: async (args: { port: number; appUrl: string }) => {
      const config = loadConfig({ ...process.env, DATABASE_URL: args.appUrl, FS_TENANTD_ESL_NODES: 'none' });
      const spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-bench-spool-'));
      const pool = createPool(args.appUrl, config.poolMax);
      const l = (ledger = new CallLedger({
        log,
        registry,
        tenantLabels: new TenantLabels(config.metrics.maxTenantLabels),
        reservationTtlMs: config.calls.reservationTtlMs,
        downNodePolicy: config.calls.downNodePolicy,
        rejection: { sipCode: config.calls.rejectSipCode, reason: config.calls.rejectReason },
      }));
      const cdr = new CdrWriter({ pool, log, registry, spoolDir, queueMax: config.calls.cdrQueueMax });
      await cdr.start();
      cdrWriter = cdr;
      const c = new EslClient({
        node: { name: NODE, host: '127.0.0.1', port: args.port, password: 'ClueCon' },
        log,
        registry,
        commandTimeoutMs: config.esl.commandTimeoutMs,
        events: ['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE'],
      });
      createCallControl({
        clients: [c],
        ledger: l,
        cdr,
        log,
        sweepIntervalMs: Math.max(1000, config.calls.reservationTtlMs / 4),
      });
      c.on('event', onEvent);
      const ready = new Promise<void>((resolve) => c.once('ready', () => resolve()));
      c.start();
      await ready;
      stop = async () => {
        await c.stop();
        await cdr.stop();
        await pool.end();
        await fs.rm(spoolDir, { recursive: true, force: true });
      };
    },
    /** Arms the counter for the next `events` events (call before the replay starts). */
    expect: (args: { events: number }) => {
      firstAt = 0;
      counted = 0;
      target = args.events;
      finished = new Promise((resolve) => {
        finish = resolve;
      });
    },
    /** Resolves once the CDR writer has written or spooled everything queued. */
    cdrIdle: () => cdrWriter!.idle(),
    /** The armed run's rate, counted from its first event to its last, once they all went through. */
    done: () => finished,
    ledgerState: async () => ({
      liveCalls: ledger!.sizes().calls,
      ...ledger!.sizes(),
      cdrWritten: await counter('fs_tenantd_cdr_written_total'),
      cdrSpooled: await counter('fs_tenantd_cdr_spooled_total'),
    }),
    /**
     * `decisions` admissions, one at a time, each for a new call of a tenant taken in turn, with a
     * ceiling high enough to admit (the common case); then the same sequence against a bare Map
     * counter, the floor of any in-memory decision.
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
        const d = await ledger!.admit({
          tenantId: tenant.id as TenantId,
          callUuid: callUuid(n, 'a'),
          direction,
          ceilings,
          node: NODE,
        });
        times[i] = performance.now() - t0;
        if (d.admitted) admitted++;
        // The call then appears and ends, as it would on FreeSWITCH: reservations stay few, live calls steady.
        for (const ev of lifecycle(n, tenant)) ledger!.onEvent(NODE, ev);
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
  },
  () => stop(),
);
