// The ESL event stream for item 4: the real CHANNEL_CREATE, CHANNEL_ANSWER and
// CHANNEL_HANGUP_COMPLETE frames of both legs of call (ii) in
// test/fixtures/freeswitch/esl/stream-2-...json.raw (the format the daemon
// subscribes to), replayed as many distinct calls. Per call the two leg UUIDs
// are replaced (same length, so the captured bytes stay as they were) and the
// channel variables the daemon itself sets on every call it routes are added,
// as FreeSWITCH would send them after our directory/dialplan answers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../daemon/paths.js';
import { CHANNEL_VARS, eventHeader } from '../../daemon/calls/channel-vars.js';

export const ESL_FIXTURE_DIR = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'esl');
const CAPTURE = 'stream-2-call-acme-1000-to-1001.json.raw';
const WANTED = new Set(['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE']);

export interface Tenant { id: string; slug: string }

interface CapturedEvent { name: string; uniqueId: string; body: string }

/** Splits a captured connection into frames (headers, Content-Length bytes of body). */
function frames(buf: Buffer): Array<{ headers: Record<string, string>; body: Buffer }> {
  const out: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let i = 0;
  while (i < buf.length) {
    while (buf[i] === 0x0a) i++;
    const end = buf.indexOf('\n\n', i);
    if (end < 0) break;
    const headers = Object.fromEntries(buf.toString('latin1', i, end).split('\n').map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
    i = end + 2;
    const len = Number(headers['Content-Length'] ?? 0);
    out.push({ headers, body: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** The six lifecycle events of the captured call, in capture order. */
export function capturedCall(): { events: CapturedEvent[]; aLeg: string; bLeg: string } {
  const events: CapturedEvent[] = [];
  for (const f of frames(readFileSync(path.join(ESL_FIXTURE_DIR, CAPTURE)))) {
    if (f.headers['Content-Type'] !== 'text/event-json') continue;
    const body = f.body.toString('utf8');
    const ev = JSON.parse(body) as Record<string, string>;
    if (WANTED.has(ev['Event-Name']!)) events.push({ name: ev['Event-Name']!, uniqueId: ev['Unique-ID']!, body });
  }
  const aLeg = events[0]!.uniqueId;
  const bLeg = events.find((e) => e.uniqueId !== aLeg)!.uniqueId;
  return { events, aLeg, bLeg };
}

/** A deterministic UUID-shaped id for leg `leg` of call `n` (36 characters, like the captured ones). */
export const callUuid = (n: number, leg: 'a' | 'b'): string =>
  `${leg === 'a' ? 'aaaaaaaa' : 'bbbbbbbb'}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export type Phase = 'create' | 'answer' | 'hangup';
const PHASE_OF: Record<string, Phase> = { CHANNEL_CREATE: 'create', CHANNEL_ANSWER: 'answer', CHANNEL_HANGUP_COMPLETE: 'hangup' };

/** Builds call n's frames for the given phases, ready to write to an ESL client. */
export function callFrames(call: ReturnType<typeof capturedCall>, n: number, tenant: Tenant, phases: ReadonlySet<Phase>): Buffer {
  const a = callUuid(n, 'a');
  const b = callUuid(n, 'b');
  const vars = `"${eventHeader(CHANNEL_VARS.tenantId)}":"${tenant.id}","${eventHeader(CHANNEL_VARS.tenantSlug)}":"${tenant.slug}","${eventHeader(CHANNEL_VARS.direction)}":"internal",`;
  const parts: Buffer[] = [];
  for (const ev of call.events) {
    if (!phases.has(PHASE_OF[ev.name]!)) continue;
    const body = Buffer.from('{' + vars + ev.body.slice(1).replaceAll(call.aLeg, a).replaceAll(call.bLeg, b), 'utf8');
    parts.push(Buffer.from(`Content-Length: ${body.length}\nContent-Type: text/event-json\n\n`, 'latin1'), body);
  }
  return Buffer.concat(parts);
}

export const eventsPerCall = (call: ReturnType<typeof capturedCall>, phases: ReadonlySet<Phase>): number =>
  call.events.filter((e) => phases.has(PHASE_OF[e.name]!)).length;
