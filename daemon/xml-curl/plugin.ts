// POST <FS_TENANTD_XMLCURL_PATH> for mod_xml_curl: basic auth (and optional source
// allow-list) before the body is even read, strict form decoding, dispatch by
// section. Every request ends in a well-formed document or a 4xx; each is counted
// by section and outcome.
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CallAdmission } from '../calls/admission-types.js';
import type { MetricsRegistry } from '../metrics.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { BadFetch, parseFetch, type FormBody } from '../../xml-handlers/fetch-request.js';
import type { SofiaProfiles } from '../../xml-handlers/configuration/sofia.js';
import { NOT_FOUND, XML_CONTENT_TYPE } from '../../xml-handlers/xml.js';
import { Access } from './access.js';
import { answerFetch } from './answer-fetch.js';
import { parseForm } from './form-parser.js';
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
  log: Logger;
  registry: MetricsRegistry;
  /** The call ledger; without it calls are routed without a ceiling check. */
  admission?: CallAdmission;
}

const SECTIONS = new Set<Section>(['directory', 'dialplan', 'configuration']);

export const xmlCurlPlugin: FastifyPluginAsync<XmlCurlOptions> = async (app, opts) => {
  const metrics = xmlCurlMetrics(opts.registry);
  const access = new Access(opts.user, opts.password, opts.allowFrom);
  const sectionOf = new WeakMap<FastifyRequest, Section>();
  const count = (req: FastifyRequest, outcome: RequestOutcome) =>
    metrics.requests.inc({ section: sectionOf.get(req) ?? 'unknown', outcome });

  await app.register(formbody, { parser: parseForm, bodyLimit: opts.bodyLimitBytes });

  app.addHook('onRequest', async (req, reply) => {
    if (!access.sourceAllowed(req.ip)) {
      opts.log.warn({ ip: req.ip }, 'xml_curl: request from an address outside FS_TENANTD_XMLCURL_ALLOW_FROM');
      count(req, 'unauthorized');
      return reply.code(403).send();
    }
    if (!access.authorized(req.headers.authorization)) {
      opts.log.warn({ ip: req.ip }, 'xml_curl: request without valid basic-auth credentials');
      count(req, 'unauthorized');
      return reply.code(401).header('www-authenticate', 'Basic realm="fs-tenantd"').send();
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.duration.observe({ section: sectionOf.get(req) ?? 'unknown' }, reply.elapsedTime / 1000);
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

  app.post(opts.path, async (req, reply) => {
    let fetch;
    try {
      fetch = parseFetch((req.body ?? {}) as FormBody);
    } catch (err) {
      if (!(err instanceof BadFetch)) throw err;
      opts.log.warn({ ip: req.ip, err: err.message }, 'xml_curl: unusable fetch');
      count(req, 'bad_request');
      return reply.code(400).type('text/plain').send(`${err.message}\n`);
    }
    sectionOf.set(req, SECTIONS.has(fetch.section as Section) ? fetch.section as Section : 'other');
    const answer = await answerFetch(fetch, opts);
    count(req, answer.outcome);
    return reply.type(XML_CONTENT_TYPE).send(answer.xml);
  });
};
