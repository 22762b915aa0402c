import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

/** Structured JSON logs; secrets are redacted wherever they appear under these keys. */
export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'fs-tenantd' },
    redact: {
      paths: ['password', '*.password', 'a1_hash', '*.a1_hash', 'token', '*.token', 'authorization', '*.authorization',
        'req.headers.authorization', 'headers.authorization', 'sip_auth_response', '*.sip_auth_response'],
      censor: '[redacted]',
    },
  });
}
