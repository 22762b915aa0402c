// Item 2: sip_auth over every user of the scale data set, each asked once, with
// an empty cache, against a plain pg loop doing the look-ups those fetches need.
// Item 5 (first half): the daemon's RSS once all of them are cached.
import { freshDatabase } from '../helpers/postgres.js';
import { generate, type BenchContext } from './context.js';
import type { LookupResult } from './pg-lookup-loop.js';
import { percentiles } from './percentiles.js';
import { layout, profileArgs, startChild, type Child, type Memory } from './processes.js';
import { figure, type Figure } from './report.js';
import { FIXTURES } from './requests.js';
import { seedScale } from './scale-data.js';
import type { DaemonStart } from './xmlcurl.bench.js';

const MB = 2 ** 20;

export async function benchColdCache(ctx: BenchContext): Promise<Figure[]> {
  const users = ctx.tenants * ctx.usersPerTenant;
  const db = await freshDatabase(ctx.cluster);
  let daemon: Child | undefined;
  let loop: Child | undefined;
  try {
    const t0 = Date.now();
    const seedPool = db.appPool(4);
    await seedScale(seedPool, { tenants: ctx.tenants, usersPerTenant: ctx.usersPerTenant, parallel: 4 });
    await seedPool.end();
    // Fresh planner statistics (ANALYZE needs the owner), so the first look-ups use the indexes.
    const owner = db.ownerPool(1);
    await owner.query('ANALYZE');
    await owner.end();
    ctx.log(
      `cold: seeded ${ctx.tenants} tenants x ${ctx.usersPerTenant} users in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    daemon = await startChild('servers/daemon-http.js', layout.serverCpu, ['--expose-gc', ...profileArgs()]);
    const started = await daemon.call<DaemonStart>('start', { appUrl: db.appUrl, poolMax: ctx.poolMax });
    const idle = await daemon.call<Memory>('memory');
    const d = await generate(daemon, {
      host: '127.0.0.1',
      port: started.port,
      mode: 'close',
      connections: ctx.connections,
      source: {
        kind: 'scaled',
        fixture: FIXTURES.sipAuthRegister,
        tenants: ctx.tenants,
        usersPerTenant: ctx.usersPerTenant,
        auth: started.auth,
      },
      durationMs: Number.MAX_SAFE_INTEGER,
      requests: users,
      warmupMs: 0,
      expect: '<user ',
      keepSamples: true,
    });
    // Answers in about the order asked: the first pass over the tenants asks each tenant's first user.
    const dFirst = percentiles(d.samples!.slice(0, ctx.tenants));
    const dRest = percentiles(d.samples!.slice(ctx.tenants));
    d.samples = undefined;
    const loaded = await daemon.call<Memory>('memory');
    const cache = await daemon.call<Record<string, number>>('cacheStats').catch(() => null);
    await daemon.stop();
    daemon = undefined;

    // Bounded when the working set does not fit: the same users through a daemon keeping a quarter of them.
    const cap = Math.ceil(users / 4);
    daemon = await startChild('servers/daemon-http.js', layout.serverCpu, ['--expose-gc']);
    const second = await daemon.call<DaemonStart>('start', {
      appUrl: db.appUrl,
      poolMax: ctx.poolMax,
      env: { FS_TENANTD_USER_CACHE_MAX: String(cap) },
    });
    await generate(daemon, {
      host: '127.0.0.1',
      port: second.port,
      mode: 'close',
      connections: ctx.connections,
      source: {
        kind: 'scaled',
        fixture: FIXTURES.sipAuthRegister,
        tenants: ctx.tenants,
        usersPerTenant: ctx.usersPerTenant,
        auth: second.auth,
      },
      durationMs: Number.MAX_SAFE_INTEGER,
      requests: users,
      warmupMs: 0,
      expect: '<user ',
    });
    const capped = await daemon.call<Memory>('memory');
    const cappedCache = await daemon.call<Record<string, number>>('cacheStats');
    await daemon.stop();
    daemon = undefined;

    loop = await startChild('pg-lookup-loop.js', layout.serverCpu);
    const b = await loop.call<LookupResult>('run', {
      url: db.appUrl,
      poolMax: ctx.poolMax,
      inFlight: ctx.connections,
      tenants: ctx.tenants,
      usersPerTenant: ctx.usersPerTenant,
    });
    await loop.stop();
    loop = undefined;
    if (b.found !== users) throw new Error(`plain pg loop found ${b.found} of ${users} users`);
    const ms = (x: number) => x.toFixed(1);
    const tail = `p50 ${ms(d.p50Ms)} vs ${ms(b.p50Ms)} ms; p99 of each tenant's first user (the first ${ctx.tenants} answers) ${ms(dFirst.p99Ms)} vs ${ms(b.firstPass.p99Ms)} ms, of the rest ${ms(dRest.p99Ms)} vs ${ms(b.rest.p99Ms)} ms`;
    ctx.log(
      `cold: fs-tenantd ${Math.round(d.rps)} req/s (p99 ${d.p99Ms.toFixed(2)} ms), plain pg ${Math.round(b.rps)} lookups/s (p99 ${b.p99Ms.toFixed(2)} ms); ${tail}; RSS ${(idle.rssBytes / MB).toFixed(0)} -> ${(loaded.rssBytes / MB).toFixed(0)} MB; cache ${JSON.stringify(cache)}`,
    );

    const what = `directory sip_auth, ${users.toLocaleString('en-US')} distinct users in ${ctx.tenants} tenants, empty cache, new connection per request`;
    const baselineName = `plain pg loop: resolve_sip_domain + extension row in withTenant per user, pool ${ctx.poolMax}, ${ctx.connections} in flight`;
    return [
      figure({
        id: '2.cold.rps',
        what,
        unit: 'req/s',
        better: 'higher',
        value: d.rps,
        baseline: b.rps,
        baselineName,
        target: { on: 'ratio', op: '>=', limit: 0.5 },
        note: `each user asked once (${d.requests} requests), ${ctx.connections} connections, pool ${ctx.poolMax}; CPU share daemon ${Math.round(d.serverCpuShare * 100)}%, generator ${Math.round(d.generatorCpuShare * 100)}%`,
      }),
      figure({
        id: '2.cold.p99',
        what: `${what}: p99 latency`,
        unit: 'ms',
        better: 'lower',
        value: d.p99Ms,
        baseline: b.p99Ms,
        baselineName,
        note: tail,
      }),
      figure({
        id: '5.rss.cached-users',
        what: `daemon RSS with ${users.toLocaleString('en-US')} users cached (after GC)`,
        unit: 'MB',
        better: 'lower',
        value: loaded.rssBytes / MB,
        baseline: idle.rssBytes / MB,
        baselineName: 'the same daemon process idle, before the run',
        ...(users >= 100_000 ? { target: { on: 'value', op: '<=', limit: 250 } } : {}),
        note: `live heap ${(idle.heapUsedBytes / MB).toFixed(0)} -> ${(loaded.heapUsedBytes / MB).toFixed(0)} MB, V8 heap ${(loaded.heapTotalBytes / MB).toFixed(0)} MB`,
      }),
      figure({
        id: '5.heap.cached-users',
        what: `daemon live heap with ${users.toLocaleString('en-US')} users cached (after GC): what it retains`,
        unit: 'MB',
        better: 'lower',
        value: loaded.heapUsedBytes / MB,
        baseline: idle.heapUsedBytes / MB,
        baselineName: 'the same daemon process idle, before the run',
        note: `${((loaded.heapUsedBytes - idle.heapUsedBytes) / users / 1024).toFixed(2)} KiB per cached user`,
      }),
      figure({
        id: '5.rss.capped-users',
        what: `daemon RSS after asking the same users with room for a quarter of them (FS_TENANTD_USER_CACHE_MAX=${cap})`,
        unit: 'MB',
        better: 'lower',
        value: capped.rssBytes / MB,
        baseline: loaded.rssBytes / MB,
        baselineName: 'the daemon holding every user',
        note: `live heap ${(capped.heapUsedBytes / MB).toFixed(0)} MB, V8 heap ${(capped.heapTotalBytes / MB).toFixed(0)} MB; ${cappedCache['entries{user}']} users kept, ${cappedCache['evictions_total{user}'] ?? 0} evicted`,
      }),
    ];
  } finally {
    await loop?.stop();
    await daemon?.stop();
    await db.drop();
  }
}
