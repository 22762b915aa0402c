// One configuration file FreeSWITCH may fetch (section `configuration`,
// key_value = the file's name). Each file is one module exporting one of these,
// listed once in index.ts; the daemon loads the tenant data `needs` names and
// hands it to `render`. Nothing else changes to serve another file.
import type { PlatformTenant, TenantId, TenantSnapshot } from '../model.js';
import type { SofiaProfiles } from './sofia.js';

/** Reads one field of the fetch (single-valued and length-bounded by fetch-request.ts). */
export type Fields = (name: string) => string | undefined;

/**
 * The tenant data an answer needs: none, every tenant's platform view (PlatformTenant: domains, trunks, hold-music
 * streams, never extensions), the tenant owning one SIP domain, or one tenant (if any).
 */
export type TenantNeed = 'none' | 'platform' | { domain: string } | { tenantId: TenantId };

/** Daemon settings files render from (FS_TENANTD_SIP_*). */
export interface ConfigurationSettings {
  sipProfiles: SofiaProfiles;
  /** FS_TENANTD_VOICEMAIL_ODBC_DSN: mod_voicemail's message index shared by every node, or null for its own. */
  voicemail: { odbcDsn: string | null };
  /** FS_TENANTD_MOH_DIR: where tenant music-on-hold streams live; without it local_stream.conf serves stock only. */
  moh?: { dir: string };
}

export interface ConfigurationAnswer {
  xml: string;
  /** What was left out of the document and why, for the log. */
  warnings?: Array<{ msg: string } & Record<string, unknown>>;
}

/**
 * A file rendered from every tenant, split into a part per tenant and their assembly, so that a change to one tenant
 * re-renders only its part (the daemon keeps the parts: daemon/tenants/platform-view.ts). A part depends on its
 * tenant alone; `render(req, tenants, s)` must equal `assemble(req, the parts of the tenants it reads, s)`.
 */
export interface PerTenant<R, T, F> {
  fragment(tenant: T): F;
  /** Whether `req`'s answer reads `tenant`'s part (default: every tenant's); the others are not rendered for it. */
  reads?(req: R, tenant: T): boolean;
  assemble(req: R, fragments: readonly F[], settings: ConfigurationSettings): ConfigurationAnswer | undefined;
}

/** `T`: PlatformTenant for files that need 'platform', the full snapshot otherwise. */
export interface ConfigurationFile<R extends { file: string }, T extends PlatformTenant = TenantSnapshot, F = unknown> {
  /** The key_value FreeSWITCH asks for. */
  readonly name: R['file'];
  /** Everything the answer depends on in the fetch, as plain data (also the cache and log view of the request). */
  parse(get: Fields): R;
  needs(req: R): TenantNeed;
  /** The document, or undefined for not-found. `tenants` is what `needs` asked for. */
  render(req: R, tenants: readonly T[], settings: ConfigurationSettings): ConfigurationAnswer | undefined;
  perTenant?: PerTenant<R, T, F>;
}
