// Call recording, a step every route kind shares (index.ts renderRoute): whether
// the tenant's policy records a call, and the dialplan that does it. Pure.
//
// Where the file goes is derived here and only here: <recordings dir>/<tenant
// id>/<call uuid>.wav. The tenant id comes from the snapshot the daemon chose,
// the call uuid from FreeSWITCH itself (`${uuid}`, expanded on the channel when
// the action runs), never from anything in the request: no domain string,
// number or header can steer it. The rendered document is cached per tenant and
// target without the call's uuid (daemon/xml-curl/rendered-documents.ts), which
// is why the uuid is a channel variable in the action data, not a literal.
import { CHANNEL_VARS } from '../channel-vars.js';
import { queueFsName } from '../callcenter-names.js';
import type { CallDirection, TenantId, TenantSnapshot } from '../model.js';
import type { XMLBuilder } from '../xml.js';

/** A channel uuid as FreeSWITCH prints it (switch_uuid_format). */
export const CALL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * What the recordings directory may look like: an absolute path of plain characters. It is placed in dialplan
 * action data, where record_session splits its arguments on spaces (mod_dptools.c record_session_function) and
 * FreeSWITCH expands `$`.
 */
export const RECORDINGS_DIR = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;

/** The recording's path relative to the recordings directory; undefined if `callUuid` is not a channel uuid. */
export function recordingPath(tenantId: TenantId, callUuid: string): string | undefined {
  return CALL_UUID.test(callUuid) ? `${tenantId}/${callUuid}.wav` : undefined;
}

/** The fields of a route the policy looks at (a subset of index.ts's RouteTarget). */
export type RecordedTarget =
  | { type: 'extension'; number: string }
  | { type: 'queue'; fsName: string }
  | { type: string };

/**
 * True when any enabled rule of the tenant matches the call. `callerUser` is the extension that placed it (the
 * directory's user_name of an authenticated phone), undefined for calls from trunks. An `extension` rule matches
 * calls to that extension (dialled, forwarded to, a DID or a call-flow node of kind extension) and calls it
 * places; a `queue` rule matches calls entering that queue.
 */
export function shouldRecord(
  tenant: TenantSnapshot,
  direction: CallDirection,
  target: RecordedTarget,
  callerUser: string | undefined,
): boolean {
  for (const rule of tenant.recordingRules ?? []) {
    switch (rule.scope) {
      case 'all':
        return true;
      case 'inbound':
      case 'outbound':
        if (direction === rule.scope) return true;
        break;
      case 'extension':
        if (callerUser === rule.extension && tenant.extensions.get(callerUser)?.enabled) return true;
        if (target.type === 'extension' && 'number' in target && target.number === rule.extension) return true;
        break;
      case 'queue':
        if (
          target.type === 'queue' &&
          'fsName' in target &&
          tenant.primaryDomain &&
          target.fsName === queueFsName(rule.queue, tenant.primaryDomain)
        )
          return true;
        break;
    }
  }
  return false;
}

/**
 * record_session's per-recording variables (switch_ivr_async.c switch_ivr_record_session_event, read through
 * get_recording_var): the caller in the left channel and the other party in the right one. Nothing else is
 * changed from FreeSWITCH's defaults: no minimum length (RECORD_MIN_SEC 0 unless appending, so only an empty
 * file is discarded) and RECORD_HANGUP_ON_ERROR off, so a full disk ends the recording, never the call.
 */
const RECORDING_VARS = '{RECORD_STEREO=true}';

/**
 * Adds the recording step to the call's one extension, as a condition of its own before the route's
 * (break="never": whatever it decides, the route's condition runs next). Recording starts when the call is
 * answered, so a caller still ringing is not pre-answered: record_session itself pre-answers the channel
 * (switch_ivr_record_session_event calls switch_channel_pre_answer), which would send 183 and silence instead
 * of the callee's ringing. So:
 * - not answered yet (the usual case): `execute_on_answer`, which switch_channel_perform_mark_answered runs when
 *   the bridge (or the queue's `answer`) answers the channel;
 * - already answered (a call flow's menu or announcement answered it, then transferred it here): record now.
 *   endpoint_disposition is "ANSWER" from the moment the channel is answered (switch_channel.c).
 * A call routed again after a transfer keeps its one file: record_session on a path the channel already
 * records to is a no-op ("Already recording", switch_ivr_record_session_event), and the answer fires once.
 * recording_follow_transfer moves the recording to the new leg on an attended transfer (sofia.c), so the
 * file covers the whole call.
 */
export function recordingCondition(extension: XMLBuilder, tenantId: TenantId, recordingsDir: string): void {
  const file = `${recordingsDir}/${tenantId}/\${uuid}.wav`;
  const cond = extension.ele('condition', {
    field: '${endpoint_disposition}',
    expression: '^ANSWER$',
    break: 'never',
  });
  const both = (application: string, data: string) => {
    cond.ele('action', { application, data });
    cond.ele('anti-action', { application, data });
  };
  // `set` expands ${uuid} on the channel: the CDR carries the literal relative path.
  both('set', `${CHANNEL_VARS.recording}=${tenantId}/\${uuid}.wav`);
  both('set', 'recording_follow_transfer=true');
  cond.ele('action', { application: 'record_session', data: `${file} ${RECORDING_VARS}` });
  cond.ele('anti-action', { application: 'set', data: `execute_on_answer=record_session ${file} ${RECORDING_VARS}` });
}
