// CIDR membership for trunk source checks and ACL rendering (node:net's
// BlockList does the arithmetic; nothing here touches the network).
import { BlockList, isIP } from 'node:net';

/** A CIDR in the form PostgreSQL's cidr type prints (`10.0.0.0/8`, `2001:db8::/32`), or undefined. */
export function parseCidr(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(value);
  if (!m) return undefined;
  const family = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (family === 4 && prefix <= 32) return { address: m[1]!, prefix, family: 'ipv4' };
  if (family === 6 && prefix <= 128) return { address: m[1]!, prefix, family: 'ipv6' };
  return undefined;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; undefined if not an IP address at all. */
export function normalizeIp(ip: string | undefined): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  if (!ip) return undefined;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
  const family = isIP(v4);
  return family === 4 ? { address: v4, family: 'ipv4' } : family === 6 ? { address: v4, family: 'ipv6' } : undefined;
}

export class CidrSet {
  private readonly list = new BlockList();
  constructor(cidrs: Iterable<string>) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      if (p) this.list.addSubnet(p.address, p.prefix, p.family);
    }
  }

  has(ip: string | undefined): boolean {
    const n = normalizeIp(ip);
    return n ? this.list.check(n.address, n.family) : false;
  }
}
