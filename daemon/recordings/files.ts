// The recording files on the directory FreeSWITCH and the daemon share
// (FS_TENANTD_RECORDINGS_DIR): resolving a row's path, and the disk errors each
// operation can meet, told apart so the callers can say clearly what happened.
// A path is only ever built from a row's tenant id and relative path, which
// only the daemon writes (sql/012 CHECKs its form); it is checked again here to
// stay inside the tenant's own directory before anything is opened or removed.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TenantId } from '../../xml-handlers/model.js';

/** A file operation on a recording failed for a reason other than the file being absent. */
export class RecordingFileError extends Error {
  override name = 'RecordingFileError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const RELATIVE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[0-9a-f-]{36}\.wav$/;

/**
 * The absolute path of `relativePath` for `tenantId`, or undefined when it is not <tenant id>/<uuid>.wav of that
 * very tenant or would resolve outside <dir>/<tenant id>/.
 */
export function recordingFile(dir: string, tenantId: TenantId, relativePath: string): string | undefined {
  const m = RELATIVE.exec(relativePath);
  if (!m || m[1] !== tenantId) return undefined;
  const tenantDir = path.resolve(dir, tenantId);
  const file = path.resolve(dir, relativePath);
  return path.dirname(file) === tenantDir ? file : undefined;
}

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** What an errno means for an operator reading the log. */
export function describeDiskError(err: unknown, what: string): string {
  const code = codeOf(err);
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `${what}: permission denied (the daemon's user must be able to read and delete what FreeSWITCH writes)`;
    case 'ENOSPC':
      return `${what}: no space left on the device`;
    case 'EROFS':
      return `${what}: the recordings file system is read-only`;
    case 'EIO':
      return `${what}: input/output error on the recordings file system`;
    default:
      return `${what}: ${(err as Error).message}`;
  }
}

/** The file's size, or null when there is no such file. Other errors throw RecordingFileError. */
export async function recordingSize(file: string): Promise<number | null> {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? st.size : null;
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return null;
    throw new RecordingFileError(describeDiskError(err, `cannot read ${file}`), codeOf(err));
  }
}

/** Removes the file: 'removed', or 'missing' if it was already gone. Other errors throw RecordingFileError. */
export async function removeRecording(file: string): Promise<'removed' | 'missing'> {
  try {
    await fs.unlink(file);
    return 'removed';
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return 'missing';
    throw new RecordingFileError(describeDiskError(err, `cannot delete ${file}`), codeOf(err));
  }
}
