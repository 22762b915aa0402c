import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { loadMigrations, migrate } from '../../daemon/db/migrate.js';
import { provisionDatabase } from '../../daemon/db/provision.js';
import { assertServingRoleIsSafe } from '../../daemon/db/serving-role-check.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { isSipDomain } from '../../xml-handlers/fs-names.js';
import { rejects } from '../helpers/assert.js';
import { freshDatabase, superuserUrlFor, testCluster } from '../helpers/postgres.js';

const test = suite('migrations and the serving-role check');

test('migrations apply to an empty database, then re-apply as a no-op', async () => {
  const info = testCluster();
  const name = `empty_${Date.now().toString(36)}`;
  const db = await provisionDatabase({
    superuserUrl: superuserUrlFor(info),
    database: name,
    ownerPassword: info.ownerPassword,
    appPassword: info.appPassword,
  });
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

test('006: domains or realms starting with a digit stop the migration, named, with nothing changed', async () => {
  const info = testCluster();
  const name = `letter_${Date.now().toString(36)}`;
  const db = await provisionDatabase({
    superuserUrl: superuserUrlFor(info),
    database: name,
    ownerPassword: info.ownerPassword,
    appPassword: info.appPassword,
  });
  const older = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-sql-'));
  const app = new pg.Pool({ connectionString: db.appUrl, max: 1 });
  try {
    // The schema before 006, and data the old rule allowed, written as the serving role would have.
    for (const m of await loadMigrations()) if (m.version < '006') await fs.writeFile(path.join(older, m.file), m.sql);
    await migrate(db.ownerUrl, undefined, older);
    const zero = asTenantId(randomUUID());
    const acme = asTenantId(randomUUID());
    const seed = (id: typeof zero, slug: string, domain: string, ext: string) =>
      withTenant(app, id, async (c) => {
        await c.query('INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)', [id, slug, slug]);
        await c.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [id, domain]);
        await c.query('INSERT INTO extensions (tenant_id, number, a1_hash, a1_realm) VALUES ($1, $2, $3, $4)', [
          id,
          ext,
          a1Hash(ext, domain, 'pw'),
          domain,
        ]);
      });
    await seed(zero, 'zero', '0acme.test', '100'); // "id" + "100" + "0acme.test" = "id1000acme.test"
    await seed(acme, 'acme', 'acme.test', '1000'); // "id" + "1000" + "acme.test" = "id1000acme.test"
    const snapshot = () =>
      Promise.all(
        [zero, acme].map((id) =>
          withTenant(
            app,
            id,
            async (c) =>
              (
                await c.query(
                  'SELECT d.domain, e.number, e.a1_realm, e.a1_hash FROM sip_domains d, extensions e ORDER BY 1, 2',
                )
              ).rows,
          ),
        ),
      );
    const before = await snapshot();

    let err = await rejects(() => migrate(db.ownerUrl), /006_sip_domain_letter_first\.sql failed: SIP domains must/);
    assert.ok(err.message.includes('offending sip_domains: 0acme.test (tenant zero);'), err.message);
    assert.ok(err.message.includes('extensions.a1_realm: 0acme.test (tenant zero, extension 100).'), err.message);
    assert.ok(err.message.includes('Nothing was changed. Rename each listed domain'), err.message);
    assert.not.ok(err.message.includes('tenant acme'), 'a valid domain is not named');
    assert.equal(await snapshot(), before);

    // The domain renamed, the realm not: the realm (which the owner sees only per tenant, under RLS) still stops it.
    await withTenant(app, zero, (c) => c.query("UPDATE sip_domains SET domain = 'zero.acme.test'"));
    err = await rejects(
      () => migrate(db.ownerUrl),
      /offending sip_domains: none; offending extensions\.a1_realm: 0acme\.test \(tenant zero, extension 100\)/,
    );
    await withTenant(app, zero, (c) =>
      c.query("UPDATE extensions SET a1_realm = 'zero.acme.test', a1_hash = $1", [
        a1Hash('100', 'zero.acme.test', 'pw'),
      ]),
    );
    // 006 and every later migration, which the stop held back too.
    assert.equal(
      await migrate(db.ownerUrl),
      (await loadMigrations()).filter((m) => m.version >= '006').map((m) => m.file),
    );
    // 015 moved each extension's one hash into extension_credentials, under its realm, in its own tenant.
    for (const [id, ext, domain] of [
      [zero, '100', 'zero.acme.test'],
      [acme, '1000', 'acme.test'],
    ] as const) {
      const creds = await withTenant(
        app,
        id,
        async (c) =>
          (
            await c.query(
              'SELECT e.number, c.realm, c.a1_hash FROM extension_credentials c JOIN extensions e ON e.id = c.extension_id',
            )
          ).rows,
      );
      assert.equal(creds, [{ number: ext, realm: domain, a1_hash: a1Hash(ext, domain, 'pw') }]);
    }

    // From now on the database refuses what the core refuses, and nothing else.
    const longest = [...'abcd']
      .map((c) => c.repeat(63))
      .join('.')
      .slice(0, 253);
    const samples = [
      'acme.test',
      '0acme.test',
      'ACME.test',
      '1.2.3.4',
      'a',
      '9',
      'a0acme.test',
      'x-1.0.test',
      '-a.b',
      'a-.b',
      'a..b',
      `${'a'.repeat(63)}.b`,
      `${'a'.repeat(64)}.b`,
      longest,
      `${longest}a`,
      'a'.repeat(254),
    ];
    const grow = (s: string): string[] => (s.length >= 4 ? [s] : [s, ...[...'a0-.'].flatMap((c) => grow(`${s}${c}`))]);
    samples.push(...grow('').filter(Boolean));
    const { rows } = await app.query<{ v: string; ok: boolean }>(
      "SELECT v, pg_input_is_valid(v, 'sip_domain_name') AS ok FROM unnest($1::text[]) AS v",
      [samples],
    );
    for (const row of rows) assert.is(row.ok, isSipDomain(row.v), row.v);
    assert.ok(rows.filter((r) => r.ok).length > 20 && rows.filter((r) => !r.ok).length > 100);
    const insert = "INSERT INTO sip_domains (tenant_id, domain) VALUES ($1, '1acme.test')";
    await rejects(() => withTenant(app, acme, (c) => c.query(insert, [acme])), /sip_domain_name_letter_first/);
  } finally {
    await app.end();
    await fs.rm(older, { recursive: true, force: true });
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
