// Puts the caller into one of the tenant's call-center queues (enter-queue.ts).
import { enterQueue } from '../enter-queue.js';
import { SettingsProblem, type NodeKind } from './node-kind.js';
import { settingsReader } from './settings.js';

export const queueNode: NodeKind<'queue', null> = {
  kind: 'queue',
  read: (node, tenant) => {
    settingsReader(node.settings, []);
    if (!node.queue || !tenant.queues.has(node.queue))
      throw new SettingsProblem('queueId', 'not a queue of the tenant');
    return null;
  },
  step: (node, _s, { tenant }) => {
    const target = enterQueue.fromDid?.(tenant, { type: 'queue', queue: node.queue! });
    return target
      ? { route: { direction: 'internal', target } }
      : { reject: { sipCode: 480, reason: 'Temporarily Unavailable', detail: `flow ${node.name}: queue unavailable` } };
  },
};
