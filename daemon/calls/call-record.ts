// A call's record (CDR) built from its A-leg CHANNEL_HANGUP_COMPLETE: the one
// event that carries the final times, durations and cause. Pure; values are
// clamped to what call_records accepts so a record is never refused for length.
import type { TenantId } from '../db/tenant-context.js';
import type { EslEvent } from '../esl/event.js';
import type { CallDirection } from './admission-types.js';
import type { CallInfo } from './call-ledger.js';

export interface CallRecord {
  tenantId: TenantId;
  callUuid: string;
  node: string;
  direction: CallDirection;
  caller: string;
  callee: string;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string;
  durationS: number;
  billsec: number;
  hangupCause: string;
  queue: string | null;
}

/** FreeSWITCH's *-Time headers are microseconds since the epoch; "0" means never. */
function micros(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,20}$/.test(v) || v === '0') return undefined;
  return Math.floor(Number(v) / 1000);
}

function seconds(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : undefined;
}

const clip = (v: string | undefined, max: number): string => (v ?? '').slice(0, max);

export function callRecordFromHangup(call: CallInfo, ev: EslEvent): CallRecord {
  const h = (name: string) => ev.header(name);
  const eventTime = micros(h('Event-Date-Timestamp')) ?? Date.now();
  const endEpoch = seconds(h('variable_end_epoch'));
  const endedMs = micros(h('Caller-Channel-Hangup-Time')) ?? (endEpoch ? endEpoch * 1000 : eventTime);
  const created = micros(h('Caller-Channel-Created-Time')) ?? ((seconds(h('variable_start_epoch')) ?? 0) * 1000 || endedMs);
  const answered = micros(h('Caller-Channel-Answered-Time'));
  const duration = seconds(h('variable_duration')) ?? Math.max(0, Math.round((endedMs - created) / 1000));
  const billsec = seconds(h('variable_billsec')) ?? (answered ? Math.max(0, Math.round((endedMs - answered) / 1000)) : 0);
  const queue = call.queue ?? h('variable_cc_queue');
  return {
    tenantId: call.tenantId,
    callUuid: call.key,
    node: clip(call.node, 128) || 'unknown',
    // Only the daemon's own direction counts; a call it never classified is recorded as internal.
    direction: call.direction ?? 'internal',
    caller: clip(h('Caller-Caller-ID-Number'), 128),
    callee: clip(h('Caller-Destination-Number'), 128),
    createdAt: new Date(Math.min(created, endedMs)).toISOString(),
    answeredAt: answered ? new Date(answered).toISOString() : null,
    endedAt: new Date(endedMs).toISOString(),
    durationS: duration,
    billsec: Math.min(billsec, duration),
    hangupCause: clip(h('Hangup-Cause') ?? h('variable_hangup_cause'), 64) || 'UNKNOWN',
    queue: queue ? clip(queue, 128) : null,
  };
}
