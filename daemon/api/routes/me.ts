// An agent's own view: the agent row of the extension its token names (sub is
// the extension number for role agent) and its call-center status.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { badRequest, notFound } from '../errors.js';
import type { AgentStatus } from '../../../xml-handlers/model.js';
import type { PushAgentStatus } from '../agent-status.js';
import { agentStatus } from '../resources/agents.js';
import { extensions, FORWARD_FIELDS } from '../resources/extensions.js';
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

// The extension's own features (sql/007): the same fields and rules as on /api/extensions/:id.
const FEATURE_FIELDS = ['dnd', ...FORWARD_FIELDS, 'noAnswerTimeoutS', 'followMe'] as const;
const featureProps = Object.fromEntries(FEATURE_FIELDS.map((f) => [f, extensions.fields[f]!.schema]));
const features = { type: 'object', properties: { extension: { type: 'string' }, ...featureProps } };
const SELECT_FEATURES = `SELECT id, number AS extension, ${FEATURE_FIELDS.map(
  (f) => `${extensions.fields[f]!.column} AS "${f}"`,
).join(', ')} FROM extensions WHERE number = $1`;
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

  app.get(
    '/me/features',
    { schema: { tags: ['me'], response: { 200: features, ...errors } }, config: { roles: ['agent'] } },
    async (req) => {
      const scope = requireTenant(req.apiScope);
      const row = await inTenant(
        pool,
        req,
        async ({ db }) => (await db.query(SELECT_FEATURES, [scope.principal.sub])).rows[0],
        { write: false },
      );
      if (!row) throw notFound('extension');
      const { id: _id, ...out } = row;
      return out;
    },
  );

  app.put(
    '/me/features',
    {
      schema: {
        tags: ['me'],
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: featureProps },
        response: { 200: features, ...errors },
      },
      config: { roles: ['agent'] },
    },
    async (req) => {
      const scope = requireTenant(req.apiScope);
      const input = req.body as Record<(typeof FEATURE_FIELDS)[number], unknown>;
      for (const f of FORWARD_FIELDS) {
        if (input[f] === scope.principal.sub) throw badRequest(f, 'cannot forward the extension to itself');
      }
      if ((input.followMe as { number: string }[] | undefined)?.some((s) => s.number === scope.principal.sub))
        throw badRequest('followMe', 'cannot list the extension itself');
      // The row's NOTIFY evicts the tenant's snapshot and flushes the user from FreeSWITCH (daemon/esl/cache-flush.ts).
      const row = await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [before],
          } = await db.query(`${SELECT_FEATURES} FOR UPDATE`, [scope.principal.sub]);
          if (!before) throw notFound('extension');
          const set = FEATURE_FIELDS.filter((f) => input[f] !== undefined);
          // Unknown properties are removed before this runs (ajv removeAdditional), which may leave nothing.
          if (!set.length) throw badRequest('body', `names none of ${FEATURE_FIELDS.join(', ')}`);
          await db.query(
            `UPDATE extensions SET ${set.map((f, i) => `${extensions.fields[f]!.column} = $${i + 2}`).join(', ')}
            WHERE id = $1`,
            [before.id, ...set.map((f) => (extensions.fields[f]!.json ? JSON.stringify(input[f]) : input[f]))],
          );
          const { id, ...was } = before;
          const after = { ...was, ...Object.fromEntries(set.map((f) => [f, input[f]])) };
          await audit({ action: 'extension.features', target: `extensions/${id}`, summary: { before: was, after } });
          return after;
        },
        { write: true },
      );
      return row;
    },
  );
}
