// The mod_json_cdr endpoint on a real socket over a real database, wired as main.ts wires it,
// and the captured records (test/fixtures/freeswitch/json-cdr/) re-addressed to a test's tenants.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import { createHttpServer } from '../../daemon/http/server.js';
import { jsonCdrPlugin } from '../../daemon/json-cdr/plugin.js';
import { createRegistry, type MetricsRegistry } from '../../daemon/metrics.js';
import { projectRoot } from '../../daemon/paths.js';

export const CREDENTIALS = { user: 'freeswitch', password: 'demo-xmlcurl' };
export const BASIC = `Basic ${Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.password}`).toString('base64')}`;
export const JSON_CDR_FIXTURES = path.join(projectRoot, 'test/fixtures/freeswitch/json-cdr');

export interface CdrEndpoint {
  url: string;
  registry: MetricsRegistry;
  /** fs_tenantd_cdr_posts_total for one outcome. */
  posts(outcome: string): Promise<number>;
  close(): Promise<void>;
}

export async function startCdrEndpoint(
  pool: pg.Pool,
  opts: { allowFrom?: string[]; bodyLimitBytes?: number; recordingsDir?: string } = {},
): Promise<CdrEndpoint> {
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const registry = createRegistry();
  const app = createHttpServer({ logger: log, bodyLimitBytes: 65536 });
  await app.register(jsonCdrPlugin, {
    path: '/freeswitch/cdr',
    ...CREDENTIALS,
    allowFrom: opts.allowFrom ?? [],
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    pool,
    log,
    registry,
    nodeOf: (s) => (s === 'vm' ? 'fs1' : undefined), // the captures' switchname
    ...(opts.recordingsDir ? { recordingsDir: opts.recordingsDir } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/freeswitch/cdr`,
    registry,
    posts: async (outcome) => {
      const { values } = await registry.getSingleMetric('fs_tenantd_cdr_posts_total')!.get();
      return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    },
    close: () => app.close(),
  };
}

/** A captured record's JSON text. */
export const cdrFixture = (name: string): string => readFileSync(path.join(JSON_CDR_FIXTURES, name), 'utf8');

/**
 * The captured answered call as another call of `tenant` (new uuid unless given): what mod_json_cdr would post.
 * `tenant: null` removes the daemon's tenant variables (a call refused before the dialplan).
 */
export function cdrFor(
  tenant: string | null,
  uuid: string = randomUUID(),
  name = 'answered-acme-1000-to-1001.cdr.json',
) {
  const doc = JSON.parse(cdrFixture(name));
  if (tenant === null) {
    delete doc.variables.fs_tenant_id;
    delete doc.variables.fs_tenant_slug;
  } else {
    doc.variables.fs_tenant_id = tenant;
  }
  doc.variables.uuid = uuid;
  doc.variables.call_uuid = uuid;
  doc.callflow[0].caller_profile.uuid = uuid;
  return { uuid, body: JSON.stringify(doc), doc };
}

/** POSTs as mod_json_cdr does (`<url>?uuid=<uuid>`, basic auth, raw JSON). */
export async function postCdr(
  url: string,
  body: string,
  o: { uuid?: string; type?: string; auth?: string | null } = {},
) {
  const headers: Record<string, string> = {
    'content-type': o.type ?? 'application/json',
    'user-agent': 'freeswitch-json/1.0',
  };
  if (o.auth !== null) headers.authorization = o.auth ?? BASIC;
  const res = await fetch(o.uuid ? `${url}?uuid=${o.uuid}` : url, { method: 'POST', headers, body });
  return { status: res.status, text: (await res.text()).trim(), headers: res.headers };
}
