// DIDs: a public number routed to one of the tenant's extensions, queues or
// call-flow nodes. e164 is unique across all tenants (a number reaches one
// PBX), so a taken number answers 409 without saying whose it is.
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { bool, e164, nullable, uuid } from '../schema-types.js';

/** destinationType → the field naming the destination, and its column. */
const DESTINATIONS = {
  extension: ['extensionId', 'extension_id'],
  queue: ['queueId', 'queue_id'],
  flow: ['flowNodeId', 'flow_node_id'],
} as const;
type DestinationType = keyof typeof DESTINATIONS;

export const dids: ResourceDef = {
  path: 'dids',
  table: 'dids',
  noun: 'did',
  fields: {
    e164: { column: 'e164', schema: e164, required: true },
    destinationType: {
      column: 'destination_type',
      schema: { type: 'string', enum: Object.keys(DESTINATIONS) },
      required: true,
    },
    extensionId: { column: 'extension_id', schema: nullable(uuid), references: 'extensions' },
    queueId: { column: 'queue_id', schema: nullable(uuid), references: 'queues' },
    flowNodeId: { column: 'flow_node_id', schema: nullable(uuid), references: 'call_flow_nodes' },
    enabled: { column: 'enabled', schema: bool },
  },
  beforeWrite({ input, before }) {
    const type = (input.destinationType ?? before?.destinationType) as DestinationType;
    const [want] = DESTINATIONS[type];
    if ((input[want] ?? before?.[want] ?? null) === null)
      throw badRequest(want, `is required when destinationType is ${type}`);
    // Switching the destination type clears the other references.
    const clear: Record<string, null> = {};
    for (const [other, [field, column]] of Object.entries(DESTINATIONS)) {
      if (other === type) continue;
      if (input[field] !== undefined && input[field] !== null)
        throw badRequest(field, `must be null when destinationType is ${type}`);
      if (input[field] === undefined && before?.[field] != null) clear[column] = null;
    }
    return clear;
  },
};
