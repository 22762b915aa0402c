// Small JSON-schema vocabulary shared by the route modules (schemas double as the OpenAPI document).
import {
  EXTENSION_NUMBER_PATTERN,
  SIP_DOMAIN_MAX_LENGTH,
  SIP_DOMAIN_PATTERN,
  SLUG_PATTERN,
} from '../../xml-handlers/fs-names.js';

export type JsonSchema = Record<string, unknown>;

export const uuid: JsonSchema = { type: 'string', format: 'uuid' };
export const slug: JsonSchema = { type: 'string', pattern: SLUG_PATTERN, maxLength: 63 };
export const extensionNumber: JsonSchema = { type: 'string', pattern: EXTENSION_NUMBER_PATTERN };
/** The rule (and why a digit may not come first) is xml-handlers/fs-names.ts's; the database has the same CHECK. */
export const sipDomain: JsonSchema = {
  type: 'string',
  maxLength: SIP_DOMAIN_MAX_LENGTH,
  pattern: SIP_DOMAIN_PATTERN,
  description: 'Lower-case host name starting with a letter (FreeSWITCH caches users under "id" + number + domain).',
};
export const e164: JsonSchema = { type: 'string', pattern: '^\\+[1-9][0-9]{1,14}$' };
export const digits = (min: number, max: number): JsonSchema => ({ type: 'string', pattern: `^[0-9]{${min},${max}}$` });
export const callerIdNumber: JsonSchema = { type: 'string', pattern: '^\\+?[0-9]{1,20}$' };
export const int = (minimum: number, maximum: number): JsonSchema => ({ type: 'integer', minimum, maximum });
export const bool: JsonSchema = { type: 'boolean' };
export const timestamp: JsonSchema = { type: 'string', format: 'date-time' };
export const nullable = (s: JsonSchema): JsonSchema => ({ ...s, type: [s.type as string, 'null'] });
/**
 * Free text that ends up in FreeSWITCH (XML, channel variables, dial strings):
 * no variable expansion (`$`, `{}`), no dial-string syntax (`[]`, `,`, `;`, `^`),
 * no quotes, angle brackets, backslashes or control characters.
 */
export const safeText = (maxLength: number): JsonSchema => ({
  type: 'string',
  maxLength,
  pattern: '^[^$^{}\\[\\],;\\\\\'"<>&\\u0000-\\u001f\\u007f]*$',
});

export const errorBody: JsonSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
};

export const pageQuery: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
  },
};
