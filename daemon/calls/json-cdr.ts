// A call's record as mod_json_cdr delivers it (switch_ivr_generate_json_cdr):
// {"core-uuid","switchname","channel_data","callStats","variables":{...},
// "app_log","callflow":[{"caller_profile":{...},"times":{...}}, ...]}. Pure.
//
// The record is built by the same function as the ESL one (call-record.ts), fed
// the same fields under the event's names: the times, caller and destination of
// the current caller profile (callflow[0], as the Caller-* headers of the
// hangup event) and the channel variables. So a call recorded both ways gives
// one identical row. Tenant and direction come only from the daemon's own
// channel variables (channel-vars.ts), never from SIP headers.
import { asDirection, asTenant, type CallInfo } from './call-ledger.js';
import { callRecordFromHangup, type CallRecord } from './call-record.js';
import { CHANNEL_VARS, eventHeader } from '../../xml-handlers/channel-vars.js';
import type { CallDirection, TenantId } from '../../xml-handlers/model.js';
import { percentDecode } from '../esl/event.js';

/** The body is not a mod_json_cdr record the daemon can store; answered 400 with the message. */
export class BadCdr extends Error {
  override name = 'BadCdr';
}

export interface JsonCdr {
  /** The channel's uuid (A-leg: the call's key in the ledger). */
  uuid: string;
  /** FreeSWITCH's switchname, for the node column. */
  switchname: string | undefined;
  /** Undefined for a channel the daemon never routed (refused before the dialplan). */
  tenant: { id: TenantId; slug: string | undefined } | undefined;
  direction: CallDirection | undefined;
  /** The record's fields under the ESL hangup event's header names. */
  header(name: string): string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MICROS = /^\d{1,16}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string): string | undefined =>
  Object.hasOwn(o, k) && typeof o[k] === 'string' ? o[k] : undefined;

/** ESL header name -> where the same value sits in the CDR. */
const PROFILE_FIELDS: Record<string, string> = {
  'Caller-Caller-ID-Number': 'caller_id_number',
  'Caller-Destination-Number': 'destination_number',
};
const TIME_FIELDS: Record<string, string> = {
  'Caller-Channel-Created-Time': 'created_time',
  'Caller-Channel-Answered-Time': 'answered_time',
  'Caller-Channel-Hangup-Time': 'hangup_time',
};

/** Parses and checks a CDR's JSON text; throws BadCdr saying what is wrong. */
export function parseJsonCdr(text: string): JsonCdr {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new BadCdr(`body is not JSON (${(err as Error).message})`);
  }
  if (!isObj(doc)) throw new BadCdr('body is not a JSON object');
  const vars = doc.variables;
  if (!isObj(vars)) throw new BadCdr('no "variables" object: not a mod_json_cdr record');
  const flow = doc.callflow;
  const current = Array.isArray(flow) ? (flow[0] as unknown) : undefined;
  const profile = isObj(current) ? current.caller_profile : undefined;
  const times = isObj(current) ? current.times : undefined;
  if (!isObj(profile) || !isObj(times)) {
    throw new BadCdr('no callflow[0].caller_profile and .times: not a mod_json_cdr record');
  }
  // mod_json_cdr URL-encodes every variable value unless encode-values is false (switch_ivr_set_json_chan_vars).
  // The values read here (uuids, slugs, queue@domain, causes, digits) never hold a "%" of their own, so
  // decoding them is right with either setting.
  const variable = (name: string): string | undefined => {
    const v = str(vars, name);
    return v === undefined ? undefined : percentDecode(v);
  };
  const uuid = variable('uuid') ?? str(profile, 'uuid');
  if (uuid === undefined || !UUID.test(uuid)) {
    throw new BadCdr(`variables.uuid ${JSON.stringify(uuid)} is not a channel uuid`);
  }
  for (const field of ['created_time', 'hangup_time']) {
    const t = str(times, field);
    if (t === undefined || !MICROS.test(t) || t === '0') {
      throw new BadCdr(`callflow[0].times.${field} ${JSON.stringify(t)} is not a time`);
    }
  }
  const rawTenant = variable(CHANNEL_VARS.tenantId);
  const tenantId = asTenant(rawTenant);
  if (rawTenant !== undefined && tenantId === undefined) {
    throw new BadCdr(`variables.${CHANNEL_VARS.tenantId} ${JSON.stringify(rawTenant.slice(0, 80))} is not a tenant id`);
  }
  const header = (name: string): string | undefined => {
    if (name.startsWith('variable_')) return variable(name.slice('variable_'.length));
    const p = PROFILE_FIELDS[name];
    if (p) return str(profile, p);
    const t = TIME_FIELDS[name];
    if (t) return str(times, t);
    // The event's own header; the variable holds the same switch_channel_cause2str value.
    if (name === 'Hangup-Cause') return variable('hangup_cause');
    return undefined;
  };
  return {
    uuid,
    switchname: str(doc, 'switchname'),
    tenant: tenantId && { id: tenantId, slug: variable(CHANNEL_VARS.tenantSlug) },
    direction: asDirection(header(eventHeader(CHANNEL_VARS.direction))),
    header,
  };
}

/** The call_records row for an attributed CDR; `node` names the FreeSWITCH node it came from. */
export function callRecordFromJsonCdr(
  cdr: JsonCdr & { tenant: NonNullable<JsonCdr['tenant']> },
  node: string,
): CallRecord {
  const call: CallInfo = {
    key: cdr.uuid,
    tenantId: cdr.tenant.id,
    tenantSlug: cdr.tenant.slug,
    direction: cdr.direction,
    node,
  };
  return callRecordFromHangup(call, cdr);
}
