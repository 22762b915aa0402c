// Call-recording rules (sql/012): the tenant records a call when any enabled rule
// matches it (xml-handlers/dialplan/record-call.ts): all calls, inbound, outbound,
// calls to or from one extension, calls into one queue. The dialplan reads them
// from the tenant snapshot, which a change evicts (change feed).
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { bool, nullable, uuid } from '../schema-types.js';

/** scope → the field naming what it applies to, and its column. */
const TARGETS = { extension: ['extensionId', 'extension_id'], queue: ['queueId', 'queue_id'] } as const;
type Scope = 'all' | 'inbound' | 'outbound' | keyof typeof TARGETS;

export const recordingRules: ResourceDef = {
  path: 'recording-rules',
  table: 'recording_rules',
  noun: 'recording_rule',
  fields: {
    scope: {
      column: 'scope',
      schema: { type: 'string', enum: ['all', 'inbound', 'outbound', 'extension', 'queue'] },
      required: true,
    },
    extensionId: { column: 'extension_id', schema: nullable(uuid), references: 'extensions' },
    queueId: { column: 'queue_id', schema: nullable(uuid), references: 'queues' },
    enabled: { column: 'enabled', schema: bool },
  },
  beforeWrite({ input, before }) {
    const scope = (input.scope ?? before?.scope) as Scope;
    const clear: Record<string, null> = {};
    for (const [s, [field, column]] of Object.entries(TARGETS)) {
      if (s === scope) {
        if ((input[field] ?? before?.[field] ?? null) === null)
          throw badRequest(field, `is required when scope is ${scope}`);
        continue;
      }
      if (input[field] !== undefined && input[field] !== null)
        throw badRequest(field, `must be null when scope is ${scope}`);
      // Changing the scope clears what the old one named.
      if (input[field] === undefined && before?.[field] != null) clear[column] = null;
    }
    return clear;
  },
};
