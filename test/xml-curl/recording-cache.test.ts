// The kept rendered routes and call recording: a route document is cached per tenant and target without the
// call's uuid, so the recording's path must name the call as ${uuid}, and whether the call is recorded (which
// can depend on the calling extension) must be part of the key: two calls to the same target, one recorded and
// one not, never get each other's answer.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TenantStore } from '../../daemon/tenants/tenant-store.js';
import { answerFetch } from '../../daemon/xml-curl/answer-fetch.js';
import { RenderedDocuments } from '../../daemon/xml-curl/rendered-documents.js';
import type { DialplanRequest } from '../../xml-handlers/fetch-request.js';
import { call, DIR, ID, NOW, tenant } from '../xml-handlers/recording-fixtures.js';

const test = suite('xml_curl: rendered routes and call recording');

test('recorded and unrecorded calls to one target are kept apart; the uuid is never in a kept document', async () => {
  const t = tenant([{ scope: 'extension', extension: '1001' }]);
  const store = { byDomain: async () => t } as unknown as TenantStore;
  const rendered = new RenderedDocuments(1 << 20);
  const deps = {
    store,
    platform: {} as never,
    log: pino({ level: 'silent' }),
    cacheableMs: 0,
    sipProfiles: {} as never,
    rendered,
    now: () => NOW,
    recordingsDir: DIR,
    voicemail: { dir: '/srv/vm', odbcDsn: null },
  };
  const fetchFor = async (over: Partial<DialplanRequest>) =>
    (await answerFetch({ section: 'dialplan', node: 'fs1', dialplan: call('1002', over) }, deps)).xml;
  const uuids = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002'];
  // 1001 calls 1002: recorded (1001's rule). 1000 calls 1002: the same target, not recorded.
  const byRecorded = await fetchFor({ callerUser: '1001', callUuid: uuids[0] });
  const byOther = await fetchFor({ callerUser: '1000', callUuid: uuids[1] });
  assert.ok(byRecorded.includes(`record_session ${DIR}/${ID}/\${uuid}.wav`));
  assert.not.ok(byOther.includes('record_session'));
  // Served again from the kept documents, in the other order: still apart.
  assert.is(await fetchFor({ callerUser: '1000', callUuid: uuids[0] }), byOther);
  assert.is(await fetchFor({ callerUser: '1001', callUuid: uuids[1] }), byRecorded);
  assert.is(rendered.size, 2);
  for (const u of uuids) assert.not.ok(byRecorded.includes(u) || byOther.includes(u));
});

test.run();
