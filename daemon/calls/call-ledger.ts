// The live call ledger: which calls are up, per tenant and direction, across
// every FreeSWITCH node, and the admission check against tenant ceilings.
//
// One ledger in the daemon spans all nodes, so "check the count and reserve a
// slot" is a synchronous step on one event loop: a burst of simultaneous
// dialplan fetches, from one node or several, cannot overshoot a ceiling.
//
// A call is keyed by its A-leg Unique-ID (the dialplan fetch's Unique-ID). Legs
// are linked to it by variable_originator (bridge), variable_cc_member_session_uuid
// (mod_callcenter agent legs) or Other-Leg-Unique-ID on outbound legs. Tenant and
// direction come only from the daemon's own channel variables (channel-vars.ts)
// or from the admission itself. A call counts once, from the moment its direction
// is known, until its A-leg ends; ended uuids are remembered for a while so a
// duplicated or late event can neither release twice nor resurrect a call.
import type { Logger } from 'pino';
import client from 'prom-client';
import { CHANNEL_VARS, eventHeader } from '../../xml-handlers/channel-vars.js';
import type { AncestorCeilings, CallDirection, Ceilings, TenantId } from '../../xml-handlers/model.js';
import type { EslEvent } from '../esl/event.js';
import { metric, type MetricsRegistry, type TenantLabels } from '../metrics.js';
import type { AdmissionDecision, AdmissionRequest, CallAdmission } from './admission-types.js';

/** What admission does for a call on a node whose ESL connection is down. */
export type DownNodePolicy = 'enforce' | 'admit' | 'reject';

/**
 * Which ceiling refused a call: the account's own or an ancestor's (cascading ceilings), or none (a down policy,
 * an unknown tenant). A bounded metric label: never the refusing account's slug (there may be 20,000).
 */
export type RefusalLevel = 'own' | 'ancestor' | 'none';

type Counts = Record<CallDirection, number>;
const ZERO: Readonly<Counts> = { inbound: 0, outbound: 0, internal: 0 };

export interface LedgerOptions {
  log: Logger;
  registry: MetricsRegistry;
  tenantLabels: TenantLabels;
  /** A reservation whose channel shows no sign of life for this long is released. */
  reservationTtlMs: number;
  downNodePolicy: DownNodePolicy;
  rejection: { sipCode: number; reason: string };
  now?: () => number;
  /** How many ended uuids are remembered, and for how long. */
  tombstones?: { max: number; ttlMs: number };
}

/** What the ledger knows about a call; handed to the CDR writer when it ends. */
export interface CallInfo {
  key: string;
  tenantId: TenantId;
  tenantSlug: string | undefined;
  direction: CallDirection | undefined;
  node: string;
}

interface Call extends CallInfo {
  legs: Set<string>;
  counted: boolean;
  /** Set while the call is only a reservation (no event seen yet). */
  reservedUntil: number | undefined;
  /** Ledger sequence number of the last thing that touched the call (resync uses it). */
  touched: number;
}

interface Tombstone {
  uuid: string;
  until: number;
  call: CallInfo | undefined;
  cdrDone: boolean;
}

/** One live channel from FreeSWITCH's own list (`show channels` + `uuid_dump`). */
export interface ChannelSnapshot {
  uuid: string;
  /** The call it belongs to, if it is a B-leg / agent leg (originator etc.). */
  linkedTo: string | undefined;
  tenantId: TenantId | undefined;
  tenantSlug: string | undefined;
  direction: CallDirection | undefined;
}

export type CallEndedHandler = (call: CallInfo, hangup: EslEvent) => void;

/** What shared admission (shared-admission.ts) mirrors into PostgreSQL: a call's first sign of life, its end. */
export interface CallStateHooks {
  /** The call's first leg was seen (an ESL event or a resync): its reservation is a call now. */
  live(call: CallInfo): void;
  /** Its A-leg ended (hangup or destroy); called once per call. Not for expired reservations or resync losses. */
  ended(call: CallInfo): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DIRECTIONS: readonly CallDirection[] = ['inbound', 'outbound', 'internal'];
const V_TENANT = eventHeader(CHANNEL_VARS.tenantId);
const V_SLUG = eventHeader(CHANNEL_VARS.tenantSlug);
const V_DIRECTION = eventHeader(CHANNEL_VARS.direction);
const ADMITTED: AdmissionDecision = { admitted: true };

/** Channel events that can carry or link tenant data; everything else is ignored cheaply. */
const OBSERVED = new Set([
  'CHANNEL_CREATE',
  'CHANNEL_ANSWER',
  'CHANNEL_BRIDGE',
  'CHANNEL_UNBRIDGE',
  'CALL_UPDATE',
  'CHANNEL_EXECUTE_COMPLETE',
  'CHANNEL_PROGRESS',
  'CHANNEL_PROGRESS_MEDIA',
  'CHANNEL_PARK',
  'CHANNEL_ORIGINATE',
  'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE',
  'CHANNEL_DESTROY',
]);

export function asDirection(v: string | undefined): CallDirection | undefined {
  return DIRECTIONS.includes(v as CallDirection) ? (v as CallDirection) : undefined;
}

export function asTenant(v: string | undefined): TenantId | undefined {
  return v !== undefined && UUID.test(v) ? (v as TenantId) : undefined;
}

/**
 * The call a leg belongs to when it is not an A-leg itself. Only legs FreeSWITCH
 * originated (Call-Direction outbound) have one: `originator` is set on the new
 * channel in switch_core_session_outgoing_channel, `cc_member_session_uuid` on
 * mod_callcenter's agent legs.
 */
export function linkOf(ev: Pick<EslEvent, 'header'>): string | undefined {
  if (ev.header('Call-Direction') !== 'outbound') return undefined;
  const link =
    ev.header('variable_originator') ??
    ev.header('variable_cc_member_session_uuid') ??
    ev.header('Other-Leg-Unique-ID');
  return link !== undefined && UUID.test(link) ? link : undefined;
}

export class CallLedger implements CallAdmission {
  private readonly calls = new Map<string, Call>();
  private readonly legToCall = new Map<string, string>();
  private readonly reservations = new Map<string, Call>();
  private readonly tombstones = new Map<string, Tombstone>();
  /**
   * Tombstones in burial order (so in expiry order), from `burialHead` on; a uuid buried again
   * leaves its old entry behind, skipped when it comes up. Expiry and the size bound pop from
   * here rather than iterate the Map: a Map keeps deleted entries in its table until it is
   * rebuilt, and iterating from its start walks over every one of them (at the 100,000 bound,
   * each new tombstone cost 25-80 µs that way).
   */
  private burials: Array<Tombstone | undefined> = [];
  private burialHead = 0;
  private readonly counts = new Map<TenantId, Record<CallDirection, number>>();
  /**
   * Cascading ceilings: per account, the counted calls of all its descendants (its own are in `counts`), kept as
   * calls are counted and released along each tenant's last known chain (`chains`, root first, from admissions).
   */
  private readonly below = new Map<TenantId, Counts>();
  private readonly chains = new Map<TenantId, readonly AncestorCeilings[]>();
  private readonly slugs = new Map<TenantId, string>();
  /** ESL node name -> up? Nodes never mentioned are treated as up. */
  private readonly nodeUp = new Map<string, boolean>();
  /** xml_curl `hostname` (FreeSWITCH switchname) -> ESL node name. */
  private readonly switchnames = new Map<string, string>();
  private readonly resyncs = new Map<string, Promise<void>>();
  /** ESL node name -> the FreeSWITCH Core-UUID it answered on its last connect. */
  private readonly cores = new Map<string, string>();
  /** ESL node name -> ledger sequence number when its connection was last lost. */
  private readonly downSeq = new Map<string, number>();
  private readonly restarted = new Map<string, boolean>();
  private seq = 0;
  private readonly now: () => number;
  private readonly tomb: { max: number; ttlMs: number };
  private onEnded: CallEndedHandler | undefined;
  private hooks: CallStateHooks | undefined;
  private readonly rejections: client.Counter<'tenant' | 'direction' | 'level'>;

  constructor(private readonly opts: LedgerOptions) {
    this.now = opts.now ?? Date.now;
    this.tomb = opts.tombstones ?? { max: 100_000, ttlMs: 10 * 60_000 };
    const r = opts.registry;
    // Computed at scrape time from the counts, so a released call can never leave a stale series.
    const self = this;
    metric(
      r,
      'fs_tenantd_active_calls',
      () =>
        new client.Gauge({
          name: 'fs_tenantd_active_calls',
          help: 'Live calls (not legs) per tenant and direction, all nodes',
          labelNames: ['tenant', 'direction'],
          registers: [r],
          collect() {
            this.reset();
            for (const [tenant, c] of self.counts) {
              const label = opts.tenantLabels.label(self.slugs.get(tenant) ?? tenant);
              for (const d of DIRECTIONS) if (c[d]) this.inc({ tenant: label, direction: d }, c[d]);
            }
          },
        }),
    );
    this.rejections = metric(
      r,
      'fs_tenantd_ceiling_rejections_total',
      () =>
        new client.Counter({
          name: 'fs_tenantd_ceiling_rejections_total',
          help: 'Calls refused because a ceiling was reached (level: own, ancestor) or by a down policy (level: none)',
          labelNames: ['tenant', 'direction', 'level'],
          registers: [r],
        }),
    );
  }

  /** Called once per ended call (A-leg CHANNEL_HANGUP_COMPLETE), even when the release came first. */
  onCallEnded(handler: CallEndedHandler): void {
    this.onEnded = handler;
  }

  /** Shared admission's mirror of call state into PostgreSQL. */
  setStateHooks(hooks: CallStateHooks): void {
    this.hooks = hooks;
  }

  // ---- admission -------------------------------------------------------

  /**
   * Records a call admitted elsewhere (the shared decision in PostgreSQL) as a reservation, with no check:
   * the ledger stays the cache of what is up, and the last known state if PostgreSQL becomes unreachable.
   */
  track(req: AdmissionRequest): void {
    if (req.tenantSlug) this.slugs.set(req.tenantId, req.tenantSlug);
    this.learnChain(req);
    if (this.calls.get(req.callUuid)?.counted || this.tombstones.has(req.callUuid)) return;
    const node = this.switchnames.get(req.node) ?? req.node;
    const call = this.calls.get(req.callUuid) ?? this.newCall(req.callUuid, req.tenantId, node);
    if (call.legs.size === 0 && call.reservedUntil === undefined) {
      call.reservedUntil = this.now() + this.opts.reservationTtlMs;
      this.reservations.set(call.key, call);
    } else if (call.legs.size > 0) {
      // Already seen live: a channel carries fs_tenant_id from the directory (authenticated calls) from its
      // CHANNEL_CREATE on, before its dialplan fetch admitted it. The "live" mirrored then found no reservation in
      // PostgreSQL yet; mirrored again now, or the slot would stay a reservation and expire while the call is up.
      this.hooks?.live(this.infoOf(call, node));
    }
    call.touched = ++this.seq;
    this.setDirection(call, req.direction);
  }

  /** Refuses a call (logged, counted) for a limit decided elsewhere; `by` names the refusing account. */
  refuse(
    req: AdmissionRequest,
    why: string,
    limit?: { max: number; active: number },
    level: RefusalLevel = 'none',
    by?: { id: string; slug?: string },
  ): AdmissionDecision {
    if (req.tenantSlug) this.slugs.set(req.tenantId, req.tenantSlug);
    this.learnChain(req);
    return this.reject(req, why, limit, level, by);
  }

  async admit(req: AdmissionRequest): Promise<AdmissionDecision> {
    // Never admit against a ledger that is being rebuilt after a (re)connect.
    if (this.resyncs.size) await Promise.allSettled([...this.resyncs.values()]);
    if (req.tenantSlug) this.slugs.set(req.tenantId, req.tenantSlug);
    // From here on everything is synchronous: check and reserve are one atomic step.
    this.learnChain(req);
    this.sweep();
    const node = this.switchnames.get(req.node) ?? req.node;
    const existing = this.calls.get(req.callUuid);
    if (existing?.counted) return ADMITTED; // the same call fetching its dialplan again
    if (this.tombstones.has(req.callUuid)) return ADMITTED; // already over: nothing to count
    if (this.nodeUp.get(node) === false && this.opts.downNodePolicy !== 'enforce') {
      if (this.opts.downNodePolicy === 'admit') return ADMITTED;
      return this.reject(req, 'ESL connection to the node is down', undefined, 'none');
    }
    const limit = this.exceeded(req);
    if (limit) return this.reject(req, limit.name, limit, limit.level, limit.by);
    const call = existing ?? this.newCall(req.callUuid, req.tenantId, node);
    if (!existing) {
      call.reservedUntil = this.now() + this.opts.reservationTtlMs;
      this.reservations.set(call.key, call);
    }
    call.touched = ++this.seq;
    this.setDirection(call, req.direction);
    return ADMITTED;
  }

  /** The first ceiling the call would exceed: its own account's, then each ancestor's, nearest first (as sql/016). */
  private exceeded(
    req: AdmissionRequest,
  ): { name: string; max: number; active: number; level: RefusalLevel; by: { id: string; slug?: string } } | undefined {
    const own = this.levelExceeded(req.tenantId, req.direction, req.ceilings);
    if (own) return { ...own, level: 'own', by: { id: req.tenantId, slug: this.slugs.get(req.tenantId) } };
    const ancestors = req.ancestors ?? this.chains.get(req.tenantId) ?? [];
    for (let i = ancestors.length - 1; i >= 0; i--) {
      const a = ancestors[i]!;
      const hit = this.levelExceeded(a.id, req.direction, a.ceilings);
      if (hit) return { ...hit, level: 'ancestor', by: { id: a.id, slug: a.slug } };
    }
    return undefined;
  }

  /** One account's ceilings against its own calls plus its descendants'. */
  private levelExceeded(
    tenantId: TenantId,
    direction: CallDirection,
    c: Ceilings,
  ): { name: string; max: number; active: number } | undefined {
    const o = this.counts.get(tenantId) ?? ZERO;
    const b = this.below.get(tenantId) ?? ZERO;
    const n = { inbound: o.inbound + b.inbound, outbound: o.outbound + b.outbound, internal: o.internal + b.internal };
    const total = n.inbound + n.outbound + n.internal;
    if (c.maxTotal !== null && total >= c.maxTotal) return { name: 'max_total', max: c.maxTotal, active: total };
    if (direction === 'inbound' && c.maxInbound !== null && n.inbound >= c.maxInbound)
      return { name: 'max_inbound', max: c.maxInbound, active: n.inbound };
    if (direction === 'outbound' && c.maxOutbound !== null && n.outbound >= c.maxOutbound)
      return { name: 'max_outbound', max: c.maxOutbound, active: n.outbound };
    return undefined;
  }

  private reject(
    req: AdmissionRequest,
    why: string,
    limit: { max: number; active: number } | undefined,
    level: RefusalLevel,
    by?: { id: string; slug?: string },
  ): AdmissionDecision {
    const slug = this.slugs.get(req.tenantId);
    this.rejections.labels(this.opts.tenantLabels.label(slug ?? req.tenantId), req.direction, level).inc();
    this.opts.log.warn(
      {
        tenant: req.tenantId,
        tenantSlug: slug,
        callUuid: req.callUuid,
        direction: req.direction,
        node: req.node,
        limit: why,
        level,
        ...(by && { refusedBy: by.id, refusedBySlug: by.slug }),
        ...limit,
      },
      level === 'ancestor'
        ? "call rejected: an ancestor account's call limit reached"
        : 'call rejected: tenant call limit reached',
    );
    return { admitted: false, sipCode: this.opts.rejection.sipCode, reason: this.opts.rejection.reason };
  }

  // ---- events -----------------------------------------------------------

  /** Feeds one ESL event from `node`. Never throws on odd input. */
  onEvent(node: string, ev: EslEvent): void {
    if (!OBSERVED.has(ev.name)) return;
    const uuid = ev.header('Unique-ID');
    if (uuid === undefined) return;
    const key = this.legToCall.get(uuid);
    // Known legs are valid uuids already; only a new one is checked.
    if (key === undefined && !this.calls.has(uuid) && !UUID.test(uuid)) return;
    const call = this.observe(node, uuid, key, ev);
    if (ev.name === 'CHANNEL_HANGUP_COMPLETE' || ev.name === 'CHANNEL_DESTROY') this.legEnded(uuid, call, ev);
  }

  /** `key`: the call the leg is mapped to, if it is. */
  private observe(node: string, uuid: string, key: string | undefined, ev: EslEvent): Call | undefined {
    // A mapped leg is never a tombstone (a leg is unmapped before it is buried, and a tombstone is never mapped), so
    // only other uuids pay the look-up in the tombstone map, the ledger's largest (up to 100,000 entries).
    if (key === undefined) {
      if (this.tombstones.has(uuid)) return undefined;
      if (this.calls.has(uuid)) key = uuid;
    }
    // The event's tenant variable, searched for (in an 8 KiB event) at most once.
    let tenantVar: TenantId | undefined | null = null;
    let call: Call | undefined;
    if (key !== undefined) call = this.calls.get(key)!;
    else {
      // A leg the ledger does not know yet: a leg of a known call, or the first sign of a call the daemon routed.
      const link = linkOf(ev);
      if (link !== undefined && this.tombstones.has(link)) {
        this.bury(uuid, undefined);
        return undefined;
      }
      call = link === undefined ? undefined : this.calls.get(link);
      if (!call) {
        tenantVar = asTenant(ev.header(V_TENANT));
        if (!tenantVar) return undefined; // not a call the daemon routed
        // Its A-leg may still be on the way: the call is keyed by the A-leg either way.
        call = this.newCall(link ?? uuid, tenantVar, node);
      }
    }
    // A known leg of a counted call costs no header search at all; a leg's tenant is checked on its first event.
    if (!call.legs.has(uuid)) {
      if (call.legs.size === 0) this.hooks?.live(this.infoOf(call, node));
      call.legs.add(uuid);
      this.legToCall.set(uuid, call.key);
      if (tenantVar === null) tenantVar = asTenant(ev.header(V_TENANT));
      if (tenantVar && tenantVar !== call.tenantId) {
        this.opts.log.warn(
          { callUuid: call.key, leg: uuid, tenant: call.tenantId, eventTenant: tenantVar },
          'channel carries a different tenant than its call; keeping the first',
        );
      }
    }
    if (call.reservedUntil !== undefined) {
      call.reservedUntil = undefined;
      this.reservations.delete(call.key);
    }
    call.node = node;
    call.touched = ++this.seq;
    if (call.tenantSlug === undefined) {
      if (tenantVar === null) tenantVar = asTenant(ev.header(V_TENANT));
      if (tenantVar === call.tenantId) {
        const slug = ev.header(V_SLUG);
        if (slug) {
          call.tenantSlug = slug;
          this.slugs.set(call.tenantId, slug);
        }
      }
    }
    if (!call.counted) {
      const d = asDirection(ev.header(V_DIRECTION));
      if (d) this.setDirection(call, d);
    }
    return call;
  }

  private legEnded(uuid: string, call: Call | undefined, ev: EslEvent): void {
    const hangup = ev.name === 'CHANNEL_HANGUP_COMPLETE';
    if (!call) {
      // Already released (DESTROY overtook HANGUP_COMPLETE): the record is still owed once.
      const t = this.tombstones.get(uuid);
      if (hangup && t?.call && !t.cdrDone) {
        t.cdrDone = true;
        this.onEnded?.(t.call, ev);
      }
      return;
    }
    if (uuid !== call.key) {
      call.legs.delete(uuid);
      this.legToCall.delete(uuid);
      this.bury(uuid, undefined);
      return;
    }
    const info = this.release(call);
    this.hooks?.ended(info);
    const t = this.tombstones.get(call.key);
    if (hangup && t) {
      t.cdrDone = true;
      this.onEnded?.(info, ev);
    }
  }

  // ---- resync -----------------------------------------------------------

  /** The node's ESL went down: its calls stay counted (last known state) until it is back and resynced. */
  nodeDown(node: string): void {
    if (this.nodeUp.get(node) !== false) this.downSeq.set(node, this.seq);
    this.nodeUp.set(node, false);
  }

  /**
   * The node's Core-UUID on a (re)connect. Another one than last time means FreeSWITCH restarted (a new core
   * gets a new uuid, switch_core_init): every call the ledger held on the node when its connection was lost is
   * gone, live or reserved, and is released now instead of by a guess (a reservation's expiry) or whenever
   * `show channels` gets read. Calls touched since (admitted by a fetch of the new core) stay. Returns how many
   * were released; the first core seen for a node releases nothing.
   */
  coreSeen(node: string, core: string): number {
    const previous = this.cores.get(node);
    this.cores.set(node, core);
    this.restarted.set(node, previous !== undefined && previous !== core);
    if (previous === undefined || previous === core) return 0;
    const lostAt = this.downSeq.get(node) ?? this.seq;
    let released = 0;
    for (const call of [...this.calls.values()]) {
      if (call.node !== node || call.touched > lostAt) continue;
      this.release(call);
      released++;
    }
    this.opts.log.warn(
      { node, previousCore: previous, core, released },
      'FreeSWITCH node restarted (new Core-UUID): its earlier calls are released',
    );
    return released;
  }

  /** Whether the node's last coreSeen() found a new core. */
  restartedLast(node: string): boolean {
    return this.restarted.get(node) === true;
  }

  /** Which ESL node a FreeSWITCH switchname (xml_curl `hostname`) is. */
  setSwitchname(node: string, switchname: string): void {
    this.switchnames.set(switchname, node);
  }

  /** The ESL node that answered `switchname` on its last connect, if any (names the node of a mod_json_cdr record). */
  nodeOfSwitchname(switchname: string): string | undefined {
    return this.switchnames.get(switchname);
  }

  /**
   * Rebuilds the node's share of the ledger from FreeSWITCH's list of live
   * channels. `read` fetches the list; admission waits until this is done.
   * Anything on that node not touched since the list was requested and not in
   * it has ended while we were not looking (its hangup was lost): released
   * exactly once, here.
   */
  async resync(node: string, read: () => Promise<ChannelSnapshot[]>): Promise<{ added: number; released: number }> {
    const marker = ++this.seq;
    let done!: () => void;
    const gate = new Promise<void>((r) => {
      done = r;
    });
    this.resyncs.set(node, gate);
    try {
      const channels = await read();
      const live = new Set(channels.map((c) => c.uuid));
      let added = 0;
      for (const ch of channels) {
        if (this.tombstones.has(ch.uuid) || this.legToCall.has(ch.uuid)) continue;
        const key = ch.linkedTo ?? ch.uuid;
        if (this.tombstones.has(key)) continue;
        let call = this.calls.get(key);
        if (!call) {
          if (!ch.tenantId) continue;
          call = this.newCall(key, ch.tenantId, node);
          added++;
        }
        if (call.legs.size === 0) this.hooks?.live(this.infoOf(call, node));
        call.legs.add(ch.uuid);
        this.legToCall.set(ch.uuid, key);
        if (call.reservedUntil !== undefined) {
          call.reservedUntil = undefined;
          this.reservations.delete(key);
        }
        if (ch.tenantSlug && ch.tenantId === call.tenantId) {
          call.tenantSlug = ch.tenantSlug;
          this.slugs.set(call.tenantId, ch.tenantSlug);
        }
        if (!call.counted && ch.direction) this.setDirection(call, ch.direction);
      }
      let released = 0;
      for (const call of [...this.calls.values()]) {
        if (call.node !== node || call.touched > marker) continue;
        const anyLive = live.has(call.key) || [...call.legs].some((l) => live.has(l));
        if (!anyLive) {
          this.release(call);
          released++;
        }
      }
      this.nodeUp.set(node, true);
      if (released || added)
        this.opts.log.info(
          { node, added, released, live: channels.length },
          'call ledger resynchronised from FreeSWITCH',
        );
      return { added, released };
    } finally {
      this.resyncs.delete(node);
      done();
    }
  }

  // ---- housekeeping -------------------------------------------------------

  /** Releases expired reservations (not on a down node under "enforce") and forgets old tombstones. */
  sweep(): void {
    const now = this.now();
    for (const call of this.reservations.values()) {
      if (call.reservedUntil === undefined || call.reservedUntil > now) continue;
      if (this.nodeUp.get(call.node) === false) continue; // cannot know; resync decides
      this.opts.log.info(
        { callUuid: call.key, tenant: call.tenantId, node: call.node },
        'reservation expired: the admitted call never appeared',
      );
      this.release(call);
    }
    this.forgetTombstones(now);
  }

  /** Drops expired tombstones, and the oldest beyond the size bound. */
  private forgetTombstones(now: number): void {
    while (this.burialHead < this.burials.length) {
      const t = this.burials[this.burialHead]!;
      const current = this.tombstones.get(t.uuid) === t;
      // Left behind by re-burials count too, so the queue stays within twice the bound.
      const within =
        this.tombstones.size <= this.tomb.max && this.burials.length - this.burialHead <= 2 * this.tomb.max;
      if (current && t.until > now && within) break;
      if (current) this.tombstones.delete(t.uuid);
      this.burials[this.burialHead++] = undefined;
    }
    // Reclaim the popped part once it is most of the array (amortised O(1) per burial).
    if (this.burialHead > 1024 && this.burialHead * 2 > this.burials.length) {
      this.burials = this.burials.slice(this.burialHead);
      this.burialHead = 0;
    }
  }

  /** True if the call has ended recently (its tombstone is kept): a late fetch of it counts nothing. */
  hasEnded(uuid: string): boolean {
    return this.tombstones.has(uuid);
  }

  /** True if the leg is already attributed (resync skips asking FreeSWITCH about it). */
  knowsLeg(uuid: string): boolean {
    return this.legToCall.has(uuid);
  }

  /** Counts per tenant (for tests, the admin API and readiness). */
  active(tenantId: TenantId): Record<CallDirection, number> & { total: number } {
    const c = this.counts.get(tenantId) ?? { inbound: 0, outbound: 0, internal: 0 };
    return { ...c, total: c.inbound + c.outbound + c.internal };
  }

  /** Sizes of the internal maps (memory-bound checks). */
  sizes(): { calls: number; legs: number; reservations: number; tombstones: number; burials: number } {
    return {
      calls: this.calls.size,
      legs: this.legToCall.size,
      reservations: this.reservations.size,
      tombstones: this.tombstones.size,
      burials: this.burials.length - this.burialHead,
    };
  }

  // ---- internals -----------------------------------------------------------

  private newCall(key: string, tenantId: TenantId, node: string): Call {
    const call: Call = {
      key,
      tenantId,
      tenantSlug: this.slugs.get(tenantId),
      direction: undefined,
      node,
      legs: new Set(),
      counted: false,
      reservedUntil: undefined,
      touched: ++this.seq,
    };
    this.calls.set(key, call);
    return call;
  }

  private setDirection(call: Call, d: CallDirection): void {
    if (call.counted) return;
    call.direction = d;
    call.counted = true;
    let c = this.counts.get(call.tenantId);
    if (!c) {
      c = { inbound: 0, outbound: 0, internal: 0 };
      this.counts.set(call.tenantId, c);
    }
    c[d]++;
    const chain = this.chains.get(call.tenantId);
    if (chain) this.addBelow(chain, { ...ZERO, [d]: 1 }, 1);
  }

  /** Adds (sign 1) or removes (-1) calls of one tenant to / from its ancestors' descendant counts. */
  private addBelow(ancestors: readonly AncestorCeilings[] | undefined, n: Readonly<Counts>, sign: 1 | -1): void {
    if (!ancestors) return;
    for (const a of ancestors) {
      let b = this.below.get(a.id);
      if (!b) this.below.set(a.id, (b = { inbound: 0, outbound: 0, internal: 0 }));
      for (const d of DIRECTIONS) b[d] = Math.max(0, b[d] + sign * n[d]);
      if (b.inbound + b.outbound + b.internal === 0) this.below.delete(a.id);
    }
  }

  /**
   * The tenant's chain as its latest snapshot has it. When it changed (a parent change), the tenant's counted calls
   * move from the old ancestors to the new ones, as sql/016 moves the subtree totals; a descendant's calls follow
   * with the descendant's own next admission.
   */
  private learnChain(req: AdmissionRequest): void {
    const next = req.ancestors;
    if (!next) return;
    const prev = this.chains.get(req.tenantId);
    if (prev === next) return;
    const same = prev !== undefined && prev.length === next.length && prev.every((a, i) => a.id === next[i]!.id);
    if (next.length || prev) this.chains.set(req.tenantId, next);
    const own = this.counts.get(req.tenantId);
    if (same || !own) return;
    this.addBelow(prev, own, -1);
    this.addBelow(next, own, 1);
  }

  /** Removes the call and frees its slot: the only place a count goes down. */
  private release(call: Call): CallInfo {
    this.calls.delete(call.key);
    this.reservations.delete(call.key);
    if (call.counted && call.direction) {
      const c = this.counts.get(call.tenantId);
      if (c) {
        c[call.direction]--;
        if (c.inbound + c.outbound + c.internal === 0) this.counts.delete(call.tenantId);
        const chain = this.chains.get(call.tenantId);
        if (chain) this.addBelow(chain, { ...ZERO, [call.direction]: 1 }, -1);
      }
    }
    const info = this.infoOf(call, call.node);
    this.bury(call.key, info);
    for (const leg of call.legs) {
      this.legToCall.delete(leg);
      if (leg !== call.key) this.bury(leg, undefined);
    }
    return info;
  }

  private infoOf(call: Call, node: string): CallInfo {
    return { key: call.key, tenantId: call.tenantId, tenantSlug: call.tenantSlug, direction: call.direction, node };
  }

  private bury(uuid: string, call: CallInfo | undefined): void {
    const t: Tombstone = { uuid, until: this.now() + this.tomb.ttlMs, call, cdrDone: false };
    this.tombstones.set(uuid, t);
    this.burials.push(t);
    if (this.tombstones.size > this.tomb.max || this.burials.length - this.burialHead > 2 * this.tomb.max)
      this.forgetTombstones(this.now());
  }
}
