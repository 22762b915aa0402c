// sofia.conf (mod_sofia sofia.c). Fetched in two forms: config_sofia (global,
// no `profile`: every profile's settings) and launch_sofia_worker_thread
// (`profile=<name>`: that profile's gateways and domains). Both get the same
// document filtered to the asked-for profile.
//   internal: phones register and call here; every call is digest-authenticated
//             (auth-calls), and the directory's user_context then picks the tenant.
//   external: trunks; no auth, only sources in acl `trunks`; calls land in `public`
//             where the dialplan checks the DID's owner against the source address.
// Tenant trunks become gateways on `external`, named <tenant>_<trunk>. Each tenant's gateways are serialized apart
// (sofiaFragment) and the document assembled from them, so a daemon that keeps them re-renders one tenant's, not
// 20,000 tenants', after a trunk change.
import { TRUNKS_ACL, gatewayName } from '../gateway-name.js';
import type { PlatformTenant } from '../model.js';
import { fill, params, section, serialize, serializeAt, slot } from '../xml.js';
import type { ConfigurationFile, PerTenant } from './file.js';

export interface SipListen {
  ip: string;
  port: number;
}
export interface SofiaProfiles {
  internal: SipListen;
  external: SipListen;
}

export const PROFILE_NAMES = ['internal', 'external'] as const;

/** Every gateway the external profile should hold, by name, with its params (what sofia parse_gateways reads). */
export function desiredGateways(tenants: readonly PlatformTenant[]): Map<string, Array<[string, string]>> {
  const out = new Map<string, Array<[string, string]>>();
  for (const t of tenants) {
    if (t.status !== 'active') continue;
    for (const trunk of t.trunks) {
      if (!trunk.enabled || !trunk.proxy) continue;
      // sofia requires username and password when register=true (it skips the gateway otherwise).
      const register = trunk.register && !!trunk.username && !!trunk.password;
      const p: Array<[string, string]> = [
        ['proxy', trunk.proxy],
        ['register', String(register)],
        ['context', 'public'],
        ['caller-id-in-from', 'true'],
      ];
      if (trunk.username) p.push(['username', trunk.username]);
      if (trunk.password) p.push(['password', trunk.password]);
      out.set(gatewayName(t.slug, trunk.name), p);
    }
  }
  return out;
}

/** One tenant's gateways in the external profile: name and serialized <gateway>, in document order. */
export type SofiaFragment = ReadonlyArray<readonly [name: string, xml: string]>;

/** document > section > configuration > profiles > profile > gateways > gateway */
const GATEWAY_DEPTH = 6;

export function sofiaFragment(tenant: PlatformTenant): SofiaFragment {
  return [...desiredGateways([tenant])].map(([name, p]) => [
    name,
    serializeAt(GATEWAY_DEPTH, 'gateway', { name }, (g) => params(g, 'params', p)),
  ]);
}

/**
 * undefined when `profile` names a profile we don't serve (FreeSWITCH then gets not-found).
 * `gateway` is set by `sofia profile <p> startgw <name>` (sofia.c config_gateway): only that gateway is parsed,
 * so only it is answered.
 */
export function renderSofia(
  cfg: SofiaProfiles,
  tenants: readonly PlatformTenant[],
  profile: string | undefined,
  gateway?: string,
): string | undefined {
  return assembleSofia(cfg, tenants.map(sofiaFragment), profile, gateway);
}

/** renderSofia from each tenant's sofiaFragment (in tenant order). */
export function assembleSofia(
  cfg: SofiaProfiles,
  fragments: readonly SofiaFragment[],
  profile: string | undefined,
  gateway?: string,
): string | undefined {
  if (profile !== undefined && !(PROFILE_NAMES as readonly string[]).includes(profile)) return undefined;
  const conf = section('configuration', { description: 'fs-tenantd' }).ele('configuration', {
    name: 'sofia.conf',
    description: 'sofia Endpoint',
  });
  // REGISTERs each in a thread of their own (with inbound-reg-in-new-thread below), up to this many at once: sofia
  // otherwise handles them one at a time on its message-queue thread, which then waits idle for every directory fetch.
  params(conf, 'global_settings', [
    ['log-level', '0'],
    ['max-reg-threads', '16'],
  ]);
  const profiles = conf.ele('profiles');
  const gws: string[] = [];
  if (profile === undefined || profile === 'internal') {
    const p = profiles.ele('profile', { name: 'internal' });
    p.ele('aliases');
    p.ele('gateways');
    p.ele('domains').ele('domain', { name: 'all', alias: 'false', parse: 'true' });
    params(p, 'settings', [
      ['sip-ip', cfg.internal.ip],
      ['rtp-ip', cfg.internal.ip],
      ['sip-port', String(cfg.internal.port)],
      ['context', 'public'],
      ['dialplan', 'XML'],
      ['auth-calls', 'true'],
      // The auth user must be the REGISTER's To user (sofia PFLAG_CHECKUSER).
      ['inbound-reg-force-matching-username', 'true'],
      ['inbound-reg-in-new-thread', 'true'],
      ['challenge-realm', 'auto_from'],
      // Several devices per extension (desk phone and softphone), kept apart by Call-ID. Without it sofia replaces
      // an extension's registration with any newer one, so a REGISTER that the registration guard later removes
      // (daemon/esl/registration-guard.ts) would still have knocked the real phone out. Not `contact` (nor `true`,
      // which means contact): sofia_reg_handle_register_token then deletes every row with the same Contact whatever
      // its user and domain, so one tenant's REGISTER could drop another's. A phone back with a new Call-ID that
      // answers the challenge with qop (sofia asks qop=auth) has its row moved, not doubled (update_registration).
      ['multiple-registrations', 'call-id'],
    ]);
  }
  if (profile === undefined || profile === 'external') {
    const p = profiles.ele('profile', { name: 'external' });
    p.ele('aliases');
    for (const f of fragments)
      for (const [name, xml] of f) if (gateway === undefined || gateway === name) gws.push(xml);
    slot(p.ele('gateways'), gws);
    p.ele('domains');
    params(p, 'settings', [
      ['sip-ip', cfg.external.ip],
      ['rtp-ip', cfg.external.ip],
      ['sip-port', String(cfg.external.port)],
      ['context', 'public'],
      ['dialplan', 'XML'],
      ['auth-calls', 'false'],
      ['apply-inbound-acl', TRUNKS_ACL],
    ]);
  }
  return fill(serialize(conf), gws);
}

type SofiaRequest = { file: 'sofia.conf'; profile: string | undefined; gateway: string | undefined };

const perTenant: PerTenant<SofiaRequest, PlatformTenant, SofiaFragment> = {
  fragment: sofiaFragment,
  // Gateways are on `external` only, and a gateway name starts with its tenant's slug and `_` (gateway-name.ts).
  reads: (req, t) =>
    (req.profile === undefined || req.profile === 'external') &&
    (req.gateway === undefined || req.gateway.startsWith(`${t.slug}_`)),
  assemble: (req, fragments, settings) => {
    const xml = assembleSofia(settings.sipProfiles, fragments, req.profile, req.gateway);
    return xml === undefined ? undefined : { xml };
  },
};

export const sofiaConf: ConfigurationFile<SofiaRequest, PlatformTenant, SofiaFragment> = {
  name: 'sofia.conf',
  parse: (get) => ({ file: 'sofia.conf', profile: get('profile') || undefined, gateway: get('gateway') || undefined }),
  needs: () => 'platform',
  render: (req, tenants, settings) =>
    perTenant.assemble(req, tenants.filter((t) => perTenant.reads!(req, t)).map(sofiaFragment), settings),
  perTenant,
};
