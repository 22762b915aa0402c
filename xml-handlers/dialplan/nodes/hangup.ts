// Ends the call with a chosen answer (respond + hangup, as every rejection does).
import type { NodeKind } from './node-kind.js';
import { settingsReader } from './settings.js';

const CAUSES = {
  busy: { sipCode: 486, reason: 'Busy Here' },
  unavailable: { sipCode: 480, reason: 'Temporarily Unavailable' },
  rejected: { sipCode: 603, reason: 'Decline' },
  not_found: { sipCode: 404, reason: 'Not Found' },
} as const;

export const hangupNode: NodeKind<'hangup', keyof typeof CAUSES> = {
  kind: 'hangup',
  read: (node) =>
    settingsReader(node.settings, ['cause']).oneOf('cause', Object.keys(CAUSES) as (keyof typeof CAUSES)[], 'busy'),
  step: (node, cause) => ({ reject: { ...CAUSES[cause], detail: `flow ${node.name}: hangup node` } }),
};
