// POST <FS_TENANTD_CDR_PATH> for mod_json_cdr (and cdr-replay): each call's record,
// written before the answer. FreeSWITCH counts only a 2xx as delivered and otherwise
// tries its next url, then keeps the record in its err-log-dir (mod_json_cdr.c
// process_cdr), so the daemon answers 200 only after the row is committed, and
// anything else whenever the row is not there: 503 while PostgreSQL is unreachable,
// 4xx for a record it can never store. Idempotent by (tenant, call uuid): a record
// posted twice, or also written from ESL, stays one row. Same basic auth and source
// allow-list as xml_curl: the same FreeSWITCH nodes post here.
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { CallRecord } from '../calls/call-record.js';
import { BadCdr, callRecordFromJsonCdr, type JsonCdr, parseJsonCdr } from '../calls/json-cdr.js';
import { withTenant } from '../db/tenant-context.js';
import { INSERT_RECORDING, linkRecording, type RecordingRow, recordingParams } from '../recordings/link.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import { Access } from '../xml-curl/access.js';

export interface JsonCdrOptions {
  path: string;
  user: string;
  password: string;
  allowFrom: readonly string[];
  bodyLimitBytes: number;
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  /** The ESL node name FreeSWITCH's switchname belongs to (so the row matches the ESL writer's), if known. */
  nodeOf?: (switchname: string) => string | undefined;
  /** FS_TENANTD_RECORDINGS_DIR: recorded calls' files are linked to their record; without it none is. */
  recordingsDir?: string;
}

export type CdrOutcome =
  | 'written'
  | 'duplicate'
  | 'unattributed'
  | 'bad_request'
  | 'unauthorized'
  | 'unknown_tenant'
  | 'rejected'
  | 'error';

/**
 * One row, in the tenant's own RLS context, and its recording's row if any (in the same transaction, so a
 * recording is never linked to a call record that is not there); true if the call record was new. Resolves only
 * after COMMIT. Both inserts are idempotent: a record posted again (or written by ESL first) still links its file.
 */
async function storeRecord(pool: pg.Pool, r: CallRecord, recording?: RecordingRow): Promise<boolean> {
  return withTenant(pool, r.tenantId, async (db) => {
    // The answer promises durability: wait for the WAL flush even where the server's default does not.
    await db.query("SELECT set_config('synchronous_commit', 'on', true)");
    const res = await db.query(
      `INSERT INTO call_records (tenant_id, call_uuid, node, direction, caller, callee, created_at,
        answered_at, ended_at, duration_s, billsec, hangup_cause, queue)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (tenant_id, call_uuid) DO NOTHING`,
      [
        r.tenantId,
        r.callUuid,
        r.node,
        r.direction,
        r.caller,
        r.callee,
        r.createdAt,
        r.answeredAt,
        r.endedAt,
        r.durationS,
        r.billsec,
        r.hangupCause,
        r.queue,
      ],
    );
    if (recording) await db.query(INSERT_RECORDING, recordingParams(recording));
    return res.rowCount === 1;
  });
}

const sqlState = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
};

/**
 * The record's JSON text. mod_json_cdr sends it raw as application/json, or with `encode` as a form field
 * `cdr=<url-encoded JSON>`; with disable-100-continue its header list is replaced by `Expect:` alone, so the raw
 * JSON arrives labelled application/x-www-form-urlencoded by libcurl (a form body never starts with "{").
 */
function cdrText(contentType: string, body: Buffer): string {
  const text = body.toString('utf8');
  if (contentType === 'application/json' || /^\s*\{/.test(text)) return text;
  const field = new URLSearchParams(text).get('cdr');
  if (field === null) throw new BadCdr('form body without a "cdr" field');
  return field;
}

export const jsonCdrPlugin: FastifyPluginAsync<JsonCdrOptions> = async (app, opts) => {
  const access = new Access(opts.user, opts.password, opts.allowFrom);
  const r = opts.registry;
  const posts = metric(
    r,
    'fs_tenantd_cdr_posts_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_cdr_posts_total',
        help: 'Call records posted by FreeSWITCH (mod_json_cdr, cdr-replay), by outcome',
        labelNames: ['outcome'],
        registers: [r],
      }),
  );
  const duration = metric(
    r,
    'fs_tenantd_cdr_post_duration_seconds',
    () =>
      new client.Histogram({
        name: 'fs_tenantd_cdr_post_duration_seconds',
        help: 'Time from a call record received to its answer (after COMMIT)',
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [r],
      }),
  );
  const recordingLinks = metric(
    r,
    'fs_tenantd_recording_links_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_recording_links_total',
        help: 'Recorded calls seen in call records, by outcome (linked, stat_failed, no_file, bad_path)',
        labelNames: ['outcome'],
        registers: [r],
      }),
  );
  const started = new WeakMap<FastifyRequest, number>();
  const answer = (req: FastifyRequest, reply: FastifyReply, status: number, outcome: CdrOutcome, text: string) => {
    posts.inc({ outcome });
    duration.observe((performance.now() - (started.get(req) ?? performance.now())) / 1000);
    return reply.code(status).type('text/plain').send(`${text}\n`);
  };

  // Only these two bodies (anything else: 415); read as bytes, decoded here.
  app.removeAllContentTypeParsers();
  for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: opts.bodyLimitBytes }, (_req, body, done) =>
      done(null, body),
    );
  }

  app.addHook('onRequest', (req, reply, done) => {
    started.set(req, performance.now());
    if (!access.sourceAllowed(() => req.ip)) {
      opts.log.warn({ ip: req.ip }, 'cdr: request from an address outside FS_TENANTD_XMLCURL_ALLOW_FROM');
      void answer(req, reply, 403, 'unauthorized', 'forbidden');
      return;
    }
    if (!access.authorized(req.headers.authorization)) {
      opts.log.warn({ ip: req.ip }, 'cdr: request without valid basic-auth credentials');
      reply.header('www-authenticate', 'Basic realm="fs-tenantd"');
      void answer(req, reply, 401, 'unauthorized', 'unauthorized');
      return;
    }
    done();
  });

  // Oversized bodies (413), other content types (415), unreadable bodies (400) end here.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined;
    if (status) {
      opts.log.warn({ ip: req.ip, status, err: err.message }, 'cdr: bad request; FreeSWITCH keeps the record');
      return answer(req, reply, status, 'bad_request', err.message);
    }
    opts.log.error({ err }, 'cdr: unexpected failure; FreeSWITCH keeps the record');
    return answer(req, reply, 500, 'error', 'internal error');
  });

  app.post(opts.path, { bodyLimit: opts.bodyLimitBytes }, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const body = req.body;
    if (!Buffer.isBuffer(body)) return answer(req, reply, 415, 'bad_request', 'expected an application/json body');
    let cdr: JsonCdr;
    try {
      cdr = parseJsonCdr(cdrText(req.headers['content-type']?.split(';')[0]?.trim().toLowerCase() ?? '', body));
      // mod_json_cdr names the channel in the url too (?uuid=); a disagreement means the body is not that record.
      if (typeof query.uuid === 'string' && query.uuid !== cdr.uuid) {
        throw new BadCdr(`uuid ${JSON.stringify(query.uuid.slice(0, 64))} in the url is not the record's ${cdr.uuid}`);
      }
    } catch (err) {
      if (!(err instanceof BadCdr)) throw err;
      opts.log.warn(
        {
          ip: req.ip,
          uuid: typeof query.uuid === 'string' ? query.uuid.slice(0, 64) : undefined,
          bytes: body.length,
          err: err.message,
        },
        'cdr: malformed call record refused',
      );
      return answer(req, reply, 400, 'bad_request', err.message);
    }
    const { tenant } = cdr;
    if (!tenant) {
      // A call the daemon never attributed (refused before a tenant was known, an unknown DID, ...): no tenant to
      // file it under.
      opts.log.debug({ callUuid: cdr.uuid }, 'cdr: call without a tenant; not recorded');
      return answer(req, reply, 200, 'unattributed', 'unattributed');
    }
    const node = (cdr.switchname && opts.nodeOf?.(cdr.switchname)) || cdr.switchname || 'unknown';
    const record = callRecordFromJsonCdr({ ...cdr, tenant }, node);
    const where = { tenant: tenant.id, tenantSlug: tenant.slug, callUuid: cdr.uuid };
    const link = opts.recordingsDir ? await linkRecording(cdr, record, opts.recordingsDir) : undefined;
    if (link) {
      if (link.outcome === 'bad_path') opts.log.warn({ ...where, detail: link.detail }, 'cdr: recording path refused');
      else if (link.outcome === 'stat_failed')
        opts.log.error({ ...where, err: link.detail }, 'cdr: recording linked without its size');
      else if (link.outcome === 'no_file') opts.log.info({ ...where, reason: link.detail }, 'cdr: no recording file');
    }
    try {
      const fresh = await storeRecord(opts.pool, record, link?.row);
      // Counted once stored: a post answered 503 and retried is one recording, not two.
      if (link) recordingLinks.inc({ outcome: link.outcome });
      return answer(req, reply, 200, fresh ? 'written' : 'duplicate', fresh ? 'written' : 'duplicate');
    } catch (err) {
      const state = sqlState(err);
      if (state === '23503') {
        // No such tenant (foreign key): no retry can store it. FreeSWITCH keeps it in its err-log-dir.
        opts.log.warn({ ...where }, 'cdr: call record for a tenant that does not exist refused');
        return answer(req, reply, 422, 'unknown_tenant', `tenant ${tenant.id} does not exist`);
      }
      if (state && /^(22|23)/.test(state)) {
        opts.log.error({ ...where, err: (err as Error).message }, 'cdr: call record refused by PostgreSQL');
        return answer(req, reply, 422, 'rejected', `refused by the database: ${(err as Error).message}`);
      }
      // Transient (PostgreSQL unreachable, ...): not stored, so not a 2xx; FreeSWITCH retries, then spools.
      opts.log.warn({ ...where, err: (err as Error).message }, 'cdr: call record not written; answered 503');
      return answer(req, reply, 503, 'error', 'call record not written, try again');
    }
  });
};
