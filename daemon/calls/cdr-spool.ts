// The CDR spool: an append-only JSON-lines file that takes records the bounded
// in-memory queue cannot hold while PostgreSQL is unreachable, and whatever is
// still queued at shutdown. Each append is fsync'ed before it counts as spooled.
// Replay renames the active file first (new appends start a fresh one), writes
// the renamed file's records, and deletes it only when all of them are in the
// database; inserts are idempotent, so a replay cut short is simply repeated.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CallRecord } from './call-record.js';

const ACTIVE = 'cdr.spool';
const REPLAY = /^cdr\.spool\.\d+\.\d+\.replay$/;

export class CdrSpool {
  private chain: Promise<unknown> = Promise.resolve();
  private bytes = 0;
  private counter = 0;

  constructor(readonly dir: string) {}

  /** Bytes on disk (active + files awaiting replay). */
  get sizeBytes(): number {
    return this.bytes;
  }

  async open(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.bytes = 0;
    for (const name of await fs.readdir(this.dir)) {
      if (name === ACTIVE || REPLAY.test(name)) this.bytes += (await fs.stat(path.join(this.dir, name))).size;
    }
  }

  /** Appends and fsyncs; resolves once the records are durable. */
  append(records: readonly CallRecord[]): Promise<void> {
    if (!records.length) return Promise.resolve();
    const data = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    return this.serial(async () => {
      const fh = await fs.open(path.join(this.dir, ACTIVE), 'a', 0o600);
      try {
        await fh.write(data);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      this.bytes += Buffer.byteLength(data);
    });
  }

  /** Moves the active file aside for replay; returns every file awaiting replay, oldest first. */
  rotate(): Promise<string[]> {
    return this.serial(async () => {
      const active = path.join(this.dir, ACTIVE);
      const st = await fs.stat(active).catch(() => undefined);
      if (st && st.size > 0)
        await fs.rename(active, path.join(this.dir, `cdr.spool.${Date.now()}.${this.counter++}.replay`));
      const names = (await fs.readdir(this.dir)).filter((n) => REPLAY.test(n));
      const key = (n: string) => n.split('.').slice(2, 4).map(Number);
      names.sort((a, b) => {
        const [x1, y1] = key(a);
        const [x2, y2] = key(b);
        return x1! - x2! || y1! - y2!;
      });
      return names.map((n) => path.join(this.dir, n));
    });
  }

  /** Reads a replay file; lines that are not whole records (a crash mid-append) are returned separately. */
  async read(file: string): Promise<{ records: CallRecord[]; corrupt: number }> {
    const text = await fs.readFile(file, 'utf8');
    const records: CallRecord[] = [];
    let corrupt = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as CallRecord;
        if (typeof r.tenantId !== 'string' || typeof r.callUuid !== 'string') throw new Error('not a record');
        records.push(r);
      } catch {
        corrupt++;
      }
    }
    return { records, corrupt };
  }

  async remove(file: string): Promise<void> {
    await this.serial(async () => {
      const st = await fs.stat(file).catch(() => undefined);
      await fs.rm(file, { force: true });
      if (st) this.bytes = Math.max(0, this.bytes - st.size);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
