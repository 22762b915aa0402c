// Small JSON-schema vocabulary shared by the route modules (schemas double as the OpenAPI document).
export type JsonSchema = Record<string, unknown>;

export const uuid: JsonSchema = { type: 'string', format: 'uuid' };
export const slug: JsonSchema = { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$', maxLength: 63 };
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
  type: 'string', maxLength, pattern: '^[^$^{}\\[\\],;\\\\\'"<>&\\u0000-\\u001f\\u007f]*$',
});

export const errorBody: JsonSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
};

export const pageQuery: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 } },
};
