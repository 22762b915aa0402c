// Music on hold per tenant on the real FreeSWITCH (README "Music on hold"): the daemon's local_stream.conf and
// its ESL sync start every tenant's stream under a name built from ids, start a new one and stop a deleted one
// when the database changes, and every call carries its own tenant's stream as hold_music (parked calls as
// valet_hold_music), never the other tenant's.
import * as assert from 'uvu/assert';
import { demoPassword } from '../../daemon/db/demo-seed.js';
import { pcmWav } from '../../daemon/moh/wav.js';
import { type Stack, sippSuite } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: music on hold per tenant');

/** Running sources, from `local_stream show` (name,location per line). */
async function streams(s: Stack): Promise<Map<string, string>> {
  const out = await s.fs.api('local_stream show');
  return new Map(
    out
      .split('\n')
      .filter((l) => l.includes(','))
      .map((l) => [l.slice(0, l.indexOf(',')), l.slice(l.indexOf(',') + 1).trim()] as [string, string]),
  );
}

interface Tenant {
  id: string;
  token: string;
  lobby: string;
}
async function tenant(s: Stack, slug: 'acme' | 'globex'): Promise<Tenant> {
  const token = await s.token('tenant_admin', slug);
  const id = (await s.api('GET', '/tenant', token)).body.id as string;
  const items = (await s.api('GET', '/moh-streams', token)).body.items as Array<{ id: string; name: string }>;
  return { id, token, lobby: items.find((x) => x.name === 'lobby')!.id };
}

const sent = async (s: Stack, command: string) =>
  Number(
    new RegExp(`^fs_tenantd_moh_sync_commands_total\\{command="${command}",outcome="ok"\\} (\\d+)`, 'm').exec(
      await s.metrics(),
    )?.[1] ?? 0,
  );

t.it("each tenant's streams run under id-built names; a new stream starts, a deleted one stops", async (s) => {
  const acme = await tenant(s, 'acme');
  const globex = await tenant(s, 'globex');
  const acmeName = `moh_${acme.id}_${acme.lobby}`;
  const globexName = `moh_${globex.id}_${globex.lobby}`;
  // Started from local_stream.conf at module load or by the sync's start-up pass (the folder made first).
  await s.until(async () => {
    const running = await streams(s);
    return running.has(acmeName) && running.has(globexName);
  }, "both tenants' lobby streams running");
  const running = await streams(s);
  assert.ok(running.get(acmeName)!.endsWith(`/moh/${acme.id}/${acme.lobby}`), running.get(acmeName));
  assert.ok(running.get(globexName)!.endsWith(`/moh/${globex.id}/${globex.lobby}`), running.get(globexName));
  // (The stock `default` runs only where FreeSWITCH's music package is installed: its folder must exist.)

  // An upload to acme's stream: the file is where FreeSWITCH reads, and the stream is reloaded.
  const reloads = await sent(s, 'reload');
  const r = await fetch(`http://127.0.0.1:${s.daemon.httpPort}/api/moh-streams/${acme.lobby}/files/tune.wav`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'audio/wav' },
    body: pcmWav(8000, 8000, 500),
  });
  assert.is(r.status, 200, await r.text());
  await s.until(async () => (await sent(s, 'reload')) > reloads, "acme's stream reloaded after the upload");

  // A new acme stream is started over ESL (FreeSWITCH would never start it on first use); globex gains none.
  const created = await s.api('POST', '/moh-streams', acme.token, { name: 'fresh' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const fresh = `moh_${acme.id}_${created.body.id}`;
  await s.until(async () => (await streams(s)).has(fresh), 'the new acme stream running');
  const names = [...(await streams(s)).keys()];
  assert.equal(
    names.filter((n) => n.startsWith(`moh_${globex.id}_`)),
    [globexName],
  );

  // Deleted: stopped (local_stream stop), gone from the node's table.
  assert.is((await s.api('DELETE', `/moh-streams/${created.body.id}`, acme.token)).status, 204);
  await s.until(async () => !(await streams(s)).has(fresh), 'the deleted acme stream stopped');
});

/** The variables of every live channel in `domain`'s context, by uuid. */
async function channelsIn(s: Stack, context: string): Promise<string[]> {
  const out = JSON.parse(await s.fs.api('show channels as json')) as { rows?: Array<Record<string, string>> };
  return (out.rows ?? []).filter((r) => r.context === context).map((r) => r.uuid!);
}

t.it("a parked acme call holds with acme's stream, a parked globex call with globex's", async (s) => {
  const acme = await tenant(s, 'acme');
  const globex = await tenant(s, 'globex');
  const calls = (['acme', 'globex'] as const).map((slug) =>
    s.call({
      from: '1000',
      to: '8401',
      domain: `${slug}.pbx.test`,
      password: demoPassword(slug, '1000'),
      holdMs: 5000,
    }),
  );
  // The parked calls: each tenant's lot, found by the context the daemon's dialplan answered in.
  await s.until(
    async () =>
      (await channelsIn(s, 'acme.pbx.test')).length > 0 && (await channelsIn(s, 'globex.pbx.test')).length > 0,
    'a parked call per tenant',
  );
  for (const [t, slug] of [
    [acme, 'acme'],
    [globex, 'globex'],
  ] as const) {
    const want = `local_stream://moh_${t.id}_${t.lobby}`;
    for (const uuid of await channelsIn(s, `${slug}.pbx.test`)) {
      assert.is((await s.fs.api(`uuid_getvar ${uuid} hold_music`)).trim(), want, `${slug} hold_music`);
      assert.is((await s.fs.api(`uuid_getvar ${uuid} valet_hold_music`)).trim(), want, `${slug} valet_hold_music`);
    }
  }
  // Parked (answered) until SIPp hangs up; SIPp's own message trace is not asserted here: under load it came back
  // empty for a call SIPp counted as successful (media.test.ts checks parking outcomes).
  for (const c of calls) assert.is((await c.done).code, 0, (await c.done).output);
});

t.run();
