import pg from 'pg';
import type { TenantId } from '../../xml-handlers/model.js';

export interface WithTenantOptions {
  readOnly?: boolean;
  /**
   * A reseller acting inside one of its accounts (sql/014 app.via_reseller): PostgreSQL then honours the tenant
   * context only if the tenant lies in that reseller's subtree, so a wrong id reads and writes nothing.
   */
  viaReseller?: TenantId;
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
  return inTransaction(pool, tenantContext(tenantId, options.viaReseller), fn, options.readOnly);
}

/**
 * Read-only `statements` (SQL text; values inlined with pg's escapeLiteral) in one transaction whose tenant context
 * is `tenantId`, set as withTenant sets it, sent as ONE simple-protocol query: BEGIN, the context, the statements and
 * COMMIT run in order, in one round trip where withTenant needs two plus one per statement. PostgreSQL stops at the
 * first statement that fails, inside the transaction, which is then rolled back. Each statement's result, in order.
 */
export async function readAsTenant(
  pool: pg.Pool,
  tenantId: TenantId,
  statements: readonly string[],
): Promise<pg.QueryResult[]> {
  const begin = beginSql(tenantContext(tenantId), true);
  return checkedOut(pool, async (client) => {
    const results = (await client.query(
      `${begin};\n${statements.join(';\n')};\nCOMMIT`,
    )) as unknown as pg.QueryResult[];
    return results.slice(2, 2 + statements.length);
  });
}

const tenantContext = (tenantId: TenantId, viaReseller?: TenantId) => ({
  'app.current_tenant': tenantId,
  'app.via_reseller': viaReseller ?? '',
});

/** One transaction whose settings (set_config(..., is_local = true)) end with it. */
async function inTransaction<T>(
  pool: pg.Pool,
  settings: Record<string, string>,
  fn: (client: pg.PoolClient) => Promise<T>,
  readOnly = false,
): Promise<T> {
  return checkedOut(pool, async (client) => {
    await client.query(beginSql(settings, readOnly));
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  });
}

/**
 * BEGIN and the settings as one simple-protocol query (one round trip): SELECT set_config(..., is_local = true)
 * with the values as literals (pg's escapeLiteral; the simple protocol takes no parameters).
 */
function beginSql(settings: Record<string, string>, readOnly: boolean): string {
  const set = Object.entries(settings).map(
    ([n, v]) => `set_config(${pg.escapeLiteral(n)}, ${pg.escapeLiteral(v)}, true)`,
  );
  return `${readOnly ? 'BEGIN READ ONLY' : 'BEGIN'};\nSELECT ${set.join(', ')}`;
}

/** A pooled client for `fn`, whose transaction (if `fn` fails inside one) is rolled back before release. */
async function checkedOut<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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
    return await fn(client);
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

async function setAll(client: pg.PoolClient, settings: Record<string, string>): Promise<void> {
  const names = Object.keys(settings);
  await client.query(
    `SELECT ${names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
    names.flatMap((n) => [n, settings[n]]),
  );
}

/** A reseller's tree transaction (withReseller): its subtree's accounts, and a way into one of them. */
export interface ResellerTx {
  db: pg.PoolClient;
  /**
   * Switches the transaction to act inside `tenantId` (tenant context, via this reseller): from here on every
   * statement sees only that account's rows, and none at all if it is not in the reseller's subtree.
   */
  enter(tenantId: TenantId): Promise<void>;
}

/**
 * Runs fn in a transaction in the reseller tree context of `resellerId` (sql/014 app.current_reseller): row-level
 * security shows the account rows and domains of its subtree, itself included, and no other tenant data.
 */
export async function withReseller<T>(
  pool: pg.Pool,
  resellerId: TenantId,
  fn: (tx: ResellerTx) => Promise<T>,
  options: { readOnly?: boolean } = {},
): Promise<T> {
  const enter = (client: pg.PoolClient) => (tenantId: TenantId) =>
    setAll(client, { 'app.current_reseller': '', 'app.current_tenant': tenantId, 'app.via_reseller': resellerId });
  return inTransaction(
    pool,
    { 'app.current_reseller': resellerId },
    (db) => fn({ db, enter: enter(db) }),
    options.readOnly,
  );
}
