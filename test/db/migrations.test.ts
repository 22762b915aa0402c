import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { loadMigrations, migrate } from '../../daemon/db/migrate.js';
import { provisionDatabase } from '../../daemon/db/provision.js';
import { assertServingRoleIsSafe } from '../../daemon/db/serving-role-check.js';
import { rejects } from '../helpers/assert.js';
import { freshDatabase, superuserUrlFor, testCluster } from '../helpers/postgres.js';

const test = suite('migrations and the serving-role check');

test('migrations apply to an empty database, then re-apply as a no-op', async () => {
  const info = testCluster();
  const name = `empty_${Date.now().toString(36)}`;
  const db = await provisionDatabase({ superuserUrl: superuserUrlFor(info), database: name, ownerPassword: info.ownerPassword, appPassword: info.appPassword });
  try {
    const all = (await loadMigrations()).map((m) => m.file);
    assert.ok(all.length >= 3);
    assert.equal(await migrate(db.ownerUrl), all);
    assert.equal(await migrate(db.ownerUrl), []);
    const c = new pg.Client({ connectionString: db.ownerUrl });
    await c.connect();
    const n = Number((await c.query('SELECT count(*) FROM schema_migrations')).rows[0].count);
    await c.end();
    assert.is(n, all.length);
  } finally {
    const su = new pg.Client({ connectionString: superuserUrlFor(info)('postgres') });
    await su.connect();
    await su.query(`DROP DATABASE ${su.escapeIdentifier(name)} WITH (FORCE)`);
    await su.end();
  }
});

test('the daemon refuses to serve as the schema owner or a superuser, and accepts the app role', async () => {
  const db = await freshDatabase();
  try {
    const owner = db.ownerPool(1);
    await rejects(() => assertServingRoleIsSafe(owner), /owns/);
    const su = new pg.Pool({ connectionString: db.superuserUrl, max: 1 });
    await rejects(() => assertServingRoleIsSafe(su), /superuser/);
    await su.end();
    const report = await assertServingRoleIsSafe(db.appPool(1));
    assert.is(report.role, 'fs_tenantd');
  } finally {
    await db.drop();
  }
});

test.run();
