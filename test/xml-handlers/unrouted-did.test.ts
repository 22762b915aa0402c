// A DID a tenant owns that routes nowhere (disabled, or its destination gone) lands on the tenant's own or
// inherited unrouted extension (sql/014); without one it is refused as before. Callers from outside the tenant's
// trunks are refused first, whatever the setting.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decidePublicCall } from '../../xml-handlers/dialplan/index.js';
import type { TenantSnapshot } from '../../xml-handlers/model.js';
import { call, NOW, tenant } from './recording-fixtures.js';

const DID = '+15550000001';
const disabled = (over: Partial<TenantSnapshot> = {}) =>
  tenant(undefined, {
    dids: new Map([[DID, { e164: DID, enabled: false, destination: { type: 'extension', extension: '1000' } }]]),
    ...over,
  });
const decide = (t: TenantSnapshot, sourceIp = '192.0.2.1') =>
  decidePublicCall(call(DID, { context: 'public', callerUser: undefined, sourceIp }), t, DID, NOW);

test('a disabled DID without an unrouted extension is refused (404)', () => {
  const d = decide(disabled());
  assert.is(d.kind, 'reject');
  assert.is(d.kind === 'reject' && d.rejection.sipCode, 404);
});

test('a disabled DID rings the unrouted extension, own or inherited', () => {
  const d = decide(disabled({ unroutedDidExtension: '1002' }));
  assert.is(d.kind, 'route', JSON.stringify(d));
  assert.is(d.kind === 'route' && d.target.type === 'extension' && d.target.number, '1002');
});

test('an unrouted extension that does not exist or is disabled leaves the call refused', () => {
  for (const n of ['4040', '1003']) {
    const d = decide(disabled({ unroutedDidExtension: n }));
    assert.is(d.kind === 'reject' && d.rejection.sipCode, 404, n);
  }
});

test("a caller outside the tenant's trunks is refused before any landing", () => {
  const d = decide(disabled({ unroutedDidExtension: '1002' }), '198.51.100.9');
  assert.is(d.kind === 'reject' && d.rejection.sipCode, 403);
});

test.run();
