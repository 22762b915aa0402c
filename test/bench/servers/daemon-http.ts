// The daemon's xml_curl endpoint in a process of its own (the server slot of the
// layout), built from the same modules and the same configuration defaults the
// composition root uses: config from the environment, instrumented pool, tenant
// store following the change feed, the HTTP server and the xml_curl plugin.
// No call ledger: dialplan answers route without a ceiling check (item 4
// measures admission on its own). With `feedConsumers` (the bulk item) it also runs the FreeSWITCH cache flusher
// (no ESL node: its database look-ups still run, as they do per change in a daemon) and counts the change events, the
// SQL it sends and the full snapshot loads.
import pg from 'pg';
import { loadConfig } from '../../../daemon/config.js';
import { createChangeFeed, type ChangeEvent } from '../../../daemon/db/change-feed.js';
import { createPool } from '../../../daemon/db/open-database.js';
import { instrumentPool } from '../../../daemon/db/pool-metrics.js';
import { createHttpServer } from '../../../daemon/http/server.js';
import { createLogger } from '../../../daemon/log.js';
import { createCacheFlusher, type CacheFlusher } from '../../../daemon/esl/cache-flush.js';
import { createRegistry } from '../../../daemon/metrics.js';
import { TenantStore } from '../../../daemon/tenants/tenant-store.js';
import { asTenantId } from '../../../xml-handlers/model.js';
import { PlatformView } from '../../../daemon/tenants/platform-view.js';
import { xmlCurlPlugin } from '../../../daemon/xml-curl/plugin.js';
import { cpuSeconds, serveCalls } from '../processes.js';

let stop = async (): Promise<void> => undefined;
const registry = createRegistry();
let store: TenantStore | undefined;
let flusher: CacheFlusher | undefined;
/** Sentinel notifications (table SENTINEL, id = a token) seen, and who waits for one. */
const SENTINEL = '_bench_sentinel'; // bulk.bench.ts sends it
const sentinels = new Set<string>();
const waiting = new Map<string, () => void>();
const counts = { changes: 0, queries: 0, fullLoads: 0, rowReads: 0 };

/** Counts every statement this process sends, and which of them load a whole snapshot or re-read rows. */
function countQueries(): void {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    const text = typeof a[0] === 'string' ? a[0] : (a[0] as { text?: string } | undefined)?.text;
    if (typeof text === 'string') {
      counts.queries++;
      if (text.includes("'dids', (SELECT")) counts.fullLoads++;
      if (text.includes('FROM extensions x WHERE x.id = ANY')) counts.rowReads++;
    }
    return query.apply(this, a);
  };
}

serveCalls(
  {
    /** warm: the pool's connections are opened first, as a daemon that has been running holds them. */
    start: async (args: {
      appUrl: string;
      poolMax: number;
      warm?: boolean;
      env?: Record<string, string>;
      feedConsumers?: boolean;
    }) => {
      if (args.feedConsumers) countQueries();
      const config = loadConfig({
        ...process.env,
        ...args.env,
        DATABASE_URL: args.appUrl,
        FS_TENANTD_DB_POOL_MAX: String(args.poolMax),
        FS_TENANTD_LOG_LEVEL: process.env.FS_TENANTD_LOG_LEVEL ?? 'warn',
        FS_TENANTD_ESL_NODES: 'none',
      });
      const log = createLogger(config.logLevel);
      const pool = createPool(args.appUrl, config.poolMax);
      instrumentPool(pool, registry);
      if (args.warm) await Promise.all(Array.from({ length: config.poolMax }, () => pool.query('SELECT 1')));
      store = new TenantStore({ pool, log, registry, ...config.tenantCache });
      const feed = createChangeFeed({ url: args.appUrl, log, registry });
      store.attach(feed);
      if (args.feedConsumers) {
        flusher = createCacheFlusher({ feed, clients: [], pool, log, registry });
        feed.on('change', (e: ChangeEvent) => {
          if (e.table !== SENTINEL) counts.changes++;
          else if (e.id) {
            sentinels.add(e.id);
            waiting.get(e.id)?.();
          }
        });
      }
      const platform = new PlatformView({ pool, log, registry, ttlMs: config.tenantCache.ttlMs });
      platform.attach(feed);
      await feed.start();
      const app = createHttpServer({ logger: log, bodyLimitBytes: config.http.bodyLimitBytes });
      await app.register(xmlCurlPlugin, {
        ...config.xmlCurl,
        bodyLimitBytes: config.http.bodyLimitBytes,
        sipProfiles: config.sipProfiles,
        voicemail: config.voicemail,
        store,
        platform,
        log,
        registry,
      });
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      stop = async () => {
        flusher?.stop();
        await app.close();
        await feed.stop();
        await pool.end();
      };
      return {
        port: Number(new URL(address).port),
        auth: { user: config.xmlCurl.user, password: config.xmlCurl.password },
        tenantCache: config.tenantCache,
      };
    },
    /** Counters of the change feed's consumers (feedConsumers), and this process's CPU seconds. */
    feedStats: () => ({ ...counts, cpuS: cpuSeconds() }),
    /** Resolves once the sentinel `token` came through the feed (after all earlier commits) and the flusher is idle. */
    drain: async (args: { token: string }) => {
      if (!sentinels.has(args.token)) await new Promise<void>((r) => waiting.set(args.token, r));
      waiting.delete(args.token);
      await flusher?.idle();
      return { ...counts, cpuS: cpuSeconds() };
    },
    /** One full reload of a tenant's snapshot: CPU and wall milliseconds. */
    reload: async (args: { tenantId: string }) => {
      const id = asTenantId(args.tenantId);
      store!.evict(id);
      const cpu0 = cpuSeconds();
      const t0 = performance.now();
      await store!.byId(id);
      return { cpuMs: (cpuSeconds() - cpu0) * 1000, wallMs: performance.now() - t0 };
    },
    /** The tenant cache series (entries, hits, misses, evictions) as prom-client reports them. */
    cacheStats: async () => {
      const out: Record<string, number> = {};
      for (const name of [
        'fs_tenantd_tenant_cache_entries',
        'fs_tenantd_tenant_cache_hits_total',
        'fs_tenantd_tenant_cache_misses_total',
        'fs_tenantd_tenant_cache_evictions_total',
      ]) {
        const m = await registry.getSingleMetric(name)?.get();
        for (const v of m?.values ?? [])
          out[`${name.replace('fs_tenantd_tenant_cache_', '')}{${v.labels.cache}}`] = v.value;
      }
      return out;
    },
  },
  () => stop(),
);
