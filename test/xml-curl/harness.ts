// One xml_curl endpoint on a real socket over a real (seeded) database, wired as
// main.ts wires it; suites build one per database they create.
import pg from 'pg';
import { pino } from 'pino';
import { createChangeFeed, type ChangeFeed } from '../../daemon/db/change-feed.js';
import type { CallAdmission } from '../../daemon/calls/admission-types.js';
import { createHttpServer } from '../../daemon/http/server.js';
import { createRegistry, type MetricsRegistry } from '../../daemon/metrics.js';
import { PlatformView } from '../../daemon/tenants/platform-view.js';
import { TenantStore } from '../../daemon/tenants/tenant-store.js';
import { xmlCurlPlugin } from '../../daemon/xml-curl/plugin.js';
import type { Target } from '../helpers/xml-curl-client.js';

export const CREDENTIALS = { user: 'freeswitch', password: 'demo-xmlcurl' };
export const SIP_PROFILES = { internal: { ip: '127.0.0.1', port: 5060 }, external: { ip: '127.0.0.1', port: 5080 } };

export interface Endpoint {
  target: Target;
  store: TenantStore;
  platform: PlatformView;
  registry: MetricsRegistry;
  close(): Promise<void>;
  /** Current value of one series, 0 if absent. */
  value(metric: string, labels: Record<string, string>): Promise<number>;
}

export interface EndpointOptions {
  admission?: CallAdmission;
  cacheableMs?: number;
  ttlMs?: number;
  bodyLimitBytes?: number;
  allowFrom?: string[];
  now?: () => number;
}

export async function startEndpoint(pool: pg.Pool, opts: EndpointOptions = {}): Promise<Endpoint> {
  const log = pino({ level: 'silent' });
  const registry = createRegistry();
  const store = new TenantStore({
    pool,
    log,
    registry,
    ttlMs: opts.ttlMs ?? 300_000,
    maxTenants: 100,
    maxUsers: 1000,
    maxNegative: 50,
    negativeTtlMs: 60_000,
    now: opts.now,
  });
  const platform = new PlatformView({ pool, log, registry, ttlMs: opts.ttlMs ?? 300_000, now: opts.now });
  const app = createHttpServer({ logger: log, bodyLimitBytes: opts.bodyLimitBytes ?? 65536 });
  await app.register(xmlCurlPlugin, {
    path: '/freeswitch/xml',
    ...CREDENTIALS,
    allowFrom: opts.allowFrom ?? [],
    cacheableMs: opts.cacheableMs ?? 60_000,
    bodyLimitBytes: opts.bodyLimitBytes ?? 65536,
    sipProfiles: SIP_PROFILES,
    voicemail: { dir: '/srv/fs-tenantd/voicemail', odbcDsn: null },
    mohDir: '/srv/fs-tenantd/moh',
    store,
    platform,
    log,
    registry,
    admission: opts.admission,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    target: { host: '127.0.0.1', port, ...CREDENTIALS },
    store,
    platform,
    registry,
    close: () => app.close(),
    value: async (name, labels) => {
      const m = registry.getSingleMetric(name);
      if (!m) return 0;
      const { values } = await m.get();
      const hit = values.find((v) =>
        Object.entries(labels).every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val),
      );
      return hit?.value ?? 0;
    },
  };
}

/** The demo tenants' ids (they are random per seed). */
export async function tenantIds(pool: pg.Pool): Promise<{ acme: string; globex: string }> {
  const { rows } = await pool.query<{ tenant_id: string; tenant_slug: string }>(
    'SELECT tenant_id, tenant_slug FROM list_tenants()',
  );
  const id = (slug: string) => rows.find((r) => r.tenant_slug === slug)!.tenant_id;
  return { acme: id('acme'), globex: id('globex') };
}

/** A real change feed on `url`, followed through `attach` (a store, the platform view), started and in sync. */
export async function followChanges(
  url: string,
  registry: MetricsRegistry,
  attach: (feed: ChangeFeed) => () => void,
): Promise<{ feed: ChangeFeed; stop(): Promise<void> }> {
  const feed = createChangeFeed({ url, log: pino({ level: 'silent' }), registry, minBackoffMs: 50, maxBackoffMs: 200 });
  const detach = attach(feed);
  const synced = new Promise<void>((r) => feed.once('resync', () => r()));
  await feed.start();
  await synced;
  return {
    feed,
    stop: async () => {
      detach();
      await feed.stop();
    },
  };
}

/** Every statement any pg client of this process sends from now on (the serving pool's among them). */
export function recordStatements(): string[] {
  const ran: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...a: unknown[]) {
    if (typeof a[0] === 'string') ran.push(a[0]);
    return query.apply(this, a);
  };
  return ran;
}
