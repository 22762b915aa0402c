// Every tenant table (a tenant_id column, found in the catalog as the isolation
// suite finds them, plus `tenants`) has the change trigger
// (sql/003_change_notify.sql: NOTIFY fs_tenantd_changes after every row change,
// which evicts the caches and drives the FreeSWITCH pushes) and, where it has an
// updated_at column, the trigger that keeps it current. A table created without
// them would leave caches stale until their TTL, silently; here it fails.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

/** Tenant tables that deliberately send no change notification. */
const NO_NOTIFY: Record<string, string> = {
  audit_logs: 'append-only; read only through the admin API, never cached or pushed to FreeSWITCH',
  call_records: 'append-only, written in batches by the CDR writer; never cached or pushed to FreeSWITCH',
  call_recordings: 'written by the CDR endpoint, deleted by the API and the retention job; never cached or pushed',
  call_slots: 'shared admission state, written on every call; never cached or pushed to FreeSWITCH',
  call_slot_counts: 'kept by a trigger on call_slots, written on every call; never cached or pushed to FreeSWITCH',
  usage_daily: 'kept by a trigger on call_records (the usage roll-up); never cached or pushed to FreeSWITCH',
};

// pg_trigger.tgtype bits (PostgreSQL's include/catalog/pg_trigger.h).
const ROW = 1,
  BEFORE = 2,
  INSERT = 4,
  DELETE = 8,
  UPDATE = 16;

interface Ctx {
  db: TestDatabase;
  owner: pg.Pool;
}
const test = suite<Ctx>('tenant tables have their triggers');

test.before(async (ctx) => {
  ctx.db = await freshDatabase();
  ctx.owner = ctx.db.ownerPool(1);
});
test.after(async (ctx) => {
  await ctx.db.drop();
});

/** Each tenant table's missing triggers, as sentences; empty when all is well. */
async function missingTriggers(db: pg.Pool): Promise<{ tables: string[]; problems: string[] }> {
  type Trigger = { fn: string; type: number; enabled: string };
  const { rows } = await db.query<{ table: string; has_updated_at: boolean; triggers: Trigger[] }>(`
    SELECT c.relname AS table,
      EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped)
        AS has_updated_at,
      coalesce((SELECT json_agg(json_build_object('fn', p.proname, 'type', t.tgtype, 'enabled', t.tgenabled))
        FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '[]')
        AS triggers
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND (c.relname = 'tenants' OR EXISTS (
      SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))
    ORDER BY 1`);
  const problems: string[] = [];
  const has = (r: (typeof rows)[number], fn: string, type: number) =>
    r.triggers.some((t) => t.fn === fn && t.type === type && t.enabled !== 'D');
  for (const r of rows) {
    const notifies = has(r, 'notify_tenant_change', ROW | INSERT | UPDATE | DELETE);
    if (!notifies && !(r.table in NO_NOTIFY)) {
      problems.push(
        `${r.table}: no AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW trigger calling notify_tenant_change`,
      );
    }
    if (notifies && r.table in NO_NOTIFY) problems.push(`${r.table}: notifies now; drop it from NO_NOTIFY`);
    if (r.has_updated_at && !has(r, 'touch_updated_at', ROW | BEFORE | UPDATE)) {
      problems.push(`${r.table}: has updated_at but no BEFORE UPDATE FOR EACH ROW trigger calling touch_updated_at()`);
    }
  }
  return { tables: rows.map((r) => r.table), problems };
}

test('every tenant table notifies its changes and keeps updated_at; exceptions are named', async (ctx) => {
  const { tables, problems } = await missingTriggers(ctx.owner);
  for (const t of ['tenants', 'sip_domains', 'extensions', 'queues', 'agents', 'tiers', ...Object.keys(NO_NOTIFY)]) {
    assert.ok(tables.includes(t), `${t} is found as a tenant table`);
  }
  assert.equal(problems, []);
});

test('a tenant table added without its triggers is caught', async (ctx) => {
  await ctx.owner.query(`CREATE TABLE ivr_menus (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now())`);
  try {
    const { problems } = await missingTriggers(ctx.owner);
    assert.is(problems.length, 2, problems.join('\n'));
    assert.ok(problems.every((p) => p.startsWith('ivr_menus: ')));
    await ctx.owner.query(`CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON ivr_menus
      FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('id')`);
    await ctx.owner.query(`CREATE TRIGGER touch_updated_at BEFORE UPDATE ON ivr_menus
      FOR EACH ROW EXECUTE FUNCTION touch_updated_at()`);
    assert.equal((await missingTriggers(ctx.owner)).problems, []);
  } finally {
    await ctx.owner.query('DROP TABLE ivr_menus');
  }
});

test.run();
