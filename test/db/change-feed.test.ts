import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { createChangeFeed, parseChangePayload, type ChangeEvent } from '../../daemon/db/change-feed.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { createRegistry } from '../../daemon/metrics.js';
import { dedicatedCluster, tenantIdOf } from '../helpers/postgres.js';

const test = suite('change feed');
const log = pino({ level: 'silent' });

function next<T>(emitter: { once(e: string, fn: (v: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve));
}

test('malformed payloads are rejected, valid ones typed', () => {
  for (const bad of [
    undefined,
    '',
    'x',
    '{}',
    '{"table":"t","op":"TRUNCATE","tenant_id":"00000000-0000-0000-0000-000000000000"}',
    '{"table":"t","op":"INSERT","tenant_id":"acme"}',
  ]) {
    assert.is(parseChangePayload(bad), undefined, String(bad));
  }
  const ok = parseChangePayload(
    '{"table":"extensions","op":"UPDATE","tenant_id":"0d6f3a53-2f4e-4c55-9a39-8e1b1b0c9a11","id":"x","keys":{"number":{"old":"1000","new":"1005"}}}',
  );
  assert.equal(ok?.keys.number, { old: '1000', new: '1005' });
  assert.is(ok?.bulk, undefined);
  // A bulk change (sql/021) names no row, whatever else the payload says.
  const bulk = parseChangePayload(
    '{"table":"extensions","op":"DELETE","tenant_id":"0d6f3a53-2f4e-4c55-9a39-8e1b1b0c9a11","bulk":true,"id":"x"}',
  );
  assert.equal(bulk, {
    table: 'extensions',
    op: 'DELETE',
    tenantId: '0d6f3a53-2f4e-4c55-9a39-8e1b1b0c9a11',
    id: null,
    keys: {},
    bulk: true,
  });
});

test('a data change arrives as a typed event; a PostgreSQL restart brings a resync', async () => {
  const pg = await dedicatedCluster();
  const registry = createRegistry();
  const app = pg.database.appPool(2);
  const feed = createChangeFeed({ url: pg.database.appUrl, log, registry, minBackoffMs: 50, maxBackoffMs: 200 });
  try {
    await seedDemo(app);
    const firstSync = next<void>(feed, 'resync');
    await feed.start();
    await firstSync;
    assert.ok(feed.connected);
    const acme = await tenantIdOf(app, 'acme');

    const changed = next<ChangeEvent>(feed, 'change');
    await withTenant(app, acme, (c) => c.query("UPDATE extensions SET number = '1009' WHERE number = '1003'"));
    const e = await changed;
    assert.is(e.table, 'extensions');
    assert.is(e.op, 'UPDATE');
    assert.is(e.tenantId, acme);
    assert.equal(e.keys.number, { old: '1003', new: '1009' });
    const hash = await withTenant(
      app,
      acme,
      async (c) =>
        (
          await c.query(
            "SELECT a1_hash FROM extension_credentials WHERE extension_id = (SELECT id FROM extensions WHERE number = '1009')",
          )
        ).rows[0].a1_hash,
    );
    assert.not.ok(JSON.stringify(e).includes(hash), 'the password hash is not in the payload');
    // A credential's own change names the extension and the realm, never the hash.
    const credChanged = next<ChangeEvent>(feed, 'change');
    await withTenant(app, acme, (c) =>
      c.query("UPDATE extension_credentials SET a1_hash = md5('x') WHERE a1_hash = $1", [hash]),
    );
    const ce = await credChanged;
    assert.is(ce.table, 'extension_credentials');
    assert.equal(Object.keys(ce.keys).sort(), ['extension_id', 'realm']);
    assert.not.ok(JSON.stringify(ce).includes(hash));

    const resynced = next<void>(feed, 'resync');
    await pg.restart();
    await resynced;
    assert.ok(feed.connected);
    const again = next<ChangeEvent>(feed, 'change');
    await withTenant(app, acme, (c) => c.query("DELETE FROM tenant_features WHERE feature_key = 'call_recording'"));
    assert.is((await again).table, 'tenant_features');
    assert.match(await registry.metrics(), /fs_tenantd_change_feed_connected 1/);
  } finally {
    await feed.stop();
    await app.end();
    await pg.destroy();
  }
});

test.run();
