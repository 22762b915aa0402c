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

export class EslFrameParser {
  /** Received bytes not yet framed: chunks[0] from `offset`, then the later chunks whole. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private total = 0;
  /** Where the header-end search resumes in the merged head, so a slow header is not rescanned from the start. */
  private scanFrom = 0;
  private pending: { headers: ReadonlyMap<string, string>; length: number } | undefined;
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
      if (this.pending) {
        if (this.total < this.pending.length) break;
        frames.push({ headers: this.pending.headers, body: this.take(this.pending.length) });
        this.pending = undefined;
        continue;
      }
      // Tolerate stray blank lines between frames.
      if (this.chunks[0]![this.offset] === 0x0a) { this.take(1); this.scanFrom = 0; continue; }
      const head = this.head();
      if (!head) break;
      const headers = parseHeaders(this.take(head.end + 2), head.end);
      const len = headers.get('Content-Length');
      if (len === undefined) {
        frames.push({ headers, body: undefined });
        continue;
      }
      if (!/^\d{1,12}$/.test(len) || Number(len) > this.limits.maxBodyBytes) {
        throw new FramingError(`unusable Content-Length ${JSON.stringify(len.slice(0, 40))}`);
      }
      this.pending = { headers, length: Number(len) };
    }
    return frames;
  }

  /** Where the next header block ends (its "\n\n"), merging chunks only when a header straddles them. */
  private head(): { end: number } | undefined {
    for (;;) {
      const first = this.chunks[0]!;
      const end = first.indexOf('\n\n', this.offset + this.scanFrom);
      const have = end >= 0 ? end - this.offset : first.length - this.offset;
      if (have > this.limits.maxHeaderBytes) throw new FramingError(`no end of headers within ${this.limits.maxHeaderBytes} bytes`);
      if (end >= 0) { this.scanFrom = 0; return { end: have }; }
      this.scanFrom = Math.max(0, have - 1);
      if (this.chunks.length < 2) return undefined;
      this.chunks.splice(0, 2, Buffer.concat([first.subarray(this.offset), this.chunks[1]!]));
      this.offset = 0;
    }
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
    for (let filled = 0; filled < n;) {
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
    if (this.offset === chunk.length) { this.chunks.shift(); this.offset = 0; }
  }
}

/** A frame's header lines (a Map: two short lines per event, and no prototype to guard). The first of a repeated name wins. */
function parseHeaders(block: Buffer, end: number): Map<string, string> {
  const text = block.toString('latin1', 0, end);
  const headers = new Map<string, string>();
  for (let i = 0; i < text.length;) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    const colon = text.indexOf(': ', i);
    if (colon <= i || colon > nl) throw new FramingError(`header line without "name: value": ${JSON.stringify(text.slice(i, Math.min(nl, i + 80)))}`);
    const name = text.slice(i, colon);
    if (!headers.has(name)) headers.set(name, text.slice(colon + 2, nl));
    i = nl + 1;
  }
  return headers;
}
