// GET /api/usage and /api/usage/subtree over an account tree (R1 > C1, C2, S1 > D1; R2 > C3) with a few hundred
// call records: the answers equal the call records summed per day and direction, per account and over a subtree;
// a reseller's answer names its own subtree and nothing of another; bad ranges are 400 naming the field.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TenantId } from '../../xml-handlers/model.js';
import {
  addSums,
  createAccount,
  insertBatch,
  insertWhileHeld,
  makeRecords,
  type Sums,
  sumsOf,
} from '../helpers/usage.js';
import { type ApiHarness, startApi } from './api-harness.js';

type Name = 'r1' | 'c1' | 'c2' | 's1' | 'd1' | 'r2' | 'c3';
interface Ctx {
  h: ApiHarness;
  t: Record<Name, TenantId>;
}
const test = suite<Ctx>('usage API');
const FROM = '2026-11-28';
const TO = '2026-12-02';

test.before(async (ctx) => {
  ctx.h = await startApi();
  const pool = ctx.h.pool;
  const r1 = await createAccount(pool, 'r1', { reseller: true });
  const r2 = await createAccount(pool, 'r2', { reseller: true });
  const s1 = await createAccount(pool, 's1', { parent: r1, reseller: true });
  ctx.t = {
    r1,
    r2,
    s1,
    c1: await createAccount(pool, 'c1', { parent: r1 }),
    c2: await createAccount(pool, 'c2', { parent: r1 }),
    d1: await createAccount(pool, 'd1', { parent: s1 }),
    c3: await createAccount(pool, 'c3', { parent: r2 }),
  };
  // Six days, the last one outside [FROM, TO]; duplicates in a later batch.
  const recs = makeRecords(Object.values(ctx.t), { n: 350, dupes: 40, firstDay: FROM, days: 6, seed: 42 });
  assert.is(await insertBatch(pool, recs.slice(0, 200)), 200);
  assert.is(await insertBatch(pool, recs.slice(200)), 150);
  // Two more of C1's calls on one day and direction, in two rows of the roll-up: the answers sum them.
  const [x, y] = makeRecords([ctx.t.c1], { n: 2, dupes: 0, firstDay: TO, days: 1, seed: 7 });
  y!.direction = x!.direction;
  await insertWhileHeld(pool, x!, y!);
});
test.after((ctx) => ctx.h.close());

const get = async (ctx: Ctx, url: string, who: { role: 'tenant_admin' | 'reseller_admin' | 'agent'; as: Name }) =>
  ctx.h.call('GET', url, { token: await ctx.h.token(who.role, who.as) });
const operator = async (ctx: Ctx, url: string, slug: string) =>
  ctx.h.call('GET', url, { token: await ctx.h.token('superadmin'), headers: { 'x-tenant-id': slug } });

interface Counts {
  calls: number;
  answeredCalls: number;
  talkSeconds: number;
  billedMinutes: number;
  durationSeconds: number;
}
const asSums = (days: Array<Counts & { day: string; direction: string }>): Sums =>
  Object.fromEntries(
    days.map((d) => [
      `${d.day}|${d.direction}`,
      [d.calls, d.answeredCalls, d.talkSeconds, d.billedMinutes, d.durationSeconds],
    ]),
  );
/** Totals from sums: all, and per direction. */
function totalsOf(s: Sums): Record<string, Counts> {
  const out: Record<string, Counts> = {};
  for (const k of ['all', 'inbound', 'outbound', 'internal'])
    out[k] = { calls: 0, answeredCalls: 0, talkSeconds: 0, billedMinutes: 0, durationSeconds: 0 };
  for (const [key, [c, a, b, m, d]] of Object.entries(s))
    for (const k of ['all', key.split('|')[1]!]) {
      const t = out[k]!;
      t.calls += c;
      t.answeredCalls += a;
      t.talkSeconds += b;
      t.billedMinutes += m;
      t.durationSeconds += d;
    }
  return out;
}
const truth = async (ctx: Ctx, ...names: Name[]) =>
  addSums(...(await Promise.all(names.map((n) => sumsOf(ctx.h.pool, ctx.t[n], 'call_records', FROM, TO)))));

test("GET /api/usage: the account's own days, directions and totals, as the call records say", async (ctx) => {
  for (const who of [
    { role: 'tenant_admin', as: 'c1' },
    { role: 'reseller_admin', as: 'r1' },
  ] as const) {
    const res = await get(ctx, `/api/usage?from=${FROM}&to=${TO}`, who);
    assert.is(res.status, 200, res.text);
    const want = await truth(ctx, who.as);
    assert.ok(Object.keys(want).length >= 8);
    assert.equal(asSums(res.body.days), want, who.as);
    assert.equal(res.body.totals, totalsOf(want));
    assert.equal([res.body.from, res.body.to], [FROM, TO]);
  }
  // One day only: that day's rows.
  const one = await get(ctx, `/api/usage?from=${TO}&to=${TO}`, { role: 'tenant_admin', as: 'c2' });
  assert.ok(one.body.days.length > 0 && one.body.days.every((d: { day: string }) => d.day === TO));
  assert.equal(asSums(one.body.days), await sumsOf(ctx.h.pool, ctx.t.c2, 'call_records', TO, TO));
});

test('GET /api/usage/subtree as R1: R1, C1, C2, S1, D1 and their sums; nothing of R2 or C3', async (ctx) => {
  const url = `/api/usage/subtree?from=${FROM}&to=${TO}`;
  for (const res of [
    await get(ctx, url, { role: 'reseller_admin', as: 'r1' }),
    await get(ctx, url, { role: 'tenant_admin', as: 'r1' }),
    await operator(ctx, url, 'r1'),
  ]) {
    assert.is(res.status, 200, res.text);
    const accounts = res.body.accounts as Array<{
      id: string;
      slug: string;
      parentId: string | null;
      isReseller: boolean;
      totals: unknown;
      subtreeTotals: unknown;
    }>;
    assert.equal(
      accounts.map((a) => a.slug),
      ['c1', 'c2', 'd1', 'r1', 's1'],
    );
    for (const a of accounts) assert.equal(a.totals, totalsOf(await truth(ctx, a.slug as Name)), a.slug);
    const bySlug = Object.fromEntries(accounts.map((a) => [a.slug, a]));
    assert.equal(bySlug.s1!.subtreeTotals, totalsOf(await truth(ctx, 's1', 'd1')));
    assert.equal(bySlug.c1!.subtreeTotals, bySlug.c1!.totals);
    assert.equal(bySlug.r1!.subtreeTotals, totalsOf(await truth(ctx, 'r1', 'c1', 'c2', 's1', 'd1')));
    assert.equal(res.body.totals, bySlug.r1!.subtreeTotals);
    assert.equal([bySlug.d1!.parentId, bySlug.s1!.isReseller, bySlug.c1!.isReseller], [ctx.t.s1, true, false]);
    for (const other of [ctx.t.r2, ctx.t.c3, 'r2.pbx.test', 'Account r2', 'Account c3'])
      assert.not.ok(res.text.includes(other), `R1's answer names ${other}`);
  }
});

test('GET /api/usage/subtree as R2 and as S1: their own subtrees; a customer: itself only', async (ctx) => {
  const url = `/api/usage/subtree?from=${FROM}&to=${TO}`;
  const r2 = await get(ctx, url, { role: 'reseller_admin', as: 'r2' });
  assert.equal(
    r2.body.accounts.map((a: { slug: string }) => a.slug),
    ['c3', 'r2'],
  );
  assert.equal(r2.body.totals, totalsOf(await truth(ctx, 'r2', 'c3')));
  const s1 = await get(ctx, url, { role: 'reseller_admin', as: 's1' });
  assert.equal(
    s1.body.accounts.map((a: { slug: string }) => a.slug),
    ['d1', 's1'],
  );
  const c1 = await get(ctx, url, { role: 'tenant_admin', as: 'c1' });
  assert.equal(
    c1.body.accounts.map((a: { slug: string }) => a.slug),
    ['c1'],
  );
  assert.equal(c1.body.totals, totalsOf(await truth(ctx, 'c1')));
});

test("an operator's subtree read is audited in the reseller's own log; a reseller's own read is not", async (ctx) => {
  const log = () =>
    ctx.h.inTenant(ctx.t.r1, async (db) =>
      (
        await db.query(
          "SELECT actor_role, action, target, cross_tenant FROM audit_logs WHERE target LIKE 'GET /api/usage%' ORDER BY id",
        )
      ).rows.map((r) => [r.actor_role, r.action, r.target, r.cross_tenant]),
    );
  const before = await log();
  await get(ctx, '/api/usage/subtree?from=2026-11-01', { role: 'reseller_admin', as: 'r1' });
  assert.equal(await log(), before);
  await operator(ctx, '/api/usage/subtree?from=2026-11-01&to=2026-11-30', 'r1');
  await operator(ctx, '/api/usage?to=2026-11-30', 'r1');
  assert.equal((await log()).slice(before.length), [
    ['superadmin', 'operator.read', 'GET /api/usage/subtree?from=2026-11-01&to=2026-11-30', true],
    ['superadmin', 'operator.read', 'GET /api/usage?to=2026-11-30', true],
  ]);
});

test('defaults: to is today (UTC), from the first of its month', async (ctx) => {
  const res = await get(ctx, '/api/usage', { role: 'tenant_admin', as: 'c1' });
  assert.is(res.status, 200, res.text);
  const today = new Date().toISOString().slice(0, 10);
  assert.equal([res.body.from, res.body.to], [`${today.slice(0, 8)}01`, today]);
  const past = await get(ctx, '/api/usage?to=2026-12-02', { role: 'tenant_admin', as: 'c1' });
  assert.equal([past.body.from, past.body.to], ['2026-12-01', '2026-12-02']);
});

test('bad ranges are 400 naming the field; agents are refused', async (ctx) => {
  const who = { role: 'reseller_admin', as: 'r1' } as const;
  for (const [url, field] of [
    ['/api/usage?from=2026-02-30&to=2026-03-01', 'from'],
    ['/api/usage?from=2026-11-01&to=2026-13-01', 'to'],
    ['/api/usage?from=yesterday', 'from'],
    ['/api/usage?from=2026-11-02&to=2026-11-01', 'from'],
    ['/api/usage?from=2025-01-01&to=2026-01-02', 'to'],
    ['/api/usage/subtree?from=2026-01-01&to=2026-04-03', 'to'],
    ['/api/usage/subtree?from=2026-01-01&to=2026-01-01T00:00:00Z', 'to'],
  ] as const) {
    const res = await get(ctx, url, who);
    assert.is(res.status, 400, `${url}: ${res.text}`);
    assert.match(res.body.message, new RegExp(`^(querystring/)?${field}\\b`), `${url}: ${res.body.message}`);
  }
  // The longest ranges are allowed: a leap year's 366 days, a subtree's 92.
  assert.is((await get(ctx, '/api/usage?from=2024-01-01&to=2024-12-31', who)).status, 200);
  assert.is((await get(ctx, '/api/usage/subtree?from=2026-01-01&to=2026-04-02', who)).status, 200);
  for (const url of ['/api/usage', '/api/usage/subtree'])
    assert.is((await get(ctx, url, { role: 'agent', as: 'c1' })).status, 403, url);
  // The account is the token's: a parameter naming another is dropped (fastify removes unknown properties).
  const other = await get(ctx, `/api/usage?from=${FROM}&to=${TO}&tenant=c3&tenantId=${ctx.t.c3}`, who);
  assert.equal(asSums(other.body.days), await truth(ctx, 'r1'));
});

test('the OpenAPI document has both routes, their ranges and roles', async (ctx) => {
  const doc = (await ctx.h.call('GET', '/api/openapi.json')).body;
  for (const p of ['/api/usage', '/api/usage/subtree']) {
    const op = doc.paths[p].get;
    assert.ok(op, p);
    assert.equal(
      op.parameters.filter((x: { in: string }) => x.in === 'query').map((x: { name: string }) => x.name),
      ['from', 'to'],
    );
    assert.match(op.description, /Roles: tenant_admin, reseller_admin/);
  }
});

test.run();
