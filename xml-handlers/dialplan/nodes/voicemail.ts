// Takes a message for one of the tenant's mailboxes (dialplan/voicemail.ts).
import { leaveMessage } from '../voicemail.js';
import { type NodeKind, SettingsProblem } from './node-kind.js';
import { settingsReader } from './settings.js';

export const voicemailNode: NodeKind<'voicemail', null> = {
  kind: 'voicemail',
  read: (node, tenant) => {
    settingsReader(node.settings, []);
    if (!node.extension || !tenant.extensions.has(node.extension))
      throw new SettingsProblem('extensionId', 'not an extension of the tenant');
    return null;
  },
  step: (node, _s, { tenant }) => {
    const target = leaveMessage(tenant, node.extension!);
    return target
      ? { route: { direction: 'internal', target } }
      : { reject: { sipCode: 480, reason: 'Temporarily Unavailable', detail: `flow ${node.name}: mailbox is off` } };
  },
};
