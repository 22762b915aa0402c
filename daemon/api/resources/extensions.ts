// Extensions. A password sets one digest credential per SIP domain of the
// tenant, MD5(number:realm:password) with realm = that domain (what sofia's
// digest auth checks for a phone using it; sql/015); the plaintext is neither
// stored nor returned nor logged. `realms` says where the extension can
// authenticate: a domain added later is missing until the password is set again.
import { a1Hash } from '../../db/demo-seed.js';
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { FORWARD_TARGET } from '../../../xml-handlers/dialplan/feature-codes.js';
import { MIN_MESSAGE_LENGTH_S, PROFILE_MAX_RECORD_LEN_S } from '../../../xml-handlers/dialplan/voicemail.js';
import {
  bool,
  callerIdNumber,
  digits,
  extensionNumber,
  int,
  nullable,
  safeText,
  type JsonSchema,
} from '../schema-types.js';

/**
 * Channel variables a tenant admin may put on an extension. An allowlist, not a
 * denylist: FreeSWITCH gives many variables power over the host or the routing
 * (api_hangup_hook, execute_on_answer, user_context, domain_name, fs_tenant_*),
 * so only these harmless ones and custom `x_` names are accepted.
 */
export const SETTABLE_VARIABLES = [
  'call_timeout',
  'hangup_after_bridge',
  'continue_on_fail',
  'ignore_early_media',
  'effective_caller_id_name',
  'effective_caller_id_number',
  'outbound_caller_id_name',
  'outbound_caller_id_number',
  'default_language',
  'timezone',
] as const;

const variables: JsonSchema = {
  type: 'object',
  maxProperties: 32,
  propertyNames: { pattern: `^(x_[a-z0-9_]{1,60}|${SETTABLE_VARIABLES.join('|')})$` },
  additionalProperties: safeText(256),
};

/** A number the tenant's own dialplan routes: digits, or +E.164 (sql/007; feature-codes.ts FORWARD_TARGET). */
export const forwardTarget: JsonSchema = { type: 'string', pattern: FORWARD_TARGET.source };
export const FORWARD_FIELDS = ['forwardAlways', 'forwardBusy', 'forwardNoAnswer', 'forwardUnreachable'] as const;

/** Follow-me (sql/009): numbers rung one after the other after the extension itself. */
export const followMe: JsonSchema = {
  type: 'array',
  maxItems: 10,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['number'],
    properties: { number: forwardTarget, timeoutS: { ...int(5, 120), default: 20 } },
  },
};

export const password: JsonSchema = { type: 'string', minLength: 8, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' };

export const extensions: ResourceDef = {
  path: 'extensions',
  table: 'extensions',
  noun: 'extension',
  fields: {
    number: { column: 'number', schema: extensionNumber, required: true },
    callerIdName: { column: 'caller_id_name', schema: nullable(safeText(80)) },
    callerIdNumber: { column: 'caller_id_number', schema: nullable(callerIdNumber) },
    enabled: { column: 'enabled', schema: bool },
    variables: { column: 'variables', schema: variables, cast: '::jsonb' },
    realms: {
      column: 'realms',
      select:
        '(SELECT coalesce(array_agg(c.realm::text ORDER BY c.realm), ARRAY[]::text[]) ' +
        'FROM extension_credentials c WHERE c.extension_id = extensions.id)',
      schema: {
        type: 'array',
        items: { type: 'string' },
        description: 'SIP domains the extension can authenticate in',
      },
      readOnly: true,
    },
    // Features (sql/007, README "Extension features"); also settable by the extension itself (PUT /api/me/features).
    dnd: { column: 'dnd', schema: bool },
    forwardAlways: { column: 'forward_always', schema: nullable(forwardTarget) },
    forwardBusy: { column: 'forward_busy', schema: nullable(forwardTarget) },
    forwardNoAnswer: { column: 'forward_no_answer', schema: nullable(forwardTarget) },
    forwardUnreachable: { column: 'forward_unreachable', schema: nullable(forwardTarget) },
    noAnswerTimeoutS: { column: 'no_answer_timeout_s', schema: int(5, 120) },
    followMe: { column: 'follow_me', schema: followMe, cast: '::jsonb', json: true },
    // Voicemail (sql/011, README "Voicemail"); the PIN is a secret (voicemailPin), stored only as its digest.
    voicemailEnabled: { column: 'voicemail_enabled', schema: bool },
    voicemailQuotaS: { column: 'voicemail_quota_s', schema: nullable(int(60, 360000)) },
    // sql/018: enforced by the dialplan's deposit step (xml-handlers/dialplan/voicemail.ts), not by mod_voicemail.
    voicemailMaxMessages: { column: 'voicemail_max_messages', schema: nullable(int(1, 9999)) },
    voicemailMaxLengthS: {
      column: 'voicemail_max_length_s',
      schema: nullable(int(MIN_MESSAGE_LENGTH_S, PROFILE_MAX_RECORD_LEN_S)),
    },
    voicemailPinSet: {
      column: 'voicemail_pin_hash',
      select: 'voicemail_pin_hash IS NOT NULL',
      schema: bool,
      readOnly: true,
    },
  },
  usedBy: 'a call-flow node',
  secrets: { password, voicemailPin: { ...nullable(digits(4, 12)), description: 'null removes the PIN' } },
  secretsRequiredOnCreate: ['password'],
  async beforeWrite({ db, input, before }) {
    const number = (input.number ?? before?.number) as string;
    for (const field of FORWARD_FIELDS) {
      if (input[field] === number) throw badRequest(field, 'cannot forward the extension to itself');
    }
    if ((input.followMe as { number: string }[] | undefined)?.some((s) => s.number === number))
      throw badRequest('followMe', 'cannot list the extension itself');
    const pw = input.password as string | undefined;
    const pin = input.voicemailPin as string | null | undefined;
    const renumbered = before && input.number !== undefined && input.number !== before.number;
    if (renumbered && pw === undefined) {
      throw badRequest('password', 'is required when the number changes (the SIP digest hash covers the number)');
    }
    if (renumbered && before?.voicemailPinSet && pin === undefined) {
      throw badRequest('voicemailPin', 'is required when the number changes (its digest covers the number)');
    }
    if (pin === undefined) return {};
    const {
      rows: [domain],
    } = await db.query<{ domain: string }>(
      'SELECT domain FROM sip_domains ORDER BY is_primary DESC, created_at LIMIT 1',
    );
    if (!domain) throw badRequest('voicemailPin', 'the tenant has no SIP domain');
    const out: Record<string, unknown> = {};
    // mod_voicemail checks MD5(box:domain:digits) against vm-a1-hash (voicemail_check_main), with the domain the
    // daemon's `voicemail` action names: always the primary, whichever domain the phone registered in.
    if (pin === null) Object.assign(out, { voicemail_pin_hash: null, voicemail_pin_realm: null });
    else if (pin !== undefined)
      Object.assign(out, {
        voicemail_pin_hash: a1Hash(number, domain.domain, pin),
        voicemail_pin_realm: domain.domain,
      });
    return out;
  },
  async writeDependents({ db, scope, input, before, id }) {
    const pw = input.password as string | undefined;
    if (pw === undefined) return;
    const number = (input.number ?? before?.number) as string;
    // FOR SHARE: a domain being removed (routes/sip-domains.ts locks the rows FOR UPDATE) is waited for and skipped,
    // never a foreign-key failure; one added meanwhile may be missed, and is then listed without this credential.
    const { rows } = await db.query<{ domain: string }>('SELECT domain FROM sip_domains ORDER BY domain FOR SHARE');
    if (!rows.length) throw badRequest('password', 'the tenant has no SIP domain');
    await db.query('DELETE FROM extension_credentials WHERE extension_id = $1', [id]);
    await db.query(
      `INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
      SELECT $1, $2, r.realm, r.a1_hash FROM unnest($3::text[], $4::text[]) AS r (realm, a1_hash)`,
      [scope.tenantId, id, rows.map((r) => r.domain), rows.map((r) => a1Hash(number, r.domain, pw))],
    );
  },
};
