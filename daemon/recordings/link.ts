// Links a recorded call's file to its call record, from the call's mod_json_cdr
// record (daemon/json-cdr/plugin.ts), in the same transaction as the record.
//
// Why the CDR and not the dialplan decision or ESL's RECORD_STOP: the CDR is
// posted once the call is over, from the reporting state, after the media bug
// wrote and closed the file at hangup (switch_core_media_bug_remove_all), so the
// file's final size is known and an unanswered call (no file) leaves no row; and
// it is the one delivery FreeSWITCH retries and keeps on disk until the daemon
// answers 200 (mod_json_cdr.c process_cdr), where an ESL event is gone if the
// socket was down. The dialplan's `fs_recording` variable only says the call
// was to be recorded: the path is derived again from the record's own tenant
// and uuid, and a variable that disagrees is refused, so nothing in the call can
// point the row at another file.
import type { CallRecord } from '../calls/call-record.js';
import type { JsonCdr } from '../calls/json-cdr.js';
import { CHANNEL_VARS, eventHeader } from '../../xml-handlers/channel-vars.js';
import { recordingPath } from '../../xml-handlers/dialplan/record-call.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { RecordingFileError, recordingFile, recordingSize } from './files.js';

export interface RecordingRow {
  tenantId: TenantId;
  callUuid: string;
  relativePath: string;
  startedAt: string;
  endedAt: string;
  durationMs: number | null;
  sizeBytes: number | null;
}

export type LinkOutcome =
  /** A row is to be written (maybe with an unknown size: see stat_failed). */
  | 'linked'
  /** The file could not be stat'ed (EACCES, EIO, …): the row is written without a size, and the error logged. */
  | 'stat_failed'
  /** Recorded, but no file: the call was never answered, or FreeSWITCH discarded an empty recording. */
  | 'no_file'
  /** fs_recording names another path than the record's tenant and uuid give: refused, logged. */
  | 'bad_path';

export interface Link {
  outcome: LinkOutcome;
  row?: RecordingRow;
  /** For the log. */
  detail?: string;
}

/** The recording row for a CDR, or undefined when the call was not recorded at all. */
export async function linkRecording(
  cdr: JsonCdr,
  record: CallRecord,
  recordingsDir: string,
): Promise<Link | undefined> {
  const marked = cdr.header(eventHeader(CHANNEL_VARS.recording));
  if (marked === undefined) return undefined;
  const relativePath = recordingPath(record.tenantId, record.callUuid);
  const file = relativePath && recordingFile(recordingsDir, record.tenantId, relativePath);
  if (!relativePath || !file || marked !== relativePath) {
    return { outcome: 'bad_path', detail: `${CHANNEL_VARS.recording}=${JSON.stringify(marked.slice(0, 120))}` };
  }
  let sizeBytes: number | null;
  let outcome: LinkOutcome = 'linked';
  let detail: string | undefined;
  try {
    sizeBytes = await recordingSize(file);
    if (sizeBytes === null) {
      const why = record.answeredAt === null ? 'call never answered' : 'no file (discarded as empty, or not written)';
      return { outcome: 'no_file', detail: why };
    }
  } catch (err) {
    if (!(err instanceof RecordingFileError)) throw err;
    // The file may well be there: keep the link (a download or the retention job meets the same error, loudly).
    sizeBytes = null;
    outcome = 'stat_failed';
    detail = err.message;
  }
  const ms = cdr.header('variable_record_ms');
  return {
    outcome,
    detail,
    row: {
      tenantId: record.tenantId,
      callUuid: record.callUuid,
      relativePath,
      // Recording starts when the call is answered (record-call.ts execute_on_answer).
      startedAt: record.answeredAt ?? record.createdAt,
      endedAt: record.endedAt,
      durationMs: ms !== undefined && /^\d{1,9}$/.test(ms) ? Number(ms) : null,
      sizeBytes,
    },
  };
}

export const INSERT_RECORDING = `INSERT INTO call_recordings
  (tenant_id, call_uuid, relative_path, started_at, ended_at, duration_ms, size_bytes)
  VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, call_uuid) DO NOTHING`;

export const recordingParams = (r: RecordingRow): unknown[] => [
  r.tenantId,
  r.callUuid,
  r.relativePath,
  r.startedAt,
  r.endedAt,
  r.durationMs,
  r.sizeBytes,
];
