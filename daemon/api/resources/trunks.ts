// SIP trunks: the carrier gateway (proxy, credentials) and the source CIDRs
// allowed to send calls for the tenant's DIDs. The password is write-only.
import { badRequest } from '../errors.js';
import { cidrProblem } from '../cidr.js';
import type { ResourceDef } from '../resource.js';
import { bool, nullable, slug } from '../schema-types.js';

export const trunks: ResourceDef = {
  path: 'trunks',
  table: 'sip_trunks',
  noun: 'trunk',
  fields: {
    name: { column: 'name', schema: slug, required: true },
    proxy: { column: 'proxy', schema: nullable({ type: 'string', pattern: '^[A-Za-z0-9.:\\[\\]-]{1,255}$' }) },
    username: { column: 'username', schema: nullable({ type: 'string', pattern: '^[A-Za-z0-9._@+-]{1,128}$' }) },
    password: {
      column: 'password',
      schema: nullable({ type: 'string', pattern: '^[\\x21-\\x7e]{1,128}$' }),
      writeOnly: true,
    },
    hasPassword: { column: 'password', select: 'password IS NOT NULL', schema: { type: 'boolean' }, readOnly: true },
    register: { column: 'register', schema: bool },
    allowedCidrs: {
      column: 'allowed_cidrs',
      select: 'allowed_cidrs::text[]',
      cast: '::cidr[]',
      schema: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 49 } },
    },
    enabled: { column: 'enabled', schema: bool },
  },
  beforeWrite({ input, before }) {
    const cidrs = input.allowedCidrs as string[] | undefined;
    cidrs?.forEach((c, i) => {
      const problem = cidrProblem(c);
      if (problem) throw badRequest(`allowedCidrs/${i}`, problem);
    });
    const merged = { ...before, ...input };
    const hasPassword = input.password !== undefined ? input.password !== null : before?.hasPassword === true;
    if (merged.register === true && (!merged.proxy || !merged.username || !hasPassword)) {
      throw badRequest('register', 'a registering trunk needs proxy, username and password');
    }
    return {};
  },
};
