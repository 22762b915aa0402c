// Every setting comes from the environment and is validated once, at start-up.
// A bad value stops the daemon with a message that names the variable and the
// form it expects. README's configuration table mirrors this file.
import path from 'node:path';
import { isIP } from 'node:net';
import { projectRoot } from './paths.js';
import { readJwtConfig, type JwtConfig } from './auth/jwt-config.js';
import { RECORDINGS_DIR } from '../xml-handlers/dialplan/record-call.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface EslNodeConfig {
  name: string;
  host: string;
  port: number;
  password: string;
}

export type DatabaseConfig =
  | { mode: 'embedded'; port: number; dataDir: string }
  | { mode: 'external'; url: string; migrateUrl: string | undefined };

export interface Config {
  logLevel: LogLevel;
  stateDir: string;
  http: { host: string; port: number; bodyLimitBytes: number };
  database: DatabaseConfig;
  poolMax: number;
  xmlCurl: {
    path: string;
    user: string;
    password: string;
    allowFrom: string[];
    cacheableMs: number;
    renderCacheBytes: number;
  };
  /** mod_json_cdr endpoint (daemon/json-cdr); authenticated like xml_curl. */
  cdr: { path: string; bodyLimitBytes: number };
  /** Tenant snapshot cache behind xml_curl (daemon/tenants). */
  tenantCache: { ttlMs: number; maxTenants: number; maxUsers: number; maxNegative: number; negativeTtlMs: number };
  /** Where the sofia profiles served in sofia.conf listen. */
  sipProfiles: { internal: SipListen; external: SipListen };
  /** mod_voicemail: the directory every FreeSWITCH node keeps boxes under (per tenant id), and its shared index. */
  voicemail: { dir: string; odbcDsn: string | null };
  /** Music on hold: the folder of tenant streams every node and daemon share, and the largest file accepted. */
  moh: { dir: string; maxFileBytes: number };
  esl: { nodes: EslNodeConfig[]; commandTimeoutMs: number };
  /** Leases for once-per-node work shared by several daemons (daemon/ha/node-leases.ts). */
  leases: { ttlMs: number };
  /** Call ledger, ceilings and call records (issue 4). */
  calls: {
    reservationTtlMs: number;
    rejectSipCode: number;
    rejectReason: string;
    downNodePolicy: 'enforce' | 'admit' | 'reject';
    /** Where admission is decided: in PostgreSQL for all daemons (shared) or in this process (local). */
    admission: 'shared' | 'local';
    /** Shared admission: longer than this without PostgreSQL's answer, the down policy decides. */
    admissionTimeoutMs: number;
    cdrQueueMax: number;
    cdrSpoolDir: string;
  };
  metrics: { maxTenantLabels: number };
  /** Bound on the whole SIGTERM/SIGINT shutdown (daemon/lifecycle.ts). */
  shutdownTimeoutMs: number;
  /** Set FS_TENANTD_* variables the daemon does not know (logged as a warning at start-up). */
  unknownVariables: string[];
  /** Admin API bearer tokens (daemon/auth/jwt-config.ts). */
  jwt: JwtConfig;
  /**
   * Call recordings (README "Call recordings"): the directory FreeSWITCH writes them to and the daemon serves and
   * expires them from, the same path on every FreeSWITCH node and daemon; how often the retention job runs.
   */
  recordings: { dir: string; retentionIntervalMs: number; orphanGraceDays: number };
}

type Env = Record<string, string | undefined>;

/** Reads typed values from env, collecting every problem instead of stopping at the first. */
/** FS_TENANTD_* variables read by other programs than the daemon (token CLI, tests, benchmarks). */
const OTHER_READERS = /^FS_TENANTD_(JWT_PRIVATE_KEY_FILE$|TEST_|BENCH_)/;

export class EnvReader {
  readonly problems: string[] = [];
  private readonly read = new Set<string>();
  constructor(private readonly env: Env) {}

  /** FS_TENANTD_* variables that are set but that nothing read: most likely typos, whose intended setting is not in effect. */
  unread(): string[] {
    return Object.keys(this.env)
      .filter((k) => k.startsWith('FS_TENANTD_') && !this.read.has(k) && !OTHER_READERS.test(k))
      .sort();
  }

  raw(name: string): string | undefined {
    this.read.add(name);
    const v = this.env[name];
    return v === undefined || v === '' ? undefined : v;
  }

  string(name: string, fallback: string, pattern?: RegExp, form?: string): string {
    const v = this.raw(name) ?? fallback;
    if (pattern && !pattern.test(v))
      this.problems.push(`${name}=${JSON.stringify(v)}: expected ${form ?? pattern.source}`);
    return v;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(v)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const v = this.raw(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)}: expected one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)}: expected true or false`);
    return fallback;
  }

  postgresUrl(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error();
    } catch {
      this.problems.push(`${name}: expected a postgresql://user:password@host:port/database URL`);
    }
    return v;
  }

  /** Comma-separated CIDRs (IPv4 or IPv6); a bare address means a single host. */
  cidrList(name: string, fallback: string[]): string[] {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of items) {
      if (!isCidr(item))
        this.problems.push(`${name}: ${JSON.stringify(item)} is not an address or CIDR (e.g. 10.0.0.0/8, ::1/128)`);
    }
    return items;
  }
}

export function isCidr(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (!family) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function eslNodes(r: EnvReader): EslNodeConfig[] {
  // FS_TENANTD_ESL_NODES: comma-separated name=host:port (passwords in FS_TENANTD_ESL_PASSWORD
  // or FS_TENANTD_ESL_PASSWORD_<NAME>, so they never sit in a list that gets logged).
  const spec = r.raw('FS_TENANTD_ESL_NODES') ?? 'fs1=127.0.0.1:8021';
  if (spec === 'none') return [];
  const nodes: EslNodeConfig[] = [];
  for (const item of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9][a-z0-9_-]{0,31})=(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/i.exec(item);
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      r.problems.push(
        `FS_TENANTD_ESL_NODES: ${JSON.stringify(item)}: expected name=host:port, e.g. fs1=127.0.0.1:8021 (or "none")`,
      );
      continue;
    }
    const name = m[1]!;
    if (nodes.some((n) => n.name === name)) r.problems.push(`FS_TENANTD_ESL_NODES: node name ${name} is used twice`);
    // Both read, so a shared password overridden on every node is not reported as unknown.
    const own = r.raw(`FS_TENANTD_ESL_PASSWORD_${name.toUpperCase().replace(/-/g, '_')}`);
    const shared = r.raw('FS_TENANTD_ESL_PASSWORD');
    const password = own ?? shared ?? 'ClueCon';
    nodes.push({ name, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]), password });
  }
  return nodes;
}

export interface SipListen {
  ip: string;
  port: number;
}

function sipListen(r: EnvReader, name: string, fallback: string): SipListen {
  const v = r.raw(name) ?? fallback;
  const m = /^(\[[0-9a-fA-F:]+\]|[0-9.]+):(\d{1,5})$/.exec(v);
  const ip = m?.[1]?.replace(/^\[|\]$/g, '');
  if (!m || !ip || !isIP(ip) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    r.problems.push(`${name}=${JSON.stringify(v)}: expected ip:port, e.g. 127.0.0.1:5060 or [::1]:5060`);
    return { ip: '127.0.0.1', port: 5060 };
  }
  return { ip, port: Number(m[2]) };
}

export function loadConfig(env: Env = process.env): Config {
  const r = new EnvReader(env);
  const stateDir = path.resolve(r.string('FS_TENANTD_STATE_DIR', path.join(projectRoot, 'var')));
  const url = r.postgresUrl('DATABASE_URL');
  const migrateUrl = r.postgresUrl('DATABASE_MIGRATE_URL');
  if (migrateUrl && !url)
    r.problems.push('DATABASE_MIGRATE_URL is set without DATABASE_URL: set both, or neither for the embedded database');
  const config: Config = {
    logLevel: r.oneOf<LogLevel>('FS_TENANTD_LOG_LEVEL', 'info', [
      'fatal',
      'error',
      'warn',
      'info',
      'debug',
      'trace',
      'silent',
    ]),
    stateDir,
    http: {
      host: r.string('FS_TENANTD_HTTP_HOST', '127.0.0.1', /^[A-Za-z0-9.:-]+$/, 'an IP address or host name'),
      port: r.int('FS_TENANTD_HTTP_PORT', 8080, 0, 65535),
      bodyLimitBytes: r.int('FS_TENANTD_HTTP_BODY_LIMIT', 65536, 1024, 16 * 1024 * 1024),
    },
    database: url
      ? { mode: 'external', url, migrateUrl }
      : {
          mode: 'embedded',
          port: r.int('FS_TENANTD_EMBEDDED_PG_PORT', 54329, 1, 65535),
          dataDir: path.join(stateDir, 'pgdata'),
        },
    poolMax: r.int('FS_TENANTD_DB_POOL_MAX', 10, 1, 500),
    xmlCurl: {
      path: r.string('FS_TENANTD_XMLCURL_PATH', '/freeswitch/xml', /^\/[A-Za-z0-9/_.-]*$/, 'an absolute URL path'),
      user: r.string('FS_TENANTD_XMLCURL_USER', 'freeswitch', /^[^:\s]{1,128}$/, 'a user name without ":" or spaces'),
      password: r.string(
        'FS_TENANTD_XMLCURL_PASSWORD',
        'demo-xmlcurl',
        /^\S{8,256}$/,
        'at least 8 characters without spaces',
      ),
      allowFrom: r.cidrList('FS_TENANTD_XMLCURL_ALLOW_FROM', []),
      cacheableMs: r.int('FS_TENANTD_DIRECTORY_CACHEABLE_MS', 60_000, 0, 86_400_000),
      renderCacheBytes: r.int('FS_TENANTD_XMLCURL_RENDER_CACHE_BYTES', 8 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    },
    cdr: {
      path: r.string('FS_TENANTD_CDR_PATH', '/freeswitch/cdr', /^\/[A-Za-z0-9/_.-]*$/, 'an absolute URL path'),
      // A CDR holds every channel variable and the call flow (11 KiB for a plain bridged call), more than a fetch.
      bodyLimitBytes: r.int('FS_TENANTD_CDR_BODY_LIMIT', 1024 * 1024, 1024, 16 * 1024 * 1024),
    },
    tenantCache: {
      ttlMs: r.int('FS_TENANTD_TENANT_CACHE_TTL_MS', 300_000, 1000, 86_400_000),
      maxTenants: r.int('FS_TENANTD_TENANT_CACHE_MAX', 5000, 10, 1_000_000),
      maxUsers: r.int('FS_TENANTD_USER_CACHE_MAX', 200_000, 10, 10_000_000),
      maxNegative: r.int('FS_TENANTD_NEGATIVE_CACHE_MAX', 10_000, 10, 1_000_000),
      negativeTtlMs: r.int('FS_TENANTD_NEGATIVE_CACHE_TTL_MS', 60_000, 1000, 86_400_000),
    },
    voicemail: {
      dir: path.resolve(r.string('FS_TENANTD_VOICEMAIL_DIR', path.join(stateDir, 'voicemail'))),
      odbcDsn:
        r.string('FS_TENANTD_VOICEMAIL_ODBC_DSN', '', /^[^\s<>"&]{0,512}$/, 'an ODBC DSN without spaces') || null,
    },
    sipProfiles: {
      internal: sipListen(r, 'FS_TENANTD_SIP_INTERNAL', '127.0.0.1:5060'),
      external: sipListen(r, 'FS_TENANTD_SIP_EXTERNAL', '127.0.0.1:5080'),
    },
    esl: {
      nodes: eslNodes(r),
      commandTimeoutMs: r.int('FS_TENANTD_ESL_COMMAND_TIMEOUT_MS', 5000, 100, 120_000),
    },
    leases: {
      ttlMs: r.int('FS_TENANTD_NODE_LEASE_TTL_MS', 5000, 1000, 600_000),
    },
    calls: {
      reservationTtlMs: r.int('FS_TENANTD_RESERVATION_TTL_MS', 30_000, 1000, 600_000),
      rejectSipCode: r.int('FS_TENANTD_CEILING_REJECT_CODE', 503, 400, 699),
      rejectReason: r.string(
        'FS_TENANTD_CEILING_REJECT_REASON',
        'Tenant call limit reached',
        /^[A-Za-z0-9 .,()_-]{1,100}$/,
        'up to 100 letters, digits, spaces and .,()_-',
      ),
      downNodePolicy: r.oneOf('FS_TENANTD_ESL_DOWN_POLICY', 'enforce', ['enforce', 'admit', 'reject'] as const),
      admission: r.oneOf('FS_TENANTD_ADMISSION', 'shared', ['shared', 'local'] as const),
      admissionTimeoutMs: r.int('FS_TENANTD_ADMISSION_TIMEOUT_MS', 500, 10, 60_000),
      cdrQueueMax: r.int('FS_TENANTD_CDR_QUEUE_MAX', 10_000, 1, 1_000_000),
      cdrSpoolDir: path.resolve(r.string('FS_TENANTD_CDR_SPOOL_DIR', path.join(stateDir, 'cdr-spool'))),
    },
    metrics: {
      maxTenantLabels: r.int('FS_TENANTD_METRICS_MAX_TENANTS', 500, 0, 100_000),
    },
    // Below Docker's default 10 s stop grace period, so the daemon exits before SIGKILL.
    shutdownTimeoutMs: r.int('FS_TENANTD_SHUTDOWN_TIMEOUT_MS', 8000, 500, 600_000),
    jwt: readJwtConfig(r, stateDir),
    recordings: {
      // Placed in dialplan action data as is (record-call.ts RECORDINGS_DIR): plain characters only.
      dir: r.string(
        'FS_TENANTD_RECORDINGS_DIR',
        path.join(stateDir, 'recordings'),
        RECORDINGS_DIR,
        'an absolute path of letters, digits and ._/- (it is placed in FreeSWITCH dialplan actions)',
      ),
      retentionIntervalMs: r.int('FS_TENANTD_RECORDING_RETENTION_INTERVAL_MS', 3_600_000, 1000, 86_400_000),
      // Files no row links are swept once this old (recordings/orphans.ts); longer than any cdr-replay delay. 0: off.
      orphanGraceDays: r.int('FS_TENANTD_RECORDING_ORPHAN_GRACE_DAYS', 7, 0, 3650),
    },
    moh: {
      // Placed in local_stream.conf, which FreeSWITCH preprocesses (`$$` expanded): plain characters only.
      dir: r.string(
        'FS_TENANTD_MOH_DIR',
        path.join(stateDir, 'moh'),
        RECORDINGS_DIR,
        'an absolute path of letters, digits and ._/- (it is placed in local_stream.conf)',
      ),
      maxFileBytes: r.int('FS_TENANTD_MOH_MAX_FILE_BYTES', 20 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    },
    unknownVariables: r.unread(), // last: after every read
  };
  if (config.cdr.path === config.xmlCurl.path) {
    r.problems.push(`FS_TENANTD_CDR_PATH=${JSON.stringify(config.cdr.path)}: must differ from FS_TENANTD_XMLCURL_PATH`);
  }
  if (r.problems.length) throw new ConfigError(r.problems);
  return config;
}
