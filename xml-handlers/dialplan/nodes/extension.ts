// Rings one of the tenant's extensions for `ringS` seconds; then the
// extension's own busy/no-answer/unreachable forward, or else the node's next.
import { SettingsProblem, type NodeKind, flowDestination } from './node-kind.js';
import { settingsReader } from './settings.js';
import { extensionTarget } from '../ring-extension.js';

export const extensionNode: NodeKind<'extension', { ringS: number | undefined }> = {
  kind: 'extension',
  read: (node, tenant) => {
    const r = settingsReader(node.settings, ['ringS']);
    const ringS = r.raw('ringS') === undefined ? undefined : r.int('ringS', 5, 300);
    if (!node.extension || !tenant.extensions.has(node.extension))
      throw new SettingsProblem('extensionId', 'not an extension of the tenant');
    return { ringS };
  },
  step: (node, { ringS }, { tenant }) => {
    const target = extensionTarget(tenant, node.extension!, {
      ...(ringS ? { timeoutS: ringS } : {}),
      ...(node.next ? { fallback: flowDestination(node.next) } : {}),
    });
    if (target) return { route: { direction: 'internal', target } };
    if (node.next) return { goto: node.next };
    return {
      reject: { sipCode: 480, reason: 'Temporarily Unavailable', detail: `flow ${node.name}: extension disabled` },
    };
  },
};
