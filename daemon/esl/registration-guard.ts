// sofia files a REGISTER under its To host (sofia_reg_handle_register_token: reg_host = to_host) but checks the
// digest against the user found for username@realm (sofia_reg_parse_auth), where both come from the phone. The
// daemon refuses a realm that is not the To host on every directory fetch, but a user FreeSWITCH has cached
// (`cacheable`) is answered without asking it: credentials valid in one tenant's domain could then file a contact
// under another tenant's domain, and that tenant's calls to the same number would ring it. FreeSWITCH has no
// setting that ties the two together, so every successful registration (CUSTOM sofia::register) is checked here,
// and one whose realm or auth user differs from where it was filed is removed at once.
import type { Logger } from 'pino';
import client from 'prom-client';
import { metric, type MetricsRegistry } from '../metrics.js';
import type { EslClient } from './client.js';
import type { EslEvent } from './event.js';

export const REGISTER_EVENT = 'CUSTOM sofia::register';

export interface RegistrationGuardOptions {
  clients: readonly EslClient[];
  /** True when `host` is a SIP domain of some tenant (whose registrations a flush must not touch). */
  isServedDomain: (host: string) => Promise<boolean>;
  log: Logger;
  registry: MetricsRegistry;
}

/** Why a registration must go, or undefined when it is filed where it authenticated. */
export function misfiled(ev: Pick<EslEvent, 'header'>): string | undefined {
  const host = ev.header('from-host')?.toLowerCase();
  const realm = ev.header('realm')?.toLowerCase();
  if (!host || !realm || host !== realm) return 'realm_differs_from_domain';
  if (ev.header('username') !== ev.header('from-user')) return 'auth_user_differs';
  return undefined;
}

/**
 * The `flush_inbound_reg` argument that removes exactly this registration. sofia_reg_expire_call_id deletes rows
 * whose call_id matches, and also every row of sip_host=<arg> (no `@`) or of <user>@<host> (with one): a phone
 * chooses its Call-ID, so a Call-ID naming a served domain would take that tenant's registrations with it. Then
 * user@host is flushed instead, which also removes the genuine phones of that number (they register again).
 */
export async function flushTarget(
  ev: Pick<EslEvent, 'header'>,
  isServedDomain: (h: string) => Promise<boolean>,
): Promise<string> {
  const byUser = `${ev.header('from-user') ?? ''}@${ev.header('from-host') ?? ''}`;
  const callId = ev.header('call-id') ?? '';
  if (!callId || /\s/.test(callId)) return byUser;
  const host = callId.includes('@') ? callId.slice(callId.indexOf('@') + 1) : callId;
  return (await isServedDomain(host.toLowerCase())) ? byUser : callId;
}

export function createRegistrationGuard(opts: RegistrationGuardOptions): { stop(): void } {
  const revoked = metric(
    opts.registry,
    'fs_tenantd_registrations_revoked_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_registrations_revoked_total',
        help: 'Registrations removed because sofia filed them under a domain other than the one they authenticated in',
        labelNames: ['reason'],
        registers: [opts.registry],
      }),
  );
  const listeners = opts.clients.map((esl) => {
    const fn = (ev: EslEvent) => {
      if (ev.name !== 'CUSTOM' || ev.header('Event-Subclass') !== 'sofia::register') return;
      const reason = misfiled(ev);
      if (!reason) return;
      void (async () => {
        const target = await flushTarget(ev, opts.isServedDomain);
        const profile = ev.header('profile-name') ?? 'internal';
        const who = {
          node: esl.node,
          user: ev.header('from-user'),
          domain: ev.header('from-host'),
          realm: ev.header('realm'),
          username: ev.header('username'),
          networkIp: ev.header('network-ip'),
          reason,
        };
        try {
          await esl.api(`sofia profile ${profile} flush_inbound_reg ${target}`);
          revoked.labels(reason).inc();
          opts.log.warn(
            { ...who, flushed: target },
            'registration filed outside the domain it authenticated in: removed',
          );
        } catch (err) {
          opts.log.error({ ...who, err: (err as Error).message }, 'could not remove a misfiled registration');
        }
      })().catch((err: Error) => opts.log.error({ err: err.message }, 'registration guard failed'));
    };
    esl.on('event', fn);
    void esl
      .subscribe([REGISTER_EVENT])
      .catch((err: Error) =>
        opts.log.warn(
          { node: esl.node, err: err.message },
          'cannot subscribe to sofia::register (it is retried on reconnect)',
        ),
      );
    return [esl, fn] as const;
  });
  return {
    stop: () => {
      for (const [esl, fn] of listeners) esl.off('event', fn);
    },
  };
}
