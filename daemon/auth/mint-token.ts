// Signs tokens for the CLI (and tests): the same claims the verifier reads.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Role } from './claims.js';
import type { JwsAlg } from './jwt-config.js';

export interface MintOptions {
  sub: string;
  role: Role;
  tenantSlug?: string;
  sipDomain?: string;
  ttlSeconds: number;
  alg: JwsAlg;
  issuer?: string;
  audience?: string;
  kid?: string;
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** The algorithm a key can sign with by default (ES256 for P-256, RS256 for RSA). */
export function defaultAlgFor(key: KeyObject): JwsAlg {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'rsa-pss') return 'PS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
    return 'ES256';
  }
  throw new Error(`unsupported key type ${type ?? 'unknown'}: use an RSA, EC (P-256/384/521) or Ed25519 private key`);
}

export async function mintToken(key: KeyObject, o: MintOptions): Promise<string> {
  const claims: Record<string, unknown> = { role: o.role };
  if (o.tenantSlug) claims.tenantSlug = o.tenantSlug;
  if (o.sipDomain) claims.sipDomain = o.sipDomain;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg, typ: 'JWT', ...(o.kid ? { kid: o.kid } : {}) })
    .setSubject(o.sub)
    .setIssuedAt()
    .setExpirationTime(`${o.ttlSeconds}s`);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  return jwt.sign(key);
}
