// conference.conf, which mod_conference reads when a room is created
// (conference_function: conference_name and profile_name), at load and for
// presence. A room's profile is answered only for that room: the profile name
// is the room's node uuid and conference_name must be `<that node's name>@<its
// tenant's domain>` (media-names.ts), so no request can borrow another room's
// PIN or size. Any other request gets the empty skeleton (no profiles, no
// advertised rooms): a room nobody configured cannot be created.
import { readNode } from '../dialplan/call-flow.js';
import type { ConferenceSettings } from '../dialplan/nodes/conference.js';
import { parseConferenceName } from '../media-names.js';
import type { FlowNodeId } from '../model.js';
import { section, serialize, text } from '../xml.js';
import type { ConfigurationFile } from './file.js';

export interface ConferenceRequest {
  file: 'conference.conf';
  room: { room: string; domain: string } | undefined;
  profile: string | undefined;
}

function skeleton() {
  const conf = section('configuration', { description: 'fs-tenantd' }).ele('configuration', {
    name: 'conference.conf',
    description: 'Audio conferences',
  });
  conf.ele('advertise');
  conf.ele('caller-controls');
  return conf;
}

export function renderConferenceProfile(profile: string, s: ConferenceSettings, domain: string): string {
  const conf = skeleton();
  const p = conf.ele('profiles').ele('profile', { name: profile });
  const settings: Array<[string, string]> = [
    ['domain', text(domain, 253)],
    ['rate', '8000'],
    ['interval', '20'],
    ['energy-level', '100'],
    ['comfort-noise', 'true'],
    // No digit controls: the caller's DTMF stays the caller's (mod_conference binds none for "none").
    ['caller-controls', 'none'],
    ['max-members', String(s.maxMembers)],
  ];
  if (s.pin) settings.push(['pin', s.pin]);
  if (s.moderatorPin) settings.push(['moderator-pin', s.moderatorPin]);
  for (const [name, value] of settings) p.ele('param', { name, value });
  return serialize(conf);
}

export const conferenceConf: ConfigurationFile<ConferenceRequest> = {
  name: 'conference.conf',
  parse: (get) => {
    const name = get('conference_name');
    return {
      file: 'conference.conf',
      room: name ? parseConferenceName(name) : undefined,
      profile: get('profile_name'),
    };
  },
  needs: (req) => (req.room && req.profile ? { domain: req.room.domain } : 'none'),
  render: (req, tenants) => {
    const tenant = tenants[0];
    const node = req.profile ? tenant?.flowNodes.get(req.profile as FlowNodeId) : undefined;
    if (!req.room) return { xml: serialize(skeleton()) };
    if (tenant?.status !== 'active' || node?.kind !== 'conference' || node.name !== req.room.room) {
      return undefined;
    }
    const read = readNode(node, tenant);
    if ('problem' in read) return undefined;
    return { xml: renderConferenceProfile(node.id, read.settings as ConferenceSettings, req.room.domain) };
  },
};
