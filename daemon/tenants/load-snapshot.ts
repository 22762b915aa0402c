// Reads from PostgreSQL what the tenant caches hold. Before a tenant is known
// only the SECURITY DEFINER resolvers are used; everything else goes through
// withTenant, so row-level security decides what a snapshot can contain.
import pg from 'pg';
import {
  asTenantId,
  isAgentStatus,
  type Agent,
  type Did,
  type Extension,
  type FlowNode,
  type FlowNodeId,
  type FollowMeStep,
  type OutboundRoute,
  type Queue,
  type MohStream,
  type RecordingRule,
  type TenantId,
  type TenantHead,
  type TenantRef,
  type TenantSnapshot,
  type TenantStatus,
  type Tier,
  type Trunk,
} from '../../xml-handlers/model.js';
import { readAsTenant, withTenant } from '../db/tenant-context.js';

/** The tenant owning a SIP domain, or null. */
export async function resolveDomain(pool: pg.Pool, domain: string): Promise<TenantId | null> {
  const { rows } = await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM resolve_sip_domain($1)', [domain]);
  return rows[0] ? asTenantId(rows[0].tenant_id) : null;
}

/** The tenant owning a DID (E.164), or null. */
export async function resolveDid(pool: pg.Pool, e164: string): Promise<TenantId | null> {
  const { rows } = await pool.query<{ tenant_id: string }>('SELECT tenant_id FROM resolve_did($1)', [e164]);
  return rows[0] ? asTenantId(rows[0].tenant_id) : null;
}

export async function listTenants(pool: pg.Pool): Promise<TenantRef[]> {
  const { rows } = await pool.query<{ tenant_id: string; tenant_slug: string; tenant_status: TenantStatus }>(
    'SELECT tenant_id, tenant_slug, tenant_status FROM list_tenants()',
  );
  return rows.map((r) => ({ id: asTenantId(r.tenant_id), slug: r.tenant_slug, status: r.tenant_status }));
}

// An extension as the snapshot holds it (read by toExtension), for the whole tenant or a few changed rows. Plain
// columns, not a json_build_object per row: for 10,000 extensions PostgreSQL builds the rows in a quarter of the time.
const EXTENSION_COLUMNS = `x.id, number, caller_id_name AS cid_name, caller_id_number AS cid_number, enabled, variables,
  dnd, forward_always AS fwd_always, forward_busy AS fwd_busy, forward_no_answer AS fwd_no_answer,
  forward_unreachable AS fwd_unreachable, no_answer_timeout_s, follow_me, voicemail_enabled AS vm_enabled,
  voicemail_pin_hash AS vm_pin_hash, voicemail_pin_realm AS vm_pin_realm, voicemail_quota_s AS vm_quota_s,
  voicemail_max_messages AS vm_max_messages, voicemail_max_length_s AS vm_max_length_s,
  (SELECT coalesce(json_object_agg(c.realm, c.a1_hash), '{}') FROM extension_credentials c
    WHERE c.extension_id = x.id) AS credentials`;
const EXTENSIONS_SQL = `SELECT ${EXTENSION_COLUMNS} FROM extensions x`;

// The tenant row, its place in the tree, its domains and hold music: a TenantHead.
const HEAD_JSON = `'tenant', (SELECT json_build_object('id', t.id, 'slug', t.slug, 'status', t.status,
      'max_inbound', t.max_inbound, 'max_outbound', t.max_outbound, 'max_total', t.max_total,
      'cid_name', e.caller_id_name, 'cid_number', e.caller_id_number, 'timezone', e.timezone, 'language', e.language,
      'unrouted', e.unrouted_did_extension, 'moh_tenant', e.moh_tenant_id, 'moh_stream', e.moh_stream_id) FROM tenants t, tenant_effective_settings(t.id) e),
  'ancestors', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'slug', a.slug, 'max_inbound', a.mi,
      'max_outbound', a.mo, 'max_total', a.mt) ORDER BY a.o), '[]')
    FROM tenant_ancestor_ceilings(app_current_tenant()) WITH ORDINALITY a(id, slug, mi, mo, mt, o)),
  'domains', (SELECT coalesce(json_agg(json_build_object('domain', domain, 'primary', is_primary) ORDER BY domain), '[]') FROM sip_domains),
  'moh_streams', (SELECT coalesce(json_agg(json_build_object('id', s.id, 'name', s.name, 'is_default', s.is_default,
      'files', (SELECT coalesce(json_agg(json_build_object('name', f.name, 'size', f.size_bytes, 'at', f.updated_at)
        ORDER BY f.name), '[]') FROM moh_stream_files f WHERE f.stream_id = s.id)) ORDER BY s.name), '[]')
    FROM moh_streams s)`;

// One statement, one round trip: the policies limit every sub-select to the
// transaction's tenant, so no WHERE tenant_id is needed (or trusted).
const HEAD_SQL = `SELECT json_build_object(${HEAD_JSON}) AS snapshot`;
const SNAPSHOT_SQL = `
SELECT json_build_object(${HEAD_JSON},
  'queues', (SELECT coalesce(json_agg(q), '[]') FROM queues q),
  'dids', (SELECT coalesce(json_agg(json_build_object('e164', d.e164, 'enabled', d.enabled, 'type', d.destination_type,
      'extension', e.number, 'queue', q.name, 'node', d.flow_node_id)), '[]')
    FROM dids d LEFT JOIN extensions e ON e.id = d.extension_id LEFT JOIN queues q ON q.id = d.queue_id),
  'trunks', (SELECT coalesce(json_agg(json_build_object('name', name, 'proxy', proxy, 'username', username, 'password', password,
      'register', register, 'cidrs', allowed_cidrs::text[], 'enabled', enabled)), '[]') FROM sip_trunks),
  'routes', (SELECT coalesce(json_agg(json_build_object('name', r.name, 'pattern', r.pattern, 'priority', r.priority, 'trunk', t.name,
      'strip', r.strip_digits, 'prepend', r.prepend, 'cid_number', r.caller_id_number, 'cid_name', r.caller_id_name)
      ORDER BY r.priority, r.name), '[]')
    FROM outbound_routes r JOIN sip_trunks t ON t.id = r.trunk_id WHERE r.enabled),
  'agents', (SELECT coalesce(json_agg(json_build_object('extension', e.number, 'status', a.status, 'max_no_answer', a.max_no_answer,
      'wrap_up_time', a.wrap_up_time, 'reject_delay_time', a.reject_delay_time, 'busy_delay_time', a.busy_delay_time,
      'no_answer_delay_time', a.no_answer_delay_time) ORDER BY e.number), '[]')
    FROM agents a JOIN extensions e ON e.id = a.extension_id),
  'tiers', (SELECT coalesce(json_agg(json_build_object('queue', q.name, 'extension', e.number, 'level', t.level, 'position', t.position)
      ORDER BY q.name, t.level, t.position, e.number), '[]')
    FROM tiers t JOIN queues q ON q.id = t.queue_id JOIN agents a ON a.id = t.agent_id JOIN extensions e ON e.id = a.extension_id),
  'flow_nodes', (SELECT coalesce(json_agg(json_build_object('id', n.id, 'name', n.name, 'kind', n.kind, 'dial_code', n.dial_code,
      'extension', e.number, 'queue', q.name, 'settings', n.settings, 'next', n.next_node_id, 'else', n.else_node_id,
      'choices', (SELECT coalesce(json_object_agg(c.digits, c.target_id), '{}') FROM menu_choices c WHERE c.menu_id = n.id))), '[]')
    FROM call_flow_nodes n LEFT JOIN extensions e ON e.id = n.extension_id LEFT JOIN queues q ON q.id = n.queue_id),
  'recording_rules', (SELECT coalesce(json_agg(json_build_object('scope', r.scope, 'extension', e.number,
      'queue', q.name)), '[]')
    FROM recording_rules r LEFT JOIN extensions e ON e.id = r.extension_id LEFT JOIN queues q ON q.id = r.queue_id
    WHERE r.enabled)
) AS snapshot`;

// Rows as pg returns them; each is read field by field into the typed model below.
// biome-ignore lint/suspicious/noExplicitAny: untyped query rows, narrowed where read
export type Row = Record<string, any>;

/** extensions.follow_me as stored (sql/009); steps that are not {number, timeoutS} are dropped. */
function followMe(v: unknown): FollowMeStep[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((s) =>
    s && typeof s.number === 'string' && Number.isInteger(s.timeoutS)
      ? [{ number: s.number, timeoutS: s.timeoutS }]
      : [],
  );
}

function stringVariables(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) if (typeof val === 'string') out[k] = val;
  }
  return out;
}

/** Compiles a route pattern; null if JavaScript cannot (the route is then skipped and reported). */
function compile(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern);
  } catch {
    return null;
  }
}

export interface SnapshotProblem {
  tenantId: TenantId;
  what: string;
}

/** The tenant's snapshot, or null if the tenant does not exist. */
export async function loadSnapshot(
  pool: pg.Pool,
  tenantId: TenantId,
  onProblem: (p: SnapshotProblem) => void = () => undefined,
): Promise<TenantSnapshot | null> {
  return withTenant(pool, tenantId, (c) => readSnapshot(c, tenantId, onProblem), { readOnly: true });
}

/**
 * The snapshot as `client`'s transaction sees it (its tenant context set): also how the admin API checks a call
 * flow it has just written, before committing, with the very parsers calls will use.
 */
export async function readSnapshot(
  client: pg.ClientBase,
  tenantId: TenantId,
  onProblem: (p: SnapshotProblem) => void = () => undefined,
): Promise<TenantSnapshot | null> {
  // Both in one round trip (no parameters: the simple protocol takes several statements).
  const [whole, rows] = (await client.query(`${SNAPSHOT_SQL};${EXTENSIONS_SQL}`)) as unknown as pg.QueryResult[];
  const raw = whole!.rows[0]!.snapshot as Row;
  const head = toHead(raw);
  if (!head) return null;
  const extensions = new Map<string, Extension>(rows!.rows.map((e: Row) => [e.number, toExtension(e)]));
  const queues = new Map<string, Queue>((raw.queues as Row[]).map((q) => [q.name, toQueue(q)]));
  const dids = new Map<string, Did>(
    (raw.dids as Row[]).map((d) => [
      d.e164,
      {
        e164: d.e164,
        enabled: d.enabled,
        destination:
          d.type === 'queue'
            ? { type: 'queue', queue: d.queue }
            : d.type === 'flow'
              ? { type: 'flow', node: d.node }
              : { type: 'extension', extension: d.extension },
      },
    ]),
  );
  const trunks = (raw.trunks as Row[]).map(toTrunk);
  const outboundRoutes: OutboundRoute[] = [];
  for (const r of raw.routes as Row[]) {
    const pattern = compile(r.pattern);
    if (!pattern) {
      onProblem({ tenantId, what: `outbound route ${r.name}: pattern does not compile` });
      continue;
    }
    outboundRoutes.push({
      name: r.name,
      pattern,
      priority: r.priority,
      trunk: r.trunk,
      stripDigits: r.strip,
      prepend: r.prepend,
      callerIdNumber: r.cid_number,
      callerIdName: r.cid_name,
    });
  }
  const agents = toAgents(raw.agents as Row[], (what) => onProblem({ tenantId, what }));
  const tiers = (raw.tiers as Row[]).map(toTier);
  const flowNodes = new Map<FlowNodeId, FlowNode>(
    (raw.flow_nodes as Row[]).map((n) => [
      n.id,
      {
        id: n.id,
        name: n.name,
        kind: n.kind,
        dialCode: n.dial_code,
        extension: n.extension,
        queue: n.queue,
        settings: n.settings ?? {},
        next: n.next,
        else: n.else,
        choices: new Map(Object.entries(n.choices ?? {}) as [string, FlowNodeId][]),
      },
    ]),
  );
  return {
    ...head,
    extensions,
    queues,
    dids,
    trunks,
    outboundRoutes,
    agents,
    tiers,
    flowNodes,
    recordingRules: recordingRules(raw.recording_rules),
  };
}

/** The head parts of HEAD_JSON; null when the tenant row is not visible (no such tenant). */
function toHead(raw: Row): TenantHead | null {
  const t = raw.tenant as Row | null;
  if (!t) return null;
  const domains = raw.domains as Row[];
  return {
    id: asTenantId(t.id),
    timezone: t.timezone,
    language: t.language,
    unroutedDidExtension: t.unrouted ?? null,
    // Inherited only: the tenant's own default stream is in mohStreams.
    inheritedMoh:
      t.moh_tenant && t.moh_tenant !== t.id ? { tenant: asTenantId(t.moh_tenant), stream: t.moh_stream } : null,
    slug: t.slug,
    status: t.status,
    primaryDomain: domains.find((d) => d.primary)?.domain ?? null,
    domains: domains.map((d) => d.domain as string),
    ceilings: { maxInbound: t.max_inbound, maxOutbound: t.max_outbound, maxTotal: t.max_total },
    // Root first (tenant_ancestor_ceilings, sql/016: the only way this context sees them).
    ancestors: (raw.ancestors as Row[]).map((a) => ({
      id: asTenantId(a.id),
      slug: a.slug,
      ceilings: { maxInbound: a.max_inbound, maxOutbound: a.max_outbound, maxTotal: a.max_total },
    })),
    defaultCallerIdName: t.cid_name,
    defaultCallerIdNumber: t.cid_number,
    mohStreams: mohStreams(raw.moh_streams),
  };
}

/** A `queues` row as json_agg gives it (also sql/020 callcenter_config). */
export function toQueue(q: Row): Queue {
  return {
    name: q.name,
    dialCode: q.dial_code,
    strategy: q.strategy,
    mohSound: q.moh_sound,
    timeBaseScore: q.time_base_score,
    maxWaitTime: q.max_wait_time,
    maxWaitTimeWithNoAgent: q.max_wait_time_with_no_agent,
    tierRulesApply: q.tier_rules_apply,
    discardAbandonedAfter: q.discard_abandoned_after,
    abandonedResumeAllowed: q.abandoned_resume_allowed,
  };
}

/** Agents as SNAPSHOT_SQL and callcenter_config (sql/020) build them. */
export function toAgents(rows: Row[], onProblem: (what: string) => void): Agent[] {
  const agents: Agent[] = [];
  for (const a of rows) {
    // agents.status has the same CHECK; a status mod_callcenter would refuse is left out, not pushed.
    if (!isAgentStatus(a.status)) {
      onProblem(`agent ${a.extension}: unknown status`);
      continue;
    }
    agents.push({
      extension: a.extension,
      status: a.status,
      maxNoAnswer: a.max_no_answer,
      wrapUpTime: a.wrap_up_time,
      rejectDelayTime: a.reject_delay_time,
      busyDelayTime: a.busy_delay_time,
      noAnswerDelayTime: a.no_answer_delay_time,
    });
  }
  return agents;
}

export const toTier = (x: Row): Tier => ({
  queue: x.queue,
  agentExtension: x.extension,
  level: x.level,
  position: x.position,
});

/** A trunk as SNAPSHOT_SQL and platform_config (sql/020) build it. */
export const toTrunk = (r: Row): Trunk => ({
  name: r.name,
  proxy: r.proxy,
  username: r.username,
  password: r.password,
  register: r.register,
  allowedCidrs: r.cidrs ?? [],
  enabled: r.enabled,
});

/** One row built by EXTENSION_JSON. */

/** The tenant without its rows, or null if it does not exist. */
export async function loadHead(pool: pg.Pool, tenantId: TenantId): Promise<TenantHead | null> {
  return (await loadUser(pool, tenantId, null, true)).head ?? null;
}

/** An extension with its row id (what credential changes name it by). */
export interface ExtensionRow {
  id: string;
  extension: Extension;
}

/**
 * What a directory answer needs of a tenant whose snapshot is not cached, in one transaction and one round trip
 * (readAsTenant): extension `number` unless null (row: null if there is none) and, if `head`, the tenant's head
 * (null if the tenant does not exist). The number comes from a fetch: it is inlined by pg's escapeLiteral.
 */
export async function loadUser(
  pool: pg.Pool,
  tenantId: TenantId,
  number: string | null,
  head: boolean,
): Promise<{ head?: TenantHead | null; row: ExtensionRow | null }> {
  const statements = head ? [HEAD_SQL] : [];
  if (number !== null) statements.push(`${EXTENSIONS_SQL} WHERE number = ${pg.escapeLiteral(number)}`);
  const results = await readAsTenant(pool, tenantId, statements);
  const x = number === null ? undefined : (results.at(-1)!.rows[0] as Row | undefined);
  const row = x ? { id: x.id as string, extension: toExtension(x) } : null;
  return head ? { head: toHead(results[0]!.rows[0]!.snapshot as Row), row } : { row };
}

/** One row of EXTENSION_COLUMNS. */
function toExtension(e: Row): Extension {
  return {
    number: e.number,
    credentials: new Map(Object.entries((e.credentials ?? {}) as Record<string, string>)),
    callerIdName: e.cid_name,
    callerIdNumber: e.cid_number,
    enabled: e.enabled,
    variables: stringVariables(e.variables),
    features: {
      dnd: e.dnd === true,
      forwardAlways: e.fwd_always ?? null,
      forwardBusy: e.fwd_busy ?? null,
      forwardNoAnswer: e.fwd_no_answer ?? null,
      forwardUnreachable: e.fwd_unreachable ?? null,
      noAnswerTimeoutS: e.no_answer_timeout_s,
      followMe: followMe(e.follow_me),
    },
    voicemail: {
      enabled: e.vm_enabled === true,
      pinHash: e.vm_pin_hash ?? null,
      pinRealm: e.vm_pin_realm ?? null,
      quotaS: e.vm_quota_s ?? null,
      maxMessages: e.vm_max_messages ?? null,
      maxLengthS: e.vm_max_length_s ?? null,
    },
  };
}

/**
 * The given extensions (by id) as the transaction's tenant sees them: what a change to a few rows of a large tenant
 * reloads instead of the whole snapshot (tenant-store.ts). Rows gone or of another tenant are simply absent.
 */
export async function readExtensions(client: pg.ClientBase, ids: readonly string[]): Promise<Extension[]> {
  const { rows } = await client.query<Row>(`${EXTENSIONS_SQL} WHERE x.id = ANY($1)`, [ids]);
  return rows.map(toExtension);
}

/** The enabled rules of the recording policy (sql/012); a rule whose scope is unknown is dropped. */
function recordingRules(v: unknown): RecordingRule[] {
  if (!Array.isArray(v)) return [];
  return (v as Row[]).flatMap((r): RecordingRule[] => {
    if (r.scope === 'all' || r.scope === 'inbound' || r.scope === 'outbound') return [{ scope: r.scope }];
    if (r.scope === 'extension' && typeof r.extension === 'string')
      return [{ scope: 'extension', extension: r.extension }];
    if (r.scope === 'queue' && typeof r.queue === 'string') return [{ scope: 'queue', queue: r.queue }];
    return [];
  });
}

/** Music-on-hold streams and their files (sql/013). */
export function mohStreams(v: unknown): MohStream[] {
  if (!Array.isArray(v)) return [];
  return (v as Row[]).map((s) => ({
    id: String(s.id),
    name: String(s.name),
    isDefault: s.is_default === true,
    files: (Array.isArray(s.files) ? (s.files as Row[]) : []).map((f) => ({
      name: String(f.name),
      sizeBytes: Number(f.size),
      updatedAt: String(f.at),
    })),
  }));
}
