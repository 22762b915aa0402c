// The registration guard's decisions: which sofia::register events are misfiled, and which flush_inbound_reg
// argument removes exactly that registration (sofia_reg_expire_call_id also matches sip_host / user@host).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { flushTarget, misfiled } from '../../daemon/esl/registration-guard.js';

const ev = (h: Record<string, string>) => ({ header: (n: string) => h[n] });
const base = {
  'from-user': '1000',
  'from-host': 'globex.pbx.test',
  username: '1000',
  realm: 'globex.pbx.test',
  'call-id': '1-2@127.0.0.1',
};
const served = async (h: string) => h === 'acme.pbx.test' || h === 'globex.pbx.test';

test('a registration filed in the domain it authenticated in is left alone (case-insensitively)', () => {
  assert.is(misfiled(ev(base)), undefined);
  assert.is(misfiled(ev({ ...base, realm: 'GLOBEX.pbx.test' })), undefined);
});

test('another realm, or another auth user, is misfiled', () => {
  assert.is(misfiled(ev({ ...base, realm: 'acme.pbx.test' })), 'realm_differs_from_domain');
  assert.is(misfiled(ev({ ...base, realm: '' })), 'realm_differs_from_domain');
  assert.is(misfiled(ev({ ...base, username: '1001' })), 'auth_user_differs');
});

test("the flush names the Call-ID unless the Call-ID would also match a served domain's registrations", async () => {
  assert.is(await flushTarget(ev(base), served), '1-2@127.0.0.1');
  assert.is(await flushTarget(ev({ ...base, 'call-id': 'abcdef' }), served), 'abcdef');
  // As a bare host or as user@host, these would flush globex's or acme's own phones: flush the misfiled user instead.
  assert.is(await flushTarget(ev({ ...base, 'call-id': 'globex.pbx.test' }), served), '1000@globex.pbx.test');
  assert.is(await flushTarget(ev({ ...base, 'call-id': '1000@ACME.pbx.test' }), served), '1000@globex.pbx.test');
  assert.is(await flushTarget(ev({ ...base, 'call-id': 'a b' }), served), '1000@globex.pbx.test');
  assert.is(await flushTarget(ev({ ...base, 'call-id': '' }), served), '1000@globex.pbx.test');
});

test.run();
