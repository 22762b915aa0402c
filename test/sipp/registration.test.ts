// SIP registration per tenant on a real FreeSWITCH: the same extension number in two tenants is two users,
// each with its own password; nothing one tenant knows opens the other.
import * as assert from 'uvu/assert';
import { sippSuite, type Stack } from '../helpers/freeswitch.js';

const t = sippSuite('SIPp: registration per tenant');
const reg = (s: Stack, user: string, domain: string, password: string, scenario = 'register.xml') =>
  s.sipp(scenario, ['-s', user, '-key', 'domain', domain, '-au', user, '-ap', password]).done;

t.it('1001@acme.pbx.test and 1001@globex.pbx.test each register with their own password', async (s) => {
  for (const [domain, pw] of [['acme.pbx.test', 'acme-1001-demo'], ['globex.pbx.test', 'globex-1001-demo']] as const) {
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

t.it("another tenant's password for the same number is refused with 403, also after that user was cached", async (s) => {
  // acme 1000 registers first, so FreeSWITCH's user cache holds it; globex 1000 must still not accept acme's secret.
  assert.is((await reg(s, '1000', 'acme.pbx.test', 'acme-1000-demo')).code, 0);
  const r = await reg(s, '1000', 'globex.pbx.test', 'acme-1000-demo', 'register_forbidden.xml');
  assert.is(r.code, 0, r.output);
  const ok = await reg(s, '1000', 'globex.pbx.test', 'globex-1000-demo');
  assert.is(ok.code, 0, ok.output);
  await s.fs.api('sofia profile internal flush_inbound_reg 1000@acme.pbx.test');
  await s.fs.api('sofia profile internal flush_inbound_reg 1000@globex.pbx.test');
});

t.it('an unknown domain and an unknown user are refused', async (s) => {
  assert.is((await reg(s, '1000', 'nobody.pbx.test', 'whatever-pw', 'register_forbidden.xml')).code, 0);
  assert.is((await reg(s, '4242', 'acme.pbx.test', 'whatever-pw', 'register_forbidden.xml')).code, 0);
});

t.it("acme's credentials cannot file a contact under globex's domain, also while FreeSWITCH caches the user", async (s) => {
  // First acme 1000 registers normally, so FreeSWITCH's user cache holds it under "id" + "1000" + "acme.pbx.test".
  assert.is((await reg(s, '1000', 'acme.pbx.test', 'acme-1000-demo')).code, 0);
  const r = await s.sipp('register_cross.xml', ['-s', '1000', '-key', 'from_domain', 'acme.pbx.test', '-key', 'domain',
    'globex.pbx.test', '-au', '1000', '-ap', 'acme-1000-demo']).done;
  const regs = await s.fs.api('sofia status profile internal reg');
  await s.fs.api('sofia profile internal flush_inbound_reg 1000@acme.pbx.test');
  await s.fs.api('sofia profile internal flush_inbound_reg 1000@globex.pbx.test');
  assert.is(r.code, 0, r.output);
  assert.not.match(regs, /1000@globex\.pbx\.test/);
});

t.run();
