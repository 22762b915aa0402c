// The one audio format a music-on-hold upload may have: RIFF/WAVE, PCM, 16-bit,
// mono, 8, 16 or 48 kHz. mod_local_stream opens each file of a stream's folder
// with the stream's rate and one channel (read_stream_thread ->
// switch_core_file_open) and mod_sndfile reads any of these, resampled; other
// formats could fail at play time, on every node, with no one to tell. A file
// is refused here instead, with the reason, before anything is written.

export const MOH_RATES = [8000, 16000, 48000] as const;

export interface WavInfo {
  sampleRate: number;
  dataBytes: number;
  durationMs: number;
}

export class WavProblem extends Error {}

/** Checks `buf` is a WAV file moh streams play; throws WavProblem naming what is wrong. */
export function checkMohWav(buf: Buffer): WavInfo {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE')
    throw new WavProblem('not a WAV file (no RIFF/WAVE header)');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new WavProblem('the fmt chunk is truncated');
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavProblem('the data chunk comes before the fmt chunk');
      if (fmt.format !== 1) throw new WavProblem(`audio format ${fmt.format} is not PCM (1)`);
      if (fmt.bits !== 16) throw new WavProblem(`${fmt.bits}-bit samples: only 16-bit PCM is accepted`);
      if (fmt.channels !== 1) throw new WavProblem(`${fmt.channels} channels: only mono is accepted`);
      if (!(MOH_RATES as readonly number[]).includes(fmt.rate))
        throw new WavProblem(`sample rate ${fmt.rate} Hz is not one of ${MOH_RATES.join(', ')}`);
      if (size === 0) throw new WavProblem('no audio (the data chunk is empty)');
      if (body + size > buf.length) throw new WavProblem('the data chunk is truncated');
      return { sampleRate: fmt.rate, dataBytes: size, durationMs: Math.floor((size / 2 / fmt.rate) * 1000) };
    }
    off = body + size + (size % 2); // chunks are padded to an even size
  }
  throw new WavProblem(fmt ? 'no data chunk' : 'no fmt chunk');
}

/** A minimal mono 16-bit PCM WAV of `samples` samples (tests, and the demo's placeholder). */
export function pcmWav(rate: number, samples: number, fill = 0): Buffer {
  const data = samples * 2;
  const b = Buffer.alloc(44 + data);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + data, 4);
  b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(data, 40);
  for (let i = 0; i < samples; i++) b.writeInt16LE(fill, 44 + i * 2);
  return b;
}
