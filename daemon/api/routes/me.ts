// An agent's own view: the agent row of the extension its token names (sub is
// the extension number for role agent) and its call-center status.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { notFound } from '../errors.js';
import type { AgentStatus } from '../../../xml-handlers/model.js';
import type { PushAgentStatus } from '../agent-status.js';
import { agentStatus } from '../resources/agents.js';
import { errorBody, uuid } from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

const me = {
  type: 'object',
  properties: {
    agentId: uuid,
    extension: { type: 'string' },
    status: agentStatus,
    queues: { type: 'array', items: { type: 'string' } },
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };
const SELECT = `SELECT a.id AS "agentId", e.number AS extension, a.status,
  coalesce((SELECT array_agg(q.name::text ORDER BY q.name) FROM tiers t JOIN queues q ON q.id = t.queue_id WHERE t.agent_id = a.id), '{}'::text[]) AS queues
  FROM agents a JOIN extensions e ON e.id = a.extension_id WHERE e.number = $1`;

export function meRoutes(app: FastifyInstance, pool: pg.Pool, push: PushAgentStatus): void {
  app.get(
    '/me/agent',
    { schema: { tags: ['me'], response: { 200: me, ...errors } }, config: { roles: ['agent'] } },
    async (req) => {
      const scope = requireTenant(req.apiScope);
      const row = await inTenant(pool, req, async ({ db }) => (await db.query(SELECT, [scope.principal.sub])).rows[0], {
        write: false,
      });
      if (!row) throw notFound('agent');
      return row;
    },
  );

  app.put(
    '/me/agent/status',
    {
      schema: {
        tags: ['me'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['status'],
          properties: { status: agentStatus },
        },
        response: { 200: me, ...errors },
      },
      config: { roles: ['agent'] },
    },
    async (req) => {
      const scope = requireTenant(req.apiScope);
      const { status } = req.body as { status: AgentStatus };
      const { row, changed } = await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [before],
          } = await db.query(`${SELECT} FOR UPDATE OF a`, [scope.principal.sub]);
          if (!before) throw notFound('agent');
          await db.query('UPDATE agents SET status = $2 WHERE id = $1', [before.agentId, status]);
          await audit({
            action: 'agent.status',
            target: `agents/${before.agentId}`,
            summary: { before: { status: before.status }, after: { status } },
          });
          return { row: { ...before, status }, changed: before.status !== status };
        },
        { write: true },
      );
      if (changed)
        await push({
          tenantId: scope.tenantId,
          tenantSlug: scope.tenantSlug,
          agentId: row.agentId,
          extension: row.extension,
          status,
        });
      return row;
    },
  );
}
