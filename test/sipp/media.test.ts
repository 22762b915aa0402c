// Conference rooms and call parking on the real FreeSWITCH (README "Conferences and parking"): the same room
// number and slot number in two tenants are two rooms and two lots, so a globex caller never meets acme's
// callers nor picks up acme's parked call.
import * as assert from 'uvu/assert';
import { DEMO_FLOW_CODES, demoPassword } from '../../daemon/db/demo-seed.js';
import { type Stack, callOutcomes, sippSuite } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: conference rooms and call parking per tenant');
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

t.run();
