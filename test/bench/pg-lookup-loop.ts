// Baseline for the cold-cache figure: the same look-ups a sip_auth fetch needs
// (domain -> tenant through resolve_sip_domain, then the extension inside
// withTenant), for the same users in the same order, with the same pool size and
// the same number in flight, but no HTTP, no cache and no XML. Runs in the
// server's slot of the process layout.
import { createPool } from '../../daemon/db/open-database.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { percentiles, type LatencySummary } from './percentiles.js';
import { serveCalls } from './processes.js';
import { scaledDomain, scaledUser } from './requests.js';

export interface LookupJob {
  url: string;
  poolMax: number;
  inFlight: number;
  tenants: number;
  usersPerTenant: number;
}
export interface LookupResult extends LatencySummary {
  lookups: number;
  found: number;
  elapsedS: number;
  rps: number;
  /** The first pass over the tenants (each tenant's first user), and the rest. */
  firstPass: LatencySummary;
  rest: LatencySummary;
}

async function run(job: LookupJob): Promise<LookupResult> {
  const pool = createPool(job.url, job.poolMax);
  try {
    const total = job.tenants * job.usersPerTenant;
    const latencies = new Float64Array(total);
    let next = 0;
    let found = 0;
    const started = performance.now();
    const worker = async () => {
      for (let n = next++; n < total; n = next++) {
        const t0 = performance.now();
        const domain = scaledDomain(n % job.tenants);
        const user = scaledUser(Math.floor(n / job.tenants));
        const {
          rows: [tenant],
        } = await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM resolve_sip_domain($1)', [domain]);
        if (tenant) {
          const row = await withTenant(
            pool,
            asTenantId(tenant.tenant_id),
            async (db) =>
              (
                await db.query(
                  `SELECT number, c.a1_hash, caller_id_name, caller_id_number, variables
                  FROM extensions e JOIN extension_credentials c ON c.extension_id = e.id AND c.realm = $2
                  WHERE number = $1 AND enabled`,
                  [user, domain],
                )
              ).rows[0],
            { readOnly: true },
          );
          if (row) found++;
        }
        latencies[n] = performance.now() - t0;
      }
    };
    await Promise.all(Array.from({ length: job.inFlight }, worker));
    const elapsedS = (performance.now() - started) / 1000;
    return {
      lookups: total,
      found,
      elapsedS,
      rps: total / elapsedS,
      ...percentiles(latencies),
      firstPass: percentiles(latencies.subarray(0, job.tenants)),
      rest: percentiles(latencies.subarray(job.tenants)),
    };
  } finally {
    await pool.end();
  }
}

serveCalls({ run });
