// A tenant answering on two SIP domains, on a real FreeSWITCH (issue 17): acme gets a second domain through the
// API, its 1001 registers there with digest auth (realm = that domain) and is called from acme 1000 in the primary
// domain, and the other way round; globex's phones with the same numbers never ring. Removing the domain drops the
// registrations filed under it and the phone is no longer rung.
import * as assert from 'uvu/assert';
import { demoPassword as pw } from '../../daemon/db/demo-seed.js';
import { callOutcomes, sippSuite, type Stack, withPhones } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: a tenant on several SIP domains');
const ACME = 'acme.pbx.test';
const SECOND = 'voice.acme.test';
const GLOBEX = 'globex.pbx.test';

const registered = async (s: Stack, user: string, domain: string) =>
  (await s.fs.api('sofia status profile internal reg'))
    .split(/\n\s*\n/)
    .some((b) => new RegExp(`^User:\\s*${user}@${domain.replaceAll('.', '\\.')}\\s*$`, 'm').test(b));

t.it('acme 1001 registers in a second domain and is called from 1000 in the primary, and back', async (s) => {
  const admin = await s.token('tenant_admin', 'acme');
  const added = await s.api('POST', '/sip-domains', admin, { domain: SECOND });
  assert.is(added.status, 201, JSON.stringify(added.body));
  const exts = (await s.api('GET', '/extensions?limit=100', admin)).body.items as { id: string; number: string }[];
  const id = (n: string) => exts.find((e) => e.number === n)!.id;
  try {
    // Before its password is set again, 1001 has no credential for the new realm: refused.
    const early = await s.sipp('register_forbidden.xml', [
      '-s',
      '1001',
      '-key',
      'domain',
      SECOND,
      '-au',
      '1001',
      '-ap',
      pw('acme', '1001'),
    ]).done;
    assert.is(early.code, 0, early.output);
    // The same password set again: a credential per domain (the primary's hash is unchanged).
    for (const n of ['1000', '1001']) {
      const r = await s.api('PATCH', `/extensions/${id(n)}`, admin, { password: pw('acme', n) });
      assert.is(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.realms, [ACME, SECOND]);
    }

    await withPhones(
      s,
      [
        ['1001', SECOND, pw('acme', '1001')],
        ['1001', GLOBEX, pw('globex', '1001')],
      ],
      async ([acme1001, globex1001]) => {
        assert.ok(await registered(s, '1001', SECOND), '1001 is filed under the second domain');
        // Called from the primary domain: user/1001@acme.pbx.test looks 1001 up in every acme domain.
        const r = await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000'), holdMs: 500 })
          .done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.is(await acme1001!.invites(), 1);
        assert.is(await globex1001!.invites(), 0);
      },
    );

    await withPhones(
      s,
      [
        ['1000', ACME, pw('acme', '1000')],
        ['1000', GLOBEX, pw('globex', '1000')],
      ],
      async ([acme1000, globex1000]) => {
        // The other way round: 1001 authenticates its INVITE in the second domain (realm = that domain).
        const r = await s.call({ from: '1001', to: '1000', domain: SECOND, password: pw('acme', '1001'), holdMs: 500 })
          .done;
        assert.equal(callOutcomes(r.messages), [200], r.output);
        assert.is(await acme1000!.invites(), 1);
        assert.is(await globex1000!.invites(), 0);
      },
    );

    // Removing the domain: what sofia filed under it goes (the daemon's flush_inbound_reg), and is not rung.
    const phone = await s.phone('1001', SECOND, pw('acme', '1001'));
    try {
      assert.ok(await registered(s, '1001', SECOND));
      const del = await s.api('DELETE', `/sip-domains/${added.body.id}`, admin);
      assert.is(del.status, 204, JSON.stringify(del.body));
      await s.until(
        async () => !(await registered(s, '1001', SECOND)),
        'the registration under the removed domain to go',
      );
      // (The call itself may still be answered: unreachable, 1001's box takes it when voicemail is on.)
      await s.call({ from: '1000', to: '1001', domain: ACME, password: pw('acme', '1000'), holdMs: 300 }).done;
      assert.is(await phone.invites(), 0);
      // And a phone can no longer register in it (the domain is unknown now).
      const gone = await s.sipp('register_forbidden.xml', [
        '-s',
        '1001',
        '-key',
        'domain',
        SECOND,
        '-au',
        '1001',
        '-ap',
        pw('acme', '1001'),
      ]).done;
      assert.is(gone.code, 0, gone.output);
    } finally {
      await phone.stop();
    }
  } finally {
    // Leave acme as the other suites expect it: one domain, the demo passwords.
    const left = (await s.api('GET', '/sip-domains', admin)).body.items as { id: string; domain: string }[];
    for (const d of left.filter((x) => x.domain === SECOND)) await s.api('DELETE', `/sip-domains/${d.id}`, admin);
  }
});

t.it("a phone registered in the second domain gets its box's message lamp (MWI for the primary's box)", async (s) => {
  const admin = await s.token('tenant_admin', 'acme');
  const added = await s.api('POST', '/sip-domains', admin, { domain: SECOND });
  assert.is(added.status, 201, JSON.stringify(added.body));
  const exts = (await s.api('GET', '/extensions?limit=100', admin)).body.items as { id: string; number: string }[];
  const a1001 = exts.find((e) => e.number === '1001')!.id;
  const on = await s.api('PATCH', `/extensions/${a1001}`, admin, {
    password: pw('acme', '1001'),
    voicemailEnabled: true,
  });
  assert.is(on.status, 200, JSON.stringify(on.body));
  try {
    await withPhones(
      s,
      [
        ['1001', SECOND, pw('acme', '1001'), 'mwi'],
        ['1001', GLOBEX, pw('globex', '1001'), 'mwi'],
      ],
      async ([acmePhone, globexPhone]) => {
        // mod_voicemail keeps the box as 1001@acme.pbx.test; the phone is filed under the second domain.
        const left = await s.call({
          from: '1000',
          to: '*991001',
          domain: ACME,
          password: pw('acme', '1000'),
          holdMs: 6000,
        }).done;
        assert.equal(callOutcomes(left.messages), [200], left.output);
        const lit = (text: string) => /Messages-Waiting: yes/i.test(text);
        await s.until(async () => lit(await acmePhone!.received()), 'the MWI NOTIFY at acme 1001 in the second domain');
        assert.not.ok(lit(await globexPhone!.received()), 'globex 1001 was told of a message');
      },
    );
  } finally {
    for (const m of (await s.api('GET', `/extensions/${a1001}/voicemail`, admin)).body?.items ?? [])
      await s.api('DELETE', `/extensions/${a1001}/voicemail/${m.uuid}`, admin);
    await s.api('PATCH', `/extensions/${a1001}`, admin, { voicemailEnabled: false });
    await s.api('DELETE', `/sip-domains/${added.body.id}`, admin);
  }
});

t.run();
