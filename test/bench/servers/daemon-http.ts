// The daemon's xml_curl endpoint in a process of its own (the server slot of the
// layout), built from the same modules and the same configuration defaults the
// composition root uses: config from the environment, instrumented pool, tenant
// store following the change feed, the HTTP server and the xml_curl plugin.
// No call ledger: dialplan answers route without a ceiling check (item 4
// measures admission on its own).
import { loadConfig } from '../../../daemon/config.js';
import { createChangeFeed } from '../../../daemon/db/change-feed.js';
import { createPool } from '../../../daemon/db/open-database.js';
import { instrumentPool } from '../../../daemon/db/pool-metrics.js';
import { createHttpServer } from '../../../daemon/http/server.js';
import { createLogger } from '../../../daemon/log.js';
import { createRegistry } from '../../../daemon/metrics.js';
import { TenantStore } from '../../../daemon/tenants/tenant-store.js';
import { PlatformView } from '../../../daemon/tenants/platform-view.js';
import { xmlCurlPlugin } from '../../../daemon/xml-curl/plugin.js';
import { serveCalls } from '../processes.js';

let stop = async (): Promise<void> => undefined;
const registry = createRegistry();

serveCalls(
  {
    start: async (args: { appUrl: string; poolMax: number }) => {
      const config = loadConfig({
        ...process.env,
        DATABASE_URL: args.appUrl,
        FS_TENANTD_DB_POOL_MAX: String(args.poolMax),
        FS_TENANTD_LOG_LEVEL: process.env.FS_TENANTD_LOG_LEVEL ?? 'warn',
        FS_TENANTD_ESL_NODES: 'none',
      });
      const log = createLogger(config.logLevel);
      const pool = createPool(args.appUrl, config.poolMax);
      instrumentPool(pool, registry);
      const store = new TenantStore({ pool, log, registry, ...config.tenantCache });
      const feed = createChangeFeed({ url: args.appUrl, log, registry });
      store.attach(feed);
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
