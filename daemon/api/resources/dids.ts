// DIDs: a public number routed to one of the tenant's extensions or queues.
// e164 is unique across all tenants (a number reaches one PBX), so a taken
// number answers 409 without saying whose it is.
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { bool, e164, nullable, uuid } from '../schema-types.js';

export const dids: ResourceDef = {
  path: 'dids',
  table: 'dids',
  noun: 'did',
  fields: {
    e164: { column: 'e164', schema: e164, required: true },
    destinationType: {
      column: 'destination_type',
      schema: { type: 'string', enum: ['extension', 'queue'] },
      required: true,
    },
    extensionId: { column: 'extension_id', schema: nullable(uuid), references: 'extensions' },
    queueId: { column: 'queue_id', schema: nullable(uuid), references: 'queues' },
    enabled: { column: 'enabled', schema: bool },
  },
  beforeWrite({ input, before }) {
    const type = (input.destinationType ?? before?.destinationType) as 'extension' | 'queue';
    const [want, other, otherColumn] =
      type === 'extension'
        ? (['extensionId', 'queueId', 'queue_id'] as const)
        : (['queueId', 'extensionId', 'extension_id'] as const);
    if ((input[want] ?? before?.[want] ?? null) === null)
      throw badRequest(want, `is required when destinationType is ${type}`);
    if (input[other] !== undefined && input[other] !== null)
      throw badRequest(other, `must be null when destinationType is ${type}`);
    // Switching the destination type clears the other reference.
    return input[other] === undefined && before?.[other] != null ? { [otherColumn]: null } : {};
  },
};
