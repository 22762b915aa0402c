// Who may fetch: HTTP basic auth with xml_curl's gateway-credentials (the
// directory hands out password hashes), and optionally only from listed networks.
import { timingSafeEqual, createHash } from 'node:crypto';
import { CidrSet } from '../../xml-handlers/cidr.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class Access {
  private readonly expected: Buffer;
  private readonly allow: CidrSet | undefined;

  constructor(user: string, password: string, allowFrom: readonly string[]) {
    this.expected = digest(`${user}:${password}`);
    // A bare address in FS_TENANTD_XMLCURL_ALLOW_FROM means one host.
    this.allow = allowFrom.length
      ? new CidrSet(allowFrom.map((c) => (c.includes('/') ? c : `${c}/${c.includes(':') ? 128 : 32}`)))
      : undefined;
  }

  sourceAllowed(ip: string): boolean {
    return this.allow ? this.allow.has(ip) : true;
  }

  /** Compares hashes so neither length nor content leaks through timing. */
  authorized(header: string | undefined): boolean {
    const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(header ?? '');
    if (!m) return false;
    return timingSafeEqual(digest(Buffer.from(m[1]!, 'base64').toString('utf8')), this.expected);
  }
}
