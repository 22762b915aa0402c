import type { Role } from '../auth/claims.js';

/** Per-route settings the API's hooks read (fastify route `config`). */
export interface ApiRouteConfig {
  /** Roles allowed; a superadmin acting in a tenant (X-Tenant-Id) may use every tenant_admin route. */
  roles?: readonly Role[];
  /** No token needed (the OpenAPI document). */
  public?: boolean;
  /** The table whose row the `:id` path parameter names (the cross-tenant gate test reads it). */
  resource?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig extends ApiRouteConfig {}
  interface FastifyRequest {
    apiScope: import('./scope.js').ApiScope | null;
  }
}
