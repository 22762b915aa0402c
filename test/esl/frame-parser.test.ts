import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EventParseError,
  parseJsonEvent,
  parsePlainEvent,
  percentDecode,
  type EslEvent,
} from '../../daemon/esl/event.js';
import { EslFrameParser, FramingError, type EslFrame } from '../../daemon/esl/frame-parser.js';
import { ESL_FIXTURES, fixture } from '../helpers/esl-server.js';

// Frame counts as documented in test/fixtures/freeswitch/README.md ("Client transcripts").
const DOCUMENTED: Record<string, number> = {
  'stream-1-register-1001-acme.plain.raw': 9,
  'stream-2-call-acme-1000-to-1001.plain.raw': 62,
  'stream-2-call-acme-1000-to-1001.json.raw': 62,
  'stream-3-call-globex-rejected-503.plain.raw': 24,
  'stream-4-callcenter-queue-call.plain.raw': 88,
  'stream-5-call-public-did-trunk.plain.raw': 36,
  'stream-5-call-public-did-trunk.json.raw': 36,
  'conn-api-session.raw': 19,
  'conn-shutdown-no-events.raw': 3,
  'conn-shutdown-event-plain-all.raw': 97,
  'conn-bgapi-status.plain.raw': 7,
  'conn-bgapi-status.json.raw': 7,
};

function parseAll(bytes: Buffer, sizes: (i: number) => number): EslFrame[] {
  const p = new EslFrameParser();
  const frames: EslFrame[] = [];
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    frames.push(...p.push(bytes.subarray(pos, pos + n)));
    pos += n;
  }
  assert.is(p.bufferedBytes, 0, 'nothing left over');
  return frames;
}

function events(frames: EslFrame[]): EslEvent[] {
  return frames.flatMap((f) => {
    const t = f.headers.get('Content-Type');
    if (t === 'text/event-json') return [parseJsonEvent(f.body!)];
    if (t === 'text/event-plain') return [parsePlainEvent(f.body!)];
    return [];
  });
}

/** Deterministic pseudo-random chunk sizes (LCG) so a failure is reproducible. */
const lcg = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

test('every whole-connection capture splits into the documented number of frames, however it is chunked', () => {
  for (const [name, count] of Object.entries(DOCUMENTED)) {
    const bytes = fixture(name);
    const rnd = lcg(name.length);
    const ways: Array<[string, (i: number) => number]> = [
      ['whole', () => bytes.length],
      ['1 byte', () => 1],
      ['random', () => 1 + Math.floor(rnd() * 3000)],
    ];
    for (const [how, sizes] of ways) {
      const frames = parseAll(bytes, sizes);
      assert.is(frames.length, count, `${name} (${how})`);
      // Every event body parses.
      events(frames);
    }
  }
});

test('all captures coalesced into one chunk parse like they do one by one', () => {
  const names = fs.readdirSync(ESL_FIXTURES).filter((n) => n.startsWith('conn-') || n.startsWith('stream-'));
  const all = Buffer.concat(names.map(fixture));
  const frames = parseAll(all, () => all.length);
  assert.is(
    frames.length,
    names.reduce((n, name) => n + parseAll(fixture(name), () => 1 << 30).length, 0),
  );
});

test('Content-Length counts bytes: UTF-8 "Zoë" in json events and show channels', () => {
  const evs = events(parseAll(fixture('stream-2-call-acme-1000-to-1001.json.raw'), () => 4096));
  const create = evs.find((e) => e.name === 'CHANNEL_CREATE' && e.headers['Call-Direction'] === 'inbound');
  assert.is(create?.headers['Caller-Caller-ID-Name'], 'Zoë Acme');
  const [api] = parseAll(fixture('api-show-channels-json-call-up.raw'), () => 7);
  const rows = (JSON.parse(api!.body!.toString('utf8')) as { rows: Array<{ cid_name: string }> }).rows;
  assert.is(rows[0]!.cid_name, 'Zoë Acme');
  // Plain events carry the same name percent-encoded.
  const plain = events(parseAll(fixture('stream-2-call-acme-1000-to-1001.plain.raw'), () => 999));
  assert.ok(plain.some((e) => e.headers['Caller-Caller-ID-Name'] === 'Zoë Acme'));
});

test('lossy %25: plain decodes to "5%", json keeps the exact "5%25"', () => {
  const plain = events(parseAll(fixture('stream-5-call-public-did-trunk.plain.raw'), () => 1 << 20));
  const json = events(parseAll(fixture('stream-5-call-public-did-trunk.json.raw'), () => 1 << 20));
  const display = (evs: EslEvent[]) =>
    evs.find((e) => e.headers.variable_sip_from_display)?.headers.variable_sip_from_display;
  assert.is(display(plain), 'Carrier 5% Promo');
  assert.is(display(json), 'Carrier 5%25 Promo');
});

test('json array variables and bgapi bodies', () => {
  const json = events(parseAll(fixture('stream-2-call-acme-1000-to-1001.json.raw'), () => 1 << 20));
  const causes = json.map((e) => e.headers.variable_originate_causes).filter(Boolean);
  assert.ok(
    causes.includes('ARRAY::52694e4f-8605-4c83-81ed-cf63b8e67700;NONE|:52694e4f-8605-4c83-81ed-cf63b8e67700;NONE'),
  );
  for (const name of ['bgapi-status-reply-and-event.plain.raw', 'bgapi-status-reply-and-event.json.raw']) {
    const [reply, ev] = parseAll(fixture(name), () => 5);
    assert.match(reply!.headers.get('Reply-Text')!, /^\+OK Job-UUID: /);
    const job = events([ev!])[0]!;
    assert.is(job.name, 'BACKGROUND_JOB');
    assert.is(job.headers['Job-UUID'], reply!.headers.get('Job-UUID'));
    assert.match(job.body!, /^UP 0 years/);
    assert.ok(job.body!.endsWith('240K/8192K\n'), name);
  }
});

test('the percent decoder never throws', () => {
  assert.is(percentDecode('Bad%C3%20Name'), 'Bad\uFFFD Name');
  assert.is(percentDecode('100%'), '100%');
  assert.is(percentDecode('%ZZ%2'), '%ZZ%2');
  assert.is(percentDecode('%E2%82'), '\uFFFD');
  assert.is(percentDecode('Zo%C3%AB'), 'Zoë');
  assert.is(percentDecode('a+b%2Bc'), 'a+b+c');
  const ev = parsePlainEvent(Buffer.from('Event-Name: CHANNEL_CREATE\n__proto__: x\nvariable_x: %C3%28\n\n'));
  assert.is(ev.headers.variable_x, '\uFFFD(');
  // biome-ignore lint/suspicious/noProto: a header literally named __proto__ must stay a plain value
  assert.is(ev.headers.__proto__, 'x');
});

test('broken event bodies are EventParseErrors, broken framing is a FramingError', () => {
  assert.throws(
    () => parseJsonEvent(Buffer.from('{"Event-Name":')),
    (e: unknown) => e instanceof EventParseError,
  );
  assert.throws(
    () => parseJsonEvent(Buffer.from('[1,2]')),
    (e: unknown) => e instanceof EventParseError,
  );
  assert.throws(
    () => parseJsonEvent(Buffer.from('{"Core-UUID":"x"}')),
    (e: unknown) => e instanceof EventParseError,
  );
  assert.throws(
    () => parsePlainEvent(Buffer.from('no colon here\n\n')),
    (e: unknown) => e instanceof EventParseError,
  );
  assert.throws(
    () => new EslFrameParser().push(Buffer.from('Content-Type: api/response\nContent-Length: abc\n\n')),
    (e: unknown) => e instanceof FramingError,
  );
  assert.throws(
    () => new EslFrameParser().push(Buffer.from('Content-Length: -5\n\n')),
    (e: unknown) => e instanceof FramingError,
  );
  assert.throws(
    () => new EslFrameParser({ maxHeaderBytes: 100, maxBodyBytes: 1000 }).push(Buffer.alloc(200, 0x41)),
    (e: unknown) => e instanceof FramingError,
  );
  assert.throws(
    () => new EslFrameParser({ maxHeaderBytes: 100, maxBodyBytes: 1000 }).push(Buffer.from('Content-Length: 1001\n\n')),
    (e: unknown) => e instanceof FramingError,
  );
});

/** A plain reading of a stream (headers as written, then Content-Length bytes) to hold the parser to. */
function reference(bytes: Buffer): Array<{ headers: Array<[string, string]>; body: string | undefined }> {
  const out: Array<{ headers: Array<[string, string]>; body: string | undefined }> = [];
  for (let i = 0; i < bytes.length; ) {
    if (bytes[i] === 0x0a) {
      i++;
      continue;
    }
    const end = bytes.indexOf('\n\n', i);
    const headers = bytes
      .toString('latin1', i, end)
      .split('\n')
      .map((l): [string, string] => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]);
    i = end + 2;
    const len = headers.find(([k]) => k === 'Content-Length')?.[1];
    out.push({ headers, body: len === undefined ? undefined : bytes.toString('latin1', i, i + Number(len)) });
    i += len === undefined ? 0 : Number(len);
  }
  return out;
}
const asRead = (frames: EslFrame[]) =>
  frames.map((f) => ({ headers: [...f.headers], body: f.body?.toString('latin1') }));

test('event frames (read byte by byte) and every other frame come out with the headers as written, however chunked', () => {
  const odd = Buffer.from(
    [
      'Content-Length: 007\nContent-Type: text/event-json\n\n{"a":1}', // a leading zero: kept as written
      'Content-Type: text/event-json\nContent-Length: 2\n\n{}', // the other order
      'Content-Length: 2\nContent-Type: text/event-jsox\n\n{}', // not an event type
      'Content-Length: 5\nContent-Type: text/event-plain\n\nA: b\n',
      'Content-Length: 3\nContent-Type: text/event-xml\n\n<a>',
      'Content-Length: 2\nContent-Type: text/event-json\nX-Extra: 1\n\n{}', // a third header
    ].join(''),
    'latin1',
  );
  for (const bytes of [
    odd,
    fixture('stream-2-call-acme-1000-to-1001.json.raw'),
    fixture('stream-2-call-acme-1000-to-1001.plain.raw'),
  ]) {
    const want = reference(bytes);
    const rnd = lcg(bytes.length);
    for (const sizes of [
      () => bytes.length,
      () => 1,
      () => 1 + Math.floor(rnd() * 200),
      () => 1 + Math.floor(rnd() * 20_000),
    ]) {
      assert.equal(asRead(parseAll(bytes, sizes)), want);
    }
  }
  assert.throws(
    () => new EslFrameParser().push(Buffer.from('Content-Length: 1234567890123\nContent-Type: text/event-json\n\n')),
    (e: unknown) => e instanceof FramingError,
  );
  assert.throws(
    () =>
      new EslFrameParser({ maxHeaderBytes: 100, maxBodyBytes: 1000 }).push(
        Buffer.from('Content-Length: 1001\nContent-Type: text/event-json\n\n'),
      ),
    (e: unknown) => e instanceof FramingError,
  );
});

test('20,000 coalesced frames: no recursion, buffer bounded by the chunk, not the frame count', () => {
  const one = fixture('api-reloadacl.raw');
  const p = new EslFrameParser();
  let n = 0;
  for (let i = 0; i < 20; i++) n += p.push(Buffer.concat(Array(1000).fill(one))).length;
  assert.is(n, 20_000);
  assert.ok(p.maxBuffered <= one.length * 1000, `buffered at most one chunk (${p.maxBuffered})`);
});

test.run();
