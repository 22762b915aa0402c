// Bearer-token authentication: every bad-token case is a 401 with one generic
// message, counted by reason and logged, and the API keeps serving; key sources
// (local pair, PEM, JWKS file, JWKS URL) and the token CLI.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, SignJWT } from 'jose';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { JwtConfig } from '../../daemon/auth/jwt-config.js';
import { mintToken } from '../../daemon/auth/mint-token.js';
import { createTokenVerifier } from '../../daemon/auth/verify-token.js';
import { type ConfigError, loadConfig } from '../../daemon/config.js';
import { projectRoot } from '../../daemon/paths.js';
import { counterValue, rsaPair, startApi, type ApiHarness } from './api-harness.js';

const run = promisify(execFile);
let h: ApiHarness;
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const acmeClaims = { sub: 'admin@acme', role: 'tenant_admin', tenantSlug: 'acme', sipDomain: 'acme.pbx.test' };
const sign = (claims: Record<string, unknown>, alg = 'ES256') =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(h.signingKey);

test.before(async () => {
  h = await startApi();
});
test.after(() => h.close());

test('a valid token reaches its own tenant', async () => {
  const res = await h.call('GET', '/api/tenant', { token: await h.token('tenant_admin', 'acme') });
  assert.is(res.status, 200, res.text);
  assert.is(res.body.slug, 'acme');
});

const BAD: Array<[string, string, () => Promise<string | undefined>]> = [
  ['no Authorization header', 'missing_token', async () => undefined],
  ['not a Bearer scheme', 'malformed', async () => `Basic ${Buffer.from('a:b').toString('base64')}`],
  ['not a JWT', 'malformed', async () => 'Bearer not-a-token'],
  ['expired', 'expired', async () => `Bearer ${await sign({ ...acmeClaims, exp: now() - 120 })}`],
  [
    'not yet valid',
    'not_yet_valid',
    async () => `Bearer ${await sign({ ...acmeClaims, exp: now() + 600, nbf: now() + 300 })}`,
  ],
  [
    'alg none',
    'alg_not_allowed',
    async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...acmeClaims, exp: now() + 600 })}.`,
  ],
  [
    'HS256 signed with the public key',
    'alg_not_allowed',
    async () => {
      const pub = await fs.readFile(path.join(h.keyDir, 'public.pem'), 'utf8');
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ ...acmeClaims, role: 'superadmin', exp: now() + 600 })}`;
      return `Bearer ${input}.${createHmac('sha256', pub).update(input).digest('base64url')}`;
    },
  ],
  [
    'tampered payload',
    'bad_signature',
    async () => {
      const [head, , sig] = (await sign({ ...acmeClaims, exp: now() + 600 })).split('.');
      return `Bearer ${head}.${b64({ ...acmeClaims, tenantSlug: 'globex', sipDomain: 'globex.pbx.test', exp: now() + 600 })}.${sig}`;
    },
  ],
  [
    'signed by a key the daemon does not trust',
    'bad_signature',
    async () =>
      `Bearer ${await new SignJWT({ ...acmeClaims, exp: now() + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(rsaPair().privateKey)}`,
  ],
  [
    'unknown tenant',
    'unknown_tenant',
    async () =>
      `Bearer ${await sign({ ...acmeClaims, tenantSlug: 'initech', sipDomain: 'initech.pbx.test', exp: now() + 600 })}`,
  ],
  [
    'sipDomain of another tenant',
    'tenant_mismatch',
    async () => `Bearer ${await sign({ ...acmeClaims, sipDomain: 'globex.pbx.test', exp: now() + 600 })}`,
  ],
  ['missing exp', 'claims_invalid', async () => `Bearer ${await sign(acmeClaims)}`],
  [
    'missing sub',
    'claims_invalid',
    async () => `Bearer ${await sign({ ...acmeClaims, sub: undefined, exp: now() + 600 })}`,
  ],
  [
    'missing role',
    'claims_invalid',
    async () => `Bearer ${await sign({ ...acmeClaims, role: undefined, exp: now() + 600 })}`,
  ],
  [
    'unknown role',
    'claims_invalid',
    async () => `Bearer ${await sign({ ...acmeClaims, role: 'root', exp: now() + 600 })}`,
  ],
  [
    'missing tenantSlug',
    'claims_invalid',
    async () => `Bearer ${await sign({ ...acmeClaims, tenantSlug: undefined, exp: now() + 600 })}`,
  ],
  [
    'missing sipDomain',
    'claims_invalid',
    async () => `Bearer ${await sign({ ...acmeClaims, sipDomain: undefined, exp: now() + 600 })}`,
  ],
];

for (const [name, reason, make] of BAD) {
  test(`bad token: ${name} -> 401 (${reason}), counted and logged`, async () => {
    const header = await make();
    const before = await counterValue(h.registry, 'fs_tenantd_api_auth_failures_total', { reason });
    const logsBefore = h.logs.length;
    const res = await h.call('GET', '/api/extensions', { headers: header ? { authorization: header } : {} });
    assert.is(res.status, 401, res.text);
    assert.equal(res.body, { statusCode: 401, error: 'unauthorized', message: 'invalid or missing bearer token' });
    assert.is(await counterValue(h.registry, 'fs_tenantd_api_auth_failures_total', { reason }), before + 1);
    const logged = h.logs.slice(logsBefore).find((l) => l.msg === 'admin API authentication failed');
    assert.ok(logged, 'failure not logged');
    assert.is(logged!.reason, reason);
    assert.not.ok(JSON.stringify(logged).includes(header?.slice(7, 40) ?? '\0'), 'the token itself must not be logged');
  });
}

test('after every bad token the API still serves good ones; request metric has bounded route labels', async () => {
  const res = await h.call('GET', '/api/extensions', { token: await h.token('tenant_admin', 'globex') });
  assert.is(res.status, 200);
  assert.is(res.body.items.length, 4);
  assert.ok(
    (await counterValue(h.registry, 'fs_tenantd_api_requests_total', { route: '/api/extensions', status: '401' })) >=
      BAD.length,
  );
});

test('clock tolerance: a token expired a moment ago (within tolerance) is still accepted', async () => {
  const res = await h.call('GET', '/api/tenant', {
    headers: { authorization: `Bearer ${await sign({ ...acmeClaims, exp: now() - 2 })}` },
  });
  assert.is(res.status, 200, res.text);
});

test('a tenant user cannot pick a tenant with X-Tenant-Id (403), nor use superadmin routes', async () => {
  const t = await h.token('tenant_admin', 'globex');
  assert.is((await h.call('GET', '/api/extensions', { token: t, headers: { 'x-tenant-id': 'acme' } })).status, 403);
  assert.is((await h.call('GET', '/security/isolation-proof', { token: t })).status, 403);
  assert.is((await h.call('GET', '/api/tenants', { token: t })).status, 403);
});

test('roles: an agent is refused tenant-admin routes; reseller_admin has no routes yet', async () => {
  const agent = await h.token('agent', 'acme');
  assert.is((await h.call('GET', '/api/extensions', { token: agent })).status, 403);
  assert.is((await h.call('GET', '/api/me/agent', { token: agent })).status, 200);
  const reseller = await h.token('reseller_admin', 'acme');
  assert.is((await h.call('GET', '/api/extensions', { token: reseller })).status, 403);
});

test('a suspended tenant: its users get 403, the operator still gets in', async () => {
  await h.inTenant(h.tenants.globex, (db) => db.query("UPDATE tenants SET status = 'suspended'"));
  try {
    const res = await h.call('GET', '/api/extensions', { token: await h.token('tenant_admin', 'globex') });
    assert.is(res.status, 403);
    assert.match(res.body.message, /suspended/);
    const op = await h.call('GET', '/api/extensions', {
      token: await h.token('superadmin'),
      headers: { 'x-tenant-id': 'globex' },
    });
    assert.is(op.status, 200);
  } finally {
    await h.inTenant(h.tenants.globex, (db) => db.query("UPDATE tenants SET status = 'active'"));
  }
});

test('the OpenAPI document needs no token and lists every route', async () => {
  const res = await h.call('GET', '/api/openapi.json');
  assert.is(res.status, 200);
  assert.is(res.body.openapi, '3.1.0');
  for (const p of [
    '/api/extensions/{id}',
    '/api/calls',
    '/api/audit',
    '/security/isolation-proof',
    '/api/features/{key}',
    '/api/me/agent/status',
  ])
    assert.ok(res.body.paths[p], p);
  assert.equal(
    res.body.paths['/api/trunks'].post.requestBody.content['application/json'].schema.properties.allowedCidrs.type,
    'array',
  );
});

// Key sources, verified directly.
const cfg = (keySource: JwtConfig['keySource'], extra: Partial<JwtConfig> = {}): JwtConfig => ({
  keySource,
  algorithms: ['RS256', 'ES256'],
  issuer: undefined,
  audience: undefined,
  clockToleranceS: 5,
  ...extra,
});
const claims = {
  sub: 'x',
  role: 'tenant_admin' as const,
  tenantSlug: 'acme',
  sipDomain: 'acme.pbx.test',
  ttlSeconds: 60,
};

test('key source: RSA public key PEM file, RS256', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-pem-'));
  try {
    const { privateKey, publicPem } = rsaPair();
    await fs.writeFile(path.join(dir, 'pub.pem'), publicPem);
    const v = await createTokenVerifier(cfg({ kind: 'pem-file', path: path.join(dir, 'pub.pem') }));
    const ok = await v.verify(await mintToken(privateKey, { ...claims, alg: 'RS256' }));
    assert.ok(ok.ok && ok.principal.role === 'tenant_admin' && ok.principal.tenantSlug === 'acme');
    const es = await v.verify(await mintToken(h.signingKey, { ...claims, alg: 'ES256' }));
    assert.equal(es.ok ? 'accepted' : es.reason, 'bad_signature');
    // PS256 is not in the pinned list, even with the right key.
    const ps = await v.verify(await mintToken(privateKey, { ...claims, alg: 'PS256' }));
    assert.equal(ps.ok ? 'accepted' : ps.reason, 'alg_not_allowed');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('key source: JWKS file picks the key by kid; issuer and audience are enforced when configured', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-jwks-'));
  try {
    const { privateKey, publicPem } = rsaPair();
    const { createPublicKey } = await import('node:crypto');
    const jwk = { ...(await exportJWK(createPublicKey(publicPem))), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    const ec = { ...(await exportJWK(createPublicKey(h.signingKey))), kid: 'ec-1', alg: 'ES256', use: 'sig' };
    await fs.writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk, ec] }));
    const v = await createTokenVerifier(
      cfg(
        { kind: 'jwks-file', path: path.join(dir, 'jwks.json') },
        { issuer: 'https://idp.example', audience: 'fs-tenantd' },
      ),
    );
    const good = { issuer: 'https://idp.example', audience: 'fs-tenantd' };
    assert.ok((await v.verify(await mintToken(privateKey, { ...claims, ...good, alg: 'RS256', kid: 'rsa-1' }))).ok);
    assert.ok((await v.verify(await mintToken(h.signingKey, { ...claims, ...good, alg: 'ES256', kid: 'ec-1' }))).ok);
    const wrongIss = await v.verify(
      await mintToken(privateKey, {
        ...claims,
        issuer: 'https://evil.example',
        audience: 'fs-tenantd',
        alg: 'RS256',
        kid: 'rsa-1',
      }),
    );
    assert.equal(wrongIss.ok ? 'accepted' : wrongIss.reason, 'claims_invalid');
    const noAud = await v.verify(
      await mintToken(privateKey, { ...claims, issuer: 'https://idp.example', alg: 'RS256', kid: 'rsa-1' }),
    );
    assert.equal(noAud.ok ? 'accepted' : noAud.reason, 'claims_invalid');
    const unknownKid = await v.verify(
      await mintToken(rsaPair().privateKey, { ...claims, ...good, alg: 'RS256', kid: 'rsa-2' }),
    );
    assert.equal(unknownKid.ok ? 'accepted' : unknownKid.reason, 'bad_signature');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('key source: JWKS URL; an unreachable key server is key_unavailable, not a client error', async () => {
  const { createPublicKey } = await import('node:crypto');
  const ec = { ...(await exportJWK(createPublicKey(h.signingKey))), kid: 'ec-1', alg: 'ES256' };
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [ec] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const v = await createTokenVerifier(cfg({ kind: 'jwks-url', url: `http://127.0.0.1:${port}/jwks.json` }));
    assert.ok((await v.verify(await mintToken(h.signingKey, { ...claims, alg: 'ES256', kid: 'ec-1' }))).ok);
  } finally {
    await new Promise((r) => server.close(r));
  }
  const closedPort = (server.address() as { port: number } | null)?.port ?? 9;
  const down = await createTokenVerifier(cfg({ kind: 'jwks-url', url: `http://127.0.0.1:${closedPort}/jwks.json` }));
  const res = await down.verify(await mintToken(h.signingKey, { ...claims, alg: 'ES256', kid: 'ec-1' }));
  assert.equal(res.ok ? 'accepted' : res.reason, 'key_unavailable');
});

test("token CLI: mints with the daemon's own key pair under the state dir; the daemon's verifier accepts it", async () => {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-tenantd-state-'));
  try {
    const env = { ...process.env, FS_TENANTD_STATE_DIR: stateDir, FS_TENANTD_LOG_LEVEL: 'silent' };
    const cli = path.join(projectRoot, 'dist/daemon/cli/token.js');
    const { stdout } = await run(process.execPath, [cli, '--tenant', 'acme', '--role', 'tenant_admin'], { env });
    const token = stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const v = await createTokenVerifier(cfg({ kind: 'local', dir: path.join(stateDir, 'jwt') }));
    const r = await v.verify(token);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.ok && r.principal, {
      role: 'tenant_admin',
      sub: 'admin@acme',
      tenantSlug: 'acme',
      sipDomain: 'acme.pbx.test',
    });
    const agent = await run(
      process.execPath,
      [cli, '--tenant', 'globex', '--role', 'agent', '--sub', '1001', '--ttl', '60'],
      { env },
    );
    const ra = await v.verify(agent.stdout.trim());
    assert.equal(ra.ok && ra.principal, {
      role: 'agent',
      sub: '1001',
      tenantSlug: 'globex',
      sipDomain: 'globex.pbx.test',
    });
    const err = await run(process.execPath, [cli, '--tenant', 'acme'], { env }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    assert.is(err?.code, 64);
    assert.match(err!.stderr, /--role must be one of/);
  } finally {
    await fs.rm(stateDir, { recursive: true, force: true });
  }
});

test('JWT settings: one key source, asymmetric algorithms only, errors name the variable', () => {
  const base = { FS_TENANTD_STATE_DIR: '/tmp/fs-tenantd-x' };
  const ok = loadConfig({
    ...base,
    FS_TENANTD_JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
    FS_TENANTD_JWT_ALGORITHMS: 'RS256, ES384',
    FS_TENANTD_JWT_AUDIENCE: 'fs-tenantd',
  });
  assert.equal(
    [ok.jwt.keySource, ok.jwt.algorithms, ok.jwt.audience, ok.jwt.clockToleranceS],
    [{ kind: 'jwks-url', url: 'https://idp.example/.well-known/jwks.json' }, ['RS256', 'ES384'], 'fs-tenantd', 30],
  );
  assert.equal(loadConfig(base).jwt.keySource, { kind: 'local', dir: '/tmp/fs-tenantd-x/jwt' });
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return [];
    } catch (e) {
      return (e as ConfigError).problems;
    }
  };
  assert.match(
    problems({ FS_TENANTD_JWT_PUBLIC_KEY_FILE: '/k.pem', FS_TENANTD_JWT_JWKS_FILE: '/j.json' }).join(),
    /FS_TENANTD_JWT_PUBLIC_KEY_FILE and FS_TENANTD_JWT_JWKS_FILE/,
  );
  assert.match(
    problems({ FS_TENANTD_JWT_ALGORITHMS: 'HS256' }).join(),
    /FS_TENANTD_JWT_ALGORITHMS: "HS256" is not allowed/,
  );
  assert.match(problems({ FS_TENANTD_JWT_ALGORITHMS: 'none' }).join(), /"none" is not allowed/);
  assert.match(problems({ FS_TENANTD_JWT_CLOCK_TOLERANCE_S: '3600' }).join(), /FS_TENANTD_JWT_CLOCK_TOLERANCE_S/);
  assert.match(problems({ FS_TENANTD_JWT_JWKS_URL: 'ftp://x' }).join(), /FS_TENANTD_JWT_JWKS_URL/);
});

test.run();
