// Who may fetch: HTTP basic auth with xml_curl's gateway-credentials (the
// directory hands out password hashes), and optionally only from listed networks.
import { timingSafeEqual } from 'node:crypto';
import { CidrSet } from '../../xml-handlers/cidr.js';

export class Access {
  /** The base64 credentials of `Authorization: Basic <credentials>`, as every client encodes them. */
  private readonly expected: Buffer;
  private readonly allow: CidrSet | undefined;

  constructor(user: string, password: string, allowFrom: readonly string[]) {
    this.expected = Buffer.from(Buffer.from(`${user}:${password}`, 'utf8').toString('base64'), 'latin1');
    // A bare address in FS_TENANTD_XMLCURL_ALLOW_FROM means one host.
    this.allow = allowFrom.length
      ? new CidrSet(allowFrom.map((c) => (c.includes('/') ? c : `${c}/${c.includes(':') ? 128 : 32}`)))
      : undefined;
  }

  /** Takes a getter: without an allow-list the peer address (a getpeername call) is never needed. */
  sourceAllowed(ip: () => string): boolean {
    return this.allow ? this.allow.has(ip()) : true;
  }

  /**
   * Constant time for a header of the expected length; only the length of the
   * expected "Basic <base64>" can leak through timing, which is harmless.
   */
  authorized(header: string | undefined): boolean {
    if (header === undefined || header.length !== this.expected.length + 6) return false;
    if (header.slice(0, 6).toLowerCase() !== 'basic ') return false;
    return timingSafeEqual(Buffer.from(header.slice(6), 'latin1'), this.expected);
  }
}
