// A menu's choices (sql/009 menu_choices): DTMF digits → node. Checked against
// the menu as calls read it (digit length) before commit.
import { readNode } from '../../../xml-handlers/dialplan/call-flow.js';
import type { FlowNodeId } from '../../../xml-handlers/model.js';
import { readSnapshot } from '../../tenants/load-snapshot.js';
import { badRequest } from '../errors.js';
import type { ResourceDef } from '../resource.js';
import { uuid } from '../schema-types.js';

export const menuChoices: ResourceDef = {
  path: 'menu-choices',
  table: 'menu_choices',
  noun: 'menu_choice',
  fields: {
    menuId: { column: 'menu_id', schema: uuid, required: true, references: 'call_flow_nodes' },
    digits: { column: 'digits', schema: { type: 'string', pattern: '^[0-9*#]{1,4}$' }, required: true },
    targetId: { column: 'target_id', schema: uuid, required: true, references: 'call_flow_nodes' },
  },
  async beforeWrite({ db, input }) {
    if (input.menuId !== undefined) {
      const { rows } = await db.query<{ kind: string }>('SELECT kind FROM call_flow_nodes WHERE id = $1', [
        input.menuId,
      ]);
      if (rows[0]?.kind !== 'menu') throw badRequest('menuId', 'is not a menu node');
    }
    return {};
  },
  async checkWritten({ db, scope, row }) {
    const snapshot = await readSnapshot(db, scope.tenantId);
    const menu = snapshot?.flowNodes.get(row.menuId as FlowNodeId);
    if (!snapshot || !menu) return;
    const read = readNode(menu, snapshot);
    if ('problem' in read) throw badRequest(read.field === 'digits' ? 'digits' : `menu ${read.field}`, read.why);
  },
};
