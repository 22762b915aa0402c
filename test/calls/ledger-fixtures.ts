// Shared by the call suites: fixture events "retagged" with the channel variables
// the daemon sets (the capture's responder set tenant_id=<slug> instead), and a
// quiet ledger factory.
import { pino } from 'pino';
import { CallLedger, type LedgerOptions } from '../../daemon/calls/call-ledger.js';
import { eventFromHeaders, type EslEvent } from '../../daemon/esl/event.js';
import { createRegistry, TenantLabels } from '../../daemon/metrics.js';
import type { CallDirection, TenantId } from '../../xml-handlers/model.js';
import { streamEvents, type FsEvent } from '../helpers/esl-server.js';

export const ACME = '11111111-1111-4111-8111-111111111111' as TenantId;
export const GLOBEX = '22222222-2222-4222-8222-222222222222' as TenantId;

/** Adds fs_tenant_id/slug/direction wherever the capture carries tenant_id. */
export function retag(ev: FsEvent, tenants: Record<string, TenantId>, direction: CallDirection): FsEvent {
  const slug = ev.headers.variable_tenant_id;
  if (typeof slug !== 'string' || !tenants[slug]) return ev;
  return {
    ...ev,
    headers: {
      ...ev.headers,
      variable_fs_tenant_id: tenants[slug],
      variable_fs_tenant_slug: slug,
      variable_fs_call_direction: direction,
    },
  };
}

export function fixtureCall(
  name = 'stream-2-call-acme-1000-to-1001.json.raw',
  direction: CallDirection = 'internal',
): FsEvent[] {
  return streamEvents(name).map((e) => retag(e, { acme: ACME, globex: GLOBEX }, direction));
}

/** FsEvent -> EslEvent the way the client delivers it (strings only). */
export function asEslEvent(ev: FsEvent): EslEvent {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ev.headers)) headers[k] = Array.isArray(v) ? `ARRAY::${v.join('|:')}` : v;
  return eventFromHeaders(headers, ev.body);
}

export function makeLedger(overrides: Partial<LedgerOptions> = {}) {
  const registry = createRegistry();
  let now = 1_000_000;
  const ledger = new CallLedger({
    log: pino({ level: 'silent' }),
    registry,
    tenantLabels: new TenantLabels(100),
    reservationTtlMs: 30_000,
    downNodePolicy: 'enforce',
    rejection: { sipCode: 503, reason: 'Tenant call limit reached' },
    now: () => now,
    ...overrides,
  });
  return {
    ledger,
    registry,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

export const ceilings = (
  maxTotal: number | null,
  maxInbound: number | null = null,
  maxOutbound: number | null = null,
) => ({ maxTotal, maxInbound, maxOutbound });

let n = 0;
/** A fresh v4-shaped uuid. */
export const uuid = (): string => `${(++n).toString(16).padStart(8, '0')}-0000-4000-8000-${'0'.repeat(12)}`;

/** A minimal synthetic channel event (for ordering edge cases the captures do not hold). */
export function channelEvent(name: string, leg: string, extra: Record<string, string> = {}): EslEvent {
  return eventFromHeaders({ 'Event-Name': name, 'Unique-ID': leg, ...extra });
}
