import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';

// Secrets are redacted wherever they appear under these keys, at the top level
// or one object deep (pino paths take one wildcard per segment). Logs are
// structured JSON: pass secrets' owners (user, domain), never the secret itself.
const SECRET_KEYS = [
  'password',
  'a1_hash',
  'a1Hash',
  '["a1-hash"]',
  'token',
  'secret',
  'authorization',
  'cookie',
  'sip_auth_response',
  'sip_auth_nonce',
];

export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, k.startsWith('[') ? `*${k}` : `*.${k}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'nodes[*].password',
  'esl.nodes[*].password',
];

/** Structured JSON logs; `destination` is for tests (default: stdout). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'fs-tenantd' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
