// The orphan sweep, run by the retention job after its expiry pass: recording
// files that no row links and never will. Conservative by construction:
// - only names the daemon itself would derive are touched: <dir>/<tenant uuid>/<call uuid>.wav, regular files
//   (never a symlink, never anything else found there, which is logged and left);
// - only files whose mtime is older than the grace period (default 7 days, FS_TENANTD_RECORDING_ORPHAN_GRACE_DAYS):
//   FreeSWITCH writes a file while the call lasts, and its record may wait in a node's err-log-dir for cdr-replay
//   (README "Call records that cannot be lost"), so the grace must be longer than any replay delay;
// - a file of an existing tenant goes only when, in that tenant's own context (RLS), neither a call_records row
//   nor a call_recordings row has its call uuid;
// - a directory named for no tenant (list_tenants(), every tenant) is a deleted tenant's: its old files go, then
//   the directory once empty. An empty tenant list (a database answering nothing) sweeps nothing.
// Paths come from the directory listing matched against those patterns, never from a request.
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { TenantId, TenantRef } from '../../xml-handlers/model.js';
import { withTenant } from '../db/tenant-context.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import { describeDiskError } from './files.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RECORDING = /^([0-9a-f-]{36})\.wav$/;

export interface OrphanSweepOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  recordingsDir: string;
  /** Files younger than this are never touched. */
  graceMs: number;
}

export interface OrphanSweepRun {
  /** Orphan files deleted (existing and deleted tenants). */
  files: number;
  /** Directories of deleted tenants removed. */
  tenantDirs: number;
  failed: number;
}

export type OrphanOutcome = 'file_deleted' | 'tenant_dir_removed' | 'failed';

export function createOrphanSweep(opts: OrphanSweepOptions): (tenants: TenantRef[]) => Promise<OrphanSweepRun> {
  const r = opts.registry;
  const counter = metric(
    r,
    'fs_tenantd_recording_orphans_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_recording_orphans_total',
        help: 'Recording files no row links, past the grace period: deleted, deleted tenant folders removed, failures',
        labelNames: ['outcome'],
        registers: [r],
      }),
  );
  const count = (run: OrphanSweepRun, outcome: OrphanOutcome) => {
    counter.inc({ outcome });
    run[outcome === 'file_deleted' ? 'files' : outcome === 'tenant_dir_removed' ? 'tenantDirs' : 'failed']++;
  };

  const list = async (dir: string): Promise<Dirent[] | undefined> => {
    try {
      return await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      opts.log.error({ dir, err: describeDiskError(err, 'cannot list') }, 'recording orphan sweep: folder not listed');
      return undefined;
    }
  };

  /** The call uuids of `dir`'s recording files older than the grace period (lstat: no symlink is followed). */
  async function oldRecordings(dir: string, cutoff: number, run: OrphanSweepRun): Promise<string[] | undefined> {
    const entries = await list(dir);
    if (!entries) return undefined;
    const out: string[] = [];
    for (const e of entries) {
      const m = RECORDING.exec(e.name);
      if (!m || !e.isFile()) {
        opts.log.warn({ dir, name: e.name }, 'recording orphan sweep: not a recording file, left alone');
        continue;
      }
      try {
        if ((await fs.lstat(path.join(dir, e.name))).mtimeMs < cutoff) out.push(m[1]!);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        count(run, 'failed');
        opts.log.error({ dir, name: e.name, err: describeDiskError(err, 'cannot stat') }, 'recording orphan sweep');
      }
    }
    return out;
  }

  async function remove(tenant: string, dir: string, callUuid: string, why: string, run: OrphanSweepRun) {
    const file = path.join(dir, `${callUuid}.wav`);
    try {
      await fs.unlink(file);
      count(run, 'file_deleted');
      opts.log.info({ tenant, callUuid, file, why }, 'recording orphan sweep: file deleted');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another daemon's sweep
      count(run, 'failed');
      opts.log.error({ tenant, file, err: describeDiskError(err, 'cannot delete') }, 'recording orphan sweep');
    }
  }

  return async (tenants) => {
    const run: OrphanSweepRun = { files: 0, tenantDirs: 0, failed: 0 };
    if (!tenants.length) return run;
    const known = new Set<string>(tenants.map((t) => t.id));
    const cutoff = Date.now() - opts.graceMs;
    const root = path.resolve(opts.recordingsDir);
    for (const entry of (await list(root)) ?? []) {
      if (!entry.isDirectory() || !UUID.test(entry.name)) continue; // not a tenant folder the daemon derives
      const dir = path.join(root, entry.name);
      // Before any unlink below touches it: a folder nothing was written to during the grace period.
      const quiet = await fs.lstat(dir).then(
        (st) => st.mtimeMs < cutoff,
        () => false,
      );
      const old = await oldRecordings(dir, cutoff, run);
      if (!old) continue;
      if (known.has(entry.name)) {
        if (!old.length) continue;
        const orphans = await withTenant(
          opts.pool,
          entry.name as TenantId,
          async (db) =>
            (
              await db.query<{ u: string }>(
                `SELECT u FROM unnest($1::text[]) AS u
                WHERE NOT EXISTS (SELECT 1 FROM call_records c WHERE c.call_uuid = u)
                  AND NOT EXISTS (SELECT 1 FROM call_recordings r WHERE r.call_uuid = u)`,
                [old],
              )
            ).rows.map((row) => row.u),
          { readOnly: true },
        );
        for (const u of orphans) await remove(entry.name, dir, u, 'no call record and no recording row', run);
        continue;
      }
      // No such tenant (deleted: its rows went with ON DELETE CASCADE). Its old files go, then the folder once empty,
      // if nothing was written to it during the grace period (rmdir refuses it if a file arrived meanwhile).
      for (const u of old) await remove(entry.name, dir, u, 'its tenant no longer exists', run);
      if (!quiet) continue;
      try {
        if ((await fs.readdir(dir)).length) continue;
        await fs.rmdir(dir);
        count(run, 'tenant_dir_removed');
        opts.log.info({ tenant: entry.name, dir }, 'recording orphan sweep: folder of a deleted tenant removed');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') continue;
        count(run, 'failed');
        opts.log.error({ dir, err: describeDiskError(err, 'cannot remove') }, 'recording orphan sweep');
      }
    }
    return run;
  };
}
