// Writes call records without losing any: a bounded queue in memory, and beyond
// that the on-disk spool, while PostgreSQL is unreachable. A batch is one call
// of insert_call_records (sql/005), which sets each tenant's transaction-local
// context in turn, so RLS checks every row as it would through withTenant.
// Records are retried with backoff, the spool is replayed at start-up and each
// time the database answers again, and every insert is idempotent
// (UNIQUE (tenant_id, call_uuid)), so replaying twice is harmless.
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import { backoffDelay } from '../esl/backoff.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import type { CallRecord } from './call-record.js';
import { CdrSpool } from './cdr-spool.js';

export interface CdrWriterOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  spoolDir: string;
  /** Records held in memory before new ones go to the spool file. */
  queueMax: number;
  batchSize?: number;
  retry?: { initialMs: number; maxMs: number };
}

/** SQLSTATE classes that no retry can fix: the record itself is unacceptable. */
const PERMANENT = /^(22|23)/;

function isPermanent(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && PERMANENT.test(code);
}

const INSERT = `SELECT insert_call_records($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::int[], $12::text[], $13::text[])`;

export class CdrWriter {
  private queue: CallRecord[] = [];
  private readonly spool: CdrSpool;
  private pumping: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private spoolPending = true;
  private overflow: Promise<void> = Promise.resolve();
  private overflowBuf: CallRecord[] = [];
  private readonly m: { written: client.Counter; spooled: client.Counter; rejected: client.Counter };

  constructor(private readonly opts: CdrWriterOptions) {
    this.spool = new CdrSpool(opts.spoolDir);
    const r = opts.registry;
    const self = this;
    metric(
      r,
      'fs_tenantd_cdr_queue_depth',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_cdr_queue_depth',
          help: 'Call records waiting in memory for the database',
          registers: [r],
          collect() {
            this.set(self.queue.length);
          },
        }),
    );
    metric(
      r,
      'fs_tenantd_cdr_spool_bytes',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_cdr_spool_bytes',
          help: 'Bytes of call records spooled on disk awaiting the database',
          registers: [r],
          collect() {
            this.set(self.spool.sizeBytes);
          },
        }),
    );
    this.m = {
      written: metric(
        r,
        'fs_tenantd_cdr_written_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_cdr_written_total',
            help: 'Call records written to PostgreSQL (replays of already-written records included)',
            registers: [r],
          }),
      ),
      spooled: metric(
        r,
        'fs_tenantd_cdr_spooled_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_cdr_spooled_total',
            help: 'Call records appended to the on-disk spool',
            registers: [r],
          }),
      ),
      rejected: metric(
        r,
        'fs_tenantd_cdr_rejected_total',
        () =>
          new client.Counter({
            name: 'fs_tenantd_cdr_rejected_total',
            help: 'Call records PostgreSQL refused as invalid (logged, not retried)',
            registers: [r],
          }),
      ),
    };
  }

  /** Opens the spool and starts replaying what an earlier run left there. */
  async start(): Promise<void> {
    await this.spool.open();
    this.stopped = false;
    this.spoolPending = true;
    this.kick();
  }

  /** Takes a record; never throws, never blocks. */
  submit(record: CallRecord): void {
    if (!this.stopped && this.queue.length < this.opts.queueMax) {
      this.queue.push(record);
      this.kick();
      return;
    }
    this.spoolPending = true;
    // Records overflowing together share one append (one fsync, one log line).
    this.overflowBuf.push(record);
    if (this.overflowBuf.length === 1)
      this.overflow = this.overflow.then(() =>
        this.toSpool(this.overflowBuf.splice(0), this.stopped ? 'stopped' : 'queue full'),
      );
  }

  /** Stops retrying and moves everything still in memory to the spool. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.pumping;
    await this.overflow;
    const rest = this.queue.splice(0);
    await this.toSpool(rest, 'shutdown');
  }

  /** Resolves when the queue and the spool are empty or the database is failing (tests, shutdown). */
  async idle(): Promise<void> {
    await this.overflow;
    while (this.pumping) await this.pumping;
  }

  stats(): { queued: number; spoolBytes: number } {
    return { queued: this.queue.length, spoolBytes: this.spool.sizeBytes };
  }

  private async toSpool(records: CallRecord[], why: string): Promise<void> {
    if (!records.length) return;
    try {
      await this.spool.append(records);
      this.m.spooled.inc(records.length);
      this.opts.log.warn(
        { records: records.length, why, spoolBytes: this.spool.sizeBytes },
        'call records spooled to disk',
      );
    } catch (err) {
      // Disk refused too: keep them in memory rather than drop them, and say so loudly.
      this.queue.push(...records);
      this.opts.log.error({ err, records: records.length }, 'cannot write the CDR spool; records kept in memory');
    }
  }

  private kick(): void {
    if (this.pumping || this.stopped || this.retryTimer) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // Records submitted while this round was busy (replaying, say) start the next one.
      if (this.queue.length || this.spoolPending) this.kick();
    });
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopped && this.queue.length) {
        const batch = this.queue.slice(0, this.opts.batchSize ?? 200);
        await this.write(batch);
        this.queue.splice(0, batch.length);
      }
      if (!this.stopped && this.spoolPending) await this.replay();
      this.attempt = 0;
    } catch (err) {
      const { initialMs, maxMs } = this.opts.retry ?? { initialMs: 250, maxMs: 10_000 };
      const delay = backoffDelay(this.attempt++, initialMs, maxMs);
      this.opts.log.warn(
        { err: (err as Error).message, queued: this.queue.length, retryInMs: delay },
        'call records not written; will retry',
      );
      if (!this.stopped)
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
    }
  }

  private async replay(): Promise<void> {
    await this.overflow;
    for (const file of await this.spool.rotate()) {
      const { records, corrupt } = await this.spool.read(file);
      if (corrupt) {
        this.m.rejected.inc(corrupt);
        this.opts.log.error({ file, corrupt }, 'unreadable lines in the CDR spool skipped');
      }
      const size = this.opts.batchSize ?? 200;
      for (let i = 0; i < records.length; i += size) await this.write(records.slice(i, i + size));
      await this.spool.remove(file);
      this.opts.log.info({ file, records: records.length }, 'spooled call records replayed');
    }
    this.spoolPending = false;
  }

  /** Writes records in one round trip. Throws on a transient failure; drops (and logs) records PostgreSQL refuses. */
  private async write(records: readonly CallRecord[]): Promise<void> {
    try {
      await this.insert(records);
    } catch (err) {
      if (!isPermanent(err)) throw err;
      // One bad record must not hold back the others: retry them one by one.
      for (const r of records) {
        try {
          await this.insert([r]);
        } catch (e) {
          if (!isPermanent(e)) throw e;
          this.m.rejected.inc();
          this.opts.log.error(
            { err: (e as Error).message, tenant: r.tenantId, callUuid: r.callUuid },
            'call record refused by PostgreSQL; dropped',
          );
        }
      }
    }
  }

  private async insert(list: readonly CallRecord[]): Promise<void> {
    const col = <K extends keyof CallRecord>(k: K) => list.map((r) => r[k]);
    await this.opts.pool.query(INSERT, [
      col('tenantId'),
      col('callUuid'),
      col('node'),
      col('direction'),
      col('caller'),
      col('callee'),
      col('createdAt'),
      col('answeredAt'),
      col('endedAt'),
      col('durationS'),
      col('billsec'),
      col('hangupCause'),
      col('queue'),
    ]);
    this.m.written.inc(list.length);
  }
}

/** A writer that has opened its spool and begun replaying it. */
export async function createCdrWriter(opts: CdrWriterOptions): Promise<CdrWriter> {
  const writer = new CdrWriter(opts);
  await writer.start();
  return writer;
}
