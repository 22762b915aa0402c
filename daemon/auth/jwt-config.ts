// JWT settings, read by daemon/config.ts. Exactly one key source: a PEM public
// key (or certificate), a JWKS file, a JWKS URL, or, when none is set, the
// daemon's own key pair under <stateDir>/jwt (see local-key-pair.ts).
import path from 'node:path';
import type { EnvReader } from '../config.js';

/** Asymmetric JWS algorithms only: an HMAC algorithm would let anyone holding the public key sign. */
export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwsAlg = (typeof ASYMMETRIC_ALGS)[number];

export type JwtKeySource =
  | { kind: 'pem-file'; path: string }
  | { kind: 'jwks-file'; path: string }
  | { kind: 'jwks-url'; url: string }
  | { kind: 'local'; dir: string };

export interface JwtConfig {
  keySource: JwtKeySource;
  algorithms: JwsAlg[];
  issuer: string | undefined;
  audience: string | undefined;
  clockToleranceS: number;
}

export function readJwtConfig(r: EnvReader, stateDir: string): JwtConfig {
  const pem = r.raw('FS_TENANTD_JWT_PUBLIC_KEY_FILE');
  const jwksFile = r.raw('FS_TENANTD_JWT_JWKS_FILE');
  const jwksUrl = r.raw('FS_TENANTD_JWT_JWKS_URL');
  const set = [
    pem && 'FS_TENANTD_JWT_PUBLIC_KEY_FILE',
    jwksFile && 'FS_TENANTD_JWT_JWKS_FILE',
    jwksUrl && 'FS_TENANTD_JWT_JWKS_URL',
  ].filter(Boolean);
  if (set.length > 1) r.problems.push(`${set.join(' and ')}: set only one JWT key source`);
  let keySource: JwtKeySource = { kind: 'local', dir: path.join(stateDir, 'jwt') };
  if (pem) keySource = { kind: 'pem-file', path: path.resolve(pem) };
  else if (jwksFile) keySource = { kind: 'jwks-file', path: path.resolve(jwksFile) };
  else if (jwksUrl) {
    try {
      const u = new URL(jwksUrl);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
    } catch {
      r.problems.push('FS_TENANTD_JWT_JWKS_URL: expected an https:// URL of a JSON Web Key Set');
    }
    keySource = { kind: 'jwks-url', url: jwksUrl };
  }
  const algorithms: JwsAlg[] = [];
  for (const alg of (r.raw('FS_TENANTD_JWT_ALGORITHMS') ?? 'RS256,ES256')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if ((ASYMMETRIC_ALGS as readonly string[]).includes(alg)) algorithms.push(alg as JwsAlg);
    else
      r.problems.push(
        `FS_TENANTD_JWT_ALGORITHMS: ${JSON.stringify(alg)} is not allowed; expected a comma-separated list of ${ASYMMETRIC_ALGS.join(', ')}`,
      );
  }
  if (algorithms.length === 0)
    r.problems.push('FS_TENANTD_JWT_ALGORITHMS: expected at least one algorithm, e.g. RS256,ES256');
  return {
    keySource,
    algorithms,
    issuer: r.raw('FS_TENANTD_JWT_ISSUER'),
    audience: r.raw('FS_TENANTD_JWT_AUDIENCE'),
    clockToleranceS: r.int('FS_TENANTD_JWT_CLOCK_TOLERANCE_S', 30, 0, 300),
  };
}
