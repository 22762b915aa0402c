// A conference room of the tenant (mod_conference): the caller joins
// `<room>@<domain>`; the room's PIN, moderator PIN and size come from the
// profile conference.conf serves for this node only (configuration/conference.ts).
import { conferenceData } from '../../media-names.js';
import type { RouteKind } from '../route-kind.js';
import { type NodeKind, SettingsProblem } from './node-kind.js';
import { settingsReader } from './settings.js';

export interface ConferenceSettings {
  pin: string | null;
  moderatorPin: string | null;
  maxMembers: number;
}

export interface ConferenceTarget {
  type: 'conference';
  data: string;
}

export const joinConference: RouteKind<ConferenceTarget> = {
  type: 'conference',
  actions: (target, act) => {
    act('answer');
    act('conference', target.data);
  },
};

const PIN = /^[0-9]{3,12}$/;

export const conferenceNode: NodeKind<'conference', ConferenceSettings> = {
  kind: 'conference',
  read: (node) => {
    const r = settingsReader(node.settings, ['pin', 'moderatorPin', 'maxMembers']);
    const pin = (name: string) => {
      const v = r.raw(name);
      if (v === undefined || v === null) return null;
      if (typeof v !== 'string' || !PIN.test(v)) throw new SettingsProblem(r.field(name), 'must be 3 to 12 digits');
      return v;
    };
    return { pin: pin('pin'), moderatorPin: pin('moderatorPin'), maxMembers: r.int('maxMembers', 2, 500, 50) };
  },
  step: (node, _s, { tenant }) =>
    tenant.primaryDomain
      ? {
          route: {
            direction: 'internal',
            target: { type: 'conference', data: conferenceData(node.name, tenant.primaryDomain, node.id) },
          },
        }
      : { reject: { sipCode: 480, reason: 'Temporarily Unavailable', detail: `flow ${node.name}: no SIP domain` } },
};
