// API errors: one shape on the wire, {statusCode, error, message}, where message
// names the offending field when there is one. PostgreSQL constraint errors are
// translated here, so the database stays the judge of integrity (composite
// foreign keys refuse cross-tenant links) and the client still gets a clear answer.

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (field: string, problem: string) => new ApiError(400, 'bad_request', `${field}: ${problem}`);
export const notFound = (what = 'resource') => new ApiError(404, 'not_found', `${what} not found`);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const conflict = (field: string, problem = 'already in use') =>
  new ApiError(409, 'conflict', `${field}: ${problem}`);

interface PgError {
  code?: string;
  detail?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

const isPgError = (err: unknown): err is PgError =>
  typeof err === 'object' &&
  err !== null &&
  typeof (err as PgError).code === 'string' &&
  /^[0-9A-Z]{5}$/.test((err as PgError).code!);

/** The non-tenant column named in a "Key (tenant_id, number)=(...)" detail. */
function keyColumn(detail: string | undefined): string | undefined {
  const cols = /^Key \(([^)]+)\)/
    .exec(detail ?? '')?.[1]
    ?.split(',')
    .map((c) => c.trim())
    .filter((c) => c !== 'tenant_id');
  return cols?.at(-1);
}

/** "extensions_tenant_id_number_key" -> "number" (PostgreSQL's default constraint names). */
function columnOfConstraint(err: PgError): string | undefined {
  if (!err.constraint || !err.table || !err.constraint.startsWith(`${err.table}_`)) return undefined;
  return (
    err.constraint
      .slice(err.table.length + 1)
      .replace(/_(key|fkey|pkey)$/, '')
      .replace(/^tenant_id_/, '') || undefined
  );
}

// Columns whose API field is not simply the camelCase of the column.
const FIELD_OF_COLUMN: Record<string, string> = {
  feature_key: 'key',
  domain: 'sipDomain',
  parent_id: 'parentSlug',
  queue_id_agent_id: 'agentId',
};
const fieldOf = (column: string) =>
  FIELD_OF_COLUMN[column] ?? column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Maps a PostgreSQL error to an ApiError naming the API field, or undefined if it is not the client's fault. */
export function fromPgError(err: unknown): ApiError | undefined {
  if (!isPgError(err)) return undefined;
  // PostgreSQL leaves out the DETAIL ("Key (slug)=(...)") when RLS hides the row, so fall back to the constraint's name.
  const column = err.column ?? keyColumn(err.detail) ?? columnOfConstraint(err);
  const field = column ? fieldOf(column) : 'body';
  switch (err.code) {
    case '23505':
      return conflict(field);
    // A composite foreign key failing means "no such row in this tenant": another tenant's id looks exactly like a missing one.
    case '23503':
      return new ApiError(404, 'not_found', `${field}: referenced resource not found`);
    case '23514': {
      // Raised by a trigger (sql/014 check_tenant_tree) with the column and a message written for the client.
      if (err.column && !err.constraint) return badRequest(fieldOf(err.column), (err as Error).message);
      const col =
        err.constraint && err.table ? err.constraint.replace(`${err.table}_`, '').replace(/_check$/, '') : undefined;
      return badRequest(
        col ? fieldOf(col) : 'body',
        `rejected by a database constraint${err.constraint ? ` (${err.constraint})` : ''}`,
      );
    }
    case '23502':
      return badRequest(field, 'is required');
    case '22P02':
    case '22023':
    case '22007':
    case '22008':
    case '22003':
      return badRequest(field, 'invalid value');
    default:
      return undefined;
  }
}
