// FreeSWITCH-side names for mod_callcenter objects. mod_callcenter has one flat
// namespace per node, so every name is qualified by the owning tenant's primary
// SIP domain (unique across tenants by the sip_domains.domain constraint):
//
//   queue   <queue name>@<domain>       support@acme.pbx.test
//   agent   <extension number>@<domain> 1001@acme.pbx.test
//   contact {fs_tenant_id=<uuid>,fs_tenant_slug=<slug>}[leg_timeout=<s>]user/<extension>@<domain>
//
// Names are derived, never typed by a user: queue names are slugs and extension
// numbers digits (both enforced by CHECK constraints), so a name never holds a
// space, quote, comma or second "@", and the domain part alone identifies the
// tenant: `<local>@<domain>` splits at its only "@", so distinct (queue, domain)
// or (extension, domain) pairs never share a name (test/xml-handlers/fs-names.test.ts).
// The contact puts `{...}` first because switch_ivr_originate only parses `{}`
// at the very start of a dial string and `[]` right before the endpoint; the
// tenant variables make the agent leg carry its tenant from CHANNEL_CREATE on
// (the directory's user variables arrive only after answer).
import { CHANNEL_VARS } from './channel-vars.js';
import { EXTENSION_NUMBER_PATTERN, SIP_DOMAIN_PATTERN, SLUG_PATTERN } from './fs-names.js';
import type { TenantId } from './model.js';

const QUEUE_LOCAL = new RegExp(SLUG_PATTERN);
const AGENT_LOCAL = new RegExp(EXTENSION_NUMBER_PATTERN);
const DOMAIN = new RegExp(SIP_DOMAIN_PATTERN);
const SLUG = QUEUE_LOCAL;

export class NamingError extends Error {
  override name = 'NamingError';
}

export interface QualifiedName {
  /** Queue name or extension number. */
  local: string;
  /** The tenant's SIP domain. */
  domain: string;
}

function qualify(kind: string, local: string, domain: string, localPattern: RegExp): string {
  if (!localPattern.test(local)) throw new NamingError(`invalid ${kind} name ${JSON.stringify(local)}`);
  if (!DOMAIN.test(domain)) throw new NamingError(`invalid SIP domain ${JSON.stringify(domain)}`);
  return `${local}@${domain}`;
}

export const queueFsName = (queueName: string, domain: string): string =>
  qualify('queue', queueName, domain, QUEUE_LOCAL);

export const agentFsName = (extension: string, domain: string): string =>
  qualify('agent', extension, domain, AGENT_LOCAL);

/** Splits `local@domain`; undefined unless both parts have the shape this module produces. */
export function parseFsName(name: string, kind: 'queue' | 'agent'): QualifiedName | undefined {
  const at = name.indexOf('@');
  if (at <= 0 || at !== name.lastIndexOf('@')) return undefined;
  const local = name.slice(0, at);
  const domain = name.slice(at + 1);
  if (!(kind === 'queue' ? QUEUE_LOCAL : AGENT_LOCAL).test(local) || !DOMAIN.test(domain)) return undefined;
  return { local, domain };
}

/** The domain part of any `x@domain` name (lower-cased), for attribution of names we did not produce. */
export function domainOf(name: string): string | undefined {
  const at = name.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = name.slice(at + 1).toLowerCase();
  return DOMAIN.test(domain) ? domain : undefined;
}

export interface ContactSpec {
  tenantId: TenantId;
  tenantSlug: string;
  extension: string;
  domain: string;
  /** Seconds mod_callcenter lets the agent's phone ring (leg_timeout). */
  legTimeoutS: number;
}

/** The originate string mod_callcenter dials for a callback agent. */
export function agentContact(c: ContactSpec): string {
  if (!SLUG.test(c.tenantSlug)) throw new NamingError(`invalid tenant slug ${JSON.stringify(c.tenantSlug)}`);
  if (!Number.isInteger(c.legTimeoutS) || c.legTimeoutS < 1 || c.legTimeoutS > 3600) {
    throw new NamingError(`invalid leg timeout ${c.legTimeoutS}`);
  }
  const user = agentFsName(c.extension, c.domain);
  return `{${CHANNEL_VARS.tenantId}=${c.tenantId},${CHANNEL_VARS.tenantSlug}=${c.tenantSlug}}[leg_timeout=${c.legTimeoutS}]user/${user}`;
}
