// The tenant's own audit log, newest first, including every operator access ("cross_tenant").
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { errorBody, nullable, timestamp } from '../schema-types.js';
import { inTenant } from '../scope.js';

const entry = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: timestamp,
    actor: { type: 'string' },
    actorRole: { type: 'string' },
    action: { type: 'string' },
    target: { type: 'string' },
    crossTenant: { type: 'boolean' },
    summary: { type: 'object', additionalProperties: true },
  },
};

export function auditRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/audit',
    {
      schema: {
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
            before: { type: 'integer', minimum: 1 },
            crossTenant: { type: 'boolean' },
            action: { type: 'string', pattern: '^[a-z_.]{1,100}$' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: entry }, nextBefore: nullable({ type: 'integer' }) },
          },
          400: errorBody,
          401: errorBody,
          403: errorBody,
        },
      },
      config: { roles: ['tenant_admin'] },
    },
    async (req) => {
      const q = req.query as { limit: number; before?: number; crossTenant?: boolean; action?: string };
      const rows = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (
            await db.query(
              `SELECT id::int AS id, at, actor, actor_role AS "actorRole", action, target, cross_tenant AS "crossTenant", summary FROM audit_logs
       WHERE ($1::bigint IS NULL OR id < $1) AND ($2::boolean IS NULL OR cross_tenant = $2) AND ($3::text IS NULL OR action = $3)
       ORDER BY id DESC LIMIT $4`,
              [q.before ?? null, q.crossTenant ?? null, q.action ?? null, q.limit + 1],
            )
          ).rows,
        { write: false },
      );
      const items = rows.slice(0, q.limit);
      return { items, nextBefore: rows.length > q.limit ? items.at(-1)!.id : null };
    },
  );
}
