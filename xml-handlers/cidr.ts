// CIDR membership for trunk source checks and ACL rendering, as plain arithmetic
// on 128-bit numbers (node:net's BlockList would do it, but the core imports
// nothing that can open a socket). Same answers as BlockList, which
// test/xml-handlers/cidr.test.ts checks: an IPv4 address also matches as
// ::ffff:a.b.c.d and back, an IPv6 zone (%eth0) is ignored, host bits of a rule
// are masked off.

export type IpFamily = 'ipv4' | 'ipv6';

const V4_PART = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const V4 = new RegExp(`^(?:${V4_PART}\\.){3}${V4_PART}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE = /^[0-9a-zA-Z.:-]+$/;

const v4Value = (s: string): bigint => s.split('.').reduce((n, part) => (n << 8n) | BigInt(part), 0n);

/** The 16-bit groups of one side of `::`; a dotted quad may only end the address. */
function groups(part: string, endsAddress: boolean): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  const parts = part.split(':');
  for (const [i, g] of parts.entries()) {
    if (endsAddress && i === parts.length - 1 && V4.test(g)) {
      const v = Number(v4Value(g));
      out.push(v >>> 16, v & 0xffff);
    } else if (HEX_GROUP.test(g)) {
      out.push(parseInt(g, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

function v6Value(s: string): bigint | undefined {
  const pct = s.indexOf('%');
  if (pct >= 0 && !ZONE.test(s.slice(pct + 1))) return undefined;
  const halves = (pct >= 0 ? s.slice(0, pct) : s).split('::');
  if (halves.length > 2) return undefined;
  const head = groups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  // `::` stands for at least one zero group; without it there must be exactly eight.
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 2 ? zeros < 1 : zeros !== 0) return undefined;
  return [...head, ...new Array<number>(halves.length === 2 ? zeros : 0).fill(0), ...tail].reduce(
    (n, g) => (n << 16n) | BigInt(g),
    0n,
  );
}

/** An IP address (as node:net's isIP accepts it) and its value: 32 bits for IPv4, 128 for IPv6. */
export function parseIp(s: string): { family: IpFamily; value: bigint } | undefined {
  if (V4.test(s)) return { family: 'ipv4', value: v4Value(s) };
  const value = s.includes(':') ? v6Value(s) : undefined;
  return value === undefined ? undefined : { family: 'ipv6', value };
}

/** A CIDR in the form PostgreSQL's cidr type prints (`10.0.0.0/8`, `2001:db8::/32`), or undefined. */
export function parseCidr(value: string): { address: string; prefix: number; family: IpFamily } | undefined {
  const m = /^([0-9A-Fa-f.:]+)\/(\d{1,3})$/.exec(value);
  if (!m) return undefined;
  const family = parseIp(m[1]!)?.family;
  const prefix = Number(m[2]);
  if (family === 'ipv4' && prefix <= 32) return { address: m[1]!, prefix, family };
  if (family === 'ipv6' && prefix <= 128) return { address: m[1]!, prefix, family };
  return undefined;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`; undefined if not an IP address at all. */
export function normalizeIp(ip: string | undefined): { address: string; family: IpFamily } | undefined {
  if (!ip) return undefined;
  const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
  const family = parseIp(address)?.family;
  return family ? { address, family } : undefined;
}

const ALL_BITS = (1n << 128n) - 1n;
const V4_MAPPED = 0xffffn << 32n;

/** In IPv6 space: IPv4 as ::ffff:a.b.c.d, so a rule of either family can match an address of the other. */
function as128(ip: { family: IpFamily; value: bigint }): bigint {
  return ip.family === 'ipv4' ? V4_MAPPED | ip.value : ip.value;
}

export class CidrSet {
  private readonly rules: Array<{ network: bigint; mask: bigint }> = [];
  constructor(cidrs: Iterable<string>) {
    for (const c of cidrs) {
      const p = parseCidr(c);
      if (!p) continue;
      const prefix = p.family === 'ipv4' ? 96 + p.prefix : p.prefix;
      const mask = ALL_BITS ^ ((1n << BigInt(128 - prefix)) - 1n);
      this.rules.push({ network: as128(parseIp(p.address)!) & mask, mask });
    }
  }

  has(ip: string | undefined): boolean {
    const n = normalizeIp(ip);
    if (!n) return false;
    const v = as128(parseIp(n.address)!);
    return this.rules.some((r) => (v & r.mask) === r.network);
  }
}
