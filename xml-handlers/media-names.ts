// Names the daemon gives tenant things in FreeSWITCH's node-wide media tables,
// built so two tenants can never share one.
import type { FlowNodeId, TenantId } from './model.js';

/**
 * A conference room: `<room>@<tenant domain>` (mod_conference keeps one global room table, keyed by this name),
 * then `@<node uuid>` as the profile, which conference.conf answers for that room only. The room part is a node
 * name ([a-z0-9_-]: no `@`, `+` or space that conference_function would split on).
 */
export const conferenceData = (room: string, domain: string, node: FlowNodeId): string => `${room}@${domain}@${node}`;

/** Splits mod_conference's conference_name (`<room>@<domain>`) as conferenceData built it. */
export function parseConferenceName(name: string): { room: string; domain: string } | undefined {
  const m = /^([a-z0-9][a-z0-9_-]{0,62})@([a-z0-9.-]{1,253})$/.exec(name);
  return m ? { room: m[1]!, domain: m[2]! } : undefined;
}

const decimal = (uuid: string) => BigInt(`0x${uuid.replace(/-/g, '')}`).toString();

/**
 * A valet parking lot: digits only, `<lot node>@<tenant>` as decimal numbers. mod_valet_parking answers a
 * park+ subscription from domain D with every lot whose name has no `@` or contains D (pres_event_handler,
 * switch_stristr): a SIP domain starts with a letter, so no domain is ever a substring of a name without one,
 * and the `@` keeps the lot out of the no-`@` match-all. (So no lot's state reaches any subscriber: see README.)
 */
export const parkingLotName = (tenant: TenantId, node: FlowNodeId): string => `${decimal(node)}@${decimal(tenant)}`;

/**
 * A tenant's music-on-hold stream in mod_local_stream's one node-wide table of sources: `moh_<tenant>_<stream>`,
 * both uuids, never the tenant's own name for it (unique per tenant only). Why it cannot reach another tenant's
 * music: local_stream_file_open looks up `<name>/<rate>` first, then `<name>`, then falls back to `default`; the
 * name has no `/`, so no `<name>/<rate>` exists except the stock `moh/8000`, and `default` is the platform's stock
 * stream (local_stream.conf), never a tenant's (sql/013 reserves the name, and these names never contain it).
 */
export const mohStreamName = (tenant: TenantId, stream: string): string => `moh_${tenant}_${stream}`;

const MOH_NAME = /^moh_([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})_([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$/;

/** Splits a name mohStreamName built; undefined for any other source (the stock ones, a hand-made stream). */
export function parseMohStreamName(name: string): { tenant: TenantId; stream: string } | undefined {
  const m = MOH_NAME.exec(name);
  return m ? { tenant: m[1] as TenantId, stream: m[2]! } : undefined;
}

/** A stream's folder under FS_TENANTD_MOH_DIR: from the two ids only, never from a name the tenant chose. */
export const mohStreamDir = (root: string, tenant: TenantId, stream: string): string =>
  `${root.replace(/\/+$/, '')}/${tenant}/${stream}`;
