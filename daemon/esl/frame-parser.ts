// Splits the ESL byte stream into frames: header lines "Name: value\n", an empty
// line, then exactly Content-Length *bytes* of body. TCP chunking is arbitrary,
// so this works on bytes, buffers partial frames, and never recurses per frame
// (thousands of frames can arrive coalesced in one chunk).

export interface EslFrame {
  /** Outer headers (Content-Type, Content-Length, Reply-Text, ...), never percent-encoded. */
  headers: ReadonlyMap<string, string>;
  body: Buffer | undefined;
}

/** The byte stream cannot be split any more (bad Content-Length, endless header): the connection must be dropped. */
export class FramingError extends Error {
  override name = 'FramingError';
}

export interface FrameParserLimits {
  /** Longest header block accepted (bytes). */
  maxHeaderBytes: number;
  /** Largest body accepted (bytes); `show channels as json` on a busy node is the big one. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: FrameParserLimits = { maxHeaderBytes: 64 * 1024, maxBodyBytes: 64 * 1024 * 1024 };

const HEADER_END = Buffer.from('\n\n', 'latin1');
const EVENT_LENGTH = Buffer.from('Content-Length: ', 'latin1');
const EVENT_TYPE = Buffer.from('\nContent-Type: text/event-', 'latin1');
const EVENT_TYPES = { json: 'text/event-json', plain: 'text/event-plain', xml: 'text/event-xml' } as const;

export class EslFrameParser {
  /** Received bytes not yet framed: chunks[0] from `offset`, then the later chunks whole. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private total = 0;
  /** Where the header-end search resumes in the merged head, so a slow header is not rescanned from the start. */
  private scanFrom = 0;
  /** The frame whose body is awaited: its headers, and its body length (-1: none awaited). */
  private pendingHeaders: ReadonlyMap<string, string> | undefined;
  private pendingLength = -1;
  /** Largest number of bytes ever held between frames (the memory bound tests check). */
  maxBuffered = 0;

  constructor(private readonly limits: FrameParserLimits = DEFAULT_LIMITS) {}

  get bufferedBytes(): number {
    return this.total;
  }

  /** Adds bytes; returns the frames they complete. Throws FramingError when the stream is beyond repair. */
  push(chunk: Buffer): EslFrame[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.total += chunk.length;
      if (this.total > this.maxBuffered) this.maxBuffered = this.total;
    }
    const frames: EslFrame[] = [];
    while (this.total) {
      if (this.pendingLength >= 0) {
        if (this.total < this.pendingLength) break;
        frames.push({ headers: this.pendingHeaders!, body: this.take(this.pendingLength) });
        this.pendingHeaders = undefined;
        this.pendingLength = -1;
        continue;
      }
      // Tolerate stray blank lines between frames.
      if (this.chunks[0]![this.offset] === 0x0a) {
        this.skip(1);
        this.scanFrom = 0;
        continue;
      }
      if (this.eventHead()) continue;
      const end = this.head();
      if (end < 0) break;
      // head() leaves the whole header block in the first chunk: read it there, no view or copy.
      const headers = parseHeaders(this.chunks[0]!, this.offset, this.offset + end);
      this.skip(end + 2);
      const len = headers.get('Content-Length');
      if (len === undefined) {
        frames.push({ headers, body: undefined });
        continue;
      }
      if (!/^\d{1,12}$/.test(len) || Number(len) > this.limits.maxBodyBytes) {
        throw new FramingError(`unusable Content-Length ${JSON.stringify(len.slice(0, 40))}`);
      }
      this.pendingHeaders = headers;
      this.pendingLength = Number(len);
    }
    return frames;
  }

  /**
   * FreeSWITCH heads every event "Content-Length: N\nContent-Type: text/event-<format>\n\n"
   * (mod_event_socket.c). When the next frame starts so, in the first chunk, it is read byte by
   * byte, with no header text to cut up: events are nearly every frame. Anything else: false.
   */
  private eventHead(): boolean {
    const buf = this.chunks[0]!;
    let i = this.offset;
    if (buf.length - i < EVENT_LENGTH.length + 1 + EVENT_TYPE.length + 5) return false;
    for (let k = 0; k < EVENT_LENGTH.length; k++) if (buf[i + k] !== EVENT_LENGTH[k]) return false;
    i += EVENT_LENGTH.length;
    let length = 0;
    const digits = i;
    for (let c = buf[i]!; c >= 0x30 && c <= 0x39 && i - digits < 12; c = buf[++i]!) length = length * 10 + (c - 0x30);
    // No digits, or a leading zero (kept as sent by the general path): not this shape.
    if (i === digits || (buf[digits] === 0x30 && i - digits > 1) || i + EVENT_TYPE.length + 6 > buf.length)
      return false;
    for (let k = 0; k < EVENT_TYPE.length; k++) if (buf[i + k] !== EVENT_TYPE[k]) return false;
    i += EVENT_TYPE.length;
    const format =
      buf[i] === 0x6a /* j */
        ? 'json'
        : buf[i] === 0x70 /* p */
          ? 'plain'
          : buf[i] === 0x78 /* x */
            ? 'xml'
            : undefined;
    if (!format || i + format.length + 2 > buf.length) return false;
    for (let k = 0; k < format.length; k++) if (buf[i + k] !== format.charCodeAt(k)) return false;
    i += format.length;
    if (buf[i] !== 0x0a || buf[i + 1] !== 0x0a) return false;
    if (length > this.limits.maxBodyBytes)
      throw new FramingError(`unusable Content-Length ${JSON.stringify(String(length))}`);
    this.skip(i + 2 - this.offset);
    this.pendingHeaders = new EventHeaders(length, EVENT_TYPES[format]);
    this.pendingLength = length;
    return true;
  }

  /** Length of the next header block (up to its "\n\n"), merging chunks only when it straddles them; -1 until it is all here. */
  private head(): number {
    for (;;) {
      const first = this.chunks[0]!;
      const end = first.indexOf(HEADER_END, this.offset + this.scanFrom);
      const have = end >= 0 ? end - this.offset : first.length - this.offset;
      if (have > this.limits.maxHeaderBytes)
        throw new FramingError(`no end of headers within ${this.limits.maxHeaderBytes} bytes`);
      if (end >= 0) {
        this.scanFrom = 0;
        return have;
      }
      this.scanFrom = Math.max(0, have - 1);
      if (this.chunks.length < 2) return -1;
      this.chunks.splice(0, 2, Buffer.concat([first.subarray(this.offset), this.chunks[1]!]));
      this.offset = 0;
    }
  }

  /** Drops n bytes that sit in the first chunk. */
  private skip(n: number): void {
    this.total -= n;
    this.advance(this.chunks[0]!, n);
  }

  /** The next n buffered bytes: a view when they sit in one chunk, else one copy of just those bytes. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.total -= n;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n; ) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.offset, n - filled);
      c.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.advance(c, k);
    }
    return out;
  }

  private advance(chunk: Buffer, n: number): void {
    this.offset += n;
    if (this.offset === chunk.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/**
 * An event frame's two headers as eventHead read them. Building a Map per event took ~100 ns (bench VM) and the
 * client only get()s Content-Type, so the Map is built only if a caller iterates.
 */
class EventHeaders implements ReadonlyMap<string, string> {
  private map: Map<string, string> | undefined;
  constructor(
    private readonly length: number,
    private readonly type: string,
  ) {}
  get size(): number {
    return 2;
  }
  get(name: string): string | undefined {
    return name === 'Content-Type' ? this.type : name === 'Content-Length' ? String(this.length) : undefined;
  }
  has(name: string): boolean {
    return name === 'Content-Type' || name === 'Content-Length';
  }
  private all(): Map<string, string> {
    return (this.map ??= new Map([
      ['Content-Length', String(this.length)],
      ['Content-Type', this.type],
    ]));
  }
  forEach(cb: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.all()) cb.call(thisArg, v, k, this);
  }
  entries(): MapIterator<[string, string]> {
    return this.all().entries();
  }
  keys(): MapIterator<string> {
    return this.all().keys();
  }
  values(): MapIterator<string> {
    return this.all().values();
  }
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.all()[Symbol.iterator]();
  }
}

/** A frame's header lines, buf[start, end) (a Map: two short lines per event, and no prototype to guard). The first of a repeated name wins. */
function parseHeaders(buf: Buffer, start: number, end: number): Map<string, string> {
  const text = buf.toString('latin1', start, end);
  const headers = new Map<string, string>();
  for (let i = 0; i < text.length; ) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    const colon = text.indexOf(': ', i);
    if (colon <= i || colon > nl)
      throw new FramingError(
        `header line without "name: value": ${JSON.stringify(text.slice(i, Math.min(nl, i + 80)))}`,
      );
    const name = text.slice(i, colon);
    if (!headers.has(name)) headers.set(name, text.slice(colon + 2, nl));
    i = nl + 1;
  }
  return headers;
}
