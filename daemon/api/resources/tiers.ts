// Tiers join an agent to a queue. Both ids must be this tenant's: the composite
// foreign keys refuse anything else, which the API reports as 404.
import type { ResourceDef } from '../resource.js';
import { int, uuid } from '../schema-types.js';

export const tiers: ResourceDef = {
  path: 'tiers',
  table: 'tiers',
  noun: 'tier',
  fields: {
    queueId: { column: 'queue_id', schema: uuid, required: true, references: 'queues' },
    agentId: { column: 'agent_id', schema: uuid, required: true, references: 'agents' },
    level: { column: 'level', schema: int(0, 1000) },
    position: { column: 'position', schema: int(0, 1000) },
  },
};
