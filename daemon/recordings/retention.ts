// The recording retention job: every FS_TENANTD_RECORDING_RETENTION_INTERVAL_MS,
// for each tenant with recording_retention_days set, the recordings that ended
// longer ago than that are deleted, file and row, and audited (actor fs-tenantd,
// role system). Each batch is one transaction in the tenant's own context (RLS);
// several daemons on one database do not delete a recording twice (a DELETE
// waits for the other's, then finds the row gone). Per recording, as for the
// API's delete: the row is deleted, then the file, and a file that cannot be
// removed (EACCES, a read-only or failing disk) rolls its row back: counted,
// logged, tried again next run. A file already gone only costs its row. No file
// is ever left without its row. After the tenants, the orphan sweep (orphans.ts)
// removes old files that no row links.
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { TenantRef } from '../../xml-handlers/model.js';
import { withTenant } from '../db/tenant-context.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import { listTenants } from '../tenants/load-snapshot.js';
import { RecordingFileError, recordingFile, removeRecording } from './files.js';
import { createOrphanSweep, type OrphanSweepRun } from './orphans.js';

export interface RetentionOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  recordingsDir: string;
  intervalMs: number;
  /** Recordings per transaction (default 200). */
  batchSize?: number;
  /** Delay before the first run (default 30 s: start-up first). */
  firstRunMs?: number;
  /** Orphan files older than this are swept (FS_TENANTD_RECORDING_ORPHAN_GRACE_DAYS); 0: no sweep. Default 7 days. */
  orphanGraceMs?: number;
}

export interface RetentionRun {
  deleted: number;
  fileMissing: number;
  failed: number;
  tenants: number;
  /** The orphan sweep's pass (absent when it is off or the expiry pass failed). */
  orphans?: OrphanSweepRun;
}

export interface RecordingRetention {
  /** One pass over every tenant (what the timer runs; tests call it directly). */
  runOnce(): Promise<RetentionRun>;
  stop(): Promise<void>;
}

type Outcome = 'deleted' | 'file_missing' | 'failed';

export function createRecordingRetention(opts: RetentionOptions): RecordingRetention {
  const r = opts.registry;
  const batchSize = opts.batchSize ?? 200;
  const expired = metric(
    r,
    'fs_tenantd_recordings_expired_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_recordings_expired_total',
        help: 'Recordings past their tenant retention: deleted, deleted with the file already gone, or failed (kept)',
        labelNames: ['outcome'],
        registers: [r],
      }),
  );
  const runs = metric(
    r,
    'fs_tenantd_recording_retention_runs_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_recording_retention_runs_total',
        help: 'Recording retention passes, by outcome (ok, error: a tenant could not be processed)',
        labelNames: ['outcome'],
        registers: [r],
      }),
  );
  const lastOk = metric(
    r,
    'fs_tenantd_recording_retention_last_success_seconds',
    () =>
      new client.Gauge({
        name: 'fs_tenantd_recording_retention_last_success_seconds',
        help: 'Unix time of the last recording retention pass that processed every tenant',
        registers: [r],
      }),
  );

  const graceMs = opts.orphanGraceMs ?? 7 * 86_400_000;
  const sweep = graceMs > 0 ? createOrphanSweep({ ...opts, graceMs }) : undefined;

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RetentionRun> | undefined;

  /** One batch of `tenant`'s expired recordings; how many it looked at (fewer than batchSize: nothing left). */
  async function batch(tenant: TenantRef, skip: string[], run: RetentionRun): Promise<number> {
    return withTenant(opts.pool, tenant.id, async (db) => {
      const { rows } = await db.query<{ id: string }>(
        `SELECT r.id FROM call_recordings r JOIN tenants t ON t.id = r.tenant_id
        WHERE t.recording_retention_days IS NOT NULL
          AND r.ended_at < now() - make_interval(days => t.recording_retention_days)
          AND NOT (r.id = ANY ($2::uuid[]))
        ORDER BY r.ended_at LIMIT $1`,
        [batchSize, skip],
      );
      const done: Array<{ callUuid: string; file: 'removed' | 'missing' }> = [];
      for (const { id } of rows) {
        // Per recording: DELETE (which locks the row: another daemon's pass waits, then finds it gone), then the
        // file; a file that cannot be removed rolls its own DELETE back to the savepoint, and the row stays.
        await db.query('SAVEPOINT recording');
        const row = (
          await db.query<{ callUuid: string; relativePath: string }>(
            `DELETE FROM call_recordings WHERE id = $1
            RETURNING call_uuid AS "callUuid", relative_path AS "relativePath"`,
            [id],
          )
        ).rows[0];
        if (!row) {
          await db.query('RELEASE SAVEPOINT recording');
          continue; // deleted meanwhile (the API, another daemon)
        }
        let outcome: Outcome;
        try {
          const file = recordingFile(opts.recordingsDir, tenant.id, row.relativePath);
          if (!file) throw new RecordingFileError(`stored path ${row.relativePath} is not usable`, undefined);
          const removed = await removeRecording(file);
          done.push({ callUuid: row.callUuid, file: removed });
          outcome = removed === 'removed' ? 'deleted' : 'file_missing';
          await db.query('RELEASE SAVEPOINT recording');
        } catch (err) {
          if (!(err instanceof RecordingFileError)) throw err;
          await db.query('ROLLBACK TO SAVEPOINT recording');
          outcome = 'failed';
          skip.push(id);
          opts.log.error(
            { tenant: tenant.slug, recording: id, err: err.message },
            'recording retention: file not deleted; the recording is kept and tried again next run',
          );
        }
        expired.inc({ outcome });
        run[outcome === 'deleted' ? 'deleted' : outcome === 'file_missing' ? 'fileMissing' : 'failed']++;
      }
      if (done.length) {
        await db.query(
          `INSERT INTO audit_logs (tenant_id, actor, actor_role, action, target, summary)
          VALUES ($1, 'fs-tenantd', 'system', 'recording.expire', 'recordings', $2)`,
          [
            tenant.id,
            JSON.stringify({
              deleted: done.length,
              fileAlreadyMissing: done.filter((d) => d.file === 'missing').length,
              callUuids: done.map((d) => d.callUuid),
            }),
          ],
        );
        opts.log.info({ tenant: tenant.slug, deleted: done.length }, 'recording retention: expired recordings deleted');
      }
      return rows.length;
    });
  }

  async function runOnce(): Promise<RetentionRun> {
    const run: RetentionRun = { deleted: 0, fileMissing: 0, failed: 0, tenants: 0 };
    let ok = true;
    const tenants = await listTenants(opts.pool);
    for (const tenant of tenants) {
      if (stopped) break;
      run.tenants++;
      const skip: string[] = [];
      try {
        while (!stopped && (await batch(tenant, skip, run)) === batchSize);
      } catch (err) {
        ok = false;
        opts.log.error({ tenant: tenant.slug, err }, 'recording retention: tenant not processed');
      }
    }
    // Only after a clean expiry pass: a database that failed it is not asked which files are orphans.
    if (ok && sweep && !stopped) {
      try {
        run.orphans = await sweep(tenants);
      } catch (err) {
        ok = false;
        opts.log.error({ err }, 'recording orphan sweep failed');
      }
    }
    runs.inc({ outcome: ok ? 'ok' : 'error' });
    if (ok) lastOk.set(Date.now() / 1000);
    return run;
  }

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err: unknown) => {
          runs.inc({ outcome: 'error' });
          opts.log.error({ err }, 'recording retention: pass failed (database unreachable?)');
          return { deleted: 0, fileMissing: 0, failed: 0, tenants: 0 };
        })
        .finally(() => {
          running = undefined;
          schedule(opts.intervalMs);
        });
    }, ms);
    timer.unref();
  };
  schedule(opts.firstRunMs ?? 30_000);

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
