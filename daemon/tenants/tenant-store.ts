// The tenant data behind xml_curl: SIP domain -> tenant, DID -> tenant, tenant ->
// snapshot, and the tenant list, each in a LoadingCache; for directory users also
// tenant -> head and (tenant, number) -> extension, so a phone is answered from
// one row, not from a load of its whole tenant. Change notifications evict
// exactly what a row change can affect; a 'resync' (LISTEN connection
// re-established, notifications possibly lost) marks everything for reload.
import type pg from 'pg';
import type { Logger } from 'pino';
import { follow, type ChangeEvent, type ChangeSource } from '../db/change-feed.js';
import type { Extension, TenantHead, TenantId, TenantRef, TenantSnapshot } from '../../xml-handlers/model.js';
import { userIn, type UserLookup } from '../../xml-handlers/directory.js';
import type { MetricsRegistry } from '../metrics.js';
import { cacheMetrics, LoadingCache, type Trace } from './loading-cache.js';
import { withTenant } from '../db/tenant-context.js';
import {
  listTenants,
  loadHead,
  loadSnapshot,
  loadUser,
  readExtensions,
  resolveDid,
  resolveDomain,
} from './load-snapshot.js';

export interface TenantStoreOptions {
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  ttlMs: number;
  maxTenants: number;
  /** Extensions kept for directory answers (FS_TENANTD_USER_CACHE_MAX). */
  maxUsers: number;
  maxNegative: number;
  negativeTtlMs: number;
  now?: () => number;
}

/** What the store listens to. */
export type { ChangeSource };

const ALL = 'all';
/** The tables a TenantHead is read from (load-snapshot.ts HEAD_JSON). */
const HEAD_TABLES = new Set(['tenants', 'sip_domains', 'moh_streams', 'moh_stream_files']);

/** `<tenant>|<epoch>|<number>` (TenantStore.users): a tenant id is a uuid and an epoch a number, neither has a '|'. */
function splitUserKey(key: string): [TenantId, string, string] {
  const a = key.indexOf('|');
  const b = key.indexOf('|', a + 1);
  return [key.slice(0, a) as TenantId, key.slice(a + 1, b), key.slice(b + 1)];
}
/** Past this many changed extensions in one batch a full reload is cheaper than reading them one by one. */
const MAX_REVISED = 500;

/** An extension row change a snapshot can take without a full reload: `id` to re-read, `gone` (number) to drop. */
function extensionChange(e: ChangeEvent): { id?: string; gone?: string } | undefined {
  if (e.bulk) return undefined; // no rows named (sql/021)
  const key = (col: string) => e.keys[col] as { old: unknown; new: unknown } | undefined;
  if (e.table === 'extension_credentials') {
    const ext = key('extension_id');
    const id = (ext?.new ?? ext?.old) as string | undefined;
    return typeof id === 'string' ? { id } : undefined;
  }
  if (e.table !== 'extensions') return undefined;
  const n = key('number');
  if (e.op === 'DELETE') return typeof n?.old === 'string' ? { gone: n.old } : undefined;
  // A renumbered extension is named by DIDs, agents and call flows by its number: those need the full reload.
  if (e.op === 'UPDATE' && n?.old !== n?.new) return undefined;
  return e.id ? { id: e.id } : undefined;
}

export class TenantStore {
  private readonly domains: LoadingCache<string, TenantId>;
  private readonly dids: LoadingCache<string, TenantId>;
  private readonly snapshots: LoadingCache<TenantId, TenantSnapshot>;
  private readonly tenantList: LoadingCache<typeof ALL, TenantRef[]>;
  private readonly heads: LoadingCache<TenantId, TenantHead>;
  /**
   * Extensions by `<tenant>|<epoch>|<number>`. A tenant's epoch moves when a change cannot be pinned to one cached
   * number; entries under an older epoch (and loads in flight for one) are never read again and age out.
   */
  private readonly users: LoadingCache<string, { id: string; extension: Extension }>;
  private readonly epochs = new Map<TenantId, number>();
  /** Cached extensions' row ids -> key: credential changes name the extension by id only. */
  private readonly userKeys = new Map<string, string>();
  private readonly maxUsers: number;
  /** Extension changes per tenant not yet read by the snapshot revision scheduled for them (reviseExtensions). */
  private readonly pendingRows = new Map<
    TenantId,
    { ids: Set<string>; gone: Set<string>; revision?: Promise<TenantSnapshot | null> }
  >();
  private readonly pool: pg.Pool;
  private readonly log: Logger;

  constructor(opts: TenantStoreOptions) {
    const { pool, log } = opts;
    this.pool = pool;
    this.log = log;
    const metrics = cacheMetrics(opts.registry);
    const common = { metrics, ttlMs: opts.ttlMs, now: opts.now };
    const negative = { max: opts.maxNegative, ttlMs: opts.negativeTtlMs };
    this.domains = new LoadingCache({
      ...common,
      name: 'domain',
      max: opts.maxTenants * 4,
      negative,
      load: (d) => resolveDomain(pool, d),
    });
    this.dids = new LoadingCache({
      ...common,
      name: 'did',
      max: opts.maxTenants * 20,
      negative,
      load: (e) => resolveDid(pool, e),
    });
    this.snapshots = new LoadingCache({
      ...common,
      name: 'tenant',
      max: opts.maxTenants,
      load: (id) => loadSnapshot(pool, id, (p) => log.warn({ tenantId: p.tenantId }, `tenant data skipped: ${p.what}`)),
    });
    this.tenantList = new LoadingCache({ ...common, name: 'tenant_list', max: 1, load: async () => listTenants(pool) });
    this.heads = new LoadingCache({
      ...common,
      name: 'tenant_head',
      max: opts.maxTenants * 4,
      load: (id) => loadHead(pool, id),
    });
    this.maxUsers = opts.maxUsers;
    this.users = new LoadingCache({
      ...common,
      name: 'user',
      max: opts.maxUsers,
      // Scanners probe numbers that do not exist: those are kept apart, so they cannot push real phones out.
      negative,
      load: (key) => this.loadUser(key, { head: false, row: true }).then((r) => r.row),
    });
  }

  /**
   * The tenant owning `domain` and its extension `number`, for a directory answer: from the whole snapshot when it
   * is cached, else from the head and that one row, so a phone of a large tenant never waits for a load of every row.
   */
  async user(domain: string, number: string, trace?: Trace): Promise<UserLookup | null> {
    const id = await this.domains.get(domain, trace);
    if (!id) return null;
    const whole = this.snapshots.peek(id);
    if (whole) return userIn(whole, number);
    // What is missing of the head and the row is read together, in one round trip: each cache calls its loader
    // (synchronously, from get) only on a miss, and the read starts once both have said what they need.
    const key = this.userKey(id, number);
    const want = { head: false, row: false };
    let read: ReturnType<TenantStore['loadUser']> | undefined;
    const both = () => (read ??= Promise.resolve().then(() => this.loadUser(key, want)));
    const [head, row] = await Promise.all([
      this.heads.get(id, trace, () => {
        want.head = true;
        return both().then((r) => r.head ?? null);
      }),
      this.users.get(key, trace, () => {
        want.row = true;
        return both().then((r) => r.row);
      }),
    ]);
    return head && { tenant: head, extension: row?.extension };
  }

  /** The row of user `key` and/or its tenant's head; a row read is indexed by its id for credential changes. */
  private async loadUser(key: string, want: { head: boolean; row: boolean }) {
    const [tenantId, , number] = splitUserKey(key);
    const r = await loadUser(this.pool, tenantId, want.row ? number : null, want.head);
    if (r.row) this.indexUser(r.row.id, key);
    return r;
  }

  /** The tenant owning `domain` without its rows (whether it exists and is active), or null. */
  async headByDomain(domain: string, trace?: Trace): Promise<TenantHead | null> {
    const id = await this.domains.get(domain, trace);
    if (!id) return null;
    return this.snapshots.peek(id) ?? this.heads.get(id, trace);
  }

  private userKey(id: TenantId, number: string): string {
    return `${id}|${this.epochs.get(id) ?? 0}|${number}`;
  }

  private indexUser(rowId: string, key: string): void {
    // Bounded without a hook into the LRU: past twice the cache it starts over. An extension no longer indexed is
    // still exact: a credential change naming it retires its tenant's users (dropUser).
    if (this.userKeys.size >= 2 * this.maxUsers) this.userKeys.clear();
    this.userKeys.set(rowId, key);
  }

  /** Every cached extension of the tenant is retired (and loads in flight are never stored where they are read). */
  private retireUsers(id: TenantId): void {
    this.epochs.set(id, (this.epochs.get(id) ?? 0) + 1);
  }

  /** A changed extension or credential row: its cached extension is dropped, or all of the tenant's if unknown. */
  private dropUser(e: ChangeEvent): void {
    // No rows named (sql/021 bulk).
    if (e.bulk) {
      this.retireUsers(e.tenantId);
      return;
    }
    if (e.table === 'extensions') {
      for (const k of ['old', 'new'] as const) {
        const n = e.keys.number?.[k];
        if (typeof n === 'string') this.users.invalidate(this.userKey(e.tenantId, n));
      }
      return;
    }
    const ext = e.keys.extension_id;
    const rowId = (ext?.new ?? ext?.old) as string | undefined;
    const key = rowId === undefined ? undefined : this.userKeys.get(rowId);
    // Not indexed: not cached, or its load still in flight (which may have read the row before the change).
    if (key === undefined || !key.startsWith(`${e.tenantId}|`)) {
      this.retireUsers(e.tenantId);
      return;
    }
    this.userKeys.delete(rowId!);
    this.users.invalidate(key);
  }

  /** The tenant owning `domain` (lower-case, validated by the caller), or null. */
  async byDomain(domain: string, trace?: Trace): Promise<TenantSnapshot | null> {
    const id = await this.domains.get(domain, trace);
    return id ? this.snapshots.get(id, trace) : null;
  }

  async byId(id: TenantId, trace?: Trace): Promise<TenantSnapshot | null> {
    return this.snapshots.get(id, trace);
  }

  async byDid(e164: string, trace?: Trace): Promise<TenantSnapshot | null> {
    const id = await this.dids.get(e164, trace);
    return id ? this.snapshots.get(id, trace) : null;
  }

  /** Every tenant's snapshot (cross-tenant files: sofia.conf, acl.conf), in slug order. */
  async all(trace?: Trace): Promise<TenantSnapshot[]> {
    const refs = (await this.tenantList.get(ALL, trace)) ?? [];
    const snaps = await Promise.all(refs.map((r) => this.snapshots.get(r.id, trace)));
    return snaps.filter((s): s is TenantSnapshot => s !== null);
  }

  applyChange(e: ChangeEvent): void {
    const keyValues = (col: string): string[] => {
      const k = e.keys[col];
      return [k?.old, k?.new].filter((v): v is string => typeof v === 'string');
    };
    switch (e.table) {
      case 'tenants':
        this.tenantList.invalidate(ALL);
        break;
      case 'sip_domains':
        for (const d of keyValues('domain')) this.domains.invalidate(d);
        break;
      case 'dids':
        if (e.bulk) this.dids.flush(); // no numbers named (sql/021)
        for (const n of keyValues('e164')) this.dids.invalidate(n);
        break;
    }
    if (e.table === 'extensions' || e.table === 'extension_credentials') this.dropUser(e);
    else if (HEAD_TABLES.has(e.table)) this.heads.invalidate(e.tenantId);
    // Every tenant table's rows are part of the snapshot; changed extensions alone are re-read, not the tenant.
    const ext = extensionChange(e);
    if (!ext || !this.reviseExtensions(e.tenantId, ext)) this.snapshots.invalidate(e.tenantId);
    // Descendants carry an account's ceilings and place in the tree (sql/016) and inherit its defaults and default
    // hold music (sql/014 tenant_effective_settings).
    if (e.table === 'tenants' || e.table === 'moh_streams') {
      const below = (h: TenantHead) => h.ancestors?.some((a) => a.id === e.tenantId) === true;
      this.snapshots.invalidateWhere(below);
      this.heads.invalidateWhere(below);
    }
  }

  /**
   * Schedules the changed extension to be re-read into the cached snapshot: the next lookup of the tenant waits for
   * that (one small query, changes of the same burst read together) instead of a reload of every row. False when
   * the snapshot must be dropped instead: nothing fresh cached, or a load in flight that may predate the change.
   */
  private reviseExtensions(tenantId: TenantId, change: { id?: string; gone?: string }): boolean {
    const add = (b: { ids: Set<string>; gone: Set<string> }) => {
      if (change.id) b.ids.add(change.id);
      if (change.gone) b.gone.add(change.gone);
    };
    const open = this.pendingRows.get(tenantId);
    // Only while the batch's revision is still what lookups wait for: another change may have dropped it since.
    if (open?.revision && this.snapshots.awaits(tenantId, open.revision)) {
      add(open);
      return true;
    }
    const batch: { ids: Set<string>; gone: Set<string>; revision?: Promise<TenantSnapshot | null> } = {
      ids: new Set(),
      gone: new Set(),
    };
    add(batch);
    // Notifications of one transaction arrive together: the revision reads once they are all in.
    const closed = new Promise<void>((r) => setImmediate(r)).then(() => {
      if (this.pendingRows.get(tenantId) === batch) this.pendingRows.delete(tenantId);
    });
    const revised = this.snapshots.revise(tenantId, async (old) => {
      await closed;
      if (batch.ids.size > MAX_REVISED) return loadSnapshot(this.pool, tenantId);
      const rows = batch.ids.size
        ? await withTenant(this.pool, tenantId, (c) => readExtensions(c, [...batch.ids]), { readOnly: true })
        : [];
      const extensions = new Map(old.extensions);
      for (const n of batch.gone) extensions.delete(n);
      for (const x of rows) extensions.set(x.number, x);
      this.log.debug({ tenantId, read: rows.length, dropped: batch.gone.size }, 'tenant snapshot revised');
      return { ...old, extensions };
    });
    if (!revised) return false;
    batch.revision = revised;
    this.pendingRows.set(tenantId, batch);
    return true;
  }

  /** Drops one tenant's cached data: after the daemon's own write, before its NOTIFY arrives. */
  evict(tenantId: TenantId): void {
    this.snapshots.invalidate(tenantId);
    this.heads.invalidate(tenantId);
    this.retireUsers(tenantId);
  }

  resync(): void {
    this.domains.flush();
    this.dids.flush();
    this.snapshots.flush();
    this.tenantList.flush();
    this.heads.flush();
    this.users.flush();
  }

  /** Follows a change feed until the returned function is called. */
  attach(feed: ChangeSource): () => void {
    return follow(feed, this);
  }
}

/** The store, following `changes` until stop(). */
export function createTenantStore(
  opts: TenantStoreOptions & { changes: ChangeSource },
): TenantStore & { stop(): void } {
  const store = new TenantStore(opts);
  return Object.assign(store, { stop: store.attach(opts.changes) });
}
