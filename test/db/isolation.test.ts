// The isolation suite (issue 2): every table with a tenant_id, discovered from
// the catalog so a new table is covered without touching this file.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { inspectServingRole } from '../../daemon/db/serving-role-check.js';
import { withReseller, withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';

interface Ctx {
  db: TestDatabase;
  app: pg.Pool;
  a: TenantId;
  b: TenantId;
  tables: string[];
}
const test = suite<Ctx>('isolation');

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.app = ctx.db.appPool(4);
  await seedDemo(ctx.app);
  ctx.a = await tenantIdOf(ctx.app, 'acme');
  ctx.b = await tenantIdOf(ctx.app, 'globex');
  // The demo seed writes no audit rows; give each tenant one so that table is exercised too.
  for (const t of [ctx.a, ctx.b]) {
    await withTenant(ctx.app, t, (c) =>
      c.query(
        "INSERT INTO audit_logs (tenant_id, actor, actor_role, action, target) VALUES ($1, 'test', 'system', 'seed', 'x')",
        [t],
      ),
    );
    // Nor call slots (shared admission): one reserved call each.
    await ctx.app.query("SELECT admit_call($1, $2, 'inbound', 'fs1', 60000)", [t, randomUUID()]);
  }
  ctx.tables = (
    await ctx.app.query<{ relname: string }>(`
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)
  ).rows.map((r) => r.relname);
});

test.after(async (ctx) => {
  await ctx.db.drop();
});

const ident = (t: string) => `"${t.replace(/"/g, '""')}"`;

test('the catalog lists the tenant tables we expect (and the seed filled each for both tenants)', async (ctx) => {
  for (const t of [
    'sip_domains',
    'extensions',
    'dids',
    'sip_trunks',
    'outbound_routes',
    'queues',
    'agents',
    'tiers',
    'tenant_features',
    'audit_logs',
    'call_records',
    'call_slots',
    'call_slot_counts',
    'usage_daily',
  ]) {
    assert.ok(ctx.tables.includes(t), `${t} has tenant_id`);
  }
  for (const t of ctx.tables) {
    for (const tenant of [ctx.a, ctx.b]) {
      const n = await withTenant(ctx.app, tenant, async (c) =>
        Number((await c.query(`SELECT count(*) FROM ${ident(t)}`)).rows[0].count),
      );
      assert.ok(n > 0, `${t} has rows for ${tenant}, so the checks below mean something`);
    }
  }
});

test('every tenant table has RLS enabled, forced, and a policy on app_current_tenant()', async (ctx) => {
  for (const t of [...ctx.tables, 'tenants']) {
    const {
      rows: [c],
    } = await ctx.app.query('SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass', [t]);
    assert.ok(c.relrowsecurity, `${t}: RLS enabled`);
    assert.ok(c.relforcerowsecurity, `${t}: RLS forced`);
    const { rows } = await ctx.app.query(
      "SELECT qual, with_check FROM pg_policies WHERE tablename = $1 AND policyname = 'tenant_isolation'",
      [t],
    );
    assert.is(rows.length, 1, `${t}: one tenant_isolation policy`);
    assert.match(rows[0].qual, /app_current_tenant\(\)/, `${t}: USING compares with the tenant context`);
    assert.match(rows[0].with_check, /app_current_tenant\(\)/, `${t}: WITH CHECK compares with the tenant context`);
  }
});

test("tenant B reads none of A's rows, by scan or by id", async (ctx) => {
  for (const t of [...ctx.tables, 'tenants']) {
    const key = t === 'tenants' ? 'id' : 'tenant_id';
    const aRows = await withTenant(ctx.app, ctx.a, async (c) =>
      (await c.query(`SELECT to_jsonb(x) AS j FROM ${ident(t)} x`)).rows.map((r) => r.j),
    );
    assert.ok(aRows.length > 0, `${t}: A sees its own rows`);
    await withTenant(ctx.app, ctx.b, async (c) => {
      const scan = (await c.query(`SELECT ${key}::text AS k FROM ${ident(t)}`)).rows;
      assert.ok(scan.length > 0, `${t}: B sees its own rows`);
      assert.ok(
        scan.every((r) => r.k === ctx.b),
        `${t}: B's scan returns only B's rows`,
      );
      const byTenant = await c.query(`SELECT 1 FROM ${ident(t)} WHERE ${key} = $1`, [ctx.a]);
      assert.is(byTenant.rowCount, 0, `${t}: B asking for tenant A by key gets nothing`);
      if ('id' in aRows[0]) {
        const byId = await c.query(`SELECT 1 FROM ${ident(t)} WHERE id::text = ANY($1)`, [
          aRows.map((r) => String(r.id)),
        ]);
        assert.is(byId.rowCount, 0, `${t}: B asking for A's ids gets nothing`);
      }
    });
  }
});

test("tenant B's UPDATE and DELETE of A's rows change nothing", async (ctx) => {
  for (const t of [...ctx.tables, 'tenants']) {
    const key = t === 'tenants' ? 'id' : 'tenant_id';
    const before = await withTenant(
      ctx.app,
      ctx.a,
      async (c) =>
        (
          await c.query(
            `SELECT md5(string_agg(to_jsonb(x)::text, '' ORDER BY to_jsonb(x)::text)) AS h FROM ${ident(t)} x`,
          )
        ).rows[0].h,
    );
    for (const stmt of [
      `UPDATE ${ident(t)} SET ${key} = ${key} WHERE ${key} = $1`,
      `DELETE FROM ${ident(t)} WHERE ${key} = $1`,
    ]) {
      try {
        const r = await withTenant(ctx.app, ctx.b, (c) => c.query(stmt, [ctx.a]));
        assert.is(r.rowCount, 0, `${t}: ${stmt.split(' ')[0]} by B affected no row`);
      } catch (err) {
        // Append-only tables (audit_logs, call_records): the serving role may not UPDATE/DELETE at all.
        assert.is(
          (err as { code?: string }).code,
          '42501',
          `${t}: only a permission error is acceptable, got ${(err as Error).message}`,
        );
      }
    }
    const after = await withTenant(
      ctx.app,
      ctx.a,
      async (c) =>
        (
          await c.query(
            `SELECT md5(string_agg(to_jsonb(x)::text, '' ORDER BY to_jsonb(x)::text)) AS h FROM ${ident(t)} x`,
          )
        ).rows[0].h,
    );
    assert.is(after, before, `${t}: A's rows are unchanged`);
  }
});

test("tenant B cannot INSERT a row carrying A's tenant_id", async (ctx) => {
  for (const t of ctx.tables) {
    const row = await withTenant(
      ctx.app,
      ctx.a,
      async (c) => (await c.query(`SELECT to_jsonb(x) AS j FROM ${ident(t)} x LIMIT 1`)).rows[0].j,
    );
    if (typeof row.id === 'string') row.id = randomUUID();
    const err = await withTenant(ctx.app, ctx.b, (c) =>
      c.query(
        `INSERT INTO ${ident(t)} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::${ident(t)}, $1)`,
        [row],
      ),
    ).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.ok(err, `${t}: insert with A's tenant_id was refused`);
    assert.is(err!.code, '42501', `${t}: refused by row-level security (${err!.message})`);
    // A table only a trigger writes (usage_daily) refuses the serving role's INSERT before any policy is asked.
    const { rows: may } = await ctx.app.query("SELECT has_table_privilege($1, 'INSERT') AS ok", [t]);
    assert.match(err!.message, may[0].ok ? /row-level security/ : /permission denied/);
  }
});

test('with no tenant context, or an empty or malformed one, every table returns zero rows without error', async (ctx) => {
  const c = await ctx.app.connect();
  try {
    for (const setting of [null, '', 'not-a-uuid', "' OR true --"]) {
      if (setting !== null) await c.query("SELECT set_config('app.current_tenant', $1, false)", [setting]);
      for (const t of [...ctx.tables, 'tenants']) {
        const n = Number((await c.query(`SELECT count(*) FROM ${ident(t)}`)).rows[0].count);
        assert.is(n, 0, `${t} with context ${JSON.stringify(setting)}`);
      }
    }
  } finally {
    await c.query("SELECT set_config('app.current_tenant', '', false)");
    c.release();
  }
});

/** Two resellers with two customers each: R1 over acme and an empty customer, R2 over globex and another. */
async function tree(ctx: Ctx) {
  const account = async (slug: string, parent: TenantId | null, reseller: boolean) => {
    const id = randomUUID() as TenantId;
    await withTenant(ctx.app, id, (c) =>
      c.query('INSERT INTO tenants (id, slug, name, parent_id, is_reseller) VALUES ($1, $2, $3, $4, $5)', [
        id,
        slug,
        slug,
        parent,
        reseller,
      ]),
    );
    return id;
  };
  const r1 = await account('iso-r1', null, true);
  const r2 = await account('iso-r2', null, true);
  for (const [t, r] of [
    [ctx.a, r1],
    [ctx.b, r2],
  ] as const)
    await withTenant(ctx.app, t, (c) => c.query('UPDATE tenants SET parent_id = $1', [r]));
  return { r1, r2, r1Subtree: [r1, ctx.a, await account('iso-c1', r1, false)] };
}

test("reseller dimension: a reseller's tree context sees its own subtree only, in every table", async (ctx) => {
  const { r1, r1Subtree } = await tree(ctx);
  await withReseller(ctx.app, r1, async ({ db }) => {
    for (const t of [...ctx.tables, 'tenants']) {
      const key = t === 'tenants' ? 'id' : 'tenant_id';
      const keys = (await db.query(`SELECT ${key}::text AS k FROM ${ident(t)}`)).rows.map((r) => r.k);
      assert.ok(
        keys.every((k) => r1Subtree.includes(k)),
        `${t}: R1 sees only its subtree`,
      );
      assert.not.ok(keys.includes(ctx.b), `${t}: R1 sees nothing of R2's customer`);
      // A refused statement (no privilege: the append-only tables) changes nothing either.
      const attempt = async (sql: string) => {
        await db.query('SAVEPOINT try');
        const n = await db.query(sql).then(
          (r) => r.rowCount,
          () => 0,
        );
        await db.query('ROLLBACK TO SAVEPOINT try');
        return n;
      };
      if (t !== 'tenants')
        assert.is(await attempt(`UPDATE ${ident(t)} SET ${key} = ${key}`), 0, `${t}: the tree context changes nothing`);
      assert.is(await attempt(`DELETE FROM ${ident(t)}`), 0, `${t}: the tree context deletes nothing`);
    }
    const other = await db.query('UPDATE tenants SET name = name WHERE id = $1', [ctx.b]);
    assert.is(other.rowCount, 0, "R1 cannot change R2's customer");
  });
});

test("reseller dimension: entered via R1, R2's customer has no rows in any table and takes no writes", async (ctx) => {
  const r1 = (await ctx.app.query("SELECT tenant_id FROM resolve_tenant_slug('iso-r1')")).rows[0].tenant_id as TenantId;
  const via = { viaReseller: r1 };
  for (const t of [...ctx.tables, 'tenants']) {
    const row = await withTenant(
      ctx.app,
      ctx.b,
      async (c) => (await c.query(`SELECT to_jsonb(x) AS j FROM ${ident(t)} x LIMIT 1`)).rows[0]?.j,
    );
    const n = await withTenant(
      ctx.app,
      ctx.b,
      async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${ident(t)}`)).rows[0].n,
      via,
    );
    assert.is(n, 0, `${t}: nothing visible`);
    if (t === 'tenants' || !row) continue;
    if (typeof row.id === 'string') row.id = randomUUID();
    const err = await withTenant(
      ctx.app,
      ctx.b,
      (c) =>
        c.query(
          `INSERT INTO ${ident(t)} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::${ident(t)}, $1)`,
          [row],
        ),
      via,
    ).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.is(err?.code, '42501', `${t}: insert refused by row-level security (${err?.message})`);
  }
  // The same via context into its own customer works.
  const own = await withTenant(
    ctx.app,
    ctx.a,
    async (c) => (await c.query('SELECT count(*)::int AS n FROM extensions')).rows[0].n,
    via,
  );
  assert.ok(own > 0);
});

test('the serving role is not superuser, cannot bypass RLS and owns nothing', async (ctx) => {
  const report = await inspectServingRole(ctx.app);
  assert.is(report.superuser, false);
  assert.is(report.bypassRls, false);
  assert.equal(report.ownedTables, []);
});

test("a tier cannot join A's agent to B's queue (composite foreign keys)", async (ctx) => {
  const aAgent = await withTenant(
    ctx.app,
    ctx.a,
    async (c) => (await c.query('SELECT id FROM agents LIMIT 1')).rows[0].id,
  );
  const bQueue = await withTenant(
    ctx.app,
    ctx.b,
    async (c) => (await c.query('SELECT id FROM queues LIMIT 1')).rows[0].id,
  );
  const err = await withTenant(ctx.app, ctx.b, (c) =>
    c.query('INSERT INTO tiers (tenant_id, queue_id, agent_id) VALUES ($1, $2, $3)', [ctx.b, bQueue, aAgent]),
  ).then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  assert.is(err?.code, '23503', 'foreign key violation');
  // Replaying a tier A really has must not answer "duplicate key" (that would confirm A's pair exists).
  const aTier = await withTenant(
    ctx.app,
    ctx.a,
    async (c) => (await c.query('SELECT queue_id, agent_id FROM tiers LIMIT 1')).rows[0],
  );
  const replay = await withTenant(ctx.app, ctx.b, (c) =>
    c.query('INSERT INTO tiers (tenant_id, queue_id, agent_id) VALUES ($1, $2, $3)', [
      ctx.b,
      aTier.queue_id,
      aTier.agent_id,
    ]),
  ).then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );
  assert.is(replay?.code, '23503', 'refused as a foreign id, not as a duplicate');
});

test('pre-tenant resolution goes only through the narrow resolver functions', async (ctx) => {
  const { rows } = await ctx.app.query('SELECT tenant_id, tenant_slug, tenant_status FROM resolve_sip_domain($1)', [
    'ACME.pbx.test',
  ]);
  assert.equal(rows, [{ tenant_id: ctx.a, tenant_slug: 'acme', tenant_status: 'active' }]);
  assert.is((await ctx.app.query('SELECT * FROM resolve_sip_domain($1)', ['nope.pbx.test'])).rowCount, 0);
  assert.is((await ctx.app.query('SELECT * FROM resolve_did($1)', ['+15550002000'])).rows[0].tenant_slug, 'globex');
  // The same data read directly, without context, is invisible.
  assert.is((await ctx.app.query('SELECT * FROM sip_domains')).rowCount, 0);
});

test('insert_call_records: a two-tenant batch lands each row under its own tenant and leaves no context behind', async (ctx) => {
  const row = (tenant: TenantId, callUuid: string) => [
    tenant,
    callUuid,
    'fs1',
    'internal',
    '1000',
    '1001',
    '2026-11-23T10:00:00Z',
    null,
    '2026-11-23T10:00:05Z',
    5,
    0,
    'NORMAL_CLEARING',
    null,
  ];
  const rows = [row(ctx.a, 'batch-a-1'), row(ctx.b, 'batch-b-1'), row(ctx.a, 'batch-a-2')];
  const columns = rows[0]!.map((_, i) => rows.map((r) => r[i]));
  const call = `SELECT insert_call_records($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::int[], $12::text[], $13::text[]) AS n`;
  const client = await ctx.app.connect();
  try {
    await client.query('BEGIN');
    assert.is((await client.query(call, columns)).rows[0].n, 3);
    // Still inside the transaction that ran it: the context it set is gone.
    assert.is((await client.query('SELECT app_current_tenant() AS t')).rows[0].t, null);
    assert.is(
      (await client.query('SELECT count(*)::int AS n FROM call_records')).rows[0].n,
      0,
      'no context: nothing visible',
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const mine = async (t: TenantId) =>
    (
      await withTenant(ctx.app, t, (c) =>
        c.query<{ call_uuid: string }>("SELECT call_uuid FROM call_records WHERE call_uuid LIKE 'batch-%' ORDER BY 1"),
      )
    ).rows.map((r) => r.call_uuid);
  assert.equal(await mine(ctx.a), ['batch-a-1', 'batch-a-2']);
  assert.equal(await mine(ctx.b), ['batch-b-1']);
  // Replaying the batch is a no-op (spool replays rely on it).
  assert.is((await ctx.app.query(call, columns)).rows[0].n, 0);
  // It runs with the caller's rights: not SECURITY DEFINER.
  const {
    rows: [f],
  } = await ctx.app.query("SELECT prosecdef FROM pg_proc WHERE proname = 'insert_call_records'");
  assert.is(f.prosecdef, false);
});

test.run();
