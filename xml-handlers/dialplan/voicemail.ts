// Voicemail (mod_voicemail), always in the tenant's own primary domain, which
// is where its boxes live: the domain in `voicemail ...` comes from the
// tenant, never from the request, so no caller can reach another tenant's box.
//   *99<ext>  leave a message for one of the tenant's extensions (also where an extension's
//             unanswered calls go when its box is on and nothing else is set: ring-extension.ts)
//   *97       check the caller's own box, without PIN (sofia already authenticated the phone)
//   *98       check any box of the tenant: mod_voicemail asks for the box and its PIN
import type { Extension, TenantSnapshot } from '../model.js';
import type { RouteKind } from './route-kind.js';

export const VOICEMAIL_CODES = { leave: '*99', checkOwn: '*97', checkAny: '*98' } as const;

/** mod_voicemail's profile, served by configuration/voicemail.ts. */
export const VOICEMAIL_PROFILE = 'default';

/** voicemail.conf's max-record-len (configuration/voicemail.ts): a box's own limit can only be shorter. */
export const PROFILE_MAX_RECORD_LEN_S = 300;
/** A box's max length is at least this: above the profile's min-record-len (2 s), under which nothing is kept. */
export const MIN_MESSAGE_LENGTH_S = 5;

export type VoicemailTarget =
  | {
      type: 'voicemail';
      action: 'leave';
      domain: string;
      box: string;
      /** The box's own limits (sql/018); null: none. */
      maxMessages: number | null;
      maxLengthS: number | null;
    }
  | { type: 'voicemail'; action: 'check-own'; domain: string; box: string }
  | { type: 'voicemail'; action: 'check-any'; domain: string };

const hasBox = (ext: Extension | undefined): ext is Extension => ext?.enabled === true && ext.voicemail.enabled;

/** Where a call leaves a message for `number`, or undefined when it has no box that is on. */
export function leaveMessage(tenant: TenantSnapshot, number: string): VoicemailTarget | undefined {
  const ext = tenant.extensions.get(number);
  return tenant.primaryDomain && hasBox(ext)
    ? {
        type: 'voicemail',
        action: 'leave',
        domain: tenant.primaryDomain,
        box: ext.number,
        maxMessages: ext.voicemail.maxMessages,
        maxLengthS: ext.voicemail.maxLengthS,
      }
    : undefined;
}

/** *97 and *98 need the calling user (variable_user_name): decided in index.ts with the request. */
export function checkMessages(
  tenant: TenantSnapshot,
  destination: string,
  callerUser: string | undefined,
): VoicemailTarget | undefined {
  if (!tenant.primaryDomain) return undefined;
  if (destination === VOICEMAIL_CODES.checkAny)
    return { type: 'voicemail', action: 'check-any', domain: tenant.primaryDomain };
  if (destination !== VOICEMAIL_CODES.checkOwn || callerUser === undefined) return undefined;
  const ext = tenant.extensions.get(callerUser);
  return hasBox(ext)
    ? { type: 'voicemail', action: 'check-own', domain: tenant.primaryDomain, box: ext.number }
    : undefined;
}

export const takeVoicemail: RouteKind<VoicemailTarget> = {
  type: 'voicemail',
  dialled: (tenant, destination) => {
    if (!destination.startsWith(VOICEMAIL_CODES.leave)) return undefined;
    const target = leaveMessage(tenant, destination.slice(VOICEMAIL_CODES.leave.length));
    return target && { direction: 'internal', target };
  },
  actions: (target, act) => {
    act('answer');
    // voicemail_function (mod_voicemail.c): [check] [auth] <profile> <domain> [<id>]; `auth` skips the PIN.
    switch (target.action) {
      case 'leave':
        // No "press 1 to keep it" after recording (create_file's record-file check): hanging up keeps it.
        act('set', 'skip_record_check=true');
        // A box's own max length. mod_voicemail has only the profile's max-record-len (create_file passes it to
        // switch_ivr_record_file), so: when the message's recording starts (switch_ivr_record_file_event runs
        // api_on_record_start), schedule uuid_break N s later; it sets CF_BREAK, which ends that recording loop
        // like the profile's limit does, and the message is delivered as usual. `set` expands ${uuid} now.
        if (target.maxLengthS !== null && target.maxLengthS < PROFILE_MAX_RECORD_LEN_S)
          act('set', `api_on_record_start=sched_api +${target.maxLengthS} none uuid_break \${uuid}`);
        act('voicemail', `${VOICEMAIL_PROFILE} ${target.domain} ${target.box}`);
        break;
      case 'check-own':
        act('voicemail', `check auth ${VOICEMAIL_PROFILE} ${target.domain} ${target.box}`);
        break;
      case 'check-any':
        act('voicemail', `check ${VOICEMAIL_PROFILE} ${target.domain}`);
        break;
    }
    act('hangup', 'NORMAL_CLEARING');
  },
  gate: (target) => {
    if (target.action !== 'leave' || target.maxMessages === null) return undefined;
    // mod_voicemail counts no messages against a limit (only vm-disk-quota, seconds). Checked when FreeSWITCH
    // hunts this route, i.e. right before the deposit (a no-answer fallback transfers to *99<n>, hunted anew):
    // vm_boxcount's `new` (boxcount_api_function: unheard, urgent included) against the box's limit, through
    // mod_commands' cond. A full box hears mod_voicemail's own quota prompt and the call ends, as when
    // voicemail_leave_main finds vm-disk-quota exceeded.
    const count = `\${vm_boxcount(${VOICEMAIL_PROFILE}/${target.box}@${target.domain}|new)}`;
    return {
      field: `\${cond(${count} >= ${target.maxMessages} ? full : open)}`,
      expression: '^open$',
      otherwise: (act) => {
        act('set', 'voicemail_box_full=true');
        act('answer');
        act('phrase', 'voicemail_disk_quota_exceeded');
        act('hangup', 'NORMAL_CLEARING');
      },
    };
  },
};
