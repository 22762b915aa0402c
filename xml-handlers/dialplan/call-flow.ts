// Walks a tenant's routing graph (sql/009) from the node a call reached: time
// conditions and other steps that need no caller are followed here, at fetch
// time, until a node that connects the call (ring, queue, menu, announcement)
// or ends it. Every node is read with its kind's parser first, so data the
// database still holds but cannot be used (a bad schedule written before a rule
// existed) is a clean rejection, logged and counted, never a fall-through.
import type { CallDirection, FlowNode, FlowNodeId, TenantSnapshot } from '../model.js';
import type { Rejection, RouteTarget } from './index.js';
import { NODE_KINDS } from './nodes/index.js';
import { FLOW_DESTINATION, SettingsProblem } from './nodes/node-kind.js';

/** Steps without a caller's choice after which a flow is taken to loop (the API refuses loops on write). */
export const MAX_FLOW_STEPS = 16;

export type FlowOutcome = { direction: CallDirection; target: RouteTarget } | { rejection: Rejection };

const broken = (detail: string): FlowOutcome => ({
  rejection: { sipCode: 480, reason: 'Temporarily Unavailable', detail, feature: 'flow_unusable' },
});

/** Reads a node with its kind's parser: its settings, or the problem (also what the API answers on write). */
type ReadNode = { settings: unknown } | { problem: string; field: string; why: string };

// A node belongs to one immutable snapshot (with the tenant it is read against), so each is parsed once, not on
// every call that walks it or every dialled number checked against parking slots.
const readCache = new WeakMap<FlowNode, ReadNode>();

export function readNode(node: FlowNode, tenant: TenantSnapshot): ReadNode {
  let read = readCache.get(node);
  if (!read) {
    try {
      read = { settings: NODE_KINDS[node.kind].read(node as never, tenant) };
    } catch (err) {
      if (!(err instanceof SettingsProblem)) throw err;
      read = { problem: err.message, field: err.field, why: err.why };
    }
    readCache.set(node, read);
  }
  return read;
}

/** `destination`: the number that reached `start`, when the call was dialled (a parking lot reads its slot). */
export function runFlow(tenant: TenantSnapshot, start: FlowNodeId, now: Date, destination?: string): FlowOutcome {
  let id = start;
  for (let steps = 0; steps < MAX_FLOW_STEPS; steps++) {
    const node = tenant.flowNodes.get(id);
    if (!node) return broken(`flow node ${id} does not exist`);
    const read = readNode(node, tenant);
    if ('problem' in read) return broken(`flow ${node.name}: ${read.problem}`);
    const ctx = id === start && destination !== undefined ? { tenant, now, destination } : { tenant, now };
    const step = NODE_KINDS[node.kind].step(node as never, read.settings as never, ctx);
    if ('goto' in step) id = step.goto;
    else if ('reject' in step) return { rejection: step.reject };
    else return step.route;
  }
  return {
    rejection: {
      sipCode: 482,
      reason: 'Loop Detected',
      detail: `flow from ${start}: over ${MAX_FLOW_STEPS} steps without a caller's choice`,
      feature: 'flow_loop',
    },
  };
}

/** The node a number the tenant's users dial names: a node's dial code, or flow-<id> (how transfers continue). */
export function flowNodeDialled(tenant: TenantSnapshot, destination: string): FlowNodeId | undefined {
  const m = FLOW_DESTINATION.exec(destination);
  if (m) return tenant.flowNodes.has(m[1] as FlowNodeId) ? (m[1] as FlowNodeId) : undefined;
  for (const node of tenant.flowNodes.values()) if (node.dialCode === destination) return node.id;
  // Numbers a node answers besides its dial code (parking slots); a node that does not read is skipped here.
  for (const node of tenant.flowNodes.values()) {
    const kind = NODE_KINDS[node.kind];
    if (!kind.answers) continue;
    const read = readNode(node, tenant);
    if ('settings' in read && kind.answers(read.settings as never, destination)) return node.id;
  }
  return undefined;
}

/**
 * Edges a call follows without a caller's choice (next, else); a cycle among them would bounce a call between
 * nodes for ever, so writes that close one are refused. Menu choices are the caller's and may loop back.
 */
export function findUnattendedLoop(
  nodes: ReadonlyArray<{ id: string; name: string; next: string | null; else: string | null }>,
): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === 'done') return undefined;
    const node = byId.get(id);
    if (!node) return undefined;
    if (s === 'open') return [...path.slice(path.indexOf(node.name)), node.name];
    state.set(id, 'open');
    path.push(node.name);
    for (const to of [node.next, node.else]) {
      const loop = to ? visit(to) : undefined;
      if (loop) return loop;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const n of nodes) {
    const loop = visit(n.id);
    if (loop) return loop;
  }
  return undefined;
}
