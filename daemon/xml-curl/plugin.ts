// POST <FS_TENANTD_XMLCURL_PATH> for mod_xml_curl: basic auth (and optional source
// allow-list) before the body is even read, strict form decoding, dispatch by
// section. Every request ends in a well-formed document or a 4xx; each is counted
// by section and outcome.
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CallAdmission } from '../calls/admission-types.js';
import { hotCounter, type MetricsRegistry } from '../metrics.js';
import type { PlatformView } from '../tenants/platform-view.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { BadFetch, type FetchRequest, parseFetch, type FormBody } from '../../xml-handlers/fetch-request.js';
import type { SofiaProfiles } from '../../xml-handlers/configuration/sofia.js';
import { NOT_FOUND, XML_CONTENT_TYPE } from '../../xml-handlers/xml.js';
import { Access } from './access.js';
import { answerFetch } from './answer-fetch.js';
import type { FeatureWriter } from './feature-writer.js';
import { parseForm } from './form-parser.js';
import { RenderedDocuments } from './rendered-documents.js';
import { xmlCurlMetrics, type RequestOutcome, type Section } from './metrics.js';

export interface XmlCurlOptions {
  path: string;
  user: string;
  password: string;
  allowFrom: readonly string[];
  cacheableMs: number;
  bodyLimitBytes: number;
  sipProfiles: SofiaProfiles;
  store: TenantStore;
  /** Every tenant's domains, trunks and streams (sofia.conf, acl.conf, local_stream.conf, gateway domains). */
  platform: PlatformView;
  log: Logger;
  registry: MetricsRegistry;
  /** The call ledger; without it calls are routed without a ceiling check. */
  admission?: CallAdmission;
  /** Stores feature codes dialled from phones (*78, *72<n>, …); without it they are refused. */
  features?: FeatureWriter;
  /** Budget for kept rendered users and routes (FS_TENANTD_XMLCURL_RENDER_CACHE_BYTES); default 8 MiB. */
  renderCacheBytes?: number;
  /** The clock time conditions are decided by (tests fix it); default the system clock. */
  now?: () => Date;
  /** mod_voicemail's box directory and shared index (FS_TENANTD_VOICEMAIL_*). */
  voicemail: { dir: string; odbcDsn: string | null };
  /** FS_TENANTD_RECORDINGS_DIR; without it the dialplan records no call. */
  recordingsDir?: string;
  /** FS_TENANTD_MOH_DIR; without it local_stream.conf serves the stock streams only. */
  mohDir?: string;
}

const SECTIONS = new Set<Section>(['directory', 'dialplan', 'configuration']);

declare module 'fastify' {
  interface FastifyRequest {
    xmlCurlSection: Section;
    /** performance.now() when the request reached the xml_curl plugin (fastify times replies only when it has a logger). */
    xmlCurlStartedAt: number;
  }
}

export const xmlCurlPlugin: FastifyPluginAsync<XmlCurlOptions> = async (app, opts) => {
  const metrics = xmlCurlMetrics(opts.registry);
  const access = new Access(opts.user, opts.password, opts.allowFrom);
  const rendered = new RenderedDocuments(opts.renderCacheBytes ?? 8 * 1024 * 1024);
  const featureRejections = hotCounter(opts.registry, {
    name: 'fs_tenantd_extension_feature_rejections_total',
    help: 'Calls and feature codes refused because of extension features (dnd, forward loop, unroutable target, …)',
    labelNames: ['reason'],
  });
  const flowRejections = hotCounter(opts.registry, {
    name: 'fs_tenantd_call_flow_rejections_total',
    help: 'Calls refused because a call flow could not be used (a node whose stored settings are unusable, a loop)',
    labelNames: ['reason'],
  });
  const deps = {
    ...opts,
    now: opts.now ?? (() => new Date()),
    rendered,
    featureRejections: (reason: string) =>
      (reason.startsWith('flow_') ? flowRejections : featureRejections)({ reason }).inc(),
  };
  // Which section a request asked for, once its body is parsed (labels its metrics).
  app.decorateRequest('xmlCurlSection', 'unknown');
  app.decorateRequest('xmlCurlStartedAt', 0);
  // Series children bound once per label set: the hot path builds no label objects or keys.
  const counters = new Map<Section, Map<RequestOutcome, { inc(): void }>>();
  const durations = new Map<Section, { observe(v: number): void }>();
  /**
   * Counts a fetch and its duration as its answer is handed over. Done here rather
   * than in an onResponse hook, which would cost every response a pair of
   * 'finish'/'error' listeners.
   */
  const count = (req: FastifyRequest, outcome: RequestOutcome) => {
    const section = req.xmlCurlSection;
    let bySection = counters.get(section);
    if (!bySection) counters.set(section, (bySection = new Map()));
    let c = bySection.get(outcome);
    if (!c) bySection.set(outcome, (c = metrics.requests({ section, outcome })));
    c.inc();
    let h = durations.get(section);
    if (!h) durations.set(section, (h = metrics.duration({ section })));
    h.observe((performance.now() - req.xmlCurlStartedAt) / 1000);
  };

  // What @fastify/formbody registers, with our strict, lazily decoding parser instead of a plain object.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: opts.bodyLimitBytes },
    (_req, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );

  // Callback-style hooks: no promise per request on the hot path. Replying ends the request (no done()).
  app.addHook('onRequest', (req, reply, done) => {
    req.xmlCurlStartedAt = performance.now();
    if (!access.sourceAllowed(() => req.ip)) {
      opts.log.warn({ ip: req.ip }, 'xml_curl: request from an address outside FS_TENANTD_XMLCURL_ALLOW_FROM');
      count(req, 'unauthorized');
      reply.code(403).send();
      return;
    }
    if (!access.authorized(req.headers.authorization)) {
      opts.log.warn({ ip: req.ip }, 'xml_curl: request without valid basic-auth credentials');
      count(req, 'unauthorized');
      reply.code(401).header('www-authenticate', 'Basic realm="fs-tenantd"').send();
      return;
    }
    done();
  });

  // Oversized bodies (413), other content types (415), broken %-encoding (400) end here.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined;
    if (status) {
      opts.log.warn({ ip: req.ip, status, err: err.message }, 'xml_curl: bad request');
      count(req, 'bad_request');
      return reply.code(status).type('text/plain').send(`${err.message}\n`);
    }
    opts.log.error({ err }, 'xml_curl: unexpected failure');
    count(req, 'error');
    return reply.code(200).type(XML_CONTENT_TYPE).send(NOT_FOUND);
  });

  // Our log lines carry what matters (ip, node, call); a pino child per fetch would only add a request id.
  app.post(opts.path, { childLoggerFactory: () => opts.log }, async (req, reply) => {
    let fetch: FetchRequest;
    try {
      fetch = parseFetch((req.body ?? new Map()) as FormBody);
    } catch (err) {
      if (!(err instanceof BadFetch)) throw err;
      opts.log.warn({ ip: req.ip, err: err.message }, 'xml_curl: unusable fetch');
      count(req, 'bad_request');
      return reply.code(400).type('text/plain').send(`${err.message}\n`);
    }
    req.xmlCurlSection = SECTIONS.has(fetch.section as Section) ? (fetch.section as Section) : 'other';
    const answer = await answerFetch(fetch, deps);
    count(req, answer.outcome);
    return reply.type(XML_CONTENT_TYPE).send(answer.xml);
  });
};
