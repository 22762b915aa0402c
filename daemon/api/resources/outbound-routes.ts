// Outbound routes: dialled-digit patterns to one of the tenant's trunks.
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { bool, callerIdNumber, int, nullable, safeText, slug, uuid } from '../schema-types.js';

export const outboundRoutes: ResourceDef = {
  path: 'outbound-routes',
  table: 'outbound_routes',
  noun: 'outbound_route',
  fields: {
    name: { column: 'name', schema: slug, required: true },
    pattern: { column: 'pattern', schema: { type: 'string', minLength: 1, maxLength: 200 }, required: true },
    priority: { column: 'priority', schema: int(0, 10000) },
    trunkId: { column: 'trunk_id', schema: uuid, required: true, references: 'sip_trunks' },
    stripDigits: { column: 'strip_digits', schema: int(0, 20) },
    prepend: { column: 'prepend', schema: { type: 'string', pattern: '^[0-9+*#]{0,20}$' } },
    callerIdNumber: { column: 'caller_id_number', schema: nullable(callerIdNumber) },
    callerIdName: { column: 'caller_id_name', schema: nullable(safeText(80)) },
    enabled: { column: 'enabled', schema: bool },
  },
  beforeWrite({ input }) {
    if (typeof input.pattern === 'string') {
      try {
        new RegExp(input.pattern);
      } catch {
        throw badRequest('pattern', 'is not a valid regular expression');
      }
    }
    return {};
  },
};
