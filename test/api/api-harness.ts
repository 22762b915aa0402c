// One admin API over a fresh seeded database (acme and globex), signing keys in
// a temp dir, logs captured, metrics on a private registry.
import { type MohDisk, nodeMohDisk } from '../../daemon/moh/disk.js';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type pg from 'pg';
import { pino } from 'pino';
import client from 'prom-client';
import type { Role } from '../../daemon/auth/claims.js';
import type { JwtConfig } from '../../daemon/auth/jwt-config.js';
import { ensureLocalKeyPair } from '../../daemon/auth/local-key-pair.js';
import { mintToken, privateKeyFromPem, type MintOptions } from '../../daemon/auth/mint-token.js';
import { createTokenVerifier } from '../../daemon/auth/verify-token.js';
import type { AgentStatusChange } from '../../daemon/api/agent-status.js';
import { adminApi } from '../../daemon/api/plugin.js';
import { seedDemo } from '../../daemon/db/demo-seed.js';
import { withTenant } from '../../daemon/db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { createHttpServer } from '../../daemon/http/server.js';
import { freshDatabase, tenantIdOf, type TestDatabase } from '../helpers/postgres.js';

export interface ApiHarness {
  app: FastifyInstance;
  database: TestDatabase;
  pool: pg.Pool;
  registry: client.Registry;
  routes: RouteOptions[];
  logs: Array<Record<string, unknown>>;
  pushed: AgentStatusChange[];
  keyDir: string;
  /** FS_TENANTD_RECORDINGS_DIR of this API (under keyDir). */
  recordingsDir: string;
  /** FS_TENANTD_MOH_DIR of this harness (music-on-hold uploads). */
  mohDir: string;
  /** The music-on-hold routes' file operations: replace one to simulate a disk error (restore it after). */
  mohDisk: MohDisk;
  signingKey: KeyObject;
  tenants: { acme: TenantId; globex: TenantId };
  token(role: Role, tenant?: 'acme' | 'globex' | string, extra?: Partial<MintOptions>): Promise<string>;
  call(
    method: string,
    url: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; text: string }>;
  inTenant<T>(tenant: TenantId, fn: (db: pg.PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export { tenantIdOf };

export async function startApi(jwt: Partial<JwtConfig> = {}): Promise<ApiHarness> {
  const database = await freshDatabase();
  const pool = database.appPool(4);
  await seedDemo(pool);
  const keyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-api-'));
  const pair = await ensureLocalKeyPair(keyDir);
  const signingKey = privateKeyFromPem(await fs.readFile(pair.privateKey, 'utf8'));
  const verifier = await createTokenVerifier({
    keySource: { kind: 'local', dir: keyDir },
    algorithms: ['RS256', 'ES256'],
    issuer: undefined,
    audience: undefined,
    clockToleranceS: 5,
    ...jwt,
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(l));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const registry = new client.Registry();
  const app = createHttpServer({ logger, bodyLimitBytes: 65536 });
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    routes.push(r);
  });
  const pushed: AgentStatusChange[] = [];
  const recordingsDir = path.join(keyDir, 'recordings');
  const mohDir = path.join(keyDir, 'moh');
  const mohDisk: MohDisk = { ...nodeMohDisk };
  await app.register(adminApi, {
    recordingsDir,
    moh: { dir: mohDir, maxFileBytes: 256 * 1024, disk: mohDisk },
    pool,
    log: logger,
    verifier,
    registry,
    pushAgentStatus: async (c) => {
      pushed.push(c);
    },
  });
  await app.ready();
  const tenants = { acme: await tenantIdOf(pool, 'acme'), globex: await tenantIdOf(pool, 'globex') };
  const domains: Record<string, string> = { acme: 'acme.pbx.test', globex: 'globex.pbx.test' };

  return {
    app,
    database,
    pool,
    registry,
    routes,
    logs,
    pushed,
    keyDir,
    recordingsDir,
    mohDir,
    mohDisk,
    signingKey,
    tenants,
    token: (role, tenant, extra = {}) =>
      mintToken(signingKey, {
        sub: role === 'agent' ? '1001' : `${role}@${tenant ?? 'ops'}`,
        role,
        alg: 'ES256',
        ttlSeconds: 600,
        ...(role === 'superadmin' ? {} : { tenantSlug: tenant, sipDomain: domains[tenant!] ?? `${tenant}.pbx.test` }),
        ...extra,
      }),
    async call(method, url, opts = {}) {
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) },
        ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
      });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = res.body;
      }
      return { status: res.statusCode, body, text: res.body };
    },
    inTenant: (tenant, fn) => withTenant(pool, tenant, fn),
    async close() {
      await app.close();
      await database.drop();
      await fs.rm(keyDir, { recursive: true, force: true });
    },
  };
}

export async function counterValue(
  registry: client.Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))
    .reduce((a, v) => a + v.value, 0);
}

/** A fresh RSA key pair (RS256 tests and "signed by some other key"). */
export function rsaPair(): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

/** Tables with tenant_id and id columns (the catalog, as the isolation suite finds tenant tables). */
export async function tenantTablesWithId(db: { query: (sql: string) => Promise<{ rows: { t: string }[] }> }) {
  const { rows } = await db.query(`SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped)
    ORDER BY 1`);
  return rows.map((r) => r.t);
}
