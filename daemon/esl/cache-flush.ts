// Pushes database changes into FreeSWITCH's own caches so edits take effect
// without a restart. Directory users are cached by FreeSWITCH (the `cacheable`
// attribute) under key+user+domain (switch_xml.c switch_xml_clear_user_cache);
// sofia looks users up with key "id", so `xml_flush_cache id <ext> <domain>`
// drops exactly one user, and `xml_flush_cache` with no argument drops all.
// "Exactly one" holds because that key is unambiguous (xml-handlers/fs-names.ts)
// and only requests spelled as stored are answered `cacheable` (directory.ts).
// Trunk CIDRs live in acl.conf, which only `reloadacl` re-reads (sent only when
// acl.conf changed, below). A removed SIP domain also takes the registrations
// sofia filed under it.
// mod_callcenter's queues, agents and tiers are pushed by the call-center sync
// (daemon/callcenter), not here.
import type pg from 'pg';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { ChangeEvent, ChangeFeed } from '../db/change-feed.js';
import { withTenant } from '../db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import { metric, type MetricsRegistry } from '../metrics.js';
import { FS_USER_ID_KEY, isExtensionNumber, isSipDomain } from '../../xml-handlers/fs-names.js';
import type { EslClient } from './client.js';

export const FLUSH_ALL = 'xml_flush_cache';
/** Above this many user flushes for one tenant's changes, FreeSWITCH's whole user cache is flushed in one command. */
const MAX_USER_FLUSHES = 500;
export const RELOAD_ACL = 'reloadacl';
/** How long a batch may wait for look-ups still in flight beyond its debounce. */
const MAX_BATCH_WAIT_MS = 1000;
/**
 * reloadacl answers only once FreeSWITCH has rebuilt every list (14 s at 20,000 tenants, BENCHMARKS.md). As `api` it
 * holds the connection's listener thread (mod_event_socket runs api commands inline) so the commands queued behind it
 * and the events time out, the client takes the silent connection for dead, and reconnecting sends reloadacl again:
 * it is sent as `bgapi` (a thread of its own), with a timeout for the whole job.
 */
const RELOAD_ACL_TIMEOUT_MS = 120_000;
/**
 * Drops every registration sofia filed under `domain` (sofia_reg_expire_call_id: an argument without `@` also
 * matches sip_host), so a removed domain's contacts are neither rung nor found by a tenant that adds it later.
 */
export const flushDomainRegistrations = (domain: string): string =>
  `sofia profile internal flush_inbound_reg ${domain}`;
export const flushUser = (extension: string, domain: string): string =>
  `xml_flush_cache ${FS_USER_ID_KEY} ${extension} ${domain}`;

export interface CacheFlusherOptions {
  feed: ChangeFeed;
  clients: readonly EslClient[];
  pool: pg.Pool;
  log: Logger;
  registry: MetricsRegistry;
  /** Changes within this window are sent as one batch (a bulk edit gives one reloadacl). */
  debounceMs?: number;
  /**
   * The acl.conf this daemon would answer now (daemon/xml-curl/answer-fetch.ts aclDocument). With it, a trunk or
   * tenant change sends reloadacl only when that document changed; without it, every trunk change sends one.
   */
  acl?: () => Promise<string>;
}

export interface CacheFlusher {
  /** Resolves when nothing is pending or being sent (tests, shutdown). */
  idle(): Promise<void>;
  stop(): void;
}

export function createCacheFlusher(opts: CacheFlusherOptions): CacheFlusher {
  const { log } = opts;
  const sent = metric(
    opts.registry,
    'fs_tenantd_esl_cache_flush_commands_total',
    () =>
      new client.Counter({
        name: 'fs_tenantd_esl_cache_flush_commands_total',
        help: 'Cache flush commands sent to FreeSWITCH, by command and outcome',
        labelNames: ['command', 'outcome'],
        registers: [opts.registry],
      }),
  );
  /** Commands per node ("*" = every connected node). */
  const pending = new Map<string, Set<string>>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let lookups = 0;
  let lookupsDone: (() => void) | undefined;
  let stopped = false;
  let firstPendingAt = 0;
  /** A trunk or tenant changed since the last flush: compare acl.conf (with opts.acl). */
  let aclCheck = false;
  /** The acl.conf last compared; undefined: unknown, the next comparison finds it changed. */
  let lastAcl: string | undefined;

  const schedule = (node: string, commands: readonly string[]) => {
    if (stopped) return;
    const set = pending.get(node) ?? new Set<string>();
    for (const c of commands) set.add(c);
    pending.set(node, set);
    if (!timer) {
      firstPendingAt = performance.now();
      timer = setTimeout(flush, opts.debounceMs ?? 100);
    }
  };

  /**
   * reloadacl makes every node fetch and parse acl.conf again (switch_load_network_lists: 14 s at 20,000 tenants,
   * even answered from our cache), so it is sent only when the acl.conf this daemon would answer differs from the one
   * it last compared: a trunk's password or proxy is not in acl.conf. Each daemon of an active-active set follows every
   * change and reads the same database, so each one that sees the document change sends reloadacl to its own nodes,
   * as each sent one for every trunk change before; a change that alters the ACLs reaches every node. The baseline
   * is forgotten when notifications may have been lost (resync) or acl.conf cannot be read: the next comparison then
   * counts as a change. Connecting and resync still send reloadacl unconditionally.
   */
  const aclChanged = async (): Promise<boolean> => {
    try {
      const doc = await opts.acl!();
      const changed = doc !== lastAcl;
      lastAcl = doc;
      return changed;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot render acl.conf to compare; reloading the ACLs');
      lastAcl = undefined;
      return true;
    }
  };

  const flush = () => {
    // One commit's notifications can arrive over two socket reads, so two look-ups: wait (briefly) for those in
    // flight, or a user named by both halves would be flushed twice.
    if (lookups > 0 && performance.now() - firstPendingAt < MAX_BATCH_WAIT_MS) {
      timer = setTimeout(flush, 5);
      return;
    }
    timer = undefined;
    const batch = new Map(pending);
    pending.clear();
    const check = aclCheck;
    aclCheck = false;
    running = running.then(async () => {
      if (check && (await aclChanged())) batch.set('*', new Set([...(batch.get('*') ?? []), RELOAD_ACL]));
      for (const esl of opts.clients) {
        const cmds = new Set([...(batch.get('*') ?? []), ...(batch.get(esl.node) ?? [])]);
        // A full flush makes the per-user ones pointless.
        if (cmds.has(FLUSH_ALL)) for (const c of cmds) if (c.startsWith('xml_flush_cache ')) cmds.delete(c);
        if (!esl.connected) continue; // it gets a full flush when it comes back
        for (const cmd of cmds) {
          const name = cmd.split(' ')[0]!;
          try {
            const reply =
              cmd === RELOAD_ACL ? await esl.bgapi(cmd, { timeoutMs: RELOAD_ACL_TIMEOUT_MS }) : await esl.api(cmd);
            sent.labels(name, 'ok').inc();
            log.debug({ node: esl.node, cmd, reply: reply.trim() }, 'FreeSWITCH cache flushed');
          } catch (err) {
            sent.labels(name, 'error').inc();
            log.warn({ node: esl.node, cmd, err: (err as Error).message }, 'FreeSWITCH cache flush failed');
          }
        }
      }
    });
  };

  /**
   * What one tenant's changes that arrived together (a transaction's notifications) mean for FreeSWITCH's caches,
   * with at most one read-only transaction of look-ups for all of them, not one per row.
   */
  const onChanges = async (tenantId: TenantId, events: readonly ChangeEvent[]) => {
    const cmds = new Set<string>();
    /** Users to flush in each of the tenant's domains; credentials name theirs by extension id. */
    const numbers = new Set<string>();
    const credentialsOf = new Set<string>();
    let everyUser = false;
    let needDomains = false;
    let checkAcl = false;
    for (const e of events) {
      // A bulk change (sql/021) names no rows: every user of the tenant may be stale, or gone.
      if (e.bulk && (e.table === 'extensions' || e.table === 'extension_credentials')) {
        cmds.add(FLUSH_ALL);
        continue;
      }
      switch (e.table) {
        case 'extensions':
          needDomains = true;
          for (const n of [e.keys.number?.old, e.keys.number?.new])
            if (typeof n === 'string' && isExtensionNumber(n)) numbers.add(n);
          break;
        case 'sip_domains': {
          // Every user's dial-string lists the tenant's domains (directory.ts): all cached users are stale.
          const { old: was, new: now } = e.keys.domain ?? {};
          cmds.add(FLUSH_ALL);
          if (typeof was === 'string' && was !== now && isSipDomain(was)) cmds.add(flushDomainRegistrations(was));
          break;
        }
        case 'extension_credentials':
          // A password set again: the user's answers (a1-hash per realm) change in every domain of the tenant.
          needDomains = true;
          for (const id of [e.keys.extension_id?.old, e.keys.extension_id?.new])
            if (typeof id === 'string') credentialsOf.add(id);
          break;
        case 'tenants':
          // Every user of the domain/tenant changes at once; a status change also adds or drops its ACL list.
          cmds.add(FLUSH_ALL);
          if (opts.acl) checkAcl = true;
          break;
        case 'sip_trunks':
          if (opts.acl) checkAcl = true;
          else cmds.add(RELOAD_ACL);
          break;
        case 'moh_streams':
          // Every user answer of the tenant carries its hold music (directory.ts), which a new default changes.
          needDomains = true;
          everyUser = true;
          break;
      }
    }
    if (needDomains && !cmds.has(FLUSH_ALL)) {
      const found = await withTenant(
        opts.pool,
        tenantId,
        async (db) => {
          const domains = await db.query<{ domain: string }>('SELECT domain FROM sip_domains');
          const users = everyUser
            ? await db.query<{ number: string }>('SELECT number FROM extensions')
            : credentialsOf.size
              ? await db.query<{ number: string }>('SELECT number FROM extensions WHERE id = ANY($1::uuid[])', [
                  [...credentialsOf],
                ])
              : { rows: [] };
          return { domains: domains.rows.map((r) => r.domain).filter(isSipDomain), users: users.rows };
        },
        { readOnly: true },
      );
      // A credential without its extension: the extension is gone, and its own change named the number.
      for (const { number } of found.users) if (isExtensionNumber(number)) numbers.add(number);
      // No domain left (tenant being deleted): flush everything rather than guess.
      if (!found.domains.length || numbers.size * found.domains.length > MAX_USER_FLUSHES) cmds.add(FLUSH_ALL);
      else for (const n of numbers) for (const d of found.domains) cmds.add(flushUser(n, d));
    }
    if (checkAcl) aclCheck = true;
    if (cmds.size || checkAcl) schedule('*', [...cmds]);
  };

  const track = (p: Promise<void>) => {
    lookups++;
    void p
      .catch((err: Error) => {
        // The database is unreachable: flush everything, nothing can be stale for long.
        log.warn({ err: err.message }, 'cannot resolve a change to FreeSWITCH cache keys; flushing all');
        schedule('*', [FLUSH_ALL]);
      })
      .finally(() => {
        if (--lookups === 0) lookupsDone?.();
      });
  };

  /** Per tenant, the changes that arrived in this turn of the event loop: notifications of one commit come together. */
  const arriving = new Map<TenantId, ChangeEvent[]>();
  const changeListener = (e: ChangeEvent) => {
    const open = arriving.get(e.tenantId);
    if (open) return void open.push(e);
    const batch = [e];
    arriving.set(e.tenantId, batch);
    track(
      new Promise<void>((r) => setImmediate(r)).then(() => {
        arriving.delete(e.tenantId);
        return onChanges(e.tenantId, batch);
      }),
    );
  };
  // Notifications were lost while the feed was away: assume everything changed.
  const resyncListener = () => {
    lastAcl = undefined;
    schedule('*', [FLUSH_ALL, RELOAD_ACL]);
  };
  opts.feed.on('change', changeListener);
  opts.feed.on('resync', resyncListener);
  // Changes made while a node's ESL was down were not pushed to it.
  const readyListeners = opts.clients.map((esl) => {
    const fn = () => schedule(esl.node, [FLUSH_ALL, RELOAD_ACL]);
    esl.on('ready', fn);
    return [esl, fn] as const;
  });

  return {
    async idle() {
      for (;;) {
        if (lookups)
          await new Promise<void>((r) => {
            lookupsDone = r;
          });
        if (timer) {
          clearTimeout(timer);
          flush();
        }
        await running;
        if (!lookups && !timer && pending.size === 0) return;
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      opts.feed.off('change', changeListener);
      opts.feed.off('resync', resyncListener);
      for (const [esl, fn] of readyListeners) esl.off('ready', fn);
    },
  };
}
