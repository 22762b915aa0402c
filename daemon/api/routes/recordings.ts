// Call recordings (README "Call recordings"): list per call, list, read, download,
// delete; an agent lists and downloads its own calls' (/me/recordings). Requests
// name recordings and calls by id only; the file a download or a delete touches
// comes from the row, which only the daemon writes (from the call's record,
// daemon/recordings/link.ts) and RLS shows only to its own tenant, and its path
// is checked to stay inside that tenant's directory (recordingFile). So another
// tenant's recording is a 404 like any of its rows, and no request can point at
// a file of its choosing.
import fs from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { TenantId } from '../../../xml-handlers/model.js';
import { metric, type MetricsRegistry } from '../../metrics.js';
import { describeDiskError, RecordingFileError, recordingFile, removeRecording } from '../../recordings/files.js';
import { ApiError, notFound } from '../errors.js';
import { errorBody, nullable, pageQuery, timestamp, uuid } from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

const recording = {
  type: 'object',
  properties: {
    id: uuid,
    callId: uuid,
    callUuid: { type: 'string' },
    startedAt: timestamp,
    endedAt: timestamp,
    durationMs: nullable({ type: 'integer' }),
    sizeBytes: nullable({ type: 'integer' }),
    createdAt: timestamp,
  },
};
const list = { type: 'object', properties: { items: { type: 'array', items: recording } } };
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 500: errorBody, 503: errorBody };
const idParams = { type: 'object', required: ['id'], properties: { id: uuid } };

// size_bytes is bigint: cast so pg hands back a number (a recording is far below 2^53 bytes).
const SELECT = `SELECT r.id, c.id AS "callId", r.call_uuid AS "callUuid", r.started_at AS "startedAt",
  r.ended_at AS "endedAt", r.duration_ms AS "durationMs", r.size_bytes::float8 AS "sizeBytes",
  r.created_at AS "createdAt" FROM call_recordings r JOIN call_records c USING (tenant_id, call_uuid)`;

export type RecordingRequestOutcome = 'ok' | 'not_found' | 'file_missing' | 'disk_error' | 'not_configured';

export interface RecordingRoutesOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  /** FS_TENANTD_RECORDINGS_DIR; without it downloads and deletes answer 503. */
  recordingsDir: string | undefined;
}

export function recordingRoutes(app: FastifyInstance, opts: RecordingRoutesOptions): void {
  const { pool, registry: r } = opts;
  const requests = metric(
    r,
    'fs_tenantd_recording_requests_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_recording_requests_total',
        help: 'Recording downloads and deletes through the admin API, by action and outcome',
        labelNames: ['action', 'outcome'],
        registers: [r],
      }),
  );
  const count = (action: 'download' | 'delete', outcome: RecordingRequestOutcome) => requests.inc({ action, outcome });

  /** The row's file, checked to lie in the tenant's own directory. */
  const fileOf = (action: 'download' | 'delete', tenantId: TenantId, row: { id: string; relativePath: string }) => {
    if (!opts.recordingsDir) {
      count(action, 'not_configured');
      throw new ApiError(
        503,
        'unavailable',
        'recordings are not configured on this daemon (FS_TENANTD_RECORDINGS_DIR)',
      );
    }
    const file = recordingFile(opts.recordingsDir, tenantId, row.relativePath);
    if (!file) {
      // sql/012's CHECK makes this impossible; if it happens anyway, refuse rather than touch the path.
      count(action, 'disk_error');
      opts.log.error({ recording: row.id, relativePath: row.relativePath }, 'recording row with an unusable path');
      throw new ApiError(500, 'internal', `recording ${row.id}: its stored path is not usable`);
    }
    return file;
  };
  const diskError = (action: 'download' | 'delete', id: string, err: RecordingFileError | Error) => {
    count(action, 'disk_error');
    opts.log.error({ recording: id, err: err.message }, `recording ${action} failed on the recordings directory`);
    return new ApiError(500, 'storage_error', `recording ${id}: ${err.message}`);
  };

  /**
   * Streams the recording `sql` finds in the request's tenant (RLS), or a 404. Opened before answering, so a missing
   * or unreadable file is a clear error rather than a cut-off body.
   */
  const sendAudio = async (req: FastifyRequest, reply: FastifyReply, id: string, sql: string, args: unknown[]) => {
    const scope = requireTenant(req.apiScope);
    const row = await inTenant(
      pool,
      req,
      async ({ db }) => (await db.query<{ id: string; relativePath: string }>(sql, args)).rows[0],
      { write: false },
    );
    if (!row) {
      count('download', 'not_found');
      throw notFound('recording');
    }
    const file = fileOf('download', scope.tenantId, row);
    let handle: fs.promises.FileHandle | undefined;
    let size: number;
    try {
      handle = await fs.promises.open(file, 'r');
      size = (await handle.stat()).size;
    } catch (err) {
      await handle?.close().catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        count('download', 'file_missing');
        opts.log.warn({ recording: id, tenant: scope.tenantSlug }, 'recording download: the file is missing');
        throw new ApiError(
          404,
          'file_missing',
          `recording ${id}: its file is missing from the recordings directory (deleted outside the daemon?)`,
        );
      }
      throw diskError('download', id, new Error(describeDiskError(err, 'cannot read the file')));
    }
    count('download', 'ok');
    return reply
      .type('audio/wav')
      .header('content-length', size)
      .header('content-disposition', `attachment; filename="${id}.wav"`)
      .send(handle.createReadStream());
  };

  app.get(
    '/calls/:id/recordings',
    {
      schema: { tags: ['recordings'], params: idParams, response: { 200: list, ...errors } },
      config: { roles: ['tenant_admin'], resource: 'call_records' },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return inTenant(
        pool,
        req,
        async ({ db }) => {
          if ((await db.query('SELECT 1 FROM call_records WHERE id = $1', [id])).rowCount === 0) throw notFound('call');
          return { items: (await db.query(`${SELECT} WHERE c.id = $1 ORDER BY r.started_at`, [id])).rows };
        },
        { write: false },
      );
    },
  );

  app.get(
    '/recordings',
    {
      schema: { tags: ['recordings'], querystring: pageQuery, response: { 200: list, ...errors } },
      config: { roles: ['tenant_admin'] },
    },
    async (req) => {
      const { limit, offset } = req.query as { limit: number; offset: number };
      const items = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (await db.query(`${SELECT} ORDER BY r.ended_at DESC, r.id LIMIT $1 OFFSET $2`, [limit, offset])).rows,
        { write: false },
      );
      return { items };
    },
  );

  app.get(
    '/recordings/:id',
    {
      schema: { tags: ['recordings'], params: idParams, response: { 200: recording, ...errors } },
      config: { roles: ['tenant_admin'], resource: 'call_recordings' },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const row = await inTenant(
        pool,
        req,
        async ({ db }) => (await db.query(`${SELECT} WHERE r.id = $1`, [id])).rows[0],
        {
          write: false,
        },
      );
      if (!row) throw notFound('recording');
      return row;
    },
  );

  app.get(
    '/recordings/:id/audio',
    {
      schema: {
        tags: ['recordings'],
        params: idParams,
        response: { 200: { description: 'The recording (audio/wav, stereo: caller left)', type: 'string' }, ...errors },
      },
      config: { roles: ['tenant_admin'], resource: 'call_recordings' },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      return sendAudio(
        req,
        reply,
        id,
        'SELECT id, relative_path AS "relativePath" FROM call_recordings WHERE id = $1',
        [id],
      );
    },
  );

  app.delete(
    '/recordings/:id',
    {
      schema: { tags: ['recordings'], params: idParams, response: { 204: { type: 'null' }, ...errors } },
      config: { roles: ['tenant_admin'], resource: 'call_recordings' },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await inTenant(
        pool,
        req,
        async ({ db, audit, scope }) => {
          // DELETE first (it locks the row; without UPDATE on the table, FOR UPDATE is not ours to take), then the
          // file, inside the same transaction: if the file cannot be removed the throw rolls the DELETE back and the
          // row stays (and still says where the file is); if COMMIT then fails, what remains is a row without a
          // file, which a download reports and a second delete clears. Never a file without its row.
          const row = (
            await db.query(
              `DELETE FROM call_recordings WHERE id = $1
              RETURNING id, call_uuid AS "callUuid", relative_path AS "relativePath",
                size_bytes::float8 AS "sizeBytes"`,
              [id],
            )
          ).rows[0];
          if (!row) {
            count('delete', 'not_found');
            throw notFound('recording');
          }
          const file = fileOf('delete', scope.tenantId, row);
          let removed: 'removed' | 'missing';
          try {
            removed = await removeRecording(file);
          } catch (err) {
            if (err instanceof RecordingFileError) throw diskError('delete', id, err);
            throw err;
          }
          await audit({
            action: 'recording.delete',
            target: `recordings/${id}`,
            summary: { callUuid: row.callUuid, sizeBytes: row.sizeBytes, file: removed },
          });
          count('delete', removed === 'removed' ? 'ok' : 'file_missing');
        },
        { write: true },
      );
      return reply.code(204).send();
    },
  );

  // An agent's own recordings: calls its extension placed (the record's caller number) or that were dialled to it
  // (its destination number), as the call record stored them (daemon/calls/call-record.ts). RLS keeps them in the
  // token's tenant; another extension's recording is a 404 like another tenant's.
  const OWN = '(c.caller = $1 OR c.callee = $1)';
  app.get(
    '/me/recordings',
    {
      schema: { tags: ['me', 'recordings'], querystring: pageQuery, response: { 200: list, ...errors } },
      config: { roles: ['agent'] },
    },
    async (req) => {
      const { limit, offset } = req.query as { limit: number; offset: number };
      const me = requireTenant(req.apiScope).principal.sub;
      const items = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (
            await db.query(`${SELECT} WHERE ${OWN} ORDER BY r.ended_at DESC, r.id LIMIT $2 OFFSET $3`, [
              me,
              limit,
              offset,
            ])
          ).rows,
        { write: false },
      );
      return { items };
    },
  );

  app.get(
    '/me/recordings/:id/audio',
    {
      schema: {
        tags: ['me', 'recordings'],
        params: idParams,
        response: { 200: { description: 'The recording (audio/wav, stereo: caller left)', type: 'string' }, ...errors },
      },
      config: { roles: ['agent'], resource: 'call_recordings' },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const me = requireTenant(req.apiScope).principal.sub;
      return sendAudio(
        req,
        reply,
        id,
        `SELECT r.id, r.relative_path AS "relativePath" FROM call_recordings r
        JOIN call_records c USING (tenant_id, call_uuid) WHERE r.id = $2 AND ${OWN}`,
        [me, id],
      );
    },
  );
}
