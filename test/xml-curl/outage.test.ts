// Stale-if-error with PostgreSQL really stopped mid-test: tenants and users
// already cached keep being answered (even once marked for reload), what was
// never cached gets a clean not-found / 503, and service resumes after restart.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { dedicatedCluster } from '../helpers/postgres.js';
import {
  actions,
  find,
  fixtureNames,
  isRetryableNotFound,
  loadFixture,
  post,
  replay,
  sectionOf,
  withFields,
  type Fixture,
} from '../helpers/xml-curl-client.js';
import { startEndpoint, tenantIds } from './harness.js';

const test = suite('xml_curl: PostgreSQL outage');
const fx = (n: string): Fixture => loadFixture(fixtureNames().find((f) => f.startsWith(`${n}-`))!);

test('cached tenants are served while PostgreSQL is down; the rest fails cleanly; recovery after restart', async () => {
  const pg = await dedicatedCluster();
  const pool = pg.database.appPool(4);
  const ep = await startEndpoint(pool);
  try {
    await seedDemo(pool);
    const ids = await tenantIds(pool);
    const dial = (f: Fixture) => post(ep.target, f, withFields(f, { variable_fs_tenant_id: ids.acme }));
    // warm: acme's users, its dialplan, its DID, sofia.conf
    await replay(ep.target, fx('025'));
    await dial(fx('028'));
    await replay(ep.target, fx('039'));
    await replay(ep.target, fx('003'));

    await pg.stop();
    // Everything is marked for reload (as after a lost LISTEN connection): each answer below
    // first tries PostgreSQL, fails, and falls back to the stale copy.
    ep.store.resync();
    const staleBefore = await ep.value('fs_tenantd_tenant_cache_stale_answers_total', { cache: 'tenant' });

    const reg = await replay(ep.target, fx('025'));
    assert.is(reg.status, 200);
    assert.is(find(sectionOf(reg.body), 'user')?.attrs.id, '1001');
    assert.equal(actions((await dial(fx('028'))).body).at(-1)?.[0], 'bridge');
    assert.equal(actions((await replay(ep.target, fx('039'))).body).at(-1), ['callcenter', 'support@acme.pbx.test']);
    assert.ok(find(sectionOf((await replay(ep.target, fx('003'))).body), 'gateway', { name: 'acme_carrier' }));
    assert.ok((await ep.value('fs_tenantd_tenant_cache_stale_answers_total', { cache: 'tenant' })) > staleBefore);

    // never cached: globex's domain, an unknown DID
    const g = await replay(ep.target, fx('026'));
    assert.is(g.status, 200);
    // Not final: FreeSWITCH asks its next binding, another daemon that may have globex cached.
    assert.ok(isRetryableNotFound(g.body), g.body);
    const did = await post(ep.target, fx('039'), withFields(fx('039'), { 'Hunt-Destination-Number': '+15550002000' }));
    assert.equal(actions(did.body), [
      ['respond', '503 Service Unavailable'],
      ['hangup', 'NORMAL_TEMPORARY_FAILURE'],
    ]);
    assert.ok((await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'directory', outcome: 'error' })) >= 1);
    assert.ok((await ep.value('fs_tenantd_xmlcurl_requests_total', { section: 'dialplan', outcome: 'error' })) >= 1);

    await pg.restart();
    const back = await replay(ep.target, fx('026'));
    assert.is(find(sectionOf(back.body), 'user')?.attrs.id, '1000');
  } finally {
    await ep.close();
    await pool.end().catch(() => undefined);
    await pg.destroy();
  }
});

test.run();
