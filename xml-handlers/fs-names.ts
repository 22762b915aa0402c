// The shapes of the names fs-tenantd hands FreeSWITCH, where they end up as keys
// in one of its flat, node-wide namespaces. One rule per name, used by the
// fetch parser, the ESL flusher, the call-center naming, the admin API schemas
// and (as SQL) the database, so what can be stored is exactly what is safe to
// serve. No I/O here.
//
// The directory user cache (switch_xml.c, switch_xml_locate_user_merged →
// switch_xml_user_cache / switch_xml_locate_user_cache) keys a cached user by
//   snprintf(mega_key, 1024, "%s%s%s", key, user_name, domain_name)
// with no separator, in a case-sensitive hash, and `xml_flush_cache id <user>
// <domain>` (switch_xml_clear_user_cache) clears by the same key. Extension
// numbers are digits only and a SIP domain starts with a letter, so in
// "id" + user + domain the user is exactly the leading run of digits: the key
// splits back into one (user, domain) pair, and two tenants can never share an
// entry ("100" in "0acme.test" and "1000" in "acme.test" both made
// "id1000acme.test" when a domain could start with a digit).

/** Extension numbers (extensions.number CHECK in sql/001_schema.sql). */
export const EXTENSION_NUMBER_PATTERN = '^[0-9]{2,10}$';
const EXTENSION_NUMBER = new RegExp(EXTENSION_NUMBER_PATTERN);
export const isExtensionNumber = (s: string): boolean => EXTENSION_NUMBER.test(s);

/**
 * A SIP domain as stored and served: lower-case host name, labels of at most 63
 * characters, at most 253 in all, and the first character a letter (the
 * directory cache key above; sql/006_sip_domain_letter_first.sql).
 */
export const SIP_DOMAIN_PATTERN =
  '^(?=.{1,253}$)[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$';
export const SIP_DOMAIN_MAX_LENGTH = 253;
const SIP_DOMAIN = new RegExp(SIP_DOMAIN_PATTERN);
export const isSipDomain = (s: string): boolean => SIP_DOMAIN.test(s);

/**
 * Tenant slugs, trunk and queue names (the `slug` SQL domain): no `_` and no `@`,
 * so `<tenant>_<trunk>` (gateways), `<tenant>_trunks` (ACL lists) and
 * `<queue>@<domain>` (mod_callcenter) split back into their parts.
 */
export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$';
const SLUG = new RegExp(SLUG_PATTERN);
export const isSlug = (s: string): boolean => SLUG.test(s);

/**
 * The keys switch_xml_locate_user_merged tries, in order, for a `key` of
 * "id:number-alias" (mod_dptools user/); sofia's digest auth uses "id" alone.
 * The daemon answers only "id" look-ups, so only "id" entries are ever cached.
 */
export const FS_USER_LOOKUP_KEYS = ['id', 'number-alias'] as const;
/** The key `xml_flush_cache id <user> <domain>` clears, and the only one the daemon answers. */
export const FS_USER_ID_KEY = 'id';

/** switch_xml.c's mega_key buffer: snprintf keeps at most 1023 bytes of the key. */
export const FS_USER_CACHE_KEY_BUFFER = 1024;
/**
 * The longest key our names can make ("number-alias" + 10 digits + 253), far
 * under the 1023 bytes FreeSWITCH keeps: truncation never merges two keys.
 */
export const FS_USER_CACHE_KEY_MAX = 'number-alias'.length + 10 + SIP_DOMAIN_MAX_LENGTH;

/**
 * The key FreeSWITCH files a directory user under, built as switch_xml.c builds
 * it: key, user and domain concatenated and cut to the buffer. Returned one
 * character per byte (latin1), so equal strings mean equal C keys.
 */
export function fsUserCacheKey(key: string, user: string, domain: string): string {
  const bytes = Buffer.from(`${key}${user}${domain}`, 'utf8');
  return bytes.subarray(0, FS_USER_CACHE_KEY_BUFFER - 1).toString('latin1');
}
