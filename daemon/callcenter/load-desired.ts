// The database side of a reconciliation: each tenant's snapshot, read fresh
// (never from the xml_curl cache: a pass follows a change and must see it) and
// turned into mod_callcenter's desired state by the same pure function the
// callcenter.conf answer uses (xml-handlers/callcenter-state.ts).
import type pg from 'pg';
import { desiredCallcenter, type TenantCallcenter } from '../../xml-handlers/callcenter-state.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { listTenants, loadSnapshot } from '../tenants/load-snapshot.js';

/** One tenant's desired call-center state; undefined when it should hold nothing (suspended, no primary domain, gone). */
export async function loadTenantCallcenter(pool: pg.Pool, tenantId: TenantId): Promise<TenantCallcenter | undefined> {
  const snapshot = await loadSnapshot(pool, tenantId);
  return snapshot ? desiredCallcenter(snapshot) : undefined;
}

/**
 * Every active tenant's desired state (the database side of a full
 * reconciliation). Tenants are read `concurrency` at a time: each is its own
 * short transaction, so this is round-trip bound, not CPU bound.
 */
export async function loadAllCallcenters(pool: pg.Pool, concurrency = 4): Promise<TenantCallcenter[]> {
  const tenants = (await listTenants(pool)).filter((t) => t.status === 'active');
  const out: Array<TenantCallcenter | undefined> = new Array(tenants.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < tenants.length; i = next++) out[i] = await loadTenantCallcenter(pool, tenants[i]!.id);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out.filter((t): t is TenantCallcenter => t !== undefined);
}
