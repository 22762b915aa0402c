// Call-flow nodes (sql/009): the tenant's routing graph. Each write is checked
// in its own transaction, after the row is written and before it commits, with
// the parsers calls use (xml-handlers/dialplan/nodes/): the kind's settings,
// its references, and that no loop exists that a call would follow without a
// caller's choice. So what is stored is what a call can use.
import { findUnattendedLoop, readNode } from '../../../xml-handlers/dialplan/call-flow.js';
import { FLOW_NODE_KINDS, type FlowNodeId } from '../../../xml-handlers/model.js';
import { readSnapshot } from '../../tenants/load-snapshot.js';
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { digits, nullable, uuid } from '../schema-types.js';

const KIND_COLUMNS = { extension: 'extensionId', queue: 'queueId' } as const;

export const callFlowNodes: ResourceDef = {
  path: 'call-flow-nodes',
  table: 'call_flow_nodes',
  noun: 'call_flow_node',
  usedBy: 'a DID, a menu choice or another call-flow node',
  fields: {
    name: { column: 'name', schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }, required: true },
    kind: { column: 'kind', schema: { type: 'string', enum: [...FLOW_NODE_KINDS] }, required: true },
    dialCode: { column: 'dial_code', schema: nullable(digits(2, 15)) },
    extensionId: { column: 'extension_id', schema: nullable(uuid), references: 'extensions' },
    queueId: { column: 'queue_id', schema: nullable(uuid), references: 'queues' },
    settings: {
      column: 'settings',
      schema: { type: 'object', maxProperties: 16, description: 'Per kind: README "Call flows"' },
      cast: '::jsonb',
    },
    nextNodeId: { column: 'next_node_id', schema: nullable(uuid), references: 'call_flow_nodes' },
    elseNodeId: { column: 'else_node_id', schema: nullable(uuid), references: 'call_flow_nodes' },
  },
  async beforeWrite({ db, input, before }) {
    const value = (f: string) => (input[f] !== undefined ? input[f] : before?.[f]) ?? null;
    const kind = value('kind') as string;
    for (const [k, field] of Object.entries(KIND_COLUMNS)) {
      if (kind === k && value(field) === null) throw badRequest(field, `is required for kind ${k}`);
      if (kind !== k && value(field) !== null) throw badRequest(field, `only applies to kind ${k}`);
    }
    if (kind === 'time_condition') {
      if (value('nextNodeId') === null)
        throw badRequest('nextNodeId', 'is the open branch: required for a time condition');
      if (value('elseNodeId') === null)
        throw badRequest('elseNodeId', 'is the closed branch: required for a time condition');
    } else if (value('elseNodeId') !== null) throw badRequest('elseNodeId', 'only applies to kind time_condition');
    if (['queue', 'hangup', 'conference', 'parking_lot'].includes(kind) && value('nextNodeId') !== null)
      throw badRequest('nextNodeId', `a ${kind} node has no next`);
    const id = before?.id;
    if (id && (value('nextNodeId') === id || value('elseNodeId') === id))
      throw badRequest(value('nextNodeId') === id ? 'nextNodeId' : 'elseNodeId', 'a node cannot continue at itself');
    const code = input.dialCode as string | null | undefined;
    if (code) {
      const { rowCount } = await db.query(
        'SELECT 1 FROM extensions WHERE number = $1 UNION ALL SELECT 1 FROM queues WHERE dial_code = $1',
        [code],
      );
      if (rowCount) throw badRequest('dialCode', 'is already an extension number or a queue dial code');
    }
    return {};
  },
  async checkWritten({ db, scope, row }) {
    const snapshot = await readSnapshot(db, scope.tenantId);
    const node = snapshot?.flowNodes.get(row.id as FlowNodeId);
    if (!snapshot || !node) return;
    const read = readNode(node, snapshot);
    if ('problem' in read) throw badRequest(read.field, read.why);
    const loop = findUnattendedLoop([...snapshot.flowNodes.values()]);
    if (loop)
      throw badRequest('nextNodeId', `makes a loop a call would follow without a caller's choice: ${loop.join(' → ')}`);
  },
};
