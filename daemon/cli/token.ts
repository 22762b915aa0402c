// npm run token -- --tenant acme --role tenant_admin
// Mints an admin API token. Without --key it signs with the daemon's own key
// pair under FS_TENANTD_STATE_DIR/jwt (created on first use, by this CLI or the
// daemon), which is what the daemon verifies with when no JWT key is configured.
// The token goes to stdout alone, so TOKEN=$(npm run -s token -- ...) works.
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ROLES, type Role } from '../auth/claims.js';
import { ASYMMETRIC_ALGS, type JwsAlg } from '../auth/jwt-config.js';
import { ensureLocalKeyPair } from '../auth/local-key-pair.js';
import { defaultAlgFor, mintToken, privateKeyFromPem } from '../auth/mint-token.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { DEMO_TENANTS } from '../db/demo-seed.js';

const USAGE = `usage: npm run token -- --role <${ROLES.join('|')}> [options]
  --tenant <slug>        tenant the token acts for (all roles but superadmin)
  --sip-domain <domain>  the tenant's SIP domain (default: known for the demo tenants)
  --sub <subject>        who the token is for; for role agent, the extension number
  --ttl <seconds>        lifetime (default 3600)
  --key <file>           private key PEM (default: FS_TENANTD_JWT_PRIVATE_KEY_FILE, else the daemon's own key pair)
  --alg <alg>            signing algorithm (default: from the key type)
  --kid <id>             key id header (for JWKS key sets)`;

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(64); // EX_USAGE
}

async function main(): Promise<void> {
  const options = {
    tenant: { type: 'string' },
    role: { type: 'string' },
    sub: { type: 'string' },
    'sip-domain': { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    key: { type: 'string' },
    alg: { type: 'string' },
    kid: { type: 'string' },
    help: { type: 'boolean' },
  } as const;
  let args: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
  try {
    args = parseArgs({ options }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const role = args.role as Role | undefined;
  if (!role || !(ROLES as readonly string[]).includes(role)) fail(`--role must be one of ${ROLES.join(', ')}`);
  if (!/^\d{1,9}$/.test(args.ttl) || Number(args.ttl) < 1) fail('--ttl must be a number of seconds');
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }

  let tenantSlug: string | undefined;
  let sipDomain: string | undefined;
  if (role !== 'superadmin') {
    tenantSlug = args.tenant ?? fail(`--tenant is required for role ${role}`);
    sipDomain =
      args['sip-domain'] ??
      DEMO_TENANTS.find((t) => t.slug === tenantSlug)?.domain ??
      fail(`--sip-domain is required for tenant ${tenantSlug} (the token names the tenant's SIP domain)`);
  }
  if (role === 'agent' && !args.sub) fail('--sub <extension number> is required for role agent');
  const sub = args.sub ?? (role === 'superadmin' ? 'operator' : `admin@${tenantSlug}`);

  let keyFile = args.key ?? process.env.FS_TENANTD_JWT_PRIVATE_KEY_FILE;
  if (!keyFile) {
    if (config.jwt.keySource.kind !== 'local')
      fail('the daemon verifies tokens with a configured key; pass --key <private key PEM> of that key');
    keyFile = (await ensureLocalKeyPair(config.jwt.keySource.dir)).privateKey;
  }
  const key = privateKeyFromPem(await fs.readFile(keyFile, 'utf8'));
  const alg = (args.alg ?? defaultAlgFor(key)) as JwsAlg;
  if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg)) fail(`--alg must be one of ${ASYMMETRIC_ALGS.join(', ')}`);
  const token = await mintToken(key, {
    sub,
    role,
    tenantSlug,
    sipDomain,
    ttlSeconds: Number(args.ttl),
    alg,
    kid: args.kid,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stderr.write(
    `token: ${role} ${sub}${tenantSlug ? ` of ${tenantSlug}` : ''}, ${alg}, expires in ${args.ttl} s (key ${keyFile})\n`,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
