// The five routes (list, read, create, update, delete) of a tenant-owned table,
// from a declaration of its fields. Each route runs in the requesting tenant's
// withTenant transaction, so a row of another tenant is simply not there (404),
// and every mutation writes its audit row in that same transaction.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ApiError, conflict, notFound } from './errors.js';
import { errorBody, pageQuery, timestamp, uuid, type JsonSchema } from './schema-types.js';
import type { FastifyRequest } from 'fastify';
import { inTenant, requireTenant, type TenantScope } from './scope.js';
import type { ApiRouteConfig } from './route-config.js';

export interface FieldDef {
  column: string;
  schema: JsonSchema;
  /** Must be given on create. */
  required?: boolean;
  /** SQL expression for reading (default: the column). */
  select?: string;
  /** Cast applied to the bound parameter when writing, e.g. '::cidr[]'. */
  cast?: string;
  /** Accepted as input, never returned (trunk passwords). */
  writeOnly?: boolean;
  /** Returned, never accepted (computed). */
  readOnly?: boolean;
  /** The id names a row of this table, which must be visible in the tenant. */
  references?: string;
  /** Stored as JSON text (a jsonb column holding an array: pg would send a JS array as a PostgreSQL array). */
  json?: boolean;
}

export type Row = Record<string, unknown> & { id: string };

export interface WriteContext {
  db: pg.PoolClient;
  scope: TenantScope;
  /** The validated body (API field names). */
  input: Record<string, unknown>;
  /** The row before an update (API shape); undefined on create. */
  before: Row | undefined;
}

export interface ResourceDef {
  /** URL segment and audit target prefix, e.g. 'outbound-routes'. */
  path: string;
  table: string;
  /** Audit action prefix, e.g. 'outbound_route'. */
  noun: string;
  fields: Record<string, FieldDef>;
  /** Inputs that are not columns (an extension's password), never stored or returned as given. */
  secrets?: Record<string, JsonSchema>;
  /** Secrets a create must carry. */
  secretsRequiredOnCreate?: readonly string[];
  /** Checks and derives column values beyond the schema; returns extra columns to write. */
  beforeWrite?(ctx: WriteContext): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** After the row is written and before it is read back: rows of other tables that hang off it (credentials). */
  writeDependents?(ctx: WriteContext & { id: string }): Promise<void>;
  /** After the row is written, before commit: a throw rolls the write back (checks that need the written state). */
  checkWritten?(ctx: { db: pg.PoolClient; scope: TenantScope; row: Row }): Promise<void>;
  /** What a row still referenced elsewhere is used by, for the 409 its delete answers. */
  usedBy?: string;
  /** After commit (pushing a change to FreeSWITCH). */
  afterWrite?(scope: TenantScope, after: Row, before: Row | undefined): Promise<void>;
}

const outputFields = (def: ResourceDef) => Object.entries(def.fields).filter(([, f]) => !f.writeOnly);
const inputFields = (def: ResourceDef) => Object.entries(def.fields).filter(([, f]) => !f.readOnly);

export function selectList(def: ResourceDef): string {
  return [
    'id',
    ...outputFields(def).map(([name, f]) => `${f.select ?? f.column} AS "${name}"`),
    'created_at AS "createdAt"',
    'updated_at AS "updatedAt"',
  ].join(', ');
}

export function itemSchema(def: ResourceDef): JsonSchema {
  const properties: Record<string, JsonSchema> = { id: uuid };
  for (const [name, f] of outputFields(def)) properties[name] = f.schema;
  return { type: 'object', properties: { ...properties, createdAt: timestamp, updatedAt: timestamp } };
}

function bodySchema(def: ResourceDef, create: boolean): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, f] of inputFields(def)) properties[name] = f.schema;
  for (const [name, s] of Object.entries(def.secrets ?? {})) properties[name] = s;
  const required = create
    ? [
        ...inputFields(def)
          .filter(([, f]) => f.required)
          .map(([n]) => n),
        ...(def.secretsRequiredOnCreate ?? []),
      ]
    : [];
  return {
    type: 'object',
    additionalProperties: false,
    properties,
    ...(required.length ? { required } : { minProperties: 1 }),
  };
}

/** A summary for the audit log: API-shaped rows (no secrets), and which secrets were set. */
function summary(before: Row | undefined, after: Row | undefined, input: Record<string, unknown>, def: ResourceDef) {
  const secretsSet = [
    ...Object.keys(def.secrets ?? {}),
    ...Object.entries(def.fields)
      .filter(([, f]) => f.writeOnly)
      .map(([n]) => n),
  ].filter((n) => input[n] !== undefined);
  const strip = (r: Row | undefined) =>
    r && Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'createdAt' && k !== 'updatedAt'));
  return {
    ...(before ? { before: strip(before) } : {}),
    ...(after ? { after: strip(after) } : {}),
    ...(secretsSet.length ? { secretsSet } : {}),
  };
}

async function readRow(db: pg.PoolClient, def: ResourceDef, id: string, lock = false): Promise<Row | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${selectList(def)} FROM ${def.table} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0];
}

export function registerResource(app: FastifyInstance, pool: pg.Pool, def: ResourceDef): void {
  const item = itemSchema(def);
  const idParams = { type: 'object', required: ['id'], properties: { id: uuid } };
  const base = `/${def.path}`;
  const config = (resource?: string): ApiRouteConfig => ({
    roles: ['tenant_admin'],
    ...(resource ? { resource } : {}),
  });
  const tags = [def.path];
  const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };

  const write = async (req: FastifyRequest, id: string | undefined) => {
    const input = req.body as Record<string, unknown>;
    let before: Row | undefined;
    const after = await inTenant(
      pool,
      req,
      async ({ db, audit, scope }) => {
        if (id) {
          before = await readRow(db, def, id, true);
          if (!before) throw notFound(def.noun);
        }
        // Look references up first, in the tenant: a global unique index (or a constraint checked
        // before the composite foreign key) must never answer about another tenant's ids.
        for (const [name, f] of inputFields(def)) {
          const ref = input[name];
          if (
            f.references &&
            typeof ref === 'string' &&
            (await db.query(`SELECT 1 FROM ${f.references} WHERE id = $1`, [ref])).rowCount === 0
          ) {
            throw new ApiError(404, 'not_found', `${name}: referenced resource not found`);
          }
        }
        const extra = (await def.beforeWrite?.({ db, scope, input, before })) ?? {};
        const cols: string[] = [];
        const values: unknown[] = [];
        const casts: string[] = [];
        for (const [name, f] of inputFields(def)) {
          if (input[name] === undefined) continue;
          cols.push(f.column);
          values.push(f.json ? JSON.stringify(input[name]) : input[name]);
          casts.push(f.cast ?? '');
        }
        for (const [column, value] of Object.entries(extra)) {
          cols.push(column);
          values.push(value);
          casts.push('');
        }
        let newId: string;
        if (id) {
          if (cols.length) {
            await db.query(
              `UPDATE ${def.table} SET ${cols.map((c, i) => `${c} = $${i + 2}${casts[i]}`).join(', ')} WHERE id = $1`,
              [id, ...values],
            );
          }
          newId = id;
        } else {
          const {
            rows: [row],
          } = await db.query<{ id: string }>(
            `INSERT INTO ${def.table} (tenant_id${cols.map((c) => `, ${c}`).join('')})
           VALUES ($1${cols.map((_, i) => `, $${i + 2}${casts[i]}`).join('')}) RETURNING id`,
            [scope.tenantId, ...values],
          );
          newId = row!.id;
        }
        await def.writeDependents?.({ db, scope, input, before, id: newId });
        const row = (await readRow(db, def, newId))!;
        await def.checkWritten?.({ db, scope, row });
        await audit({
          action: `${def.noun}.${id ? 'update' : 'create'}`,
          target: `${def.path}/${newId}`,
          summary: summary(before, row, input, def),
        });
        return row;
      },
      { write: true },
    );
    await def.afterWrite?.(requireTenant(req.apiScope), after, before);
    return after;
  };

  app.get(
    base,
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
          (
            await db.query(`SELECT ${selectList(def)} FROM ${def.table} ORDER BY created_at, id LIMIT $1 OFFSET $2`, [
              limit,
              offset,
            ])
          ).rows,
        { write: false },
      );
      return { items };
    },
  );

  app.get(
    `${base}/:id`,
    { schema: { tags, params: idParams, response: { 200: item, ...errors } }, config: config(def.table) },
    async (req) => {
      const { id } = req.params as { id: string };
      const row = await inTenant(pool, req, ({ db }) => readRow(db, def, id), { write: false });
      if (!row) throw notFound(def.noun);
      return row;
    },
  );

  app.post(
    base,
    { schema: { tags, body: bodySchema(def, true), response: { 201: item, ...errors } }, config: config() },
    async (req, reply) => {
      const row = await write(req, undefined);
      return reply.code(201).send(row);
    },
  );

  app.patch(
    `${base}/:id`,
    {
      schema: { tags, params: idParams, body: bodySchema(def, false), response: { 200: item, ...errors } },
      config: config(def.table),
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return write(req, id);
    },
  );

  app.delete(
    `${base}/:id`,
    { schema: { tags, params: idParams, response: { 204: { type: 'null' }, ...errors } }, config: config(def.table) },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await inTenant(
        pool,
        req,
        async ({ db, audit }) => {
          const before = await readRow(db, def, id, true);
          if (!before) throw notFound(def.noun);
          await db.query(`DELETE FROM ${def.table} WHERE id = $1`, [id]).catch((err: { code?: string }) => {
            // ON DELETE RESTRICT (sql/009): something of this tenant still points at the row.
            if (err.code === '23503') throw conflict('id', `still used by ${def.usedBy ?? 'another resource'}`);
            throw err;
          });
          await audit({
            action: `${def.noun}.delete`,
            target: `${def.path}/${id}`,
            summary: summary(before, undefined, {}, def),
          });
        },
        { write: true },
      );
      return reply.code(204).send();
    },
  );
}
