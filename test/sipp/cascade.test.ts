// Cascading ceilings on a real FreeSWITCH (issue 17): the demo tenants acme and globex become customers of one
// reseller, and both race for the reseller's last slots. The reseller's ceiling holds exactly (answered vs refused
// calls counted), and each customer stays within its own.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import * as assert from 'uvu/assert';
import { demoPassword } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId, type TenantId } from '../../xml-handlers/model.js';
import { callOutcomes, type Stack, sippSuite, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: cascading ceilings');
const pw = demoPassword;
const RESELLER_MAX = 3;
const CUSTOMER_MAX = 2;
const TRIES = 3;

/** The serving role on the stack's embedded database (as the test helpers read slots). */
async function appPool(s: Stack): Promise<pg.Pool> {
  const secrets = JSON.parse(
    await fs.readFile(path.join(s.daemonEnv.FS_TENANTD_STATE_DIR!, 'embedded-secrets.json'), 'utf8'),
  ) as { appPassword: string };
  const port = s.daemonEnv.FS_TENANTD_EMBEDDED_PG_PORT;
  return new pg.Pool({
    connectionString: `postgresql://fs_tenantd:${encodeURIComponent(secrets.appPassword)}@127.0.0.1:${port}/fs_tenantd`,
    max: 2,
  });
}

const rejections = async (s: Stack, level: string): Promise<number> =>
  [
    ...(await s.metrics()).matchAll(
      new RegExp(`fs_tenantd_ceiling_rejections_total\\{[^}]*level="${level}"[^}]*\\} (\\d+)`, 'g'),
    ),
  ]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0);

t.it(
  `two customers (${CUSTOMER_MAX} each) of one reseller (${RESELLER_MAX}) racing: exactly ${RESELLER_MAX} answered`,
  async (s) => {
    const pool = await appPool(s);
    const ids: Record<string, TenantId> = {};
    for (const slug of ['acme', 'globex'])
      ids[slug] = asTenantId(
        (await pool.query('SELECT tenant_id FROM resolve_tenant_slug($1)', [slug])).rows[0].tenant_id,
      );
    const reseller = asTenantId(randomUUID());
    const was = await withTenant(
      pool,
      ids.globex!,
      async (c) => (await c.query('SELECT max_total FROM tenants')).rows[0],
    );
    // parent_id is not in the API yet: set as the serving role in each account's own context (the 014 tree API will).
    await withTenant(pool, reseller, (c) =>
      c.query(
        "INSERT INTO tenants (id, slug, name, max_total, is_reseller) VALUES ($1, 'cascade-res', 'Reseller', $2, true)",
        [reseller, RESELLER_MAX],
      ),
    );
    const setParent = async (slug: string, parent: TenantId | null, max: number | null) =>
      withTenant(pool, ids[slug]!, (c) =>
        c.query('UPDATE tenants SET parent_id = $2, max_total = $3 WHERE id = $1', [ids[slug], parent, max]),
      );
    try {
      await setParent('acme', reseller, CUSTOMER_MAX);
      await setParent('globex', reseller, CUSTOMER_MAX);
      await withPhones(
        s,
        [
          ['1001', 'acme.pbx.test', pw('acme', '1001')],
          ['1001', 'globex.pbx.test', pw('globex', '1001')],
        ],
        async ([acme, globex]) => {
          for (let round = 1; round <= 2; round++) {
            const ancestorBefore = await rejections(s, 'ancestor');
            const burst = (slug: string) =>
              s.call({
                from: '1000',
                to: '1001',
                domain: `${slug}.pbx.test`,
                password: pw(slug, '1000'),
                holdMs: 4000,
                calls: TRIES,
              }).done;
            const [a, g] = await Promise.all([burst('acme'), burst('globex')]);
            const answered = (r: typeof a) => callOutcomes(r.messages).filter((c) => c === 200).length;
            const refused = (r: typeof a) => callOutcomes(r.messages).filter((c) => c === 503).length;
            const detail = `round ${round}: acme ${callOutcomes(a.messages)}, globex ${callOutcomes(g.messages)}`;
            assert.is(answered(a) + answered(g), RESELLER_MAX, `the reseller's ceiling holds exactly (${detail})`);
            assert.is(refused(a) + refused(g), 2 * TRIES - RESELLER_MAX, `the others refused with 503 (${detail})`);
            assert.ok(answered(a) <= CUSTOMER_MAX && answered(g) <= CUSTOMER_MAX, `each within its own (${detail})`);
            // Whichever customer got one slot had its other attempts refused by the reseller's ceiling.
            assert.ok((await rejections(s, 'ancestor')) - ancestorBefore >= 2, 'refusals labelled level="ancestor"');
            // The phones rang only for the admitted calls.
            assert.is((await acme!.invites()) + (await globex!.invites()), round * RESELLER_MAX);
            // Round 2 proves the slots were freed at every level when the calls ended.
            await s.quiet();
          }
        },
      );
      assert.ok(
        s.daemon.lines.some((l) => /ancestor/.test(JSON.stringify(l)) && JSON.stringify(l).includes('cascade-res')),
        "the daemon's log names the refusing reseller",
      );
    } finally {
      await setParent('acme', null, 2);
      await setParent('globex', null, was.max_total);
      await withTenant(pool, reseller, (c) => c.query('DELETE FROM tenants WHERE id = $1', [reseller]));
      await pool.end();
    }
  },
);

t.run();
