// The scale data set: `tenants` tenants (slug t0000.., domain t0000.bench.test),
// each with extensions 1000.. (password "<slug>-<number>"), written through
// withTenant as the serving role, as the admin API would: RLS checks every row.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { scaledDomain, scaledSlug } from './requests.js';

export async function seedScale(
  pool: pg.Pool,
  opts: { tenants: number; usersPerTenant: number; parallel: number },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let t = next++; t < opts.tenants; t = next++) {
      const tenantId = asTenantId(randomUUID());
      const slug = scaledSlug(t);
      const domain = scaledDomain(t);
      await withTenant(pool, tenantId, async (db) => {
        await db.query('INSERT INTO tenants (id, slug, name, max_total) VALUES ($1, $2, $3, 50)', [
          tenantId,
          slug,
          `Bench ${slug}`,
        ]);
        await db.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [
          tenantId,
          domain,
        ]);
        await db.query(
          `WITH e AS (INSERT INTO extensions (tenant_id, number, caller_id_name, caller_id_number)
            SELECT $1, n::text, $3 || ' ' || n::text, n::text
            FROM generate_series(1000, 1000 + $4::int - 1) AS n RETURNING id, number)
          INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
          SELECT $1, e.id, $2::text, md5(e.number || ':' || $2::text || ':' || $3 || '-' || e.number) FROM e`,
          [tenantId, domain, slug, opts.usersPerTenant],
        );
      });
    }
  };
  await Promise.all(Array.from({ length: opts.parallel }, worker));
}
