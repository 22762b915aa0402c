// A mailbox's own limits on the real FreeSWITCH (README "Voicemail", sql/018): a message longer than the box's
// max length is cut at it (the dialplan's uuid_break, scheduled when mod_voicemail starts recording), and a box
// holding its max of unheard messages takes no more (the dialplan's vm_boxcount gate), whatever the caller does.
import * as assert from 'uvu/assert';
import { demoPassword } from '../../daemon/db/demo-seed.js';
import { callOutcomes, sippSuite } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: voicemail limits per mailbox');

t.it(
  'a 12 s message to a 5 s box is cut at 5 s; with 1 unheard message the 1-message box refuses the next',
  async (s) => {
    const acme = await s.token('tenant_admin', 'acme');
    const ext = ((await s.api('GET', '/extensions', acme)).body.items as { id: string; number: string }[]).find(
      (e) => e.number === '1001',
    )!.id;
    const box = { voicemailEnabled: true, voicemailMaxLengthS: 5, voicemailMaxMessages: 1 };
    const set = await s.api('PATCH', `/extensions/${ext}`, acme, box);
    assert.is(set.status, 200, JSON.stringify(set.body));
    const leave = (holdMs: number) =>
      s.call({ from: '1000', to: '*991001', domain: 'acme.pbx.test', password: demoPassword('acme', '1000'), holdMs })
        .done;
    const messages = async () =>
      (await s.api('GET', `/extensions/${ext}/voicemail`, acme)).body.items as { uuid: string; lengthS: number }[];
    try {
      // About 1.5 s of prompts and beep, then 10 s of the caller talking: without the box's limit, a ~10 s message.
      const first = await leave(12_000);
      assert.equal(callOutcomes(first.messages), [200], first.output);
      let items: { uuid: string; lengthS: number }[] = [];
      await s.until(async () => (items = await messages()).length === 1, 'the message in acme 1001');
      assert.ok(items[0]!.lengthS >= 3 && items[0]!.lengthS <= 6, `message of ${items[0]!.lengthS} s, not cut at 5 s`);

      // The box is full (1 unheard): an 8 s call is answered, told, and hung up by FreeSWITCH; no second message.
      const second = await leave(8_000);
      assert.equal(callOutcomes(second.messages), [200], second.output);
      assert.match(second.messages, /BYE sip:/, 'FreeSWITCH hung up the refused deposit');
      await new Promise((r) => setTimeout(r, 1500));
      assert.is((await messages()).length, 1, 'a full box took another message');

      // Heard, the message no longer counts: the box takes one again.
      assert.is(
        (await s.api('PATCH', `/extensions/${ext}/voicemail/${items[0]!.uuid}`, acme, { heard: true })).status,
        200,
      );
      const third = await leave(6_000);
      assert.equal(callOutcomes(third.messages), [200], third.output);
      await s.until(async () => (await messages()).length === 2, 'a second message once the first was heard');
    } finally {
      for (const m of await messages()) await s.api('DELETE', `/extensions/${ext}/voicemail/${m.uuid}`, acme);
      const off = { voicemailEnabled: false, voicemailMaxLengthS: null, voicemailMaxMessages: null };
      await s.api('PATCH', `/extensions/${ext}`, acme, off);
    }
  },
);

t.run();
