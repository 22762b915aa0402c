// Answers one parsed fetch: looks up what it needs in the tenant store (the only
// I/O), asks the call ledger for a slot before routing a call, and hands the
// rest to the pure renderers in xml-handlers/.
import type { Logger } from 'pino';
import type { CallAdmission } from '../calls/admission-types.js';
import type { Trace } from '../tenants/loading-cache.js';
import type { PlatformView } from '../tenants/platform-view.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { ConfigurationAnswer, ConfigurationSettings } from '../../xml-handlers/configuration/file.js';
import {
  configurationFile,
  type ConfigurationRequest,
  type ServedRequest,
} from '../../xml-handlers/configuration/index.js';
import type { SofiaProfiles } from '../../xml-handlers/configuration/sofia.js';
import {
  PUBLIC_CONTEXT,
  decidePublicCall,
  decideTenantCall,
  didKey,
  renderRejection,
  renderRoute,
  type DialplanDecision,
} from '../../xml-handlers/dialplan/index.js';
import { renderFeatureDone } from '../../xml-handlers/dialplan/feature-codes.js';
import { decideUser, renderGatewayDomains, renderNetworkListDomain, renderUser } from '../../xml-handlers/directory.js';
import {
  sipDomain,
  type DialplanRequest,
  type DirectoryRequest,
  type FetchRequest,
} from '../../xml-handlers/fetch-request.js';
import { NO_SUCH_ENTRY, NOT_FOUND } from '../../xml-handlers/xml.js';
import type { FeatureWriter } from './feature-writer.js';
import type { RenderedDocuments } from './rendered-documents.js';

export type Outcome = 'hit' | 'miss' | 'not_found' | 'error';

export interface Answer {
  xml: string;
  outcome: Outcome;
}

export interface AnswerDeps {
  store: TenantStore;
  /** Every tenant's domains, trunks and streams, for the platform-wide answers (sofia.conf, acl.conf, ...). */
  platform: PlatformDocuments;
  log: Logger;
  cacheableMs: number;
  sipProfiles: SofiaProfiles;
  admission?: CallAdmission;
  rendered: RenderedDocuments;
  /** Stores feature codes dialled from phones; without it they are refused. */
  features?: FeatureWriter;
  /** Counts calls refused because of an extension's features or an unusable call flow (see plugin.ts). */
  featureRejections?: (reason: string) => void;
  /** The clock time conditions are decided by. */
  now: () => Date;
  voicemail: { dir: string; odbcDsn: string | null };
  /** FS_TENANTD_RECORDINGS_DIR: where recorded calls are written (xml-handlers/dialplan/record-call.ts). */
  recordingsDir?: string;
  /** FS_TENANTD_MOH_DIR: tenant music-on-hold streams in local_stream.conf (README "Music on hold"). */
  mohDir?: string;
}

export type PlatformDocuments = Pick<PlatformView, 'tenants' | 'document' | 'fragment'>;

/**
 * A file rendered from every tenant (`needs` 'platform'), kept until the view changes; a file that renders per tenant
 * is assembled from parts the view keeps per tenant, so a trunk change re-renders one tenant's part (20,000 tenants'
 * gateways took seconds to build). The parsed request is everything else the answer depends on (file.ts).
 */
export function platformFile(
  platform: PlatformDocuments,
  req: ServedRequest,
  settings: ConfigurationSettings,
  trace?: Trace,
): Promise<ConfigurationAnswer | undefined> {
  const file = configurationFile(req);
  const parts = file.perTenant;
  return platform.document(
    `conf|${JSON.stringify(req)}`,
    (all) =>
      parts
        ? parts.assemble(
            req,
            all
              .filter((t) => parts.reads?.(req, t) ?? true)
              .map((t) => platform.fragment(file.name, t, parts.fragment)),
            settings,
          )
        : file.render(req, all, settings),
    trace,
  );
}

/** What configuration files render from besides tenant data. */
export const configurationSettings = (
  deps: Pick<AnswerDeps, 'sipProfiles' | 'voicemail' | 'mohDir'>,
): ConfigurationSettings => ({
  sipProfiles: deps.sipProfiles,
  voicemail: deps.voicemail,
  ...(deps.mohDir ? { moh: { dir: deps.mohDir } } : {}),
});

/** The acl.conf this daemon answers now (daemon/esl/cache-flush.ts sends reloadacl when it changes). */
export async function aclDocument(platform: PlatformDocuments, settings: ConfigurationSettings): Promise<string> {
  return (await platformFile(platform, { file: 'acl.conf' }, settings))!.xml;
}

const found = (xml: string, trace: Trace): Answer => ({ xml, outcome: trace.loads > 0 ? 'miss' : 'hit' });
const notFound: Answer = { xml: NOT_FOUND, outcome: 'not_found' };
/**
 * A user or domain that does not exist (or may not be served): final, so no other binding is asked
 * (xml-handlers/xml.ts NO_SUCH_ENTRY). Every daemon reads the same database, so asking the next one could
 * only cost a second request, or answer from an older cache.
 */
const noSuchEntry: Answer = { xml: NO_SUCH_ENTRY, outcome: 'not_found' };

async function directory(req: DirectoryRequest, deps: AnswerDeps, trace: Trace): Promise<Answer> {
  switch (req.kind) {
    case 'sip_auth':
    case 'user_call':
    case 'message-count':
    case 'voicemail-lookup': {
      const d = decideUser(req, await deps.store.user(req.domain, req.user, trace));
      if (d.kind === 'not_found') {
        deps.log.debug(
          { domain: req.domain, user: req.user, action: req.kind, reason: d.reason },
          'xml_curl directory: not found',
        );
        return noSuchEntry;
      }
      // The hash and the cacheable attribute depend on the request's spelling of the domain, not only on the user.
      const key = `user|${d.domain}|${d.extension.number}|${d.withHash ? 'h' : '-'}${d.cacheable ? 'c' : '-'}`;
      const xml = deps.rendered.get([d.tenant, d.extension], key, () =>
        renderUser(d, { cacheableMs: deps.cacheableMs, voicemailDir: deps.voicemail.dir }),
      );
      return found(xml, trace);
    }
    case 'gateways': {
      const xml = await deps.platform.document(
        'directory|gateways',
        (all) => renderGatewayDomains(all.filter((t) => t.status === 'active').flatMap((t) => t.domains)),
        trace,
      );
      return found(xml, trace);
    }
    case 'network-list': {
      const t = await deps.store.headByDomain(req.domain, trace);
      return t?.status === 'active' ? found(renderNetworkListDomain(req.domain), trace) : noSuchEntry;
    }
    case 'unsupported':
      return req.final ? noSuchEntry : notFound;
  }
}

async function decideCall(req: DialplanRequest, deps: AnswerDeps, trace: Trace): Promise<DialplanDecision> {
  if (req.context === PUBLIC_CONTEXT) {
    const e164 = didKey(req.destination);
    if (!e164)
      return {
        kind: 'reject',
        tenant: null,
        known: false,
        rejection: { sipCode: 404, reason: 'Not Found', detail: 'destination is not an E.164 number' },
      };
    return decidePublicCall(req, await deps.store.byDid(e164, trace), e164, deps.now());
  }
  const domain = sipDomain(req.context);
  if (!domain)
    return {
      kind: 'reject',
      tenant: null,
      known: false,
      rejection: { sipCode: 404, reason: 'Not Found', detail: 'context is neither public nor a SIP domain' },
    };
  return decideTenantCall(req, await deps.store.byDomain(domain, trace), deps.now());
}

async function dialplan(req: DialplanRequest, node: string, deps: AnswerDeps, trace: Trace): Promise<Answer> {
  const decision = await decideCall(req, deps, trace);
  const ctx = { callUuid: req.callUuid, context: req.context, destination: req.destination, node };
  if (decision.kind === 'reject') {
    const { rejection, tenant } = decision;
    deps.log.info(
      { ...ctx, tenant: tenant?.slug, sipCode: rejection.sipCode, reason: rejection.detail },
      'xml_curl dialplan: call rejected',
    );
    if (rejection.feature) deps.featureRejections?.(rejection.feature);
    const xml = renderRejection(req.context, rejection);
    return decision.known ? found(xml, trace) : { xml, outcome: 'not_found' };
  }
  const contextName = req.context === PUBLIC_CONTEXT ? PUBLIC_CONTEXT : (sipDomain(req.context) ?? req.context);
  if (decision.kind === 'feature') return featureCode(req, decision, contextName, deps, trace, ctx);
  const { tenant, direction } = decision;
  if (deps.admission) {
    const verdict = await deps.admission.admit({
      tenantId: tenant.id,
      tenantSlug: tenant.slug,
      callUuid: req.callUuid,
      direction,
      ceilings: tenant.ceilings,
      ancestors: tenant.ancestors,
      node,
    });
    if (!verdict.admitted) {
      deps.log.warn(
        { ...ctx, tenant: tenant.slug, direction, sipCode: verdict.sipCode, reason: verdict.reason },
        'xml_curl dialplan: call refused by admission',
      );
      return found(
        renderRejection(contextName, { sipCode: verdict.sipCode, reason: verdict.reason, detail: 'admission' }),
        trace,
      );
    }
  }
  // Everything the route document depends on besides the snapshot (the call's uuid is not in it: a recording's
  // path names it as ${uuid}). Whether the call is recorded can depend on the calling extension, so it is part of
  // the key.
  const key = `route|${contextName}|${direction}|${decision.record ? 'rec|' : ''}${JSON.stringify(decision.target)}`;
  if (decision.record && !deps.recordingsDir) deps.log.warn(ctx, 'xml_curl dialplan: recording wanted, no directory');
  return found(
    deps.rendered.get([tenant], key, () => renderRoute(contextName, decision, { recordingsDir: deps.recordingsDir })),
    trace,
  );
}

async function featureCode(
  req: DialplanRequest,
  d: Extract<DialplanDecision, { kind: 'feature' }>,
  contextName: string,
  deps: AnswerDeps,
  trace: Trace,
  ctx: Record<string, string>,
): Promise<Answer> {
  const log = { ...ctx, tenant: d.tenant.slug, extension: d.extension, code: d.change.code };
  let applied = false;
  try {
    applied =
      (await deps.features?.apply({
        tenantId: d.tenant.id,
        extension: d.extension,
        change: d.change,
        callUuid: req.callUuid,
      })) === true;
  } catch (err) {
    deps.log.warn({ ...log, err }, 'xml_curl dialplan: feature code not stored');
  }
  if (!applied) {
    deps.featureRejections?.('feature_code_not_stored');
    return found(
      renderRejection(contextName, { sipCode: 503, reason: 'Service Unavailable', detail: 'feature code' }),
      trace,
    );
  }
  deps.log.info({ ...log, set: d.change.set }, 'xml_curl dialplan: feature code applied');
  return found(renderFeatureDone(contextName, d.change.code), trace);
}

async function configuration(req: ConfigurationRequest, deps: AnswerDeps, trace: Trace): Promise<Answer> {
  if (req.file === 'other') return notFound;
  const file = configurationFile(req);
  const need = file.needs(req);
  const settings = configurationSettings(deps);
  const answer =
    need === 'platform'
      ? await platformFile(deps.platform, req, settings, trace)
      : file.render(
          req,
          need === 'none'
            ? []
            : [
                await ('tenantId' in need
                  ? deps.store.byId(need.tenantId, trace)
                  : deps.store.byDomain(need.domain, trace)),
              ].filter((t) => t !== null),
          settings,
        );
  if (!answer) return notFound;
  for (const { msg, ...fields } of answer.warnings ?? []) deps.log.warn(fields, msg);
  return found(answer.xml, trace);
}

/** Never rejects: a database failure with nothing cached is answered (not-found, or a 503 for calls) and reported as 'error'. */
export async function answerFetch(req: FetchRequest, deps: AnswerDeps): Promise<Answer> {
  const trace: Trace = { loads: 0 };
  try {
    switch (req.section) {
      case 'directory':
        return await directory(req.directory, deps, trace);
      case 'dialplan':
        return await dialplan(req.dialplan, req.node, deps, trace);
      case 'configuration':
        return await configuration(req.configuration, deps, trace);
      case 'other':
        return notFound;
    }
  } catch (err) {
    deps.log.error(
      { err, section: req.section, node: req.node },
      'xml_curl: could not answer (database unreachable and nothing cached?)',
    );
    const xml =
      req.section === 'dialplan'
        ? renderRejection(req.dialplan.context, {
            sipCode: 503,
            reason: 'Service Unavailable',
            detail: 'lookup failed',
          })
        : NOT_FOUND;
    return { xml, outcome: 'error' };
  }
}
