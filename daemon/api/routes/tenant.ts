// The tenant's own settings: defaults and call ceilings. Rule for ceilings:
// a tenant admin may only lower them (a number at or below the current one;
// "unlimited" may become a number); raising one, or making it unlimited, is the
// operator's: a superadmin with X-Tenant-Id sets any value, and the status.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { badRequest, forbidden } from '../errors.js';
import {
  callerIdNumber,
  errorBody,
  extensionNumber,
  int,
  nullable,
  safeText,
  slug,
  timestamp,
  uuid,
} from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

const ceiling = nullable(int(0, 100_000));
export const CEILINGS = { maxInbound: 'max_inbound', maxOutbound: 'max_outbound', maxTotal: 'max_total' } as const;
export const DEFAULTS = {
  name: 'name',
  defaultTimezone: 'default_timezone',
  defaultLanguage: 'default_language',
  defaultCallerIdName: 'default_caller_id_name',
  defaultCallerIdNumber: 'default_caller_id_number',
  unroutedDidExtension: 'unrouted_did_extension',
  recordingRetentionDays: 'recording_retention_days',
  brandName: 'brand_name',
  brandDomain: 'brand_domain',
} as const;

/** Settings an account inherits from its parent while its own is null (sql/014 tenant_effective_settings). */
const INHERITED = {
  defaultTimezone: 'timezone',
  defaultLanguage: 'language',
  defaultCallerIdName: 'caller_id_name',
  defaultCallerIdNumber: 'caller_id_number',
  unroutedDidExtension: 'unrouted_did_extension',
} as const;

export const tenantDefaultsSchema = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  /** null: inherited from the parent account (at the top: UTC). */
  defaultTimezone: nullable({ type: 'string', minLength: 1, maxLength: 64 }),
  /** null: inherited (at the top: en). */
  defaultLanguage: nullable({ type: 'string', pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$' }),
  defaultCallerIdName: nullable(safeText(80)),
  defaultCallerIdNumber: nullable(callerIdNumber),
  /** Extension a disabled or unroutable DID rings instead of being refused; null: inherited (none: refused). */
  unroutedDidExtension: nullable(extensionNumber),
  maxInbound: ceiling,
  maxOutbound: ceiling,
  maxTotal: ceiling,
  /** Days call recordings are kept (the retention job, daemon/recordings/retention.ts); null: until deleted. */
  recordingRetentionDays: nullable(int(1, 36500)),
  /** White label (resellers only): what the reseller's customers are shown instead of the platform. */
  brandName: nullable(safeText(100)),
  brandDomain: nullable({ type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{0,252}$' }),
};

const item = {
  type: 'object',
  properties: {
    id: uuid,
    slug,
    status: { type: 'string' },
    ...tenantDefaultsSchema,
    isReseller: { type: 'boolean' },
    /** What calls and answers use: the own value, else the nearest ancestor's, else the platform's. */
    effective: {
      type: 'object',
      properties: {
        defaultTimezone: { type: 'string' },
        defaultLanguage: { type: 'string' },
        defaultCallerIdName: nullable(safeText(80)),
        defaultCallerIdNumber: nullable(callerIdNumber),
        unroutedDidExtension: nullable(extensionNumber),
      },
    },
    /** The brand this account is shown (its own if a reseller, else its nearest reseller's); null: none. */
    brand: nullable({ type: 'object', properties: { name: { type: 'string' }, domain: nullable({ type: 'string' }) } }),
    sipDomains: {
      type: 'array',
      items: { type: 'object', properties: { domain: { type: 'string' }, primary: { type: 'boolean' } } },
    },
    createdAt: timestamp,
    updatedAt: timestamp,
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

const SELECT = `SELECT id, slug, status, is_reseller AS "isReseller", ${Object.entries({ ...DEFAULTS, ...CEILINGS })
  .map(([k, c]) => `${c} AS "${k}"`)
  .join(', ')},
  (SELECT json_build_object(${Object.entries(INHERITED)
    .map(([k, c]) => `'${k}', e.${c}`)
    .join(', ')}) FROM tenant_effective_settings(tenants.id) e) AS effective,
  (SELECT CASE WHEN e.brand_name IS NOT NULL THEN json_build_object('name', e.brand_name, 'domain', e.brand_domain) END
    FROM tenant_effective_settings(tenants.id) e) AS brand,
  (SELECT coalesce(json_agg(json_build_object('domain', domain, 'primary', is_primary) ORDER BY is_primary DESC, domain), '[]') FROM sip_domains) AS "sipDomains",
  created_at AS "createdAt", updated_at AS "updatedAt" FROM tenants`;

/** IANA zone names Node knows (the same tz database FreeSWITCH's mod_timezones is built from). */
const ZONES = new Set(Intl.supportedValuesOf('timeZone').concat('UTC'));

export function checkTimezone(tz: unknown): void {
  if (typeof tz === 'string' && !ZONES.has(tz))
    throw badRequest('defaultTimezone', `${JSON.stringify(tz)} is not an IANA time zone (e.g. Europe/Paris)`);
}

export function tenantRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/tenant',
    { schema: { tags: ['tenant'], response: { 200: item, ...errors } }, config: { roles: ['tenant_admin'] } },
    async (req) => {
      return inTenant(pool, req, async ({ db }) => (await db.query(SELECT)).rows[0], { write: false });
    },
  );

  app.patch(
    '/tenant',
    {
      schema: {
        tags: ['tenant'],
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { ...tenantDefaultsSchema, status: { type: 'string', enum: ['active', 'suspended'] } },
        },
        response: { 200: item, ...errors },
      },
      config: { roles: ['tenant_admin'] },
    },
    async (req) => {
      const scope = requireTenant(req.apiScope);
      const body = req.body as Record<string, unknown>;
      checkTimezone(body.defaultTimezone);
      // The operator, or a reseller inside one of its accounts (the database caps its ceilings at the reseller's).
      const operator = scope.role === 'superadmin' || (scope.role === 'reseller_admin' && scope.crossTenant);
      if (body.status !== undefined && !operator)
        throw forbidden('status: only the operator or the reseller can suspend or reactivate an account');
      return inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const {
            rows: [before],
          } = await db.query(`${SELECT} FOR UPDATE`);
          if (!operator) {
            for (const field of Object.keys(CEILINGS) as Array<keyof typeof CEILINGS>) {
              const want = body[field] as number | null | undefined;
              const now = before[field] as number | null;
              if (want === undefined || now === null || (want !== null && want <= now)) continue;
              throw forbidden(
                `${field}: tenant admins may only lower call ceilings (current ${now}); ask the operator to raise it`,
              );
            }
          }
          const columns = { ...DEFAULTS, ...CEILINGS, status: 'status' } as Record<string, string>;
          const sets = Object.keys(body).map((k, i) => `${columns[k]} = $${i + 1}`);
          await db.query(`UPDATE tenants SET ${sets.join(', ')}`, Object.values(body));
          const {
            rows: [after],
          } = await db.query(SELECT);
          const pick = (r: Record<string, unknown>) => Object.fromEntries(Object.keys(body).map((k) => [k, r[k]]));
          await audit({
            action: 'tenant.update',
            target: `tenant/${scope.tenantSlug}`,
            summary: { before: pick(before), after: pick(after) },
          });
          return after;
        },
        { write: true },
      );
    },
  );
}
