// The OpenAPI 3.1 document, assembled from the same JSON schemas fastify
// validates with (3.1 takes JSON Schema as is), so it cannot drift from the code.
import type { RouteOptions } from 'fastify';
import type { JsonSchema } from './schema-types.js';

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Invalid input (the message names the field)',
  401: 'Missing or invalid bearer token',
  403: 'Not allowed for this role',
  404: 'Not found (in this tenant)',
  409: 'Conflict (the message names the field)',
};

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): object[] {
  const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema?.required ?? []) as string[];
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.includes(name),
    schema: s,
  }));
}

export function openApiDocument(routes: readonly RouteOptions[], info: { title: string; version: string }): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD');
    const schema = (r.schema ?? {}) as Record<string, JsonSchema | undefined>;
    const config = (r.config ?? {}) as { roles?: string[]; public?: boolean };
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const tenantScoped = config.roles?.some((role) => role === 'tenant_admin');
    const responses = Object.fromEntries(
      Object.entries((schema.response ?? {}) as Record<string, JsonSchema>).map(([code, s]) => [
        code,
        {
          description: STATUS_TEXT[code] ?? code,
          ...(code === '204' ? {} : { content: { 'application/json': { schema: s } } }),
        },
      ]),
    );
    for (const method of methods) {
      (paths[path] ??= {})[method.toLowerCase()] = {
        ...(schema.tags ? { tags: schema.tags } : {}),
        ...(config.roles || schema.description
          ? {
              description: [
                schema.description,
                config.roles &&
                  `Roles: ${config.roles.join(', ')}${tenantScoped ? ' (superadmin with X-Tenant-Id)' : ''}.`,
              ]
                .filter(Boolean)
                .join(' '),
            }
          : {}),
        parameters: [
          ...parameters(schema.params, 'path'),
          ...parameters(schema.querystring, 'query'),
          ...(tenantScoped
            ? [
                {
                  name: 'X-Tenant-Id',
                  in: 'header',
                  required: false,
                  description: 'Superadmin only: the tenant slug to act in (audited as cross-tenant).',
                  schema: { type: 'string' },
                },
              ]
            : []),
        ],
        ...(schema.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } }
          : {}),
        responses: Object.keys(responses).length ? responses : { 200: { description: 'OK' } },
        security: config.public ? [] : [{ bearer: [] }],
      };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
