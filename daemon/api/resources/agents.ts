// Call-center agents, one per extension. A status change is pushed to
// FreeSWITCH after commit (agent-status.ts).
import { AGENT_STATUSES, type AgentStatus } from '../../../xml-handlers/model.js';
import type { PushAgentStatus } from '../agent-status.js';
import type { ResourceDef } from '../resource.js';
import { int, uuid } from '../schema-types.js';

export const agentStatus = { type: 'string', enum: [...AGENT_STATUSES] };

export function agents(push: PushAgentStatus): ResourceDef {
  return {
    path: 'agents',
    table: 'agents',
    noun: 'agent',
    fields: {
      extensionId: { column: 'extension_id', schema: uuid, required: true, references: 'extensions' },
      extension: {
        column: 'extension_id',
        select: '(SELECT e.number FROM extensions e WHERE e.id = agents.extension_id)',
        schema: { type: 'string' },
        readOnly: true,
      },
      status: { column: 'status', schema: agentStatus },
      maxNoAnswer: { column: 'max_no_answer', schema: int(0, 100) },
      wrapUpTime: { column: 'wrap_up_time', schema: int(0, 3600) },
      rejectDelayTime: { column: 'reject_delay_time', schema: int(0, 3600) },
      busyDelayTime: { column: 'busy_delay_time', schema: int(0, 3600) },
      noAnswerDelayTime: { column: 'no_answer_delay_time', schema: int(0, 3600) },
    },
    async afterWrite(scope, after, before) {
      if (after.status === before?.status) return;
      await push({
        tenantId: scope.tenantId,
        tenantSlug: scope.tenantSlug,
        agentId: after.id,
        extension: after.extension as string,
        status: after.status as AgentStatus,
      });
    },
  };
}
