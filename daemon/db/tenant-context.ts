import type pg from 'pg';
import type { TenantId } from '../../xml-handlers/model.js';

export interface WithTenantOptions {
  readOnly?: boolean;
}

/**
 * Runs fn in a transaction whose tenant context is `tenantId`. The context is set
 * with set_config(..., is_local = true), so it ends with the transaction: a pooled
 * connection never carries one tenant's context into the next checkout. Every
 * access to tenant data, from every entry point, goes through here; the one
 * other setter of the context is sql/005's insert_call_records (call-record
 * batches), which does the same inside the database, one tenant at a time.
 */
export async function withTenant<T>(
  pool: pg.Pool,
  tenantId: TenantId,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: WithTenantOptions = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // pg-pool listens for errors on idle clients only: a checked-out client whose server goes away (PostgreSQL
  // restarting, a terminated backend) emits 'error', which with no listener would end the process. The query in
  // flight fails on its own; the client is then destroyed instead of returned.
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query(options.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
    await client.query("SELECT set_config('app.current_tenant', $1, true)", [tenantId]);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // If even ROLLBACK fails the connection's state is unknown: destroy it rather than reuse it.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken = rollbackErr;
    });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
