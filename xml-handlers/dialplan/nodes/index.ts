// Every kind of call-flow node (sql/009 call_flow_nodes.kind), one module each.
// A new kind is a module here, one entry below (the type makes a missing one a
// compile error), and the kind in the table's CHECK.
import type { FlowNodeKind } from '../../model.js';
import { announcementNode } from './announcement.js';
import { conferenceNode } from './conference.js';
import { extensionNode } from './extension.js';
import { hangupNode } from './hangup.js';
import { menuNode } from './menu.js';
import type { NodeKind } from './node-kind.js';
import { parkingLotNode } from './parking-lot.js';
import { queueNode } from './queue.js';
import { ringGroupNode } from './ring-group.js';
import { timeConditionNode } from './time-condition.js';
import { voicemailNode } from './voicemail.js';

// biome-ignore lint/suspicious/noExplicitAny: each kind reads its own settings type; the walker passes it back unseen
export const NODE_KINDS: { readonly [K in FlowNodeKind]: NodeKind<K, any> } = {
  extension: extensionNode,
  ring_group: ringGroupNode,
  queue: queueNode,
  menu: menuNode,
  time_condition: timeConditionNode,
  announcement: announcementNode,
  hangup: hangupNode,
  conference: conferenceNode,
  parking_lot: parkingLotNode,
  voicemail: voicemailNode,
};
