// SIP domain → owning tenant, for attributing callcenter events. Before a
// tenant is known only resolve_sip_domain() may be asked. Answers (unknown
// domains too) are cached: events arrive per call, domains change rarely, and
// the sync clears the cache on every sip_domains/tenants change and resync.
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';

export interface DomainOwner {
  tenantId: TenantId;
  tenantSlug: string;
}

export class DomainOwners {
  private readonly cache: LRUCache<string, DomainOwner | 'none'>;
  private readonly inflight = new Map<string, Promise<DomainOwner | undefined>>();
  private generation = 0;

  constructor(
    private readonly pool: pg.Pool,
    opts: { max?: number; ttlMs?: number } = {},
  ) {
    this.cache = new LRUCache({ max: opts.max ?? 10_000, ttl: opts.ttlMs ?? 60_000 });
  }

  async resolve(domain: string): Promise<DomainOwner | undefined> {
    const hit = this.cache.get(domain);
    if (hit !== undefined) return hit === 'none' ? undefined : hit;
    let p = this.inflight.get(domain);
    if (!p) {
      const gen = this.generation;
      const q: Promise<DomainOwner | undefined> = this.pool
        .query<{ tenant_id: string; tenant_slug: string }>(
          'SELECT tenant_id, tenant_slug FROM resolve_sip_domain($1)',
          [domain],
        )
        .then(({ rows: [row] }) => {
          const owner = row ? { tenantId: asTenantId(row.tenant_id), tenantSlug: row.tenant_slug } : undefined;
          // An answer that raced a clear() may be stale: use it once, don't keep it.
          if (gen === this.generation) this.cache.set(domain, owner ?? 'none');
          return owner;
        })
        .finally(() => {
          if (this.inflight.get(domain) === q) this.inflight.delete(domain);
        });
      this.inflight.set(domain, (p = q));
    }
    return p;
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
    this.inflight.clear();
  }
}
