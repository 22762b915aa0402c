// A tenant's SIP domains (issue 17): list, add, remove, make primary. Each write
// is one withTenant transaction with its audit row, holding every domain row of
// the tenant locked, so two concurrent removals cannot leave the tenant without
// a domain or a primary. Uniqueness across tenants is the database's
// (sip_domains.domain UNIQUE): a domain of another tenant answers the same 409
// as one of this tenant, naming `domain` and no owner. FreeSWITCH's side of a
// change (user cache, registrations under a removed domain, mod_callcenter) is
// pushed from the change feed (daemon/esl/cache-flush.ts, daemon/callcenter/).
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { conflict, notFound } from '../errors.js';
import type { ApiRouteConfig } from '../route-config.js';
import { bool, errorBody, pageQuery, sipDomain, timestamp, uuid } from '../schema-types.js';
import { inTenant } from '../scope.js';

const item = {
  type: 'object',
  properties: {
    id: uuid,
    domain: { type: 'string' },
    primary: { type: 'boolean' },
    extensionsWithoutCredential: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Extensions that cannot authenticate in this domain yet: their password was set before the domain was ' +
        'added, and a digest credential covers its realm. Setting the password again adds it.',
    },
    createdAt: timestamp,
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const idParams = { type: 'object', required: ['id'], properties: { id: uuid } };
const tags = ['sip-domains'];
const config = (resource?: string): ApiRouteConfig => ({
  roles: ['tenant_admin'],
  ...(resource ? { resource } : {}),
});

const SELECT = `SELECT d.id, d.domain, d.is_primary AS "primary", d.created_at AS "createdAt",
  (SELECT coalesce(array_agg(e.number ORDER BY e.number), ARRAY[]::text[]) FROM extensions e
    WHERE NOT EXISTS (SELECT 1 FROM extension_credentials c WHERE c.extension_id = e.id AND c.realm = d.domain))
    AS "extensionsWithoutCredential"
  FROM sip_domains d`;

interface DomainRow {
  id: string;
  domain: string;
  primary: boolean;
}

const audited = (r: DomainRow) => ({ domain: r.domain, primary: r.primary });

/** Every domain row of the tenant, locked until commit: writes to a tenant's domains serialise. */
async function lockAll(db: pg.PoolClient): Promise<DomainRow[]> {
  return (
    await db.query<DomainRow>('SELECT id, domain, is_primary AS "primary" FROM sip_domains ORDER BY id FOR UPDATE')
  ).rows;
}

async function readOne(db: pg.PoolClient, id: string): Promise<Record<string, unknown>> {
  return (await db.query(`${SELECT} WHERE d.id = $1`, [id])).rows[0]!;
}

export function sipDomainRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/sip-domains',
    {
      schema: {
        tags,
        querystring: pageQuery,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: item } } }, ...errors },
      },
      config: config(),
    },
    async (req) => {
      const { limit, offset } = req.query as { limit: number; offset: number };
      const items = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (await db.query(`${SELECT} ORDER BY d.is_primary DESC, d.domain LIMIT $1 OFFSET $2`, [limit, offset])).rows,
        { write: false },
      );
      return { items };
    },
  );

  app.get(
    '/sip-domains/:id',
    { schema: { tags, params: idParams, response: { 200: item, ...errors } }, config: config('sip_domains') },
    async (req) => {
      const { id } = req.params as { id: string };
      const row = await inTenant(
        pool,
        req,
        async ({ db }) => (await db.query(`${SELECT} WHERE d.id = $1`, [id])).rows[0],
        {
          write: false,
        },
      );
      if (!row) throw notFound('SIP domain');
      return row;
    },
  );

  app.post(
    '/sip-domains',
    {
      schema: {
        tags,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['domain'],
          properties: { domain: sipDomain, primary: { ...bool, description: 'make it the primary domain at once' } },
        },
        response: { 201: item, ...errors },
      },
      config: config(),
    },
    async (req, reply) => {
      const body = req.body as { domain: string; primary?: boolean };
      const row = await inTenant(
        pool,
        req,
        async ({ db, audit, scope }) => {
          const before = await lockAll(db);
          const primary = body.primary === true || !before.some((d) => d.primary);
          if (primary) await db.query('UPDATE sip_domains SET is_primary = false WHERE is_primary');
          // The unique index is global: a domain of any tenant conflicts, also one RLS hides from this tenant.
          const inserted = await db
            .query<{ id: string }>(
              'INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, $3) RETURNING id',
              [scope.tenantId, body.domain, primary],
            )
            .catch((err: { code?: string }) => {
              if (err.code === '23505') throw conflict('domain', 'is already in use');
              throw err;
            });
          const id = inserted.rows[0]!.id;
          await audit({
            action: 'sip_domain.create',
            target: `sip-domains/${id}`,
            summary: {
              after: { domain: body.domain, primary },
              ...(primary ? { primaryBefore: before.find((d) => d.primary)?.domain ?? null } : {}),
            },
          });
          return readOne(db, id);
        },
        { write: true },
      );
      req.log.info({ domain: body.domain, primary: row.primary }, 'SIP domain added');
      return reply.code(201).send(row);
    },
  );

  app.put(
    '/sip-domains/:id/primary',
    { schema: { tags, params: idParams, response: { 200: item, ...errors } }, config: config('sip_domains') },
    async (req) => {
      const { id } = req.params as { id: string };
      const row = await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const all = await lockAll(db);
          const target = all.find((d) => d.id === id);
          if (!target) throw notFound('SIP domain');
          const was = all.find((d) => d.primary);
          if (!target.primary) {
            // One statement at a time: the partial unique index allows one primary per tenant.
            await db.query('UPDATE sip_domains SET is_primary = false WHERE is_primary');
            await db.query('UPDATE sip_domains SET is_primary = true WHERE id = $1', [id]);
            await audit({
              action: 'sip_domain.set_primary',
              target: `sip-domains/${id}`,
              summary: { before: { primary: was?.domain ?? null }, after: { primary: target.domain } },
            });
          }
          return readOne(db, id);
        },
        { write: true },
      );
      req.log.info({ domain: row.domain }, 'SIP domain made primary');
      return row;
    },
  );

  app.delete(
    '/sip-domains/:id',
    {
      schema: { tags, params: idParams, response: { 204: { type: 'null' }, ...errors } },
      config: config('sip_domains'),
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const removed = await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const all = await lockAll(db);
          const target = all.find((d) => d.id === id);
          if (!target) throw notFound('SIP domain');
          if (all.length === 1) throw conflict('domain', "is the tenant's only SIP domain");
          if (target.primary) throw conflict('primary', 'make another domain primary before removing this one');
          // Its credentials go with it (ON DELETE CASCADE, sql/015).
          await db.query('DELETE FROM sip_domains WHERE id = $1', [id]);
          await audit({
            action: 'sip_domain.delete',
            target: `sip-domains/${id}`,
            summary: { before: audited(target) },
          });
          return target;
        },
        { write: true },
      );
      req.log.info({ domain: removed.domain }, 'SIP domain removed');
      return reply.code(204).send();
    },
  );
}
