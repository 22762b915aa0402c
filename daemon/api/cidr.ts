// CIDR checks PostgreSQL's cidr type would make anyway, done first so the error names the field and the fix.
import { parseIp } from '../../xml-handlers/cidr.js';
import { isCidr } from '../config.js';

/** undefined if `value` is a valid cidr (a bare address is a single host), else the problem. */
export function cidrProblem(value: string): string | undefined {
  if (!isCidr(value)) return `${JSON.stringify(value)} is not an IPv4/IPv6 address or CIDR (e.g. 203.0.113.0/24)`;
  const [addr, prefix] = value.split('/') as [string, string | undefined];
  if (prefix === undefined) return undefined;
  // isCidr accepted the address, and parseIp reads what isIP accepts.
  const { value: v, family } = parseIp(addr)!;
  const hostBits = BigInt((family === 'ipv4' ? 32 : 128) - Number(prefix));
  if ((v & ((1n << hostBits) - 1n)) !== 0n)
    return `${JSON.stringify(value)} has bits set to the right of the /${prefix} mask`;
  return undefined;
}
