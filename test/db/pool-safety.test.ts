import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';

const test = suite<{ db: TestDatabase; pool: pg.Pool; a: TenantId; b: TenantId }>('pool safety');

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.pool = ctx.db.appPool(2);
  await seedDemo(ctx.pool);
  ctx.a = await tenantIdOf(ctx.pool, 'acme');
  ctx.b = await tenantIdOf(ctx.pool, 'globex');
});
test.after(async (ctx) => {
  await ctx.db.drop();
});

test("1,000 interleaved transactions for two tenants over 2 connections never see each other's rows", async (ctx) => {
  let failedOnPurpose = 0;
  let checked = 0;
  await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      const tenant = i % 2 ? ctx.a : ctx.b;
      try {
        await withTenant(ctx.pool, tenant, async (c) => {
          const { rows } = await c.query<{ tenant_id: string; domain: string }>(
            'SELECT e.tenant_id, d.domain FROM extensions e JOIN sip_domains d USING (tenant_id)',
          );
          assert.is(rows.length, 4);
          for (const r of rows) assert.is(r.tenant_id, tenant);
          checked++;
          // Every seventh transaction dies half-way, leaving an aborted transaction to clean up.
          if (i % 7 === 0) {
            await c.query('SELECT 1/0');
          }
        });
      } catch (err) {
        if ((err as { code?: string }).code !== '22012') throw err;
        failedOnPurpose++;
      }
    }),
  );
  assert.is(checked, 1000);
  assert.is(failedOnPurpose, 143);
  // Both connections, released after successes and errors, carry no tenant context.
  const clients = await Promise.all([ctx.pool.connect(), ctx.pool.connect()]);
  try {
    for (const c of clients) {
      const {
        rows: [r],
      } = await c.query(
        "SELECT coalesce(current_setting('app.current_tenant', true), '') AS t, (SELECT count(*) FROM extensions)::int AS n",
      );
      assert.is(r.t, '');
      assert.is(r.n, 0);
    }
  } finally {
    for (const c of clients) c.release();
  }
});

test.run();
