// Music-on-hold files (README "Music on hold"): list, upload (raw audio/wav
// body), delete, per stream of /api/moh-streams. A file lives at
// <FS_TENANTD_MOH_DIR>/<tenant id>/<stream id>/<name>: the tenant from the
// token, the stream id from a row RLS shows only to that tenant, the name
// checked to be a plain file name. So another tenant's stream is a 404 and no
// request can write or delete outside its own folder.
//
// No row without its file, no file without its row: an upload is written to a
// temporary file on the same filesystem, the row inserted or updated, the file
// renamed into place, and only then the transaction committed (a failed rename
// rolls the row back; a failed commit removes a file that had no row before).
// A delete removes the row, then the file, in one transaction.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import { mohStreamDir } from '../../../xml-handlers/media-names.js';
import type { TenantId } from '../../../xml-handlers/model.js';
import { metric, type MetricsRegistry } from '../../metrics.js';
import { type MohDisk, nodeMohDisk } from '../../moh/disk.js';
import { checkMohWav, WavProblem } from '../../moh/wav.js';
import { describeDiskError } from '../../recordings/files.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { errorBody, timestamp, uuid } from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

/** A plain file name: no path, no leading dot (sql/013 holds the same rule). */
export const MOH_FILE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}\.wav$/;
const WAV_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave'];

const file = {
  type: 'object',
  properties: {
    id: uuid,
    name: { type: 'string' },
    sizeBytes: { type: 'integer' },
    sampleRate: { type: 'integer' },
    durationMs: { type: 'integer' },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 500: errorBody, 507: errorBody };
const idParams = { type: 'object', required: ['id'], properties: { id: uuid } };
// The name is checked in the handler, after the stream (MOH_FILE_NAME): another tenant's stream is a 404 whatever
// the name.
const fileParams = {
  type: 'object',
  required: ['id', 'name'],
  properties: { id: uuid, name: { type: 'string' } },
};
const SELECT = `SELECT id, name, size_bytes::float8 AS "sizeBytes", sample_rate AS "sampleRate",
  duration_ms AS "durationMs", created_at AS "createdAt", updated_at AS "updatedAt" FROM moh_stream_files`;

export type MohFileOutcome = 'ok' | 'not_found' | 'invalid' | 'disk_full' | 'disk_error' | 'file_missing';

export interface MohRoutesOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  /** FS_TENANTD_MOH_DIR and the largest upload (FS_TENANTD_MOH_MAX_FILE_BYTES); `disk`: tests' seam (node's fs). */
  moh: { dir: string; maxFileBytes: number; disk?: MohDisk };
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

export function mohRoutes(app: FastifyInstance, opts: MohRoutesOptions): void {
  const { pool, log, moh } = opts;
  const disk = moh.disk ?? nodeMohDisk;
  const requests = metric(
    opts.registry,
    'fs_tenantd_moh_file_requests_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_moh_file_requests_total',
        help: 'Music-on-hold file uploads and deletes through the admin API, by action and outcome',
        labelNames: ['action', 'outcome'],
        registers: [opts.registry],
      }),
  );
  const count = (action: 'upload' | 'delete', outcome: MohFileOutcome) => requests.inc({ action, outcome });
  const diskError = (action: 'upload' | 'delete', err: unknown, what: string) => {
    const full = errCode(err) === 'ENOSPC' || errCode(err) === 'EDQUOT';
    count(action, full ? 'disk_full' : 'disk_error');
    const message = describeDiskError(err, what).replace('recordings file system', 'music-on-hold file system');
    log.error({ err: (err as Error).message, dir: moh.dir }, `moh file ${action}: ${message}`);
    return full ? new ApiError(507, 'storage_full', message) : new ApiError(500, 'storage_error', message);
  };

  // The raw body of an upload, kept as bytes (no multipart: one file per request, its name in the path).
  app.addContentTypeParser(WAV_TYPES, { parseAs: 'buffer', bodyLimit: moh.maxFileBytes }, (_req, body, done) =>
    done(null, body),
  );

  /** The stream, in the request's tenant; a stream of another tenant is not found. */
  const streamOf = async (db: pg.PoolClient, id: string): Promise<void> => {
    if ((await db.query('SELECT 1 FROM moh_streams WHERE id = $1', [id])).rowCount === 0) throw notFound('moh_stream');
  };
  const checkName = (name: string) => {
    if (!MOH_FILE_NAME.test(name))
      throw badRequest('name', 'must be a file name of a-z, 0-9, _ and - ending in .wav (at most 67 characters)');
  };

  app.get(
    '/moh-streams/:id/files',
    {
      schema: {
        tags: ['music on hold'],
        params: idParams,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: file } } }, ...errors },
      },
      config: { roles: ['tenant_admin'], resource: 'moh_streams' },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const items = await inTenant(
        pool,
        req,
        async ({ db }) => {
          await streamOf(db, id);
          return (await db.query(`${SELECT} WHERE stream_id = $1 ORDER BY name`, [id])).rows;
        },
        { write: false },
      );
      return { items };
    },
  );

  app.put(
    '/moh-streams/:id/files/:name',
    {
      bodyLimit: moh.maxFileBytes,
      schema: {
        tags: ['music on hold'],
        description:
          'Uploads or replaces one file of the stream: the raw WAV as the body (Content-Type audio/wav), RIFF/WAVE ' +
          'PCM 16-bit mono at 8, 16 or 48 kHz.',
        params: fileParams,
        response: { 200: file, ...errors },
      },
      config: { roles: ['tenant_admin'], resource: 'moh_streams' },
    },
    async (req) => {
      const { id, name } = req.params as { id: string; name: string };
      const scope = requireTenant(req.apiScope);
      await inTenant(pool, req, async ({ db }) => streamOf(db, id), { write: false }).catch((err) => {
        if (err instanceof ApiError && err.statusCode === 404) count('upload', 'not_found');
        throw err;
      });
      checkName(name);
      const body = req.body;
      if (!Buffer.isBuffer(body)) {
        count('upload', 'invalid');
        throw badRequest('body', `must be the WAV file itself, sent as Content-Type ${WAV_TYPES[0]}`);
      }
      let info: ReturnType<typeof checkMohWav>;
      try {
        info = checkMohWav(body);
      } catch (err) {
        if (!(err instanceof WavProblem)) throw err;
        count('upload', 'invalid');
        throw badRequest('body', err.message);
      }
      const dir = mohStreamDir(moh.dir, scope.tenantId as TenantId, id);
      const final = `${dir}/${name}`;
      const tmp = `${moh.dir}/.tmp/${randomUUID()}.part`;
      try {
        await disk.mkdir(`${moh.dir}/.tmp`);
        await disk.mkdir(dir);
        await disk.writeFile(tmp, body);
      } catch (err) {
        // A full disk may have taken part of the body: that part goes too.
        await disk.rm(tmp).catch(() => undefined);
        throw diskError('upload', err, 'cannot write the file');
      }
      /** Set once the file is in place: whether it replaced one (then a failed commit must leave it). */
      let placed: { replaced: boolean } | undefined;
      try {
        const row = await inTenant(
          pool,
          req,
          async ({ db, audit }) => {
            await streamOf(db, id); // again, in the writing transaction: deleted meanwhile is a 404, not a stray file
            const {
              rows: [r],
            } = await db.query<{ id: string; existed: boolean }>(
              `INSERT INTO moh_stream_files (tenant_id, stream_id, name, size_bytes, sample_rate, duration_ms)
              VALUES ($1, $2, $3, $4, $5, $6)
              ON CONFLICT (tenant_id, stream_id, name) DO UPDATE SET size_bytes = EXCLUDED.size_bytes,
                sample_rate = EXCLUDED.sample_rate, duration_ms = EXCLUDED.duration_ms
              RETURNING id, (xmax <> 0) AS existed`,
              [scope.tenantId, id, name, body.length, info.sampleRate, info.durationMs],
            );
            try {
              await disk.rename(tmp, final);
            } catch (err) {
              throw diskError('upload', err, 'cannot move the file into the stream folder');
            }
            placed = { replaced: r!.existed };
            await audit({
              action: 'moh_file.upload',
              target: `moh-streams/${id}/files/${name}`,
              summary: { sizeBytes: body.length, sampleRate: info.sampleRate, replaced: r!.existed },
            });
            return (await db.query(`${SELECT} WHERE id = $1`, [r!.id])).rows[0];
          },
          { write: true },
        );
        count('upload', 'ok');
        log.info(
          { tenant: scope.tenantSlug, stream: id, file: name, sizeBytes: body.length, rate: info.sampleRate },
          'moh file uploaded',
        );
        return row;
      } catch (err) {
        await disk.rm(tmp).catch(() => undefined);
        // The file is in place but the row did not commit: a new file goes (no file without its row); a replaced
        // one stays, its old row describing it until the next upload.
        if (placed && !placed.replaced) await disk.rm(final).catch(() => undefined);
        if (err instanceof ApiError && err.statusCode === 404) count('upload', 'not_found');
        throw err;
      }
    },
  );

  app.delete(
    '/moh-streams/:id/files/:name',
    {
      schema: { tags: ['music on hold'], params: fileParams, response: { 204: { type: 'null' }, ...errors } },
      config: { roles: ['tenant_admin'], resource: 'moh_streams' },
    },
    async (req, reply) => {
      const { id, name } = req.params as { id: string; name: string };
      const scope = requireTenant(req.apiScope);
      let outcome: MohFileOutcome = 'ok';
      await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          await streamOf(db, id).catch((err) => {
            count('delete', 'not_found');
            throw err;
          });
          checkName(name);
          const gone = await db.query('DELETE FROM moh_stream_files WHERE stream_id = $1 AND name = $2', [id, name]);
          if (gone.rowCount === 0) {
            count('delete', 'not_found');
            throw notFound('moh_stream_file');
          }
          const path = `${mohStreamDir(moh.dir, scope.tenantId as TenantId, id)}/${name}`;
          try {
            await disk.unlink(path);
          } catch (err) {
            // Already gone: the row was all that was left of it. Anything else keeps the row (rolled back).
            if (errCode(err) !== 'ENOENT') throw diskError('delete', err, 'cannot remove the file');
            outcome = 'file_missing';
            log.warn({ tenant: scope.tenantSlug, stream: id, file: name }, 'moh file delete: the file was missing');
          }
          await audit({ action: 'moh_file.delete', target: `moh-streams/${id}/files/${name}` });
        },
        { write: true },
      );
      count('delete', outcome);
      return reply.code(204).send();
    },
  );
}
