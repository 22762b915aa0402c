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
import { CHANNEL_VARS, eventHeader } from '../../xml-handlers/channel-vars.js';

export const ESL_FIXTURE_DIR = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'esl');
const CAPTURE = 'stream-2-call-acme-1000-to-1001.json.raw';
const WANTED = new Set(['CHANNEL_CREATE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP_COMPLETE']);

export interface Tenant {
  id: string;
  slug: string;
}

interface CapturedEvent {
  name: string;
  uniqueId: string;
  body: string;
}

/** Splits a captured connection into frames (headers, Content-Length bytes of body). */
function frames(buf: Buffer): Array<{ headers: Record<string, string>; body: Buffer }> {
  const out: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let i = 0;
  while (i < buf.length) {
    while (buf[i] === 0x0a) i++;
    const end = buf.indexOf('\n\n', i);
    if (end < 0) break;
    const headers = Object.fromEntries(
      buf
        .toString('latin1', i, end)
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
    );
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
const PHASE_OF: Record<string, Phase> = {
  CHANNEL_CREATE: 'create',
  CHANNEL_ANSWER: 'answer',
  CHANNEL_HANGUP_COMPLETE: 'hangup',
};

type Piece = Buffer | 'a' | 'b' | 'tenant' | 'slug';
const FILLER: Record<Exclude<Piece, Buffer>, number> = { a: 36, b: 36, tenant: 36, slug: 0 };

/**
 * Lays out the frames of one call once; a call is made by patching its leg UUIDs and tenant into one of
 * `ring` slots, copies of that layout side by side in one buffer. `calls()` renders a whole flood into
 * consecutive slots, so a replayer can hand it to the kernel in one write and spend nothing per byte but
 * the kernel's copy (the readers under test, not the replayer, then set the pace). A slot is reused
 * `ring` calls later, so callers must wait until what they wrote has been handed to the kernel.
 */
export class CallWriter {
  private readonly block: Buffer;
  private readonly callBytes: number;
  private readonly offsets: Array<{ at: number; what: Exclude<Piece, Buffer> }> = [];
  readonly events: number;

  constructor(
    call: ReturnType<typeof capturedCall>,
    phases: ReadonlySet<Phase>,
    readonly slugLength: number,
    readonly ring = 64,
  ) {
    const parts: Buffer[] = [];
    let at = 0;
    const push = (p: Piece) => {
      if (typeof p === 'string') {
        const len = p === 'slug' ? slugLength : FILLER[p];
        this.offsets.push({ at, what: p });
        parts.push(Buffer.alloc(len, 0x30));
        at += len;
      } else {
        parts.push(p);
        at += p.length;
      }
    };
    const chosen = call.events.filter((e) => phases.has(PHASE_OF[e.name]!));
    this.events = chosen.length;
    for (const ev of chosen) {
      const pieces: Piece[] = [];
      const withLegs = (text: string) => {
        for (;;) {
          const ia = text.indexOf(call.aLeg);
          const ib = text.indexOf(call.bLeg);
          const i = ia < 0 ? ib : ib < 0 ? ia : Math.min(ia, ib);
          if (i < 0) break;
          pieces.push(Buffer.from(text.slice(0, i), 'utf8'), i === ia ? 'a' : 'b');
          text = text.slice(i + 36);
        }
        pieces.push(Buffer.from(text, 'utf8'));
      };
      // Our variables go where FreeSWITCH lists channel variables: at the captured directory
      // variables (variable_tenant_id) when the event has them, else first among the variables.
      const at = ev.body.includes('"variable_tenant_id"')
        ? ev.body.indexOf('"variable_tenant_id"')
        : ev.body.indexOf('"variable_');
      if (at < 0) throw new Error(`captured ${ev.name} has no channel variables`);
      withLegs(ev.body.slice(0, at));
      pieces.push(
        Buffer.from(`"${eventHeader(CHANNEL_VARS.tenantId)}":"`),
        'tenant',
        Buffer.from(`","${eventHeader(CHANNEL_VARS.tenantSlug)}":"`),
        'slug',
        Buffer.from(`","${eventHeader(CHANNEL_VARS.direction)}":"internal",`),
      );
      withLegs(ev.body.slice(at));
      const length = pieces.reduce(
        (n, p) => n + (typeof p === 'string' ? (p === 'slug' ? slugLength : FILLER[p]) : p.length),
        0,
      );
      push(Buffer.from(`Content-Length: ${length}\nContent-Type: text/event-json\n\n`, 'latin1'));
      for (const p of pieces) push(p);
    }
    const proto = Buffer.concat(parts);
    this.callBytes = proto.length;
    this.block = Buffer.allocUnsafe(ring * proto.length);
    for (let i = 0; i < ring; i++) proto.copy(this.block, i * proto.length);
  }

  /** Call n's frames, in slot n % ring. */
  frames(n: number, tenant: Tenant): Buffer {
    return this.fill(n % this.ring, n, tenant);
  }

  /** Calls [first, first+count) (count ≤ ring) in consecutive slots: one buffer, calls in order. */
  calls(first: number, count: number, tenantOf: (n: number) => Tenant): Buffer {
    if (count > this.ring) throw new Error(`a flood of ${count} calls does not fit ${this.ring} slots`);
    for (let i = 0; i < count; i++) this.fill(i, first + i, tenantOf(first + i));
    return this.block.subarray(0, count * this.callBytes);
  }

  private fill(slot: number, n: number, tenant: Tenant): Buffer {
    if (tenant.slug.length !== this.slugLength)
      throw new Error(`tenant slugs must all be ${this.slugLength} characters`);
    const buf = this.block.subarray(slot * this.callBytes, (slot + 1) * this.callBytes);
    const a = callUuid(n, 'a');
    const b = callUuid(n, 'b');
    for (const o of this.offsets)
      buf.write(
        o.what === 'a' ? a : o.what === 'b' ? b : o.what === 'tenant' ? tenant.id : tenant.slug,
        o.at,
        'latin1',
      );
    return buf;
  }
}
