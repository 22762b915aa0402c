// The lazy header extraction (event.ts) must answer exactly what the full parse
// answers, for every header of every event in the real captures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJsonEvent, parsePlainEvent, type EslEvent } from '../../daemon/esl/event.js';
import { ESL_FIXTURES, fixture, splitFrames } from '../helpers/esl-server.js';
import fs from 'node:fs';

type Parse = (b: Buffer) => EslEvent;

function captured(): Array<{ where: string; body: Buffer; parse: Parse }> {
  const out: Array<{ where: string; body: Buffer; parse: Parse }> = [];
  for (const name of fs.readdirSync(ESL_FIXTURES).filter((n) => n.endsWith('.raw'))) {
    splitFrames(fixture(name)).forEach((f, i) => {
      const type = f.headers['Content-Type'];
      if (!f.body) return;
      if (type === 'text/event-json') out.push({ where: `${name}#${i}`, body: f.body, parse: parseJsonEvent });
      if (type === 'text/event-plain') out.push({ where: `${name}#${i}`, body: f.body, parse: parsePlainEvent });
    });
  }
  return out;
}

/** JSON.parse's view of a json event (array variables as ARRAY::a|:b): independent of event.ts. */
function jsonReference(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(JSON.parse(body.toString('utf8')) as Record<string, unknown>)) {
    if (k !== '_body') out[k] = Array.isArray(v) ? `ARRAY::${v.join('|:')}` : String(v);
  }
  return out;
}

/** Every header looked up on a fresh lazy event equals the fully parsed value; absent names stay absent. */
function assertExact(where: string, body: Buffer, parse: Parse): number {
  const reference = parse(body).headers; // full parse
  // Captured json has no repeated names, so JSON.parse is an independent reference for it.
  if (parse === parseJsonEvent && where.includes('.raw#'))
    assert.equal({ ...reference }, jsonReference(body), `${where}: full map equals JSON.parse`);
  const lazy = parse(body);
  let n = 0;
  for (const [k, v] of Object.entries(reference)) {
    assert.is(lazy.header(k), v, `${where}: ${k}`);
    n++;
  }
  for (const k of ['No-Such-Header', 'constructor', '__proto__', 'Unique', 'Event', '_body']) {
    if (!Object.hasOwn(reference, k)) assert.is(lazy.header(k), undefined, `${where}: ${k}`);
  }
  assert.is(lazy.body, parse(body).body, `${where}: body`);
  assert.is(lazy.name, reference['Event-Name']);
  return n;
}

test('lazy lookups equal the full parse for every header of every captured json and plain event', () => {
  const events = captured();
  assert.ok(events.filter((e) => e.parse === parseJsonEvent).length >= 90, 'json events found');
  assert.ok(events.filter((e) => e.parse === parsePlainEvent).length >= 250, 'plain events found');
  let headers = 0;
  for (const e of events) headers += assertExact(e.where, e.body, e.parse);
  assert.ok(headers > 20_000, `${headers} headers compared`);
});

test('captured specials: UTF-8 Zoë, literal %25, array variables, bgapi body', () => {
  const json = captured()
    .filter((e) => e.parse === parseJsonEvent)
    .map((e) => parseJsonEvent(e.body));
  assert.ok(json.some((e) => e.header('Caller-Caller-ID-Name') === 'Zoë Acme'));
  assert.ok(json.some((e) => e.header('variable_sip_from_display') === 'Carrier 5%25 Promo'));
  assert.ok(
    json.some(
      (e) =>
        e.header('variable_originate_causes') ===
        'ARRAY::52694e4f-8605-4c83-81ed-cf63b8e67700;NONE|:52694e4f-8605-4c83-81ed-cf63b8e67700;NONE',
    ),
  );
  const plain = captured()
    .filter((e) => e.parse === parsePlainEvent)
    .map((e) => parsePlainEvent(e.body));
  assert.ok(plain.some((e) => e.header('Caller-Caller-ID-Name') === 'Zoë Acme'));
  assert.ok(plain.some((e) => e.header('variable_sip_from_display') === 'Carrier 5% Promo'));
  const job = json.find((e) => e.name === 'BACKGROUND_JOB')!;
  assert.match(job.body!, /^UP 0 years/);
  assert.is(job.header('_body'), undefined);
});

test('escaped quotes and backslashes, key text inside values and keys, duplicates, unicode escapes', () => {
  const obj: Record<string, unknown> = {
    'Event-Name': 'CHANNEL_CREATE',
    a: 'say \\"hi\\" \\\\ back\\\\',
    trap: ',"Unique-ID":"forged","x":"',
    'x,"Unique-ID': 'key text',
    '{"Hangup-Cause': 'k',
    'Unique-ID': '56356642-0000-4000-8000-000000000001',
    u: 'snow \u2603 \ud83d\ude00 tab\there',
    arr: ['a|b', 'c"d', ''],
    empty: [],
    nl: 'line1\nline2',
  };
  const text = JSON.stringify(obj);
  // A repeated key: the first one wins, as in FreeSWITCH's own switch_event_get_header_ptr.
  const body = Buffer.from(
    `${text.slice(0, -1)},"Hangup-Cause":"FIRST","variable_cc_queue":"q1","Hangup-Cause":"LAST"}`,
  );
  assertExact('synthetic', body, parseJsonEvent);
  const ev = parseJsonEvent(body);
  assert.is(ev.header('Unique-ID'), '56356642-0000-4000-8000-000000000001');
  assert.is(ev.header('Hangup-Cause'), 'FIRST');
  assert.is(ev.headers['Hangup-Cause'], 'FIRST', 'the full map agrees');
  assert.is(ev.header('arr'), 'ARRAY::a|b|:c"d|:');
  assert.is(ev.header('u'), 'snow \u2603 \ud83d\ude00 tab\there');
  // Pretty-printed json is not the compact form: answered by the full parse.
  const pretty = Buffer.from(JSON.stringify(obj, null, 1));
  assertExact('pretty', pretty, parseJsonEvent);
  // Non-string values (never sent by FreeSWITCH) fall back to the full parse's representation.
  assertExact('numbers', Buffer.from('{"Event-Name":"X","n":5,"o":{"a":"b"},"a2":[1,"x"]}'), parseJsonEvent);
  // Needles start at a name's rarest byte ("q" here); what precedes it is checked, so near-misses are skipped.
  const near = Buffer.from(
    '{"Event-Name":"X","cc_queue":"1","xvariable_cc_queue":"2","a":"variable_cc_queue\\":","variable_cc_queue":"3"}',
  );
  assertExact('near-misses', near, parseJsonEvent);
  assert.is(parseJsonEvent(near).header('variable_cc_queue'), '3');
  // A name found past false matches ("Time":) gets its needle chosen again on that event; the next event,
  // laid out otherwise, must still get exactly its own value.
  const times = Buffer.from('{"Event-Name":"X","A-Time":"1","B-Time":"2","Answered-Time":"3","Created-Time":"4"}');
  assert.is(parseJsonEvent(times).header('Created-Time'), '4');
  const other = Buffer.from(
    '{"Event-Name":"X","Created-Times":"0","xCreated-Time":"1","a":"Created-Time\\":","Created-Time":"5","Created-Time":"6"}',
  );
  assertExact('after retuning', other, parseJsonEvent);
  assert.is(parseJsonEvent(other).header('Created-Time'), '5');
  assert.is(parseJsonEvent(near).header('cc_queue'), '1');
  const nearPlain = Buffer.from('Event-Name: X\nxvariable_cc_queue: 2\nvariable_cc_queue: 3\ncc_queue: 1\n\n');
  assertExact('near-misses plain', nearPlain, parsePlainEvent);
  assert.is(parsePlainEvent(nearPlain).header('variable_cc_queue'), '3');
  // Plain: duplicates, first line, header-like text in the inner body.
  const plain = Buffer.from(
    'Unique-ID: first\nEvent-Name: BACKGROUND_JOB\nUnique-ID: second\nContent-Length: 29\n\nUnique-ID: body\nJob-UUID: x\n',
  );
  assertExact('plain', plain, parsePlainEvent);
  assert.is(parsePlainEvent(plain).header('Unique-ID'), 'first');
  assert.is(parsePlainEvent(plain).headers['Unique-ID'], 'first', 'the full map agrees');
  assert.is(parsePlainEvent(plain).header('Job-UUID'), undefined);
});

test.run();
