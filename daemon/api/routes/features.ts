// Feature flags (tenant_features). Each change NOTIFYs (sql/003), so the next
// FreeSWITCH fetch sees it once the tenant cache drops the tenant.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { notFound } from '../errors.js';
import { bool, errorBody, timestamp } from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

const key = { type: 'string', pattern: '^[a-z][a-z0-9_.-]{0,63}$' };
const config = { type: 'object', maxProperties: 50, additionalProperties: true };
const item = { type: 'object', properties: { key, enabled: bool, config, updatedAt: timestamp } };
const keyParams = { type: 'object', required: ['key'], properties: { key } };
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const SELECT = 'SELECT feature_key AS key, enabled, config, updated_at AS "updatedAt" FROM tenant_features';
const tags = ['features'];
const route = { roles: ['tenant_admin'] as const, resource: 'tenant_features' };

export function featureRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/features',
    {
      schema: {
        tags,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: item } } }, ...errors },
      },
      config: { roles: ['tenant_admin'] },
    },
    async (req) => {
      return {
        items: await inTenant(pool, req, async ({ db }) => (await db.query(`${SELECT} ORDER BY feature_key`)).rows, {
          write: false,
        }),
      };
    },
  );

  app.get(
    '/features/:key',
    { schema: { tags, params: keyParams, response: { 200: item, ...errors } }, config: route },
    async (req) => {
      const { key: k } = req.params as { key: string };
      const row = await inTenant(
        pool,
        req,
        async ({ db }) => (await db.query(`${SELECT} WHERE feature_key = $1`, [k])).rows[0],
        { write: false },
      );
      if (!row) throw notFound('feature');
      return row;
    },
  );

  app.post(
    '/features',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['key', 'enabled'],
          properties: { key, enabled: bool, config },
        },
        response: { 201: item, ...errors },
      },
      config: { roles: ['tenant_admin'] },
    },
    async (req, reply) => {
      const scope = requireTenant(req.apiScope);
      const b = req.body as { key: string; enabled: boolean; config?: object };
      const row = await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [r],
          } = await db.query(
            `INSERT INTO tenant_features (tenant_id, feature_key, enabled, config) VALUES ($1, $2, $3, $4::jsonb)
        RETURNING feature_key AS key, enabled, config, updated_at AS "updatedAt"`,
            [scope.tenantId, b.key, b.enabled, JSON.stringify(b.config ?? {})],
          );
          await audit({
            action: 'feature.create',
            target: `features/${b.key}`,
            summary: { after: { enabled: r.enabled, config: r.config } },
          });
          return r;
        },
        { write: true },
      );
      return reply.code(201).send(row);
    },
  );

  app.patch(
    '/features/:key',
    {
      schema: {
        tags,
        params: keyParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { enabled: bool, config } },
        response: { 200: item, ...errors },
      },
      config: route,
    },
    async (req) => {
      const { key: k } = req.params as { key: string };
      const b = req.body as { enabled?: boolean; config?: object };
      return inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [before],
          } = await db.query(`${SELECT} WHERE feature_key = $1 FOR UPDATE`, [k]);
          if (!before) throw notFound('feature');
          const {
            rows: [after],
          } = await db.query(
            `UPDATE tenant_features SET enabled = coalesce($2, enabled), config = coalesce($3::jsonb, config)
        WHERE feature_key = $1 RETURNING feature_key AS key, enabled, config, updated_at AS "updatedAt"`,
            [k, b.enabled ?? null, b.config === undefined ? null : JSON.stringify(b.config)],
          );
          await audit({
            action: 'feature.update',
            target: `features/${k}`,
            summary: {
              before: { enabled: before.enabled, config: before.config },
              after: { enabled: after.enabled, config: after.config },
            },
          });
          return after;
        },
        { write: true },
      );
    },
  );

  app.delete(
    '/features/:key',
    { schema: { tags, params: keyParams, response: { 204: { type: 'null' }, ...errors } }, config: route },
    async (req, reply) => {
      const { key: k } = req.params as { key: string };
      await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [before],
          } = await db.query(`DELETE FROM tenant_features WHERE feature_key = $1 RETURNING enabled, config`, [k]);
          if (!before) throw notFound('feature');
          await audit({ action: 'feature.delete', target: `features/${k}`, summary: { before } });
        },
        { write: true },
      );
      return reply.code(204).send();
    },
  );
}
