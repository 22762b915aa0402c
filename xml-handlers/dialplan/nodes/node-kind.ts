// One kind of call-flow node (sql/009 call_flow_nodes.kind): how its stored
// settings are read and what a call reaching it does. One module per kind in
// this folder, listed once in index.ts; the routing graph is walked by
// ../call-flow.ts. A node that ends the walk produces a route target, whose
// actions the target's RouteKind renders (../route-kind.ts).
import type { CallDirection, FlowNode, FlowNodeId, FlowNodeKind, TenantSnapshot } from '../../model.js';
import type { Rejection, RouteTarget } from '../index.js';

export interface FlowContext {
  tenant: TenantSnapshot;
  /** The number dialled, when the call reached the flow by number (a parking slot). */
  destination?: string;
  /** The time the call is routed at (time conditions); injected, so tests fix it. */
  now: Date;
}

export type FlowStep =
  | { route: { direction: CallDirection; target: RouteTarget } }
  /** Continue at another node of the same tenant now, without a caller's choice. */
  | { goto: FlowNodeId }
  | { reject: Rejection };

/** A stored setting the kind cannot use; `field` is the API's name for it (`settings.greeting`, `nextNodeId`). */
export class SettingsProblem extends Error {
  constructor(
    readonly field: string,
    readonly why: string,
  ) {
    super(`${field}: ${why}`);
    this.name = 'SettingsProblem';
  }
}

export interface NodeKind<K extends FlowNodeKind = FlowNodeKind, S = unknown> {
  readonly kind: K;
  /** Reads the node's settings and checks its edges; throws SettingsProblem. Run on every write and at call time. */
  read(node: FlowNode, tenant: TenantSnapshot): S;
  step(node: FlowNode, settings: S, ctx: FlowContext): FlowStep;
  /** Numbers besides its dial code that reach the node (a parking lot's slots); `step` then sees `destination`. */
  answers?(settings: S, destination: string): boolean;
}

/** Where a transfer goes to continue at `id`: the daemon's dialplan in the tenant's context, destination flow-<id>. */
export const flowDestination = (id: FlowNodeId): string => `flow-${id}`;
export const FLOW_DESTINATION = /^flow-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
