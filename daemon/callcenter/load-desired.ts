// The database side of a reconciliation: each tenant's call-center rows, read fresh (never from the xml_curl cache:
// a pass follows a change and must see it) and turned into mod_callcenter's desired state by the same pure function
// the callcenter.conf answer uses (xml-handlers/callcenter-state.ts).
//
// One statement for all tenants (sql/020 callcenter_config: each tenant visited under its own RLS context), with
// only queues, agents, tiers and hold-music streams: a full pass used to load every tenant's whole snapshot (all
// extensions) in a transaction of its own, 20,000 of them for 20,000 tenants.
import type pg from 'pg';
import {
  desiredCallcenter,
  type CallcenterTenant,
  type TenantCallcenter,
} from '../../xml-handlers/callcenter-state.js';
import { asTenantId, type TenantId, type TenantStatus } from '../../xml-handlers/model.js';
import { mohStreams, toAgents, toQueue, toTier, type Row } from '../tenants/load-snapshot.js';

interface CallcenterRow {
  tenant_id: string;
  tenant_slug: string;
  tenant_status: TenantStatus;
  primary_domain: string | null;
  queues: Row[];
  agents: Row[];
  tiers: Row[];
  moh_streams: Row[];
  moh_tenant: string | null;
  moh_stream: string | null;
}

function toTenant(r: CallcenterRow): CallcenterTenant {
  const id = asTenantId(r.tenant_id);
  return {
    id,
    slug: r.tenant_slug,
    status: r.tenant_status,
    primaryDomain: r.primary_domain,
    queues: new Map(r.queues.map((q) => [q.name as string, toQueue(q)])),
    agents: toAgents(r.agents, () => undefined),
    tiers: r.tiers.map(toTier),
    extensions: new Map(r.agents.map((a) => [a.extension as string, { enabled: a.enabled === true }])),
    mohStreams: mohStreams(r.moh_streams),
    // As the snapshot has it (load-snapshot.ts): inherited only, the tenant's own default is in mohStreams.
    inheritedMoh:
      r.moh_tenant && r.moh_tenant !== r.tenant_id ? { tenant: asTenantId(r.moh_tenant), stream: r.moh_stream! } : null,
  };
}

async function read(pool: pg.Pool, ids: readonly TenantId[] | null): Promise<CallcenterTenant[]> {
  const { rows } = await pool.query<CallcenterRow>('SELECT * FROM callcenter_config($1)', [ids]);
  return rows.map(toTenant);
}

/** One tenant of an incremental pass: its primary domain (its objects' names) and what it should hold there. */
export interface TenantScope {
  domain: string | null;
  /** Undefined when it should hold nothing (suspended, no primary domain). */
  desired: TenantCallcenter | undefined;
}

/** Several tenants, in the order given (an incremental pass); undefined for one that no longer exists. */
export async function loadTenantCallcenters(
  pool: pg.Pool,
  tenantIds: readonly TenantId[],
): Promise<Array<TenantScope | undefined>> {
  const byId = new Map((await read(pool, tenantIds)).map((t) => [t.id, t]));
  return tenantIds.map((id) => {
    const t = byId.get(id);
    return t && { domain: t.primaryDomain, desired: desiredCallcenter(t) };
  });
}

/** The accounts under `roots` (sql/014 tenant_descendants): they inherit settings and hold music from them. */
export async function loadDescendants(pool: pg.Pool, roots: readonly TenantId[]): Promise<TenantId[]> {
  if (roots.length === 0) return [];
  const { rows } = await pool.query<{ id: string }>(
    'SELECT DISTINCT d AS id FROM unnest($1::uuid[]) r, tenant_descendants(r) d',
    [roots],
  );
  return rows.map((r) => asTenantId(r.id));
}

/**
 * Every active tenant's desired state that holds anything (the database side of a full reconciliation): tenants
 * without queues or agents are left out, which plans the same (planner.ts removes what no tenant wants).
 */
export async function loadAllCallcenters(pool: pg.Pool): Promise<TenantCallcenter[]> {
  return (await read(pool, null)).flatMap((t) => desiredCallcenter(t) ?? []);
}
