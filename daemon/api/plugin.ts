// The admin API as one fastify plugin: authentication and role checks
// (onRequest), the routes under /api, /security/isolation-proof, the OpenAPI
// document at /api/openapi.json, one error format, and its metrics.
import type { FastifyError, FastifyInstance, RouteOptions } from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { Role } from '../auth/claims.js';
import type { TokenVerifier } from '../auth/verify-token.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import type { PushAgentStatus } from './agent-status.js';
import { authenticate, AuthFailure } from './authenticate.js';
import { ApiError, forbidden, fromPgError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { registerResource } from './resource.js';
import { voicemailRoutes } from './routes/voicemail.js';
import type { VoicemailBoxes } from '../voicemail/boxes.js';
import { agents } from './resources/agents.js';
import { callFlowNodes } from './resources/call-flow-nodes.js';
import { menuChoices } from './resources/menu-choices.js';
import { dids } from './resources/dids.js';
import { extensions } from './resources/extensions.js';
import { outboundRoutes } from './resources/outbound-routes.js';
import { queues } from './resources/queues.js';
import { mohStreams } from './resources/moh-streams.js';
import { recordingRules } from './resources/recording-rules.js';
import { tiers } from './resources/tiers.js';
import { trunks } from './resources/trunks.js';
import './route-config.js';
import { auditRoutes } from './routes/audit.js';
import { callRoutes } from './routes/calls.js';
import { featureRoutes } from './routes/features.js';
import { isolationProofRoute } from './routes/isolation-proof.js';
import { meRoutes } from './routes/me.js';
import { mohRoutes } from './routes/moh.js';
import type { MohDisk } from '../moh/disk.js';
import { recordingRoutes } from './routes/recordings.js';
import { sipDomainRoutes } from './routes/sip-domains.js';
import { tenantRoutes } from './routes/tenant.js';
import { tenantsRoutes } from './routes/tenants.js';
import { usageRoutes } from './routes/usage.js';

export interface AdminApiOptions {
  pool: pg.Pool;
  log: Logger;
  verifier: TokenVerifier;
  registry: MetricsRegistry;
  /** Pushes an agent's new status to FreeSWITCH (call-center module); without it only the database changes. */
  pushAgentStatus?: PushAgentStatus;
  /** mod_voicemail's messages over ESL and the box root (FS_TENANTD_VOICEMAIL_DIR); without it no voicemail routes. */
  voicemail?: { boxes: VoicemailBoxes; dir: string };
  /** FS_TENANTD_RECORDINGS_DIR: recordings are downloaded and deleted there; without it those routes answer 503. */
  recordingsDir?: string;
  /** Music on hold (FS_TENANTD_MOH_DIR, FS_TENANTD_MOH_MAX_FILE_BYTES); without it no file routes (streams only). */
  moh?: { dir: string; maxFileBytes: number; disk?: MohDisk };
}

function allowed(roles: readonly Role[] | undefined, role: Role): boolean {
  if (!roles) return false; // a route that names no roles is closed
  // A superadmin may use every tenant_admin route; without X-Tenant-Id they answer 400 (no tenant, no data). A
  // reseller admin is its own account's admin, and with X-Tenant-Id the admin of an account of its subtree.
  return (
    roles.includes(role) || ((role === 'superadmin' || role === 'reseller_admin') && roles.includes('tenant_admin'))
  );
}

export async function adminApi(app: FastifyInstance, opts: AdminApiOptions): Promise<void> {
  const { pool, verifier, registry } = opts;
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    if (!r.url.startsWith('/api/openapi')) routes.push(r);
  });

  const authFailures = metric(
    registry,
    'fs_tenantd_api_auth_failures_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_api_auth_failures_total',
        help: 'Admin API requests refused for their bearer token, by reason.',
        labelNames: ['reason'],
        registers: [registry],
      }),
  );
  const requests = metric(
    registry,
    'fs_tenantd_api_requests_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_api_requests_total',
        help: 'Admin API responses by method, route template and status.',
        labelNames: ['method', 'route', 'status'],
        registers: [registry],
      }),
  );

  const push: PushAgentStatus = async (change) => {
    if (!opts.pushAgentStatus) return;
    // The status is committed; a failed push is repaired by the call-center reconciliation, so log rather than fail the request.
    await opts
      .pushAgentStatus(change)
      .catch((err: unknown) =>
        opts.log.warn(
          { err, agentId: change.agentId, tenant: change.tenantSlug },
          'agent status saved but not pushed to FreeSWITCH',
        ),
      );
  };

  app.decorateRequest('apiScope', null);

  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.public) return;
    const scope = await authenticate(pool, verifier, req.headers);
    req.apiScope = scope;
    const role: Role = scope.kind === 'operator' ? 'superadmin' : scope.role;
    if (!req.is404 && !allowed(req.routeOptions.config.roles, role))
      throw forbidden(`role ${role} may not use this route`);
  });

  app.addHook('onResponse', async (req, reply) => {
    requests.inc({
      method: req.method,
      route: req.is404 ? 'unmatched' : (req.routeOptions.url ?? 'unmatched'),
      status: String(reply.statusCode),
    });
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const scope = req.apiScope;
    const who = scope
      ? {
          sub: scope.principal.sub,
          role: scope.principal.role,
          tenant: scope.kind === 'tenant' ? scope.tenantSlug : null,
        }
      : undefined;
    if (err instanceof AuthFailure) {
      authFailures.inc({ reason: err.reason });
      req.log.warn(
        { reason: err.reason, detail: err.detail, ip: req.ip, url: req.url },
        'admin API authentication failed',
      );
      const status = err.reason === 'key_unavailable' ? 503 : 401;
      return reply
        .code(status)
        .header('www-authenticate', 'Bearer')
        .send({ statusCode: status, error: status === 401 ? 'unauthorized' : 'unavailable', message: err.message });
    }
    let apiErr: ApiError | undefined;
    if (err instanceof ApiError) apiErr = err;
    else if (err.validation) apiErr = new ApiError(400, 'bad_request', err.message);
    else
      apiErr =
        fromPgError(err) ??
        (err.statusCode && err.statusCode >= 400 && err.statusCode < 500
          ? new ApiError(err.statusCode, 'bad_request', err.message)
          : undefined);
    if (!apiErr) {
      req.log.error({ err, who, url: req.url }, 'admin API request failed');
      return reply.code(500).send({ statusCode: 500, error: 'internal', message: 'internal error' });
    }
    req.log[apiErr.statusCode === 404 ? 'info' : 'warn'](
      { who, url: req.url, method: req.method, status: apiErr.statusCode, problem: apiErr.message },
      'admin API request refused',
    );
    return reply
      .code(apiErr.statusCode)
      .send({ statusCode: apiErr.statusCode, error: apiErr.error, message: apiErr.message });
  });

  await app.register(
    async (api) => {
      for (const def of [
        extensions,
        dids,
        trunks,
        outboundRoutes,
        queues,
        agents(push),
        tiers,
        callFlowNodes,
        menuChoices,
        recordingRules,
        mohStreams,
      ])
        registerResource(api, pool, def);
      featureRoutes(api, pool);
      if (opts.voicemail) voicemailRoutes(api, pool, opts.voicemail.boxes, opts.voicemail.dir);
      tenantRoutes(api, pool);
      sipDomainRoutes(api, pool);
      meRoutes(api, pool, push);
      callRoutes(api, pool);
      auditRoutes(api, pool);
      usageRoutes(api, pool);
      recordingRoutes(api, { pool, log: opts.log, registry, recordingsDir: opts.recordingsDir });
      if (opts.moh) mohRoutes(api, { pool, log: opts.log, registry, moh: opts.moh });
      tenantsRoutes(api, pool);
      api.get('/openapi.json', { config: { public: true } }, async () =>
        openApiDocument(routes, { title: 'fs-tenantd admin API', version: '1' }),
      );
      api.setNotFoundHandler(async (req, reply) =>
        reply
          .code(404)
          .send({ statusCode: 404, error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
      );
    },
    { prefix: '/api' },
  );
  isolationProofRoute(app, pool);
}
