// One kind of dialplan target: how a dialled number or a DID reaches it, and the
// actions that connect the call. One module per kind, named for what it does
// (ring-extension.ts, enter-queue.ts, dial-gateway.ts, and the call-flow node
// kinds' targets in nodes/); index.ts lists them. A target reached only through
// call flows needs no `dialled`/`fromDid`: its node kind (nodes/node-kind.ts)
// produces it.
import type { CallDirection, DidDestination, TenantSnapshot } from '../model.js';

/** Appends `<action application="…" data="…"/>` to the call's one-extension context. */
export type Act = (application: string, data?: string) => void;

/**
 * A test FreeSWITCH makes when it hunts the route (mod_dialplan_xml expands `field` then), for what only the node
 * knows at that moment; when `expression` does not match, `otherwise` runs (anti-actions) instead of `actions`.
 */
export interface RouteGate {
  field: string;
  expression: string;
  otherwise(act: Act): void;
}

export interface RouteKind<T extends { type: string }> {
  /** Also the name of the extension in the answer: `fs-tenantd-<type>`. */
  readonly type: T['type'];
  /** A number one of the tenant's own users dialled; the first kind that answers routes the call. */
  dialled?(tenant: TenantSnapshot, destination: string): { direction: CallDirection; target: T } | undefined;
  /** What a DID pointing at this kind reaches (the call is inbound). */
  fromDid?(tenant: TenantSnapshot, destination: DidDestination): T | undefined;
  /**
   * The actions that connect the call, after the tenant's channel variables are exported. `legVars` is the
   * `{fs_tenant_id=…,…}` block to put first in a dial string, so a bridged leg carries its tenant from
   * CHANNEL_CREATE on.
   */
  actions(target: T, act: Act, legVars: string): void;
  /** A test on the node's own state before `actions` run (voicemail.ts: a box that is full). */
  gate?(target: T): RouteGate | undefined;
}
