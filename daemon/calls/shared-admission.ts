// Shared admission (issue 16): the decision is one statement in PostgreSQL
// (admit_call, sql/008_call_admissions.sql; with every ancestor's ceilings
// since sql/016_cascading_ceilings.sql: advisory locks on the account's chain
// root first, subtree counts, compare, reserve), so every daemon on every node
// admits against the same slots. The in-process ledger stays as the cache of
// what is up and, when PostgreSQL does not answer in time, as the last known
// state for the down policy. The ledger's call-state hooks mirror a call's
// first event (live: its reservation no longer expires) and its end (slot
// freed once) into PostgreSQL.
import type { Logger } from 'pino';
import type pg from 'pg';
import type { AdmissionDecision, AdmissionRequest, CallAdmission } from './admission-types.js';
import type { CallInfo, CallLedger, DownNodePolicy } from './call-ledger.js';
import type { Fence } from '../ha/node-leases.js';

export interface SharedAdmissionOptions {
  pool: pg.Pool;
  ledger: CallLedger;
  log: Logger;
  reservationTtlMs: number;
  /** When PostgreSQL does not answer within timeoutMs: enforce (the ledger decides), admit, reject. */
  downPolicy: DownNodePolicy;
  timeoutMs: number;
}

interface AdmitRow {
  admitted: boolean;
  limit_name: string | null;
  active: number | null;
  ceiling: number | null;
  /** The account whose ceiling refused (sql/016: the caller's own, or an ancestor's), and its slug. */
  refused_by: string | null;
  refused_slug: string | null;
  level: 'own' | 'ancestor' | null;
}

const ADMITTED: AdmissionDecision = { admitted: true };
const ADMIT_SQL =
  'SELECT admitted, limit_name, active, ceiling, refused_by, refused_slug, level FROM admit_call($1, $2, $3, $4, $5)';

/** Rejects after `ms`; the query itself runs on (a late reservation then expires like any other). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from PostgreSQL within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class SharedAdmission implements CallAdmission {
  private degraded = false;

  constructor(private readonly opts: SharedAdmissionOptions) {
    opts.ledger.setStateHooks({
      live: (call) => this.mirror('mark_call_live', call, 'SELECT mark_call_live($1, $2, $3)', [call.node]),
      ended: (call) => this.mirror('release_call', call, 'SELECT release_call($1, $2)', []),
    });
  }

  async admit(req: AdmissionRequest): Promise<AdmissionDecision> {
    const { ledger, pool } = this.opts;
    // A late dialplan fetch of a call that has ended: nothing to count (PostgreSQL keeps no row for ended calls).
    if (ledger.hasEnded(req.callUuid)) return ADMITTED;
    const node = ledger.nodeOfSwitchname(req.node) ?? req.node;
    let row: AdmitRow | undefined;
    try {
      const r = await within(
        pool.query<AdmitRow>(ADMIT_SQL, [req.tenantId, req.callUuid, req.direction, node, this.opts.reservationTtlMs]),
        this.opts.timeoutMs,
      );
      row = r.rows[0];
      if (!row) throw new Error('admit_call returned no row');
    } catch (err) {
      return this.fallback(req, err as Error);
    }
    if (this.degraded) {
      this.degraded = false;
      this.opts.log.info('shared admission: PostgreSQL answers again');
    }
    if (row.admitted) {
      ledger.track(req);
      return ADMITTED;
    }
    const limit = row.ceiling !== null && row.active !== null ? { max: row.ceiling, active: row.active } : undefined;
    const by = row.refused_by ? { id: row.refused_by, slug: row.refused_slug ?? undefined } : undefined;
    return ledger.refuse(req, row.limit_name ?? 'refused', limit, row.level ?? 'own', by);
  }

  /** PostgreSQL unreachable or slow: the daemon's down policy decides, from its own ledger for "enforce". */
  private fallback(req: AdmissionRequest, err: Error): Promise<AdmissionDecision> | AdmissionDecision {
    const { ledger, log, downPolicy } = this.opts;
    if (!this.degraded) {
      this.degraded = true;
      log.error({ err: err.message, policy: downPolicy }, 'shared admission: PostgreSQL unreachable; down policy');
    }
    if (downPolicy === 'admit') {
      ledger.track(req);
      return ADMITTED;
    }
    if (downPolicy === 'reject') return ledger.refuse(req, 'PostgreSQL unreachable (shared admission)');
    return ledger.admit(req);
  }

  private mirror(what: string, call: CallInfo, sql: string, extra: unknown[]): void {
    this.opts.pool.query(sql, [call.tenantId, call.key, ...extra]).catch((err: Error) => {
      // A lost "live" leaves a reservation that expires; a lost release, a slot until the node's next resync.
      this.opts.log.warn({ callUuid: call.key, tenant: call.tenantId, err: err.message }, `shared admission: ${what}`);
    });
  }

  /**
   * After an ESL (re)connect: `live` holds every uuid on the node (A-legs and the calls legs link to). Slots of this
   * node that went live before the channel list was read and are not in it lost their hangup: released.
   * `before` is the database's clock from dbNow(), taken before the list was requested.
   */
  async reconcileNode(node: string, live: Iterable<string>, before: Date, fence?: Fence): Promise<number> {
    if (fence && fence.epoch > 0) {
      // The lease is checked (and its row locked) in the same statement as the deletes.
      const r = await this.opts.pool.query<{ n: number | null }>(
        'SELECT reconcile_node_slots_fenced($1, $2, $3, $4, $5) AS n',
        [node, [...live], before, fence.holder, fence.epoch],
      );
      const n = r.rows[0]?.n;
      if (n === null || n === undefined) {
        this.opts.log.warn({ node, epoch: fence.epoch }, 'shared slots not reconciled: the resync lease was lost');
        return 0;
      }
      return n;
    }
    const r = await this.opts.pool.query<{ n: number }>('SELECT reconcile_node_slots($1, $2, $3) AS n', [
      node,
      [...live],
      before,
    ]);
    return r.rows[0]?.n ?? 0;
  }

  /**
   * Records the node's Core-UUID (sql/010 node_core_seen). Another one than recorded: the node restarted, and its
   * slots created before `startedBefore` (the old core's calls, reserved or live) are released now.
   */
  async nodeCoreSeen(
    node: string,
    core: string,
    startedBefore: Date,
  ): Promise<{ previousCore: string | null; released: number }> {
    const r = await this.opts.pool.query<{ previous_core: string | null; released: number }>(
      'SELECT previous_core, released FROM node_core_seen($1, $2, $3)',
      [node, core, startedBefore],
    );
    const row = r.rows[0];
    const changed = row?.previous_core != null && row.previous_core !== core;
    return { previousCore: changed ? row!.previous_core : null, released: row?.released ?? 0 };
  }

  async dbNow(): Promise<Date> {
    return (await this.opts.pool.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
  }
}
