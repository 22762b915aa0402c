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

export type VoicemailTarget =
  | { type: 'voicemail'; action: 'leave'; domain: string; box: string }
  | { type: 'voicemail'; action: 'check-own'; domain: string; box: string }
  | { type: 'voicemail'; action: 'check-any'; domain: string };

const hasBox = (ext: Extension | undefined): ext is Extension => ext?.enabled === true && ext.voicemail.enabled;

/** Where a call leaves a message for `number`, or undefined when it has no box that is on. */
export function leaveMessage(tenant: TenantSnapshot, number: string): VoicemailTarget | undefined {
  const ext = tenant.extensions.get(number);
  return tenant.primaryDomain && hasBox(ext)
    ? { type: 'voicemail', action: 'leave', domain: tenant.primaryDomain, box: ext.number }
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
};
