// Usage: calls and minutes per UTC day and direction, from the roll-up the database keeps as call records are
// written (sql/017_usage_rollup.sql), for the account itself or summed over its subtree. Never reads call_records.
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { badRequest, notFound } from '../errors.js';
import { errorBody, nullable, slug, uuid } from '../schema-types.js';
import { inTenant, inTree } from '../scope.js';

const DIRECTIONS = ['inbound', 'outbound', 'internal'] as const;
type Direction = (typeof DIRECTIONS)[number];
/** The longest ranges: an account reads ≤ 3 rows a day, a subtree that many per account. */
export const MAX_DAYS = { account: 366, subtree: 92 } as const;
const DAY_MS = 86_400_000;

interface Counts {
  calls: number;
  answeredCalls: number;
  talkSeconds: number;
  billedMinutes: number;
  durationSeconds: number;
}
type Totals = Record<'all' | Direction, Counts>;

const count = { type: 'integer', minimum: 0 };
const countsSchema = {
  type: 'object',
  properties: {
    calls: count,
    answeredCalls: count,
    talkSeconds: { ...count, description: 'Answered seconds (billsec) summed.' },
    billedMinutes: { ...count, description: "Each call's talk time rounded up to whole minutes, summed." },
    durationSeconds: { ...count, description: 'Start to hangup, ringing included, summed.' },
  },
};
const totalsSchema = {
  type: 'object',
  properties: { all: countsSchema, inbound: countsSchema, outbound: countsSchema, internal: countsSchema },
};
const range = (max: number) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date', description: 'First UTC day, inclusive (default: the 1st of `to`).' },
    to: {
      type: 'string',
      format: 'date',
      description: `Last UTC day, inclusive (default: today); at most ${max} days from \`from\`.`,
    },
  },
});
const rangeOut = { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } };
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody };

const zero = (): Counts => ({ calls: 0, answeredCalls: 0, talkSeconds: 0, billedMinutes: 0, durationSeconds: 0 });
const zeroTotals = (): Totals => ({ all: zero(), inbound: zero(), outbound: zero(), internal: zero() });
function add(into: Counts, c: Counts): void {
  into.calls += c.calls;
  into.answeredCalls += c.answeredCalls;
  into.talkSeconds += c.talkSeconds;
  into.billedMinutes += c.billedMinutes;
  into.durationSeconds += c.durationSeconds;
}
function addTotals(into: Totals, t: Totals): void {
  for (const k of ['all', ...DIRECTIONS] as const) add(into[k], t[k]);
}

function parseDay(field: string, value: string): number {
  const ms = Date.parse(`${value}T00:00:00Z`);
  // Date.parse rolls 2026-02-30 over to March 2: only a date that prints back as given is one. (The schema's
  // format check refuses it first; this keeps the rule where the range is computed.)
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw badRequest(field, 'expected a calendar date YYYY-MM-DD');
  return ms;
}

/** The inclusive UTC day range asked for, checked (400 naming the field). */
export function dayRange(q: { from?: string; to?: string }, maxDays: number, now = Date.now()) {
  const to = q.to ?? new Date(now).toISOString().slice(0, 10);
  const toMs = parseDay('to', to);
  const from = q.from ?? `${to.slice(0, 8)}01`;
  const fromMs = parseDay('from', from);
  if (fromMs > toMs) throw badRequest('from', `is after to (${to})`);
  if ((toMs - fromMs) / DAY_MS + 1 > maxDays) throw badRequest('to', `the range may span at most ${maxDays} days`);
  return { from, to };
}

// A day and direction may span several rows (sql/017, shard). bigint sums as float8: exact up to 2^53, and JSON
// numbers rather than pg's strings.
const COUNTS_SQL = `sum(calls)::float8 AS "calls", sum(answered)::float8 AS "answeredCalls",
  sum(billsec)::float8 AS "talkSeconds", sum(billed_minutes)::float8 AS "billedMinutes",
  sum(duration_s)::float8 AS "durationSeconds"`;

export function usageRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/usage',
    {
      schema: {
        tags: ['usage'],
        description: "The account's own calls and minutes per UTC day and direction, and their totals.",
        querystring: range(MAX_DAYS.account),
        response: {
          200: {
            type: 'object',
            properties: {
              ...rangeOut,
              days: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    day: { type: 'string', format: 'date' },
                    direction: { type: 'string', enum: [...DIRECTIONS] },
                    ...countsSchema.properties,
                  },
                },
              },
              totals: totalsSchema,
            },
          },
          ...errors,
        },
      },
      config: { roles: ['tenant_admin', 'reseller_admin'] },
    },
    async (req) => {
      const { from, to } = dayRange(req.query as { from?: string; to?: string }, MAX_DAYS.account);
      const rows = await inTenant(
        pool,
        req,
        async ({ db }) =>
          (
            await db.query<Counts & { day: string; direction: Direction }>(
              `SELECT day::text AS day, direction, ${COUNTS_SQL} FROM usage_daily
              WHERE day BETWEEN $1::date AND $2::date GROUP BY day, direction ORDER BY day, direction`,
              [from, to],
            )
          ).rows,
        { write: false },
      );
      const totals = zeroTotals();
      for (const r of rows) {
        add(totals.all, r);
        add(totals[r.direction], r);
      }
      return { from, to, days: rows, totals };
    },
  );

  app.get(
    '/usage/subtree',
    {
      schema: {
        tags: ['usage'],
        description:
          'Per account of the subtree (the account and, for a reseller, every account below it): its own totals ' +
          'and those of its own subtree; `totals` is the whole subtree. A non-reseller sees only itself. Read in ' +
          "the reseller's tree context: row-level security decides which accounts it holds.",
        querystring: range(MAX_DAYS.subtree),
        response: {
          200: {
            type: 'object',
            properties: {
              ...rangeOut,
              accounts: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: uuid,
                    slug,
                    name: { type: 'string' },
                    parentId: nullable(uuid),
                    isReseller: { type: 'boolean' },
                    totals: totalsSchema,
                    subtreeTotals: totalsSchema,
                  },
                },
              },
              totals: totalsSchema,
            },
          },
          ...errors,
        },
      },
      config: { roles: ['tenant_admin', 'reseller_admin'] },
    },
    async (req) => {
      const { from, to } = dayRange(req.query as { from?: string; to?: string }, MAX_DAYS.subtree);
      const { root, accounts, usage } = await inTree(pool, req, async (db, scope) => {
        const accounts = (
          await db.query<{ id: string; slug: string; name: string; parentId: string | null; isReseller: boolean }>(
            `SELECT id, slug::text AS slug, name, parent_id AS "parentId", is_reseller AS "isReseller"
            FROM tenants ORDER BY slug`,
          )
        ).rows;
        const usage = (
          await db.query<Counts & { tenantId: string; direction: Direction }>(
            `SELECT tenant_id AS "tenantId", direction, ${COUNTS_SQL} FROM usage_daily WHERE day BETWEEN $1::date AND $2::date GROUP BY 1, 2`,
            [from, to],
          )
        ).rows;
        return { root: scope.tenantId as string, accounts, usage };
      });
      const byId = new Map(accounts.map((a) => [a.id, { ...a, totals: zeroTotals(), subtreeTotals: zeroTotals() }]));
      if (!byId.has(root)) throw notFound('account');
      for (const u of usage) {
        const a = byId.get(u.tenantId);
        if (!a) continue; // cannot happen: both reads are the same tree context
        add(a.totals.all, u);
        add(a.totals[u.direction], u);
      }
      // Each account's own totals count in its subtree and in every ancestor's up to the root (the tree is ≤ 32 deep).
      for (const a of byId.values()) {
        for (let at: typeof a | undefined = a, hops = 0; at && hops <= 32; hops++) {
          addTotals(at.subtreeTotals, a.totals);
          at = at.id === root || at.parentId === null ? undefined : byId.get(at.parentId);
        }
      }
      return { from, to, accounts: [...byId.values()], totals: byId.get(root)!.subtreeTotals };
    },
  );
}
