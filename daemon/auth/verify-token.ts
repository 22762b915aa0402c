// Bearer-token verification with jose. Algorithms are pinned to the configured
// asymmetric list, so `alg: none` and HS256 tokens "signed" with the public key
// are refused before any signature maths; exp and sub are required.
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { principalFromClaims, type Principal } from './claims.js';
import type { JwtConfig } from './jwt-config.js';
import { ensureLocalKeyPair } from './local-key-pair.js';

/** Label values of fs_tenantd_api_auth_failures_total{reason} (API-side reasons included). */
export type AuthFailureReason =
  | 'missing_token'
  | 'malformed'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'claims_invalid'
  | 'key_unavailable'
  | 'unknown_tenant'
  | 'tenant_mismatch';

export type VerifyResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: AuthFailureReason; detail: string };

export interface TokenVerifier {
  verify(token: string): Promise<VerifyResult>;
  /** Where keys come from, for the start-up log. */
  readonly describe: string;
}

type Key = KeyObject | JWTVerifyGetKey;

async function loadKey(cfg: JwtConfig): Promise<{ key: Key; describe: string }> {
  const src = cfg.keySource;
  switch (src.kind) {
    case 'local': {
      const pair = await ensureLocalKeyPair(src.dir);
      return {
        key: createPublicKey(await fs.readFile(pair.publicKey, 'utf8')),
        describe: `local key pair ${pair.publicKey}${pair.created ? ' (created)' : ''}`,
      };
    }
    case 'pem-file': {
      const pem = await fs.readFile(src.path, 'utf8');
      const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
      return { key, describe: `PEM ${src.path}` };
    }
    case 'jwks-file': {
      const jwks = JSON.parse(await fs.readFile(src.path, 'utf8')) as JSONWebKeySet;
      return { key: createLocalJWKSet(jwks), describe: `JWKS ${src.path}` };
    }
    case 'jwks-url':
      return {
        key: createRemoteJWKSet(new URL(src.url), {
          timeoutDuration: 5000,
          cooldownDuration: 30_000,
          cacheMaxAge: 600_000,
        }),
        describe: `JWKS ${src.url}`,
      };
  }
}

function classify(err: unknown, remoteKeys: boolean): { reason: AuthFailureReason; detail: string } {
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof errors.JWTExpired) return { reason: 'expired', detail };
  if (err instanceof errors.JWTClaimValidationFailed)
    return { reason: err.claim === 'nbf' ? 'not_yet_valid' : 'claims_invalid', detail };
  if (err instanceof errors.JOSEAlgNotAllowed) return { reason: 'alg_not_allowed', detail };
  if (
    err instanceof errors.JWSSignatureVerificationFailed ||
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys
  )
    return { reason: 'bad_signature', detail };
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid)
    return { reason: 'key_unavailable', detail };
  // The key cannot serve the token's algorithm (an EC key for an RS256 token): signed by someone else.
  if (err instanceof errors.JOSENotSupported) return { reason: 'bad_signature', detail };
  // jose reports a JWKS HTTP error status with its base class.
  if (remoteKeys && err instanceof errors.JOSEError && err.constructor === errors.JOSEError)
    return { reason: 'key_unavailable', detail };
  if (err instanceof errors.JOSEError) return { reason: 'malformed', detail };
  // A JWKS URL that cannot be fetched (fetch's TypeError, HTTP errors) is our outage, not the client's fault.
  if (remoteKeys) return { reason: 'key_unavailable', detail };
  return { reason: 'bad_signature', detail };
}

export async function createTokenVerifier(cfg: JwtConfig): Promise<TokenVerifier> {
  const { key, describe } = await loadKey(cfg);
  const options = {
    algorithms: cfg.algorithms,
    clockTolerance: cfg.clockToleranceS,
    requiredClaims: ['exp', 'sub'],
    ...(cfg.issuer ? { issuer: cfg.issuer } : {}),
    ...(cfg.audience ? { audience: cfg.audience } : {}),
  };
  return {
    describe: `${describe}; algorithms ${cfg.algorithms.join(',')}`,
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        payload = (
          typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options)
        ).payload;
      } catch (err) {
        return { ok: false, ...classify(err, cfg.keySource.kind === 'jwks-url') };
      }
      const read = principalFromClaims(payload);
      if ('problem' in read)
        return { ok: false, reason: 'claims_invalid', detail: `claim ${read.problem} is missing or malformed` };
      return { ok: true, principal: read.principal };
    },
  };
}
