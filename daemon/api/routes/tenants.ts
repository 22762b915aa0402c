// Operator routes (superadmin, no X-Tenant-Id needed): list tenants through
// list_tenants() (ids, slugs, status only) and create a tenant with its SIP
// domain, inside withTenant with the new tenant's id so RLS checks the insert.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { asTenantId } from '../../../xml-handlers/model.js';
import { errorBody, sipDomain, slug, uuid } from '../schema-types.js';
import { inScope } from '../scope.js';
import { checkTimezone, tenantDefaultsSchema } from './tenant.js';

const summary = { type: 'object', properties: { id: uuid, slug, status: { type: 'string' } } };
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 409: errorBody };

export function tenantsRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/tenants',
    {
      schema: {
        tags: ['operator'],
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: summary } } }, ...errors },
      },
      config: { roles: ['superadmin'] },
    },
    async () => {
      const { rows } = await pool.query(
        'SELECT tenant_id AS id, tenant_slug AS slug, tenant_status AS status FROM list_tenants()',
      );
      return { items: rows };
    },
  );

  app.post(
    '/tenants',
    {
      schema: {
        tags: ['operator'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['slug', 'name', 'sipDomain'],
          properties: { slug, sipDomain, ...tenantDefaultsSchema },
        },
        response: { 201: summary, ...errors },
      },
      config: { roles: ['superadmin'] },
    },
    async (req, reply) => {
      const b = req.body as Record<string, unknown> & { slug: string; name: string; sipDomain: string };
      checkTimezone(b.defaultTimezone);
      const tenantId = asTenantId(randomUUID());
      const scope = {
        kind: 'tenant' as const,
        principal: req.apiScope!.principal,
        role: 'superadmin' as const,
        tenantId,
        tenantSlug: b.slug,
        crossTenant: true,
      };
      const columns: Record<string, string> = {
        slug: 'slug',
        name: 'name',
        defaultTimezone: 'default_timezone',
        defaultLanguage: 'default_language',
        defaultCallerIdName: 'default_caller_id_name',
        defaultCallerIdNumber: 'default_caller_id_number',
        maxInbound: 'max_inbound',
        maxOutbound: 'max_outbound',
        maxTotal: 'max_total',
        recordingRetentionDays: 'recording_retention_days',
      };
      const given = Object.keys(columns).filter((k) => b[k] !== undefined);
      await inScope(
        pool,
        scope,
        'POST /api/tenants',
        async ({ db, audit }) => {
          await db.query(
            `INSERT INTO tenants (id, ${given.map((k) => columns[k]).join(', ')}) VALUES ($1, ${given.map((_, i) => `$${i + 2}`).join(', ')})`,
            [tenantId, ...given.map((k) => b[k])],
          );
          await db.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [
            tenantId,
            b.sipDomain,
          ]);
          await audit({
            action: 'tenant.create',
            target: `tenant/${b.slug}`,
            summary: { after: Object.fromEntries(given.map((k) => [k, b[k]]).concat([['sipDomain', b.sipDomain]])) },
          });
        },
        { write: true },
      );
      return reply.code(201).send({ id: tenantId, slug: b.slug, status: 'active' });
    },
  );
}
