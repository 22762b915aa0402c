// directory section: who may register and be called, as sofia_reg.c and
// mod_dptools.c read it. A user is answered only inside its own tenant's
// domain, only while extension and tenant are enabled.
import { tenantHoldMusic } from './moh.js';
import { CHANNEL_VARS } from './channel-vars.js';
import type { DirectoryRequest } from './fetch-request.js';
import type { Extension, TenantHead, TenantSnapshot } from './model.js';
import { NOT_FOUND, params, section, serialize, text, trusted } from './xml.js';

export type DirectoryDecision =
  /** cacheable: FreeSWITCH may keep the answer (the request was verbatim, see fetch-request.ts). */
  | {
      kind: 'user';
      tenant: TenantHead;
      extension: Extension;
      domain: string;
      withHash: boolean;
      cacheable: boolean;
    }
  | { kind: 'not_found'; reason: string };

type UserRequest = Extract<DirectoryRequest, { kind: 'sip_auth' | 'user_call' | 'message-count' | 'voicemail-lookup' }>;

/** The tenant owning a requested domain and its extension numbered as the user asked (absent: no such user). */
export interface UserLookup {
  tenant: TenantHead;
  extension: Extension | undefined;
}

/** The lookup answered from a whole snapshot. */
export const userIn = (tenant: TenantSnapshot | null, user: string): UserLookup | null =>
  tenant && { tenant, extension: tenant.extensions.get(user) };

/** Decides the answer for a user lookup, given the tenant that owns the requested domain (null: none does). */
export function decideUser(req: UserRequest, found: UserLookup | null): DirectoryDecision {
  if (!found) return { kind: 'not_found', reason: 'unknown domain' };
  const { tenant, extension } = found;
  if (tenant.status !== 'active') return { kind: 'not_found', reason: 'tenant suspended' };
  if (!extension) return { kind: 'not_found', reason: 'unknown user' };
  if (!extension.enabled) return { kind: 'not_found', reason: 'extension disabled' };
  // Each stored hash is MD5(user:realm:password) for one of the tenant's domains spelled as stored: the one for
  // the realm asked is handed out; for a realm the password was never set in, or another spelling, none can match.
  const withHash = req.verbatim && extension.credentials.has(req.domain);
  if (req.kind === 'sip_auth') {
    if (!withHash) {
      const reason = req.verbatim ? 'no credential for this realm' : 'realm not spelled as stored';
      return { kind: 'not_found', reason };
    }
    // sofia files a REGISTER under the To host and authenticates with the realm:
    // both must be this tenant's domain, or one tenant's credentials could
    // register a contact in another tenant's domain.
    if (req.method === 'REGISTER' && req.toHost !== undefined && req.toHost !== req.domain) {
      return { kind: 'not_found', reason: 'REGISTER To host differs from the realm' };
    }
    if (req.method !== 'REGISTER' && req.fromHost !== undefined && req.fromHost !== req.domain) {
      return { kind: 'not_found', reason: 'From host differs from the realm' };
    }
  }
  // Another spelling of the domain would be cached under a key no flush clears:
  // answered, but not cacheable.
  return { kind: 'user', tenant, extension, domain: req.domain, withHash, cacheable: req.verbatim };
}

// Variables the daemon owns: an extension's own `variables` may not override them
// (user_context decides which tenant's dialplan runs; fs_* are the ledger's trust anchors).
const RESERVED = new Set([
  'user_context',
  'domain_name',
  'user_name',
  'number_alias',
  'effective_caller_id_name',
  'effective_caller_id_number',
  // Music on hold is the tenant's (moh.ts), never an extension's: no stream of another tenant can be named.
  'hold_music',
  'valet_hold_music',
  'cc_moh_override',
]);
const VAR_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function tenantDialVars(tenant: TenantHead): string {
  return `${CHANNEL_VARS.tenantId}=${tenant.id},${CHANNEL_VARS.tenantSlug}=${tenant.slug}`;
}

/**
 * The user's dial-string: its contacts in every domain of the tenant, plus the tenant variables so the B-leg carries
 * them from CHANNEL_CREATE. sofia files a registration under its To host (sofia_reg.c, reg_host) and sofia_contact
 * finds only rows of the domain it names (mod_sofia.c select_from_profile), so one lookup per domain rings the phone
 * wherever it registered. A domain without a contact yields `error/user_not_registered`, a leg switch_ivr_originate
 * skips; with no contact anywhere the bridge fails USER_NOT_REGISTERED as with one domain. Only the tenant's own
 * domains are listed, so a contact filed under a removed domain is no longer rung.
 */
export function dialString(tenant: TenantHead): string {
  const domains = tenant.primaryDomain
    ? [tenant.primaryDomain, ...tenant.domains.filter((d) => d !== tenant.primaryDomain)]
    : tenant.domains;
  const contacts = domains.length
    ? domains.map((d) => `\${sofia_contact(*/\${dialed_user}@${d})}`).join(',')
    : '${sofia_contact(*/${dialed_user}@${dialed_domain})}';
  return (
    `{^^:sip_invite_domain=\${dialed_domain}:presence_id=\${dialed_user}@\${dialed_domain}` +
    `:${CHANNEL_VARS.tenantId}=${tenant.id}:${CHANNEL_VARS.tenantSlug}=${tenant.slug}}${contacts}`
  );
}

export interface UserRenderOptions {
  /** `cacheable` attribute (ms) for a cacheable decision; 0 leaves it out so FreeSWITCH does not cache. */
  cacheableMs: number;
  /** The directory FreeSWITCH keeps voicemail boxes under (FS_TENANTD_VOICEMAIL_DIR). */
  voicemailDir: string;
}

/** Never the digest of any PIN: a box without one cannot be opened with a PIN (only by its own phone, *97). */
const NO_PIN = 'no-pin';

/** A box's folder: derived from the tenant id and the number, never from a domain in a request. */
export const mailboxDir = (root: string, tenant: TenantHead, number: string): string =>
  `${root}/${tenant.id}/${number}`;

/**
 * mod_voicemail reads these from every user it looks up, and looks users up through FreeSWITCH's user cache, so
 * every user answer carries them, whatever the fetch's purpose. vm-a1-hash is always given: without it
 * voicemail_check_main would take the SIP a1-hash as the PIN's digest.
 */
function voicemailParams(tenant: TenantHead, ext: Extension, root: string): Array<[string, string]> {
  const box = ext.voicemail;
  const pinUsable = box.pinHash !== null && box.pinRealm === tenant.primaryDomain;
  return [
    ['vm-enabled', box.enabled ? 'true' : 'false'],
    ['vm-a1-hash', pinUsable ? box.pinHash! : NO_PIN],
    ['vm-storage-dir', mailboxDir(root, tenant, ext.number)],
    ...(box.quotaS ? ([['vm-disk-quota', String(box.quotaS)]] as Array<[string, string]>) : []),
  ];
}

export function renderUser(d: Extract<DirectoryDecision, { kind: 'user' }>, opts: UserRenderOptions): string {
  const { tenant, extension: ext } = d;
  const domain = section('directory').ele('domain', { name: d.domain });
  params(domain, 'params', [['dial-string', trusted(dialString(tenant))]]);
  const userAttrs: Record<string, string> = { id: ext.number };
  if (opts.cacheableMs > 0 && d.cacheable) userAttrs.cacheable = String(opts.cacheableMs);
  const user = domain.ele('users').ele('user', userAttrs);
  params(user, 'params', [
    ...(d.withHash ? ([['a1-hash', ext.credentials.get(d.domain)!]] as Array<[string, string]>) : []),
    // The box mod_voicemail fires MWI for is <number>@<primary> (dialplan/voicemail.ts); sofia files a registration's
    // MWI account from this param (sofia_reg.c, mwi-account), else from its own domain: a phone registered in any
    // domain of the tenant gets its lamp. Always this user's own box in this tenant.
    ...(tenant.primaryDomain
      ? ([['mwi-account', `${ext.number}@${tenant.primaryDomain}`]] as Array<[string, string]>)
      : []),
    ...voicemailParams(tenant, ext, opts.voicemailDir),
  ]);
  const vars = user.ele('variables');
  const add = (name: string, value: string) => vars.ele('variable', { name, value: text(value) });
  for (const [name, value] of Object.entries(ext.variables)) {
    if (VAR_NAME.test(name) && !RESERVED.has(name) && !name.startsWith('fs_')) add(name, value);
  }
  add('user_context', tenant.primaryDomain ?? d.domain);
  add(CHANNEL_VARS.tenantId, tenant.id);
  add(CHANNEL_VARS.tenantSlug, tenant.slug);
  // On the phone's own calls and on legs originated to it (user/, mod_callcenter's agent calls), which no dialplan
  // `export` reaches: what the other party hears when this phone holds (switch_channel_get_hold_music).
  add('hold_music', tenantHoldMusic(tenant));
  add('effective_caller_id_number', ext.callerIdNumber ?? ext.number);
  add('effective_caller_id_name', ext.callerIdName ?? ext.number);
  if (tenant.defaultCallerIdNumber) add('outbound_caller_id_number', tenant.defaultCallerIdNumber);
  if (tenant.defaultCallerIdName) add('outbound_caller_id_name', tenant.defaultCallerIdName);
  return serialize(user);
}

/** purpose=gateways: the domains (no users: trunks are sofia.conf gateways, not directory ones). */
export function renderGatewayDomains(domains: readonly string[]): string {
  const s = section('directory');
  for (const name of domains) s.ele('domain', { name });
  return serialize(s);
}

/** purpose=network-list: the domain exists, but no user of ours carries a `cidr`, so the list gets no entries. */
export function renderNetworkListDomain(domain: string): string {
  return serialize(section('directory').ele('domain', { name: domain }).ele('users'));
}

export { NOT_FOUND };
