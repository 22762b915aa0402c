// SIP registration per tenant on a real FreeSWITCH: the same extension number in two tenants is two users,
// each with its own password; nothing one tenant knows opens the other.
import * as assert from 'uvu/assert';
import { freeUdpPort, inviteAnswers, receivedStartLines, sippSuite, type Stack } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: registration per tenant');
const reg = (s: Stack, user: string, domain: string, password: string, scenario = 'register.xml') =>
  s.sipp(scenario, ['-s', user, '-key', 'domain', domain, '-au', user, '-ap', password]).done;

t.it('1001@acme.pbx.test and 1001@globex.pbx.test each register with their own password', async (s) => {
  for (const [domain, pw] of [
    ['acme.pbx.test', 'acme-1001-demo'],
    ['globex.pbx.test', 'globex-1001-demo'],
  ] as const) {
    const r = await reg(s, '1001', domain, pw);
    assert.is(r.code, 0, r.output);
  }
  const regs = await s.fs.api('sofia status profile internal reg');
  assert.match(regs, /1001@acme\.pbx\.test/);
  assert.match(regs, /1001@globex\.pbx\.test/);
  await s.fs.api('sofia profile internal flush_inbound_reg 1001@acme.pbx.test');
  await s.fs.api('sofia profile internal flush_inbound_reg 1001@globex.pbx.test');
});

t.it('a wrong password is refused with 403', async (s) => {
  const r = await reg(s, '1002', 'acme.pbx.test', 'not-the-password', 'register_forbidden.xml');
  assert.is(r.code, 0, r.output);
});

t.it(
  "another tenant's password for the same number is refused with 403, also after that user was cached",
  async (s) => {
    // acme 1000 registers first, so FreeSWITCH's user cache holds it; globex 1000 must still not accept acme's secret.
    assert.is((await reg(s, '1000', 'acme.pbx.test', 'acme-1000-demo')).code, 0);
    const r = await reg(s, '1000', 'globex.pbx.test', 'acme-1000-demo', 'register_forbidden.xml');
    assert.is(r.code, 0, r.output);
    const ok = await reg(s, '1000', 'globex.pbx.test', 'globex-1000-demo');
    assert.is(ok.code, 0, ok.output);
    await s.fs.api('sofia profile internal flush_inbound_reg 1000@acme.pbx.test');
    await s.fs.api('sofia profile internal flush_inbound_reg 1000@globex.pbx.test');
  },
);

const directoryFetches = async (s: Stack) =>
  [...(await s.metrics()).matchAll(/^fs_tenantd_xmlcurl_requests_total\{section="directory",[^}]*\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

t.it('an unknown domain and an unknown user are refused, each after one fetch though two bindings', async (s) => {
  // Both xml_curl bindings point at this daemon (freeswitch-conf defaults): a retryable not-found would be fetched
  // twice; the final empty document is fetched once and FreeSWITCH refuses on its own (403, sofia_reg_parse_auth).
  for (const [user, domain] of [
    ['1000', 'nobody.pbx.test'],
    ['4242', 'acme.pbx.test'],
    ['x-not-a-number', 'acme.pbx.test'],
  ] as const) {
    const before = await directoryFetches(s);
    const r = await reg(s, user, domain, 'whatever-pw', 'register_forbidden.xml');
    assert.is(r.code, 0, r.output);
    assert.is((await directoryFetches(s)) - before, 1, `${user}@${domain}: directory fetches`);
  }
});

t.it(
  "acme's credentials cannot file a contact under globex's domain, also while FreeSWITCH caches the user",
  async (s) => {
    // globex's own 1000 is registered; acme 1000 registers normally, so FreeSWITCH's user cache holds it under
    // "id" + "1000" + "acme.pbx.test" and answers the next look-up for that realm without asking the daemon.
    const victim = await s.phone('1000', 'globex.pbx.test', 'globex-1000-demo');
    try {
      assert.is((await reg(s, '1000', 'acme.pbx.test', 'acme-1000-demo')).code, 0);
      const r = await s.sipp('register_cross.xml', [
        '-s',
        '1000',
        '-key',
        'from_domain',
        'acme.pbx.test',
        '-key',
        'domain',
        'globex.pbx.test',
        '-au',
        '1000',
        '-ap',
        'acme-1000-demo',
      ]).done;
      assert.is(r.code, 0, r.output);
      // `sofia status profile internal reg`: one block per registration, with its User and Auth-Realm.
      const realms = async () =>
        (await s.fs.api('sofia status profile internal reg'))
          .split(/\n\s*\n/)
          .filter((b) => /^User:\s*1000@globex\.pbx\.test\s*$/m.test(b))
          .map((b) => /^Auth-Realm:\s*(\S+)/m.exec(b)?.[1]);
      // Either refused outright, or filed by sofia and removed by the daemon's registration guard at once.
      await s.until(
        async () => !(await realms()).includes('acme.pbx.test'),
        'no globex registration authenticated in acme',
      );
      assert.equal(await realms(), ['globex.pbx.test'], "globex's own phone keeps its registration");
      if (receivedStartLines(r.messages).some((l) => l.startsWith('SIP/2.0 200'))) {
        // Counted once the flush command has answered, which can be just after the registration is gone.
        await s.until(
          async () =>
            /fs_tenantd_registrations_revoked_total\{reason="realm_differs_from_domain"\} [1-9]/.test(
              await s.metrics(),
            ),
          'the revoked registration to be counted',
        );
      }
      const call = await s.call({
        from: '1001',
        to: '1000',
        domain: 'globex.pbx.test',
        password: 'globex-1001-demo',
        holdMs: 300,
      }).done;
      assert.equal(
        inviteAnswers(call.messages).filter((c) => c !== 407),
        [200],
        call.output,
      );
      assert.is(await victim.invites(), 1);
    } finally {
      await victim.stop();
      await s.fs.api('sofia profile internal flush_inbound_reg 1000@acme.pbx.test');
    }
  },
);

t.it(
  'a tenant created through the API registers at once; a domain that could share a user-cache key is refused',
  async (s) => {
    const op = await s.token('superadmin');
    // "id" + "100" + "0acme.pbx.test" is the key of acme's 1000 ("id1000acme.pbx.test"): refused, naming the field.
    const clash = await s.api('POST', '/tenants', op, {
      slug: 'initech',
      name: 'Initech',
      sipDomain: '0acme.pbx.test',
    });
    assert.is(clash.status, 400, JSON.stringify(clash.body));
    assert.match(JSON.stringify(clash.body), /sipDomain/);
    const created = await s.api('POST', '/tenants', op, {
      slug: 'initech',
      name: 'Initech',
      sipDomain: 'initech.pbx.test',
    });
    assert.is(created.status, 201, JSON.stringify(created.body));
    const ext = await s.api('POST', '/extensions', await s.token('tenant_admin', 'initech'), {
      number: '1000',
      password: 'initech-1000-pw',
    });
    assert.is(ext.status, 201, JSON.stringify(ext.body));
    const r = await reg(s, '1000', 'initech.pbx.test', 'initech-1000-pw');
    assert.is(r.code, 0, r.output);
    // A spelling FreeSWITCH would cache apart from the one the daemon flushes is refused.
    assert.is((await reg(s, '1000', 'INITECH.pbx.test', 'initech-1000-pw', 'register_forbidden.xml')).code, 0);
    await s.fs.api('sofia profile internal flush_inbound_reg 1000@initech.pbx.test');
  },
);

t.it(
  "one contact registering 1000 for two tenants keeps both; that contact's new Call-ID replaces only its own",
  async (s) => {
    // An SBC or shared PBX: one address:port, so the same Contact (sip:1000@127.0.0.1:<port>) for acme and globex.
    const port = String(await freeUdpPort());
    const from = (domain: string, pw: string) =>
      s.sipp('register.xml', ['-p', port, '-s', '1000', '-key', 'domain', domain, '-au', '1000', '-ap', pw]).done;
    // The Call-IDs of the user's registrations (mod_sofia.c show_reg_callback prints one block each).
    const bindings = async (domain: string) =>
      [...(await s.fs.api(`sofia status profile internal user 1000@${domain}`)).matchAll(/^Call-ID:\s*(\S+)/gm)].map(
        (m) => m[1],
      );
    // sofia's contact mode deleted rows of the same Contact with another expiry: a second apart, so they differ.
    const nextSecond = () => new Promise((r) => setTimeout(r, 1100));
    try {
      assert.is((await from('acme.pbx.test', 'acme-1000-demo')).code, 0);
      const acme = await bindings('acme.pbx.test');
      assert.is(acme.length, 1);
      await nextSecond();
      assert.is((await from('globex.pbx.test', 'globex-1000-demo')).code, 0);
      const globex = await bindings('globex.pbx.test');
      assert.is(globex.length, 1);
      // sofia deletes asynchronously (its SQL queue): watch for a while that acme's row stays.
      for (let i = 0; i < 10; i++) {
        assert.equal(await bindings('acme.pbx.test'), acme, "acme's registration is kept");
        await new Promise((r) => setTimeout(r, 150));
      }
      // The same phone back with a new Call-ID (SIPp picks one per run, a rebooted phone does too): sofia moves its
      // row to the new Call-ID (sofia_reg_handle_register_token, update_registration: same user, auth user, domain
      // and contact) instead of adding one, and globex's row of the same contact is untouched.
      await nextSecond();
      assert.is((await from('acme.pbx.test', 'acme-1000-demo')).code, 0);
      const again = await bindings('acme.pbx.test');
      assert.is(again.length, 1, again.join(', '));
      assert.is.not(again[0], acme[0]);
      assert.equal(await bindings('globex.pbx.test'), globex, "globex's registration is untouched");
    } finally {
      await s.fs.api('sofia profile internal flush_inbound_reg 1000@acme.pbx.test');
      await s.fs.api('sofia profile internal flush_inbound_reg 1000@globex.pbx.test');
    }
  },
);

t.run();
