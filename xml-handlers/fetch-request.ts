// Turns a mod_xml_curl POST body (already form-decoded) into a typed request.
// mod_xml_curl.c always sends hostname, section, tag_name, key_name, key_value
// first, then every header of the event that triggered the fetch. Only the
// fields a handler uses are read; each is validated here, so handlers never see
// a raw string from the wire where a domain, number or uuid is expected.
import { parseConfiguration, type ConfigurationRequest } from './configuration/index.js';
import { CHANNEL_VARS } from './channel-vars.js';
import { isExtensionNumber, isSipDomain } from './fs-names.js';
import type { CallDirection } from './model.js';

const DIRECTIONS: readonly string[] = ['inbound', 'outbound', 'internal'] satisfies CallDirection[];
const callDirection = (v: string | undefined) =>
  v !== undefined && DIRECTIONS.includes(v) ? (v as CallDirection) : undefined;

/** Decoded form fields (a Map will do); a field sent more than once reads as an array. */
export interface FormBody {
  get(name: string): string | string[] | undefined;
}

/** A fetch that cannot be answered at all (HTTP 400). */
export class BadFetch extends Error {
  override name = 'BadFetch';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NODE = /^[A-Za-z0-9._-]{1,255}$/;
const MAX_VALUE = 4096;

/** A SIP domain in our canonical form (lower case), or undefined if it cannot be one. */
export function sipDomain(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const d = value.toLowerCase();
  return isSipDomain(d) ? d : undefined;
}

/** Reads single-valued fields; a field sent twice with different values is ambiguous and refused. */
function reader(body: FormBody) {
  return (name: string): string | undefined => {
    const v = body.get(name);
    if (Array.isArray(v)) {
      if (v.some((x) => x !== v[0])) throw new BadFetch(`field ${name} appears more than once`);
      return v[0];
    }
    if (v !== undefined && v.length > MAX_VALUE) throw new BadFetch(`field ${name} is too long`);
    return v;
  };
}

export type SipAuthMethod = 'REGISTER' | 'INVITE' | 'OTHER';

/**
 * A user look-up (switch_xml_locate_user). `domain` is canonical (lower case);
 * `verbatim` says FreeSWITCH spelled it that way too. FreeSWITCH caches the
 * answer under "id" + user + domain exactly as it asked, and the daemon's
 * flush (`xml_flush_cache id <user> <domain>`) names the stored spelling, so
 * only a verbatim request may be answered `cacheable`. The user needs no such
 * flag: digits have no case, and anything but digits is refused.
 */
interface UserLookup {
  user: string;
  domain: string;
  verbatim: boolean;
}

export type DirectoryRequest =
  /** sofia_reg_parse_auth: digest authentication of a REGISTER, INVITE, ... */
  | (UserLookup & { kind: 'sip_auth'; method: SipAuthMethod; toHost?: string; fromHost?: string })
  /** mod_dptools user_outgoing_channel (bridge user/N@domain), mod_voicemail's look-ups (voicemail-lookup, message-count). */
  | (UserLookup & { kind: 'user_call' | 'message-count' | 'voicemail-lookup' })
  /** sofia launch_sofia_worker_thread: <domain name="all" parse="true"/>. */
  | { kind: 'gateways' }
  /** switch_load_network_lists: <node domain="..."/> in acl.conf. */
  | { kind: 'network-list'; domain: string }
  /** final: a user look-up for a name no tenant can hold (a scanner's guess): no other binding should be asked. */
  | { kind: 'unsupported'; detail: string; final?: true };

export interface DialplanRequest {
  /** Hunt-Context: the tenant's domain for registered users, `public` for trunks. */
  context: string;
  destination: string;
  /** The A-leg Unique-ID. */
  callUuid: string;
  /** variable_fs_tenant_id as the directory put it on the channel, if any. */
  channelTenantId: string | undefined;
  /** variable_sip_network_ip: the address the INVITE came from. */
  sourceIp: string | undefined;
  /**
   * variable_user_name: the directory user sofia authenticated the call as (switch_ivr_set_user on the
   * user the directory answered), never a SIP header. Feature codes act on this extension.
   */
  callerUser: string | undefined;
  /** The direction the daemon's own dialplan exported when it first routed this call (after a transfer). */
  channelDirection: CallDirection | undefined;
}

export type FetchRequest =
  | { section: 'directory'; node: string; directory: DirectoryRequest }
  | { section: 'dialplan'; node: string; dialplan: DialplanRequest }
  | { section: 'configuration'; node: string; configuration: ConfigurationRequest }
  | { section: 'other'; node: string; name: string };

function parseDirectory(get: (n: string) => string | undefined): DirectoryRequest {
  const purpose = get('purpose');
  if (purpose === 'gateways') return { kind: 'gateways' };
  if (purpose === 'network-list') {
    const domain = sipDomain(get('domain') ?? get('key_value'));
    return domain
      ? { kind: 'network-list', domain }
      : { kind: 'unsupported', detail: 'network-list without a valid domain' };
  }
  const action = get('action');
  if (action !== 'sip_auth' && action !== 'user_call' && action !== 'message-count' && action !== 'voicemail-lookup') {
    return { kind: 'unsupported', detail: `action ${JSON.stringify(action ?? '')}` };
  }
  // switch_xml_locate_user sends key=id (or number-alias, which no user of ours has).
  if ((get('key') ?? 'id') !== 'id') return { kind: 'unsupported', detail: `key ${JSON.stringify(get('key'))}` };
  const asked = get('domain');
  const domain = sipDomain(asked);
  const user = get('user');
  if (!domain || !user || !isExtensionNumber(user)) {
    return { kind: 'unsupported', detail: 'user or domain is not one we could hold', final: true };
  }
  const verbatim = asked === domain;
  if (action !== 'sip_auth') return { kind: action, user, domain, verbatim };
  const m = get('sip_auth_method');
  const method: SipAuthMethod = m === 'REGISTER' || m === 'INVITE' ? m : 'OTHER';
  return {
    kind: 'sip_auth',
    user,
    domain,
    verbatim,
    method,
    toHost: get('sip_to_host')?.toLowerCase(),
    fromHost: get('sip_from_host')?.toLowerCase(),
  };
}

function parseDialplan(get: (n: string) => string | undefined): DialplanRequest {
  const context = get('Hunt-Context') ?? get('Caller-Context');
  const destination = get('Hunt-Destination-Number') ?? get('Caller-Destination-Number');
  const callUuid = get('Unique-ID') ?? get('Channel-Call-UUID');
  if (!context) throw new BadFetch('dialplan fetch without Hunt-Context');
  if (destination === undefined) throw new BadFetch('dialplan fetch without Hunt-Destination-Number');
  if (!callUuid || !UUID.test(callUuid)) throw new BadFetch('dialplan fetch without a valid Unique-ID');
  return {
    context,
    destination,
    callUuid,
    channelTenantId: get('variable_fs_tenant_id'),
    sourceIp: get('variable_sip_network_ip'),
    callerUser: get('variable_user_name'),
    channelDirection: callDirection(get(`variable_${CHANNEL_VARS.direction}`)),
  };
}

export function parseFetch(body: FormBody): FetchRequest {
  const get = reader(body);
  const node = get('hostname');
  const section = get('section');
  if (!node || !NODE.test(node)) throw new BadFetch('missing or invalid hostname');
  if (!section) throw new BadFetch('missing section');
  switch (section) {
    case 'directory':
      return { section, node, directory: parseDirectory(get) };
    case 'dialplan':
      return { section, node, dialplan: parseDialplan(get) };
    case 'configuration':
      return { section, node, configuration: parseConfiguration(get) };
    default:
      return { section: 'other', node, name: section };
  }
}
