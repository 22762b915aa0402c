// Issue 18: one tenant of 10,000 extensions. What its phones and callers wait for on an empty cache (a first
// REGISTER is answered from the tenant's head and one extension row; a first call loads every row), and after a
// provisioning system adds one extension (the new phone's row is read; the cached snapshot takes the new row,
// not a reload). Baseline: the plain pg look-up of one user (resolve_sip_domain + the row in withTenant).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { a1Hash } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import { asTenantId } from '../../xml-handlers/model.js';
import { CHANNEL_VARS } from '../../xml-handlers/channel-vars.js';
import { freshDatabase } from '../helpers/postgres.js';
import type { BenchContext } from './context.js';
import type { LookupResult } from './pg-lookup-loop.js';
import { layout, startChild, type Child } from './processes.js';
import { figure, type Figure } from './report.js';
import { FIXTURES, fixtureBody, rewriteSipAuth, scaledDomain, scaledSlug, withFields } from './requests.js';
import { seedScale } from './scale-data.js';
import type { DaemonStart } from './xmlcurl.bench.js';

const EXTENSIONS = 10_000;

/** One xml_curl request on a new connection, as FreeSWITCH sends it; its wall time in ms and the answer. */
function ask(port: number, auth: DaemonStart['auth'], body: string): Promise<{ ms: number; xml: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/freeswitch/xml',
        method: 'POST',
        agent: false,
        auth: `${auth.user}:${auth.password}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let xml = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          xml += c;
        });
        res.on('end', () => resolve({ ms: performance.now() - t0, xml }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchLargeTenant(ctx: BenchContext): Promise<Figure[]> {
  const db = await freshDatabase(ctx.cluster);
  let daemon: Child | undefined;
  let loop: Child | undefined;
  try {
    const pool = db.appPool(2);
    await seedScale(pool, { tenants: 1, usersPerTenant: EXTENSIONS, parallel: 1 });
    const owner = db.ownerPool(1);
    await owner.query('ANALYZE');
    await owner.end();
    const domain = scaledDomain(0);
    const tenantId = asTenantId(
      (await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM resolve_sip_domain($1)', [domain])).rows[0]!
        .tenant_id,
    );
    const sipAuth = (user: string) => rewriteSipAuth(fixtureBody(FIXTURES.sipAuthRegister), domain, user);
    const call = (to: string) =>
      withFields(rewriteSipAuth(fixtureBody(FIXTURES.dialplanInternal), domain, to), {
        [`variable_${CHANNEL_VARS.tenantId}`]: tenantId,
        [`variable_${CHANNEL_VARS.tenantSlug}`]: scaledSlug(0),
      });
    const samples = ctx.quick ? 5 : 21;
    const users = Array.from({ length: samples }, (_, i) => String(1000 + Math.floor((i * EXTENSIONS) / samples)));

    daemon = await startChild('servers/daemon-http.js', layout.serverCpu);
    const d = await daemon.call<DaemonStart>('start', { appUrl: db.appUrl, poolMax: ctx.poolMax, warm: true });
    const expect = async (body: string, what: string, marker: string) => {
      const r = await ask(d.port, d.auth, body);
      if (!r.xml.includes(marker)) throw new Error(`${what}: answer lacks ${marker}: ${r.xml.slice(0, 300)}`);
      return r.ms;
    };
    // A daemon that has been running: its code compiled on fetches of a domain that does not exist.
    for (let i = 0; i < 50; i++)
      await ask(d.port, d.auth, rewriteSipAuth(fixtureBody(FIXTURES.sipAuthRegister), `w${i}.invalid`, '1000'));
    // Each first REGISTER of a distinct phone, the tenant's first among them.
    const firstRegister = await expect(sipAuth(users[0]!), 'first REGISTER', 'a1-hash');
    const registers = [firstRegister];
    for (const u of users.slice(1)) registers.push(await expect(sipAuth(u), 'REGISTER', 'a1-hash'));
    const firstCall = await expect(call('1001'), 'first call', 'bridge');
    const warmCall = await expect(call('1002'), 'warm call', 'bridge');

    // A provisioning system adds one phone; its REGISTER and a call to it follow the change.
    const added = String(1000 + EXTENSIONS);
    await withTenant(pool, tenantId, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        'INSERT INTO extensions (tenant_id, number) VALUES ($1, $2) RETURNING id',
        [tenantId, added],
      );
      await c.query(
        'INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash) VALUES ($1, $2, $3, $4)',
        [tenantId, rows[0]!.id, domain, a1Hash(added, domain, randomUUID())],
      );
    });
    let registerAdded = 0;
    // The NOTIFY reaches the daemon a moment after the commit; until then the new number is cached as unknown.
    for (let tries = 0; ; tries++) {
      const r = await ask(d.port, d.auth, sipAuth(added));
      if (r.xml.includes('a1-hash')) {
        registerAdded = r.ms;
        break;
      }
      if (tries > 100) throw new Error('the added extension was never answered');
      await new Promise((res) => setTimeout(res, 10));
    }
    const callAdded = await expect(call(added), 'call to the added extension', 'bridge');
    await daemon.stop();
    daemon = undefined;
    await pool.end();

    loop = await startChild('pg-lookup-loop.js', layout.serverCpu);
    const b = await loop.call<LookupResult>('run', {
      url: db.appUrl,
      poolMax: 1,
      inFlight: 1,
      tenants: 1,
      usersPerTenant: samples,
    });
    await loop.stop();
    loop = undefined;
    ctx.log(
      `large: REGISTERs ${registers.map((m) => m.toFixed(1)).join(' ')} ms; first call ${firstCall.toFixed(1)} ms, ` +
        `warm ${warmCall.toFixed(1)}; added: REGISTER ${registerAdded.toFixed(1)}, call ${callAdded.toFixed(1)} ms`,
    );
    const baselineName = 'plain pg look-up of one user: resolve_sip_domain + the extension row in withTenant (p50)';
    const tenant = `a tenant of ${EXTENSIONS.toLocaleString('en-US')} extensions`;
    const ms = (id: string, what: string, value: number, note?: string) =>
      figure({
        id,
        what,
        unit: 'ms',
        better: 'lower',
        value,
        baseline: b.p50Ms,
        baselineName,
        ...(note ? { note } : {}),
      });
    return [
      ms('18.large.first-register', `${tenant}: its first REGISTER (sip_auth), empty cache`, firstRegister),
      ms(
        '18.large.register',
        `${tenant}: first REGISTER of each of ${samples} phones (median)`,
        median(registers),
        'domain cached after the first; each phone: its row',
      ),
      ms(
        '18.large.first-call',
        `${tenant}: its first call (dialplan), every row loaded`,
        firstCall,
        `a call once loaded: ${warmCall.toFixed(2)} ms`,
      ),
      ms('18.large.added-register', `${tenant}: REGISTER of an extension just added`, registerAdded),
      ms('18.large.added-call', `${tenant}: call to the extension just added (snapshot revised)`, callAdded),
    ];
  } finally {
    await loop?.stop();
    await daemon?.stop();
    await db.drop();
  }
}
