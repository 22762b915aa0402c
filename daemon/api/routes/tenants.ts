// The account tree's routes. The operator (superadmin, no X-Tenant-Id) lists every account through list_tenants()
// and creates or moves any; a reseller admin does the same inside its own subtree, in the reseller tree context
// (sql/014), where row-level security shows only that subtree: an account outside it is a 404, never a 403. A new
// account is written in one transaction with its SIP domain and a first row in its own audit log.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { asTenantId, type TenantId } from '../../../xml-handlers/model.js';
import { withReseller, withTenant } from '../../db/tenant-context.js';
import { ApiError, badRequest, forbidden } from '../errors.js';
import { bool, errorBody, nullable, sipDomain, slug, uuid } from '../schema-types.js';
import { type ApiScope, type AuditEntry, insertAudit, type TenantScope } from '../scope.js';
import { CEILINGS, checkTimezone, DEFAULTS, tenantDefaultsSchema } from './tenant.js';

const summary = {
  type: 'object',
  properties: {
    id: uuid,
    slug,
    status: { type: 'string' },
    parentSlug: nullable(slug),
    isReseller: { type: 'boolean' },
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const COLUMNS: Record<string, string> = { slug: 'slug', isReseller: 'is_reseller', ...DEFAULTS, ...CEILINGS };

/** Who manages the tree in this request: the operator, or a reseller admin over its own subtree. */
type Manager = { kind: 'operator' } | { kind: 'reseller'; own: TenantId };

function manager(scope: ApiScope | null): Manager {
  // A superadmin manages the whole tree, with or without X-Tenant-Id.
  if (scope?.principal.role === 'superadmin') return { kind: 'operator' };
  if (scope?.kind === 'tenant' && scope.role === 'reseller_admin' && scope.reseller && !scope.crossTenant)
    return { kind: 'reseller', own: scope.reseller };
  throw forbidden(
    'the account tree is managed by the operator (no X-Tenant-Id) or a reseller admin on its own account',
  );
}

/** The audit row an account gets for what was done to it: cross-tenant, so the account sees who did it. */
function auditAs(req: FastifyRequest, tenantId: TenantId, tenantSlug: string): TenantScope {
  const principal = req.apiScope!.principal;
  return { kind: 'tenant', principal, role: principal.role, tenantId, tenantSlug, crossTenant: true };
}

const SUBTREE = `SELECT t.id, t.slug, t.status, t.is_reseller AS "isReseller", p.slug AS "parentSlug"
  FROM tenants t LEFT JOIN tenants p ON p.id = t.parent_id WHERE t.id <> $1 ORDER BY t.slug`;

export function tenantsRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/tenants',
    {
      schema: {
        tags: ['operator', 'reseller'],
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: summary } } }, ...errors },
      },
      config: { roles: ['superadmin', 'reseller_admin'] },
    },
    async (req) => {
      const m = manager(req.apiScope);
      if (m.kind === 'reseller') {
        // The reseller's own row is visible too (it is in its subtree) and names its parent: left out.
        const items = await withReseller(pool, m.own, async ({ db }) => (await db.query(SUBTREE, [m.own])).rows, {
          readOnly: true,
        });
        return { items };
      }
      const { rows } = await pool.query(
        `SELECT tenant_id AS id, tenant_slug AS slug, tenant_status AS status, parent_slug AS "parentSlug",
          is_reseller AS "isReseller" FROM list_tenants()`,
      );
      return { items: rows };
    },
  );

  app.post(
    '/tenants',
    {
      schema: {
        tags: ['operator', 'reseller'],
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['slug', 'name', 'sipDomain'],
          properties: {
            slug,
            sipDomain,
            /** The reseller account it goes under; a reseller admin's default is its own account. */
            parentSlug: nullable(slug),
            isReseller: bool,
            ...tenantDefaultsSchema,
          },
        },
        response: { 201: summary, ...errors },
      },
      config: { roles: ['superadmin', 'reseller_admin'] },
    },
    async (req, reply) => {
      const m = manager(req.apiScope);
      const b = req.body as Record<string, unknown> & { slug: string; sipDomain: string; parentSlug?: string | null };
      checkTimezone(b.defaultTimezone);
      const id = asTenantId(randomUUID());
      const given = Object.keys(COLUMNS).filter((k) => b[k] !== undefined);
      const entry: AuditEntry = {
        action: 'tenant.create',
        target: `tenant/${b.slug}`,
        summary: { after: { ...Object.fromEntries(given.map((k) => [k, b[k]])), sipDomain: b.sipDomain } },
      };
      // Runs with the new account's context in force (RLS checks the domain and audit rows against it).
      const create = async (db: pg.PoolClient, parent: string | null, enter: () => Promise<void>) => {
        await db.query(
          `INSERT INTO tenants (id, parent_id${given.map((k) => `, ${COLUMNS[k]}`).join('')})
          VALUES ($1, $2${given.map((_, i) => `, $${i + 3}`).join('')})`,
          [id, parent, ...given.map((k) => b[k])],
        );
        await enter();
        await db.query('INSERT INTO sip_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)', [
          id,
          b.sipDomain,
        ]);
        await insertAudit(db, auditAs(req, id, b.slug), entry);
      };
      let parentSlug: string | null = null;
      if (m.kind === 'reseller') {
        await withReseller(pool, m.own, async ({ db, enter }) => {
          const parent = await subtreeAccount(db, b.parentSlug ?? null, m.own, 'parentSlug');
          parentSlug = parent.slug;
          await create(db, parent.id, () => enter(id));
        });
      } else {
        const parent = b.parentSlug ? await anyAccount(pool, b.parentSlug, 'parentSlug') : null;
        parentSlug = parent?.slug ?? null;
        await withTenant(pool, id, (db) => create(db, parent?.id ?? null, async () => undefined));
      }
      return reply
        .code(201)
        .send({ id, slug: b.slug, status: 'active', parentSlug, isReseller: b.isReseller === true });
    },
  );

  app.patch(
    '/tenants/:slug',
    {
      schema: {
        tags: ['operator', 'reseller'],
        params: { type: 'object', required: ['slug'], properties: { slug } },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { parentSlug: nullable(slug), isReseller: bool },
        },
        response: { 200: summary, ...errors },
      },
      config: { roles: ['superadmin', 'reseller_admin'], resource: 'tenants' },
    },
    async (req) => {
      const m = manager(req.apiScope);
      const { slug: target } = req.params as { slug: string };
      const b = req.body as { parentSlug?: string | null; isReseller?: boolean };
      const change = async (db: pg.PoolClient, account: Account, parent: Account | null | undefined) => {
        const before = (
          await db.query<{ parent_id: string | null; is_reseller: boolean }>(
            'SELECT parent_id, is_reseller FROM tenants WHERE id = $1 FOR UPDATE',
            [account.id],
          )
        ).rows[0];
        if (!before) throw new ApiError(404, 'not_found', 'tenant not found');
        const parentId = parent === undefined ? before.parent_id : (parent?.id ?? null);
        const isReseller = b.isReseller ?? before.is_reseller;
        await db.query('UPDATE tenants SET parent_id = $2, is_reseller = $3 WHERE id = $1', [
          account.id,
          parentId,
          isReseller,
        ]);
        return { parentId, isReseller };
      };
      const entry = (parentSlug: string | null | undefined): AuditEntry => ({
        action: 'tenant.move',
        target: `tenant/${target}`,
        summary: { after: { parentSlug, isReseller: b.isReseller } },
      });
      if (m.kind === 'reseller') {
        return withReseller(pool, m.own, async ({ db, enter }) => {
          const account = await subtreeAccount(db, target, m.own, 'slug');
          if (account.id === m.own) throw forbidden('an account cannot move or re-type itself');
          if (b.parentSlug === null) throw badRequest('parentSlug', 'a reseller keeps its accounts inside its subtree');
          const parent =
            b.parentSlug === undefined ? undefined : await subtreeAccount(db, b.parentSlug, m.own, 'parentSlug');
          const after = await change(db, account, parent);
          const parentSlug = parent?.slug ?? (await slugOf(db, after.parentId));
          await enter(account.id);
          await insertAudit(db, auditAs(req, account.id, account.slug), entry(parentSlug));
          return {
            id: account.id,
            slug: account.slug,
            status: account.status,
            parentSlug,
            isReseller: after.isReseller,
          };
        });
      }
      const account = await anyAccount(pool, target, 'slug');
      const parent =
        b.parentSlug === undefined
          ? undefined
          : b.parentSlug === null
            ? null
            : await anyAccount(pool, b.parentSlug, 'parentSlug');
      return withTenant(pool, account.id, async (db) => {
        const after = await change(db, account, parent);
        await insertAudit(
          db,
          auditAs(req, account.id, account.slug),
          entry(parent === undefined ? undefined : (parent?.slug ?? null)),
        );
        return {
          id: account.id,
          slug: account.slug,
          status: account.status,
          parentSlug: parent === undefined ? await parentSlugOf(pool, account.id) : (parent?.slug ?? null),
          isReseller: after.isReseller,
        };
      });
    },
  );
}

interface Account {
  id: TenantId;
  slug: string;
  status: string;
}

/** An account of the reseller's subtree by slug (null: the reseller itself), through RLS: else 404 naming `field`. */
async function subtreeAccount(
  db: pg.PoolClient,
  slugOrSelf: string | null,
  own: TenantId,
  field: string,
): Promise<Account> {
  const { rows } = await db.query<Account>(
    'SELECT id, slug, status FROM tenants WHERE slug = $1 OR ($1 IS NULL AND id = $2)',
    [slugOrSelf, own],
  );
  if (!rows[0]) throw new ApiError(404, 'not_found', `${field}: no such tenant`);
  return { ...rows[0], id: asTenantId(rows[0].id) };
}

async function slugOf(db: pg.PoolClient, id: string | null): Promise<string | null> {
  if (!id) return null;
  return (await db.query<{ slug: string }>('SELECT slug FROM tenants WHERE id = $1', [id])).rows[0]?.slug ?? null;
}

/** Any account by slug (the operator's look-up, SECURITY DEFINER resolve_tenant_slug): else 404 naming `field`. */
async function anyAccount(pool: pg.Pool, s: string, field: string): Promise<Account> {
  const { rows } = await pool.query<{ tenant_id: string; tenant_slug: string; tenant_status: string }>(
    'SELECT tenant_id, tenant_slug, tenant_status FROM resolve_tenant_slug($1)',
    [s],
  );
  if (!rows[0]) throw new ApiError(404, 'not_found', `${field}: no such tenant`);
  return { id: asTenantId(rows[0].tenant_id), slug: rows[0].tenant_slug, status: rows[0].tenant_status };
}

async function parentSlugOf(pool: pg.Pool, id: TenantId): Promise<string | null> {
  const { rows } = await pool.query<{ parent_slug: string | null }>(
    'SELECT parent_slug FROM list_tenants() WHERE tenant_id = $1',
    [id],
  );
  return rows[0]?.parent_slug ?? null;
}
