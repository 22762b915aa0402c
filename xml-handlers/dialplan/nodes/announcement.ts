// Answers, plays one sound, then continues at the node's next (or hangs up).
import type { RouteKind } from '../route-kind.js';
import { type NodeKind, flowDestination } from './node-kind.js';
import { settingsReader } from './settings.js';

export interface AnnouncementTarget {
  type: 'announcement';
  sound: string;
  next?: { context: string; destination: string };
}

export const playAnnouncement: RouteKind<AnnouncementTarget> = {
  type: 'announcement',
  actions: (target, act) => {
    act('answer');
    act('playback', target.sound);
    if (target.next) act('transfer', `${target.next.destination} XML ${target.next.context}`);
    else act('hangup', 'NORMAL_CLEARING');
  },
};

export const announcementNode: NodeKind<'announcement', string> = {
  kind: 'announcement',
  read: (node) => settingsReader(node.settings, ['sound']).sound('sound', true)!,
  step: (node, sound, { tenant }) => ({
    route: {
      direction: 'internal',
      target: {
        type: 'announcement',
        sound,
        ...(node.next && tenant.primaryDomain
          ? { next: { context: tenant.primaryDomain, destination: flowDestination(node.next) } }
          : {}),
      },
    },
  }),
};
