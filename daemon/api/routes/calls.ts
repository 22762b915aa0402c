// Call records (CDRs): a keyset-paged, filtered list and single records.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { badRequest, notFound } from '../errors.js';
import { errorBody, nullable, timestamp, uuid } from '../schema-types.js';
import { inTenant } from '../scope.js';

const call = {
  type: 'object',
  properties: {
    id: uuid,
    callUuid: { type: 'string' },
    node: { type: 'string' },
    direction: { type: 'string' },
    caller: { type: 'string' },
    callee: { type: 'string' },
    createdAt: timestamp,
    answeredAt: nullable(timestamp),
    endedAt: timestamp,
    durationS: { type: 'integer' },
    billsec: { type: 'integer' },
    hangupCause: { type: 'string' },
    queue: nullable({ type: 'string' }),
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };
const SELECT = `SELECT id, call_uuid AS "callUuid", node, direction, caller, callee, created_at AS "createdAt", answered_at AS "answeredAt",
  ended_at AS "endedAt", duration_s AS "durationS", billsec, hangup_cause AS "hangupCause", queue FROM call_records`;

const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' },
    direction: { type: 'string', enum: ['inbound', 'outbound', 'internal'] },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    number: { type: 'string', pattern: '^\\+?[0-9*#]{1,32}$' },
    hangupCause: { type: 'string', pattern: '^[A-Z_]{1,64}$' },
    answered: { type: 'boolean' },
  },
};

interface CallQuery {
  limit: number;
  cursor?: string;
  direction?: string;
  from?: string;
  to?: string;
  number?: string;
  hangupCause?: string;
  answered?: boolean;
}

// The cursor carries created_at as PostgreSQL prints it: microseconds survive (a JS Date would drop them and skip rows).
const encodeCursor = (createdAt: string, id: string) =>
  Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      PG_TIMESTAMP.test(v[0]) &&
      typeof v[1] === 'string' &&
      /^[0-9a-f-]{36}$/.test(v[1])
    )
      return [v[0], v[1]];
  } catch {
    /* fall through */
  }
  throw badRequest('cursor', 'is not a cursor this API returned');
}

export function callRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/calls',
    {
      schema: {
        tags: ['calls'],
        querystring: query,
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: call }, nextCursor: nullable({ type: 'string' }) },
          },
          ...errors,
        },
      },
      config: { roles: ['tenant_admin'] },
    },
    async (req) => {
      const q = req.query as CallQuery;
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, ...values: unknown[]) => {
        where.push(sql.replace(/\?/g, () => `$${params.push(values.shift())}`));
      };
      if (q.cursor) {
        const [at, id] = decodeCursor(q.cursor);
        add('(created_at, id) < (?::timestamptz, ?::uuid)', at, id);
      }
      if (q.direction) add('direction = ?', q.direction);
      if (q.from) add('created_at >= ?::timestamptz', q.from);
      if (q.to) add('created_at < ?::timestamptz', q.to);
      if (q.number) add('(caller = ? OR callee = ?)', q.number, q.number);
      if (q.hangupCause) add('hangup_cause = ?', q.hangupCause);
      if (q.answered !== undefined) where.push(q.answered ? 'answered_at IS NOT NULL' : 'answered_at IS NULL');
      const rows = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (
            await db.query(
              `${SELECT.replace(' FROM call_records', ', created_at::text AS "cursorAt" FROM call_records')}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ${q.limit + 1}`,
              params,
            )
          ).rows,
        { write: false },
      );
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor: rows.length > q.limit && last ? encodeCursor(last.cursorAt as string, last.id as string) : null,
      };
    },
  );

  app.get(
    '/calls/:id',
    {
      schema: {
        tags: ['calls'],
        params: { type: 'object', required: ['id'], properties: { id: uuid } },
        response: { 200: call, ...errors },
      },
      config: { roles: ['tenant_admin'], resource: 'call_records' },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const row = await inTenant(
        pool,
        req,
        async ({ db }) => (await db.query(`${SELECT} WHERE id = $1`, [id])).rows[0],
        { write: false },
      );
      if (!row) throw notFound('call');
      return row;
    },
  );
}
