// Conference rooms, call parking and voicemail on the real FreeSWITCH (README "Conference rooms and parking lots",
// "Voicemail"): the same room number, slot number and box number in two tenants are two rooms, two lots and two
// boxes, so a globex caller never meets acme's callers, picks up acme's parked call or sees acme's messages.
import * as assert from 'uvu/assert';
import { DEMO_FLOW_CODES, demoPassword } from '../../daemon/db/demo-seed.js';
import { type Stack, callOutcomes, sippSuite, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: conference rooms, call parking and voicemail per tenant');
const pw = demoPassword;

const dial = (s: Stack, tenant: 'acme' | 'globex', from: string, to: string, holdMs: number) =>
  s.call({ from, to, domain: `${tenant}.pbx.test`, password: pw(tenant, from), holdMs });

/** Members per conference, from `conference list` (`+OK Conference <name> (<n> member...`). */
async function rooms(s: Stack): Promise<Record<string, number>> {
  const out = await s.fs.api('conference list');
  return Object.fromEntries([...out.matchAll(/Conference (\S+) \((\d+) member/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** Parked slots per lot, from `valet_info` (<lot name="..."><extension ...>slot</extension>). */
async function lots(s: Stack): Promise<Record<string, string[]>> {
  const out = await s.fs.api('valet_info');
  const result: Record<string, string[]> = {};
  for (const m of out.matchAll(/<lot name="([^"]+)">([\s\S]*?)<\/lot>/g)) {
    result[m[1]!] = [...m[2]!.matchAll(/<extension[^>]*>([^<]+)<\/extension>/g)].map((x) => x[1]!);
  }
  return result;
}

t.it('two acme callers meet in acme room team; a globex caller dialling the same number is alone', async (s) => {
  const calls = [
    dial(s, 'acme', '1000', DEMO_FLOW_CODES.conference, 6000),
    dial(s, 'acme', '1001', DEMO_FLOW_CODES.conference, 6000),
    dial(s, 'globex', '1000', DEMO_FLOW_CODES.conference, 6000),
  ];
  await s.until(async () => {
    const r = await rooms(s);
    return r['team@acme.pbx.test'] === 2 && r['team@globex.pbx.test'] === 1;
  }, 'acme room with 2 members and globex room with 1');
  const r = await rooms(s);
  assert.equal(Object.keys(r).sort(), ['team@acme.pbx.test', 'team@globex.pbx.test']);
  for (const c of calls) {
    const done = await c.done;
    assert.equal(callOutcomes(done.messages), [200], done.output);
  }
});

t.it('park in acme slot 8401, globex dialling 8401 parks in its own lot, acme 1001 picks the call up', async (s) => {
  const parked = dial(s, 'acme', '1000', '8401', 9000);
  await s.until(async () => Object.values(await lots(s)).some((slots) => slots.includes('8401')), 'a call in 8401');
  const [acmeLot] = Object.entries(await lots(s)).find(([, slots]) => slots.includes('8401'))!;
  assert.not.match(acmeLot, /[a-z]/, 'a lot name holds no letter, so no SIP domain can match it by substring');
  // globex's 8401 is another lot: its caller is parked there, acme's call stays parked.
  const other = dial(s, 'globex', '1000', '8401', 2000);
  await s.until(
    async () => Object.values(await lots(s)).filter((slots) => slots.includes('8401')).length === 2,
    "globex's caller parked in globex's own 8401",
  );
  const both = await lots(s);
  assert.equal(both[acmeLot], ['8401'], "globex's call took acme's parked call");
  assert.equal(Object.values(both).filter((slots) => slots.includes('8401')).length, 2);
  const done = await other.done;
  assert.equal(callOutcomes(done.messages), [200], done.output);
  // acme 1001 picks it up: the slot is empty afterwards, and both calls were answered.
  const pickup = await dial(s, 'acme', '1001', '8401', 1000).done;
  assert.equal(callOutcomes(pickup.messages), [200], pickup.output);
  const p = await parked.done;
  assert.equal(callOutcomes(p.messages), [200], p.output);
  assert.equal((await lots(s))[acmeLot] ?? [], []);
});

t.it('voicemail: a message for acme 1001 lands in its box under acme, lights its lamp, not globex 1001', async (s) => {
  const acme = await s.token('tenant_admin', 'acme');
  const globex = await s.token('tenant_admin', 'globex');
  const extId = async (token: string, n: string) =>
    ((await s.api('GET', '/extensions', token)).body.items as { id: string; number: string }[]).find(
      (e) => e.number === n,
    )!.id;
  const a1001 = await extId(acme, '1001');
  const g1001 = await extId(globex, '1001');
  const box = { voicemailEnabled: true, voicemailPin: '4321' };
  assert.is((await s.api('PATCH', `/extensions/${a1001}`, acme, box)).status, 200);
  assert.is((await s.api('PATCH', `/extensions/${g1001}`, globex, box)).status, 200);
  try {
    await withPhones(
      s,
      [
        ['1001', 'acme.pbx.test', pw('acme', '1001'), 'mwi'],
        ['1001', 'globex.pbx.test', pw('globex', '1001'), 'mwi'],
      ],
      async ([acmePhone, globexPhone]) => {
        // About 1.5 s of prompts and beep, then at least the profile's 2 s minimum of message.
        const left = await dial(s, 'acme', '1000', '*991001', 6000).done;
        assert.equal(callOutcomes(left.messages), [200], left.output);
        let items: { uuid: string; readAt: string | null }[] = [];
        await s.until(async () => {
          items = (await s.api('GET', `/extensions/${a1001}/voicemail`, acme)).body.items;
          return items.length === 1;
        }, "the message in acme 1001's box");
        assert.equal((await s.api('GET', `/extensions/${g1001}/voicemail`, globex)).body.items, []);
        // The phone's owner sees its own box; globex's 1001 sees its own, empty one.
        const own = (tenant: string) => s.token('agent', tenant, '1001');
        assert.is((await s.api('GET', '/me/voicemail', await own('acme'))).body.items.length, 1);
        assert.equal((await s.api('GET', '/me/voicemail', await own('globex'))).body.items, []);
        // Another tenant's extension id: not found, never its messages.
        assert.is((await s.api('GET', `/extensions/${a1001}/voicemail`, globex)).status, 404);
        // The lamp: a message-summary NOTIFY saying yes reaches acme 1001 only.
        const lit = (text: string) => /Messages-Waiting: yes/i.test(text);
        await s.until(async () => lit(await acmePhone!.received()), 'the MWI NOTIFY at acme 1001');
        assert.not.ok(lit(await globexPhone!.received()), 'globex 1001 was told of a message');
        // The file is in acme's folder (derived from the tenant id), and the API serves it.
        const audio = await fetch(
          `http://127.0.0.1:${s.daemon.httpPort}/api/extensions/${a1001}/voicemail/${items[0]!.uuid}/audio`,
          { headers: { authorization: `Bearer ${acme}` } },
        );
        assert.is(audio.status, 200);
        assert.ok((await audio.arrayBuffer()).byteLength > 1000, 'an empty recording');
        // *97 from acme 1001 opens its own box (answered); then heard and deleted through the API.
        const check = await dial(s, 'acme', '1001', '*97', 1500).done;
        assert.equal(callOutcomes(check.messages), [200], check.output);
        const heard = await s.api('PATCH', `/extensions/${a1001}/voicemail/${items[0]!.uuid}`, acme, { heard: true });
        assert.is(heard.status, 200, JSON.stringify(heard.body));
        assert.ok(heard.body.readAt);
        assert.is((await s.api('DELETE', `/extensions/${a1001}/voicemail/${items[0]!.uuid}`, acme)).status, 204);
        assert.equal((await s.api('GET', `/extensions/${a1001}/voicemail`, acme)).body.items, []);
      },
    );
  } finally {
    const off = { voicemailEnabled: false, voicemailPin: null };
    await s.api('PATCH', `/extensions/${a1001}`, acme, off);
    await s.api('PATCH', `/extensions/${g1001}`, globex, off);
  }
});

t.run();
