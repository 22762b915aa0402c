// CIDR checks PostgreSQL's cidr type would make anyway, done first so the error names the field and the fix.
import { isIP } from 'node:net';
import { isCidr } from '../config.js';

function toBigInt(addr: string): { value: bigint; bits: number } {
  if (isIP(addr) === 4) return { value: addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), bits: 32 };
  // Expand "::" and an embedded dotted quad (::ffff:10.0.0.1) into eight groups.
  let a = addr;
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1];
  if (quad) {
    const v = toBigInt(quad).value;
    a = a.slice(0, -quad.length) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g || '0'}`), 0n), bits: 128 };
}

/** undefined if `value` is a valid cidr (a bare address is a single host), else the problem. */
export function cidrProblem(value: string): string | undefined {
  if (!isCidr(value)) return `${JSON.stringify(value)} is not an IPv4/IPv6 address or CIDR (e.g. 203.0.113.0/24)`;
  const [addr, prefix] = value.split('/') as [string, string | undefined];
  if (prefix === undefined) return undefined;
  const { value: v, bits } = toBigInt(addr);
  const hostBits = BigInt(bits - Number(prefix));
  if ((v & ((1n << hostBits) - 1n)) !== 0n) return `${JSON.stringify(value)} has bits set to the right of the /${prefix} mask`;
  return undefined;
}
