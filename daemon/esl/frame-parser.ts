// Splits the ESL byte stream into frames: header lines "Name: value\n", an empty
// line, then exactly Content-Length *bytes* of body. TCP chunking is arbitrary,
// so this works on bytes, buffers partial frames, and never recurses per frame
// (thousands of frames can arrive coalesced in one chunk).
import { parseFrameHeaders, EventParseError } from './event.js';

export interface EslFrame {
  headers: Record<string, string>;
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
  private chunks: Buffer[] = [];
  private total = 0;
  /** Where the header-end search resumes, so a slow header is not rescanned from the start. */
  private scanFrom = 0;
  private pending: { headers: Record<string, string>; length: number } | undefined;
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
    for (;;) {
      if (this.pending) {
        if (this.total < this.pending.length) break;
        frames.push({ headers: this.pending.headers, body: this.take(this.pending.length) });
        this.pending = undefined;
        continue;
      }
      const buf = this.flat();
      // Tolerate stray blank lines between frames.
      let start = 0;
      while (start < buf.length && buf[start] === 0x0a) start++;
      if (start) { this.take(start); this.scanFrom = 0; continue; }
      const end = buf.indexOf('\n\n', this.scanFrom);
      if (end < 0) {
        if (buf.length > this.limits.maxHeaderBytes) throw new FramingError(`no end of headers within ${this.limits.maxHeaderBytes} bytes`);
        this.scanFrom = Math.max(0, buf.length - 1);
        break;
      }
      let headers: Record<string, string>;
      try {
        headers = parseFrameHeaders(buf.toString('latin1', 0, end));
      } catch (err) {
        throw new FramingError(err instanceof EventParseError ? err.message : String(err));
      }
      this.take(end + 2);
      this.scanFrom = 0;
      const len = headers['Content-Length'];
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

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.total)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private take(n: number): Buffer {
    const buf = this.flat();
    const out = buf.subarray(0, n);
    const rest = buf.subarray(n);
    // Copy the remainder only when it is small relative to the old buffer, so a
    // tiny tail does not pin a large chunk in memory.
    this.chunks = rest.length === 0 ? [] : [rest.length < buf.length / 4 ? Buffer.from(rest) : rest];
    this.total = rest.length;
    return out;
  }
}
