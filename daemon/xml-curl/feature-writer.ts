// Applies a feature code (*78, *72<n>, …) dialled from a phone: one UPDATE of
// the caller's own extension in its tenant's context (RLS) with its audit row.
// The row's NOTIFY evicts the tenant's snapshot everywhere and flushes the
// user from FreeSWITCH's cache (daemon/esl/cache-flush.ts); the local store is
// evicted at once as well, so the caller's next call sees the change even if
// the notification is still on its way.
import type pg from 'pg';
import { withTenant } from '../db/tenant-context.js';
import type { TenantId } from '../../xml-handlers/model.js';
import type { FeatureChange } from '../../xml-handlers/dialplan/feature-codes.js';

const COLUMNS = {
  dnd: 'dnd',
  forwardAlways: 'forward_always',
  forwardBusy: 'forward_busy',
  forwardNoAnswer: 'forward_no_answer',
  forwardUnreachable: 'forward_unreachable',
} as const;

export interface FeatureWriter {
  /** True when the extension exists and was updated. */
  apply(req: { tenantId: TenantId; extension: string; change: FeatureChange; callUuid: string }): Promise<boolean>;
}

export function createFeatureWriter(pool: pg.Pool, evict: (tenantId: TenantId) => void): FeatureWriter {
  return {
    async apply({ tenantId, extension, change, callUuid }) {
      const entries = Object.entries(change.set) as [keyof typeof COLUMNS, unknown][];
      if (!entries.length) return false;
      const sets = entries.map(([field], i) => `${COLUMNS[field]} = $${i + 2}`).join(', ');
      const updated = await withTenant(pool, tenantId, async (db) => {
        const { rows } = await db.query<{ id: string }>(
          `UPDATE extensions SET ${sets} WHERE number = $1 RETURNING id`,
          [extension, ...entries.map(([, v]) => v)],
        );
        if (!rows[0]) return false;
        await db.query(
          `INSERT INTO audit_logs (tenant_id, actor, actor_role, action, target, summary)
          VALUES ($1, $2, 'agent', 'extension.features', $3, $4)`,
          [
            tenantId,
            `extension:${extension}`,
            `extensions/${rows[0].id}`,
            JSON.stringify({ via: 'feature_code', code: change.code, callUuid, after: change.set }),
          ],
        );
        return true;
      });
      evict(tenantId);
      return updated;
    },
  };
}
