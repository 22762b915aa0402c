// Composition root: reads configuration, opens the database, wires every module,
// starts listening, and tears everything down in order on SIGTERM/SIGINT.
import { mkdir } from 'node:fs/promises';
import { adminApi } from './api/plugin.js';
import { createCallcenterSync } from './callcenter/callcenter-sync.js';
import { eslCallcenterNode } from './callcenter/esl-node.js';
import { createChangeFeed } from './db/change-feed.js';
import { createCacheFlusher } from './esl/cache-flush.js';
import { createEslNodes } from './esl/esl-nodes.js';
import { createGatewaySync } from './esl/gateway-sync.js';
import { createMohSync } from './esl/moh-sync.js';
import { createRegistrationGuard } from './esl/registration-guard.js';
import { createCallControl } from './calls/call-control.js';
import { CallLedger } from './calls/call-ledger.js';
import { SharedAdmission } from './calls/shared-admission.js';
import { createCdrWriter } from './calls/cdr-writer.js';
import { createTokenVerifier } from './auth/verify-token.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { databaseCheck } from './db/database-readiness.js';
import { openDatabase } from './db/open-database.js';
import { instrumentPool } from './db/pool-metrics.js';
import { opsRoutes } from './http/ops-routes.js';
import { connectionsCheck, type ReadinessCheck } from './http/readiness.js';
import { createHttpServer } from './http/server.js';
import { NodeLeases } from './ha/node-leases.js';
import { createLifecycle } from './lifecycle.js';
import { createLogger } from './log.js';
import { createRegistry, TenantLabels } from './metrics.js';
import { jsonCdrPlugin } from './json-cdr/plugin.js';
import { createRecordingRetention } from './recordings/retention.js';
import { createTenantStore } from './tenants/tenant-store.js';
import { createPlatformView } from './tenants/platform-view.js';
import { createFeatureWriter } from './xml-curl/feature-writer.js';
import { aclDocument, configurationSettings } from './xml-curl/answer-fetch.js';
import { xmlCurlPlugin } from './xml-curl/plugin.js';
import { createVoicemailBoxes } from './voicemail/boxes.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`fs-tenantd: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  if (config.unknownVariables.length) {
    log.warn(
      { variables: config.unknownVariables },
      'unknown FS_TENANTD_* variables are ignored (a typo? their intended settings are not in effect)',
    );
  }
  // Signals are handled from here on, so one during start-up (initdb) still stops cleanly.
  const lifecycle = createLifecycle({ log, timeoutMs: config.shutdownTimeoutMs });
  lifecycle.handleSignals();
  const registry = createRegistry();
  // /readyz: name -> check; modules with a connection to watch add theirs (see http/readiness.ts connectionsCheck).
  const readiness = new Map<string, ReadinessCheck>();

  // Every module: created from its dependencies (subscribing to what it follows), then owned: its stop() becomes a
  // teardown step at once. Teardown runs newest first, so a module stops before anything it uses.
  const db = lifecycle.own('database', await openDatabase(config, log));
  instrumentPool(db.pool, registry);
  readiness.set('database', databaseCheck(db.pool));

  // One ESL client per FreeSWITCH node and one change feed, shared by every consumer. Both start last, below,
  // once every consumer listens.
  const eslNodes = lifecycle.own(
    'esl',
    createEslNodes({
      nodes: config.esl.nodes,
      commandTimeoutMs: config.esl.commandTimeoutMs,
      log,
      registry,
    }),
  );
  const esl = eslNodes.clients;
  readiness.set(
    'esl',
    connectionsCheck(() => eslNodes.status().nodes.map((n) => ({ name: n.node, connected: n.connected }))),
  );
  // Work done once per node (call-center reconciliation, gateway pushes, the reconciliation of a node's shared
  // slots) goes to one daemon at a time through leases in PostgreSQL; any number of daemons can run.
  const leases = new NodeLeases({
    pool: db.pool,
    log,
    registry,
    nodes: esl.map((c) => c.node),
    ttlMs: config.leases.ttlMs,
    connected: (node) => esl.find((c) => c.node === node)?.connected === true,
  });
  for (const c of esl) c.on('ready', () => leases.nudge());
  const changes = lifecycle.own('change feed', createChangeFeed({ url: db.appUrl, log, registry }));
  readiness.set('change_feed', () => ({
    ok: changes.connected,
    detail: changes.connected ? 'listening' : 'disconnected',
  }));
  // Tenant data behind xml_curl; follows the change feed (exact eviction, full reload after a resync).
  const tenants = lifecycle.own(
    'tenant cache',
    createTenantStore({
      pool: db.pool,
      log,
      registry,
      changes,
      ...config.tenantCache,
    }),
  );
  // sofia.conf, acl.conf, local_stream.conf and the gateway and hold-music syncs: every tenant, without extensions.
  const platform = lifecycle.own(
    'platform view',
    createPlatformView({ pool: db.pool, log, registry, changes, ttlMs: config.tenantCache.ttlMs }),
  );
  const tenantLabels = new TenantLabels(config.metrics.maxTenantLabels);
  // One ledger for all nodes: what is up, per tenant and direction (README "Calls: ledger, ceilings, records"). Plain state: call control
  // feeds and sweeps it.
  const ledger = new CallLedger({
    log,
    registry,
    tenantLabels,
    reservationTtlMs: config.calls.reservationTtlMs,
    downNodePolicy: config.calls.downNodePolicy,
    rejection: { sipCode: config.calls.rejectSipCode, reason: config.calls.rejectReason },
  });
  // Shared (default): the decision is one statement in PostgreSQL for every daemon; the ledger is its cache and the
  // last known state for the down policy. Local: the ledger alone decides (one daemon per cluster).
  const admission =
    config.calls.admission === 'shared'
      ? new SharedAdmission({
          pool: db.pool,
          ledger,
          log,
          reservationTtlMs: config.calls.reservationTtlMs,
          downPolicy: config.calls.downNodePolicy,
          timeoutMs: config.calls.admissionTimeoutMs,
        })
      : undefined;
  // Stopped, it spools what is still queued; hangups arriving until ESL stops go straight to the spool.
  const cdr = lifecycle.own(
    'call records',
    await createCdrWriter({
      pool: db.pool,
      log,
      registry,
      spoolDir: config.calls.cdrSpoolDir,
      queueMax: config.calls.cdrQueueMax,
    }),
  );
  lifecycle.own(
    'call control',
    createCallControl({
      clients: esl,
      ledger,
      cdr,
      log,
      sweepIntervalMs: Math.max(1000, config.calls.reservationTtlMs / 4),
      shared: admission,
      leases,
      registry,
    }),
  );
  const settings = configurationSettings({
    sipProfiles: config.sipProfiles,
    voicemail: config.voicemail,
    mohDir: config.moh.dir,
  });
  lifecycle.own(
    'cache flusher',
    createCacheFlusher({
      feed: changes,
      clients: esl,
      pool: db.pool,
      log,
      registry,
      // reloadacl only when the acl.conf we answer changed (cache-flush.ts).
      acl: () => aclDocument(platform, settings),
    }),
  );
  lifecycle.own(
    'gateway sync',
    createGatewaySync({
      feed: changes,
      clients: esl,
      tenants: () => platform.tenants(),
      log,
      registry,
      leases,
    }),
  );
  // Tenant music-on-hold streams: FreeSWITCH starts none on first use (README "Music on hold").
  lifecycle.own(
    'moh sync',
    createMohSync({
      feed: changes,
      clients: esl,
      tenants: () => platform.tenants(),
      dir: config.moh.dir,
      log,
      registry,
    }),
  );
  lifecycle.own(
    'registration guard',
    createRegistrationGuard({
      clients: esl,
      log,
      registry,
      isServedDomain: async (host) => (await tenants.headByDomain(host)) !== null,
    }),
  );
  const callcenter = lifecycle.own(
    'callcenter',
    createCallcenterSync({
      pool: db.pool,
      log,
      registry,
      tenantLabels,
      nodes: esl.map(eslCallcenterNode),
      changes,
      leases,
    }),
  );
  // FreeSWITCH creates each tenant's directory under it (switch_dir_make_recursive in record_session); the root is
  // made here so a demo works out of the box, and a root that cannot be made is said at once, not at the first call.
  await mkdir(config.recordings.dir, { recursive: true }).catch((err: unknown) =>
    log.error(
      { dir: config.recordings.dir, err },
      'recordings directory cannot be created (FS_TENANTD_RECORDINGS_DIR)',
    ),
  );
  // Uploads land here (a temporary file under .tmp/, then renamed into the stream's folder: one filesystem).
  await mkdir(`${config.moh.dir}/.tmp`, { recursive: true }).catch((err: unknown) =>
    log.error({ dir: config.moh.dir, err }, 'music-on-hold directory cannot be created (FS_TENANTD_MOH_DIR)'),
  );
  // Deletes recordings past their tenant's retention, file and row (README "Call recordings").
  lifecycle.own(
    'recording retention',
    createRecordingRetention({
      pool: db.pool,
      log,
      registry,
      recordingsDir: config.recordings.dir,
      intervalMs: config.recordings.retentionIntervalMs,
      orphanGraceMs: config.recordings.orphanGraceDays * 86_400_000,
    }),
  );
  await changes.start();
  // Read before FreeSWITCH asks for sofia.conf (it waits 2 s by default); not awaited: start-up does not depend on it.
  platform.tenants().catch((err: Error) => log.warn({ err: err.message }, 'platform view: first read failed'));
  // Before ESL starts (no lease is taken for a node without a connection); stopped (leases handed over) after it.
  await leases.start();
  lifecycle.own('node leases', { stop: () => leases.stop() });
  eslNodes.start();

  const app = createHttpServer({ logger: log, bodyLimitBytes: config.http.bodyLimitBytes });
  await app.register(opsRoutes, { registry, readiness });
  await app.register(xmlCurlPlugin, {
    admission: admission ?? ledger,
    ...config.xmlCurl,
    bodyLimitBytes: config.http.bodyLimitBytes,
    sipProfiles: config.sipProfiles,
    voicemail: config.voicemail,
    store: tenants,
    platform,
    features: createFeatureWriter(db.pool, (id) => tenants.evict(id)),
    log,
    registry,
    recordingsDir: config.recordings.dir,
    mohDir: config.moh.dir,
  });
  // FreeSWITCH's own call records (mod_json_cdr): the same nodes and credentials as xml_curl.
  await app.register(jsonCdrPlugin, {
    ...config.cdr,
    user: config.xmlCurl.user,
    password: config.xmlCurl.password,
    allowFrom: config.xmlCurl.allowFrom,
    pool: db.pool,
    log,
    registry,
    nodeOf: (switchname) => ledger.nodeOfSwitchname(switchname),
    recordingsDir: config.recordings.dir,
  });
  const verifier = await createTokenVerifier(config.jwt);
  await app.register(adminApi, {
    pool: db.pool,
    log,
    verifier,
    registry,
    voicemail: { boxes: createVoicemailBoxes(esl), dir: config.voicemail.dir },
    recordingsDir: config.recordings.dir,
    moh: config.moh,
    pushAgentStatus: async (c) => {
      await callcenter.pushAgentStatus(c.tenantId, c.extension, c.status);
    },
  });
  log.info({ keys: verifier.describe }, 'admin API at /api (OpenAPI: /api/openapi.json)');
  // Stops accepting, lets in-flight fetches finish; runs first.
  lifecycle.onShutdown('http', () => app.close());
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  log.info(
    { database: db.describe, http: address },
    `fs-tenantd listening on ${address}; point mod_xml_curl at ` +
      `${address}${config.xmlCurl.path} and mod_json_cdr at ${address}${config.cdr.path}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`fs-tenantd: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
