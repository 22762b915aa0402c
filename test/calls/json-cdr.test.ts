// mod_json_cdr records as the real FreeSWITCH posted them (test/fixtures/freeswitch/json-cdr/), and the ESL
// hangups of the same calls (esl/stream-6-...): both paths must give one call the same row.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asDirection } from '../../daemon/calls/call-ledger.js';
import { callRecordFromHangup } from '../../daemon/calls/call-record.js';
import { BadCdr, callRecordFromJsonCdr, parseJsonCdr, type JsonCdr } from '../../daemon/calls/json-cdr.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { projectRoot } from '../../daemon/paths.js';
import { streamEvents } from '../helpers/esl-server.js';
import { asEslEvent } from './ledger-fixtures.js';

const JSON_CDR_FIXTURES = path.join(projectRoot, 'test/fixtures/freeswitch/json-cdr');
const text = (name: string) => readFileSync(path.join(JSON_CDR_FIXTURES, name), 'utf8');
const ANSWERED = 'answered-acme-1000-to-1001.cdr.json';
const UNANSWERED = 'unanswered-globex-1000-to-2999.cdr.json';
const SPOOLED = 'err-log-dir/796b13a7-96fe-4f26-a880-0cc8c1d4d9a6.cdr.json';
const ENCODED = 'values-encoded-acme-1000-to-1001.cdr.json';

const attributed = (c: JsonCdr) => {
  if (!c.tenant) throw new Error(`${c.uuid} has no tenant`);
  return { ...c, tenant: c.tenant };
};
const hangups = streamEvents('stream-6-hangups-of-json-cdr-calls.json.raw').map(asEslEvent);

/** Replaces variables in a CDR's JSON (a fixture edited for one case). */
function edit(name: string, fn: (doc: any) => void): string {
  const doc = JSON.parse(text(name));
  fn(doc);
  return JSON.stringify(doc);
}

test('the answered call: tenant, direction, switch; times, numbers and cause as FreeSWITCH counted them', () => {
  const cdr = parseJsonCdr(text(ANSWERED));
  const doc = JSON.parse(text(ANSWERED));
  assert.is(cdr.uuid, 'c1b5915b-ffa4-4227-b95b-04f8837a0b56');
  assert.equal(cdr.tenant, { id: doc.variables.fs_tenant_id, slug: 'acme' });
  assert.is(cdr.direction, 'internal');
  assert.is(cdr.switchname, 'vm');
  const r = callRecordFromJsonCdr(attributed(cdr), 'fs1');
  assert.equal(r, {
    tenantId: doc.variables.fs_tenant_id,
    callUuid: cdr.uuid,
    node: 'fs1',
    direction: 'internal',
    caller: '1000',
    callee: '1001',
    createdAt: new Date(1796181941957).toISOString(),
    answeredAt: new Date(1796181941996).toISOString(),
    endedAt: new Date(1796181944236).toISOString(),
    durationS: 3,
    billsec: 3,
    hangupCause: 'NORMAL_CLEARING',
    queue: null,
  });
});

test("every captured record equals the record the ESL writer builds from the same call's hangup event", () => {
  for (const name of [ANSWERED, UNANSWERED, SPOOLED, ENCODED]) {
    const cdr = parseJsonCdr(text(name));
    const doc = JSON.parse(text(name));
    // FreeSWITCH's own variables: the same rule (switch_channel_set_timestamps) on the same times.
    const r = callRecordFromJsonCdr(attributed(cdr), 'fs1');
    assert.is(r.durationS, Number(doc.variables.duration), `${name}: duration`);
    assert.is(r.billsec, Number(doc.variables.billsec), `${name}: billsec`);
    if (name === ENCODED) continue; // a separate capture run without its ESL events
    const ev = hangups.find((e) => e.header('Unique-ID') === cdr.uuid);
    assert.ok(ev, `${name}: its hangup was captured`);
    const tenantId = ev.header('variable_fs_tenant_id') as TenantId;
    const esl = callRecordFromHangup(
      {
        key: cdr.uuid,
        tenantId,
        tenantSlug: ev.header('variable_fs_tenant_slug'),
        direction: asDirection(ev.header('variable_fs_call_direction')),
        node: 'fs1',
      },
      ev,
    );
    assert.equal(r, esl, name);
  }
});

test('an unanswered call: no answer time, billsec 0; without fs_call_direction (refused) it is internal', () => {
  const r = callRecordFromJsonCdr(attributed(parseJsonCdr(text(UNANSWERED))), 'fs1');
  assert.is(r.answeredAt, null);
  assert.is(r.billsec, 0);
  assert.is(r.direction, 'internal');
  assert.is(r.hangupCause, 'UNALLOCATED_NUMBER');
  assert.is(r.callee, '2999');
});

test('err-log-dir file (the body plus a newline) parses as the posted record', () => {
  const spooled = text(SPOOLED);
  assert.ok(spooled.endsWith('}\n'));
  assert.is(parseJsonCdr(spooled).uuid, '796b13a7-96fe-4f26-a880-0cc8c1d4d9a6');
});

test('values URL-encoded by mod_json_cdr (encode-values left on) read the same', () => {
  const raw = JSON.parse(text(ENCODED));
  assert.is(raw.variables.sip_from_uri, '1000%40acme.pbx.test', 'the capture really is encoded');
  const cdr = parseJsonCdr(text(ENCODED));
  assert.equal(cdr.tenant, { id: raw.variables.fs_tenant_id, slug: 'acme' });
  assert.is(cdr.direction, 'internal');
  const queued = parseJsonCdr(
    edit(ENCODED, (d) => {
      d.variables.cc_queue = 'support%40acme.pbx.test';
    }),
  );
  assert.is(callRecordFromJsonCdr(attributed(queued), 'fs1').queue, 'support@acme.pbx.test');
  const plain = parseJsonCdr(
    edit(ANSWERED, (d) => {
      d.variables.cc_queue = 'support@acme.pbx.test';
    }),
  );
  assert.is(callRecordFromJsonCdr(attributed(plain), 'fs1').queue, 'support@acme.pbx.test');
});

test("a channel without the daemon's tenant variable is unattributed; SIP headers claiming one are ignored", () => {
  const body = edit(ANSWERED, (d) => {
    delete d.variables.fs_tenant_id;
    delete d.variables.fs_tenant_slug;
    d.variables['sip_h_X-fs_tenant_id'] = '11111111-1111-4111-8111-111111111111';
    d.variables.sip_h_fs_tenant_id = '11111111-1111-4111-8111-111111111111';
  });
  assert.is(parseJsonCdr(body).tenant, undefined);
});

test('what is not a usable record is a BadCdr naming the problem', () => {
  const bad: Array<[string, RegExp]> = [
    [text(ANSWERED).slice(0, 5000), /not JSON/],
    ['', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"variables":[]}', /no "variables" object/],
    [
      edit(ANSWERED, (d) => {
        delete d.callflow;
      }),
      /callflow\[0\]/,
    ],
    [
      edit(ANSWERED, (d) => {
        d.callflow = [];
      }),
      /callflow\[0\]/,
    ],
    [
      edit(ANSWERED, (d) => {
        d.variables.uuid = '../../etc/passwd';
      }),
      /not a channel uuid/,
    ],
    [
      edit(ANSWERED, (d) => {
        delete d.variables.uuid;
        d.callflow[0].caller_profile.uuid = 7;
      }),
      /not a channel uuid/,
    ],
    [
      edit(ANSWERED, (d) => {
        d.callflow[0].times.hangup_time = '0';
      }),
      /hangup_time/,
    ],
    [
      edit(ANSWERED, (d) => {
        d.callflow[0].times.created_time = 'yesterday';
      }),
      /created_time/,
    ],
    [
      edit(ANSWERED, (d) => {
        d.variables.fs_tenant_id = 'acme';
      }),
      /not a tenant id/,
    ],
  ];
  for (const [body, why] of bad) {
    assert.throws(
      () => parseJsonCdr(body),
      (e: unknown) => e instanceof BadCdr && why.test(e.message),
      String(why),
    );
  }
  // A "__proto__" variable is just a variable.
  const proto = text(ANSWERED).replace('"variables":{', '"variables":{"__proto__":{"fs_tenant_id":"x"},');
  assert.is(parseJsonCdr(proto).tenant?.slug, 'acme');
});

test.run();
