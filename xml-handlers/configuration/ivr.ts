// ivr.conf, fetched by mod_dptools' `ivr` app for one menu (Menu-Name, with
// the calling channel's variables: ivr_application_function). Only that menu
// is answered, and only to a channel of the tenant that owns it: the name is
// the node's uuid (unique across tenants) and the tenant comes from the
// channel's fs_tenant_id, which the daemon's own dialplan exported. Anything
// else is not found, so FreeSWITCH logs "Unable to find menu" and the dialplan
// continues with the menu's next node or hangs up.
import { CHANNEL_VARS, eventHeader } from '../channel-vars.js';
import { readNode } from '../dialplan/call-flow.js';
import type { MenuSettings } from '../dialplan/nodes/menu.js';
import { flowDestination } from '../dialplan/nodes/node-kind.js';
import { asTenantId, type FlowNode, type FlowNodeId, type TenantId } from '../model.js';
import { NOT_FOUND, section, serialize } from '../xml.js';
import type { ConfigurationFile } from './file.js';

export interface IvrRequest {
  file: 'ivr.conf';
  menu: string | undefined;
  channelTenantId: TenantId | undefined;
}

const tenantIdOf = (v: string | undefined): TenantId | undefined => {
  try {
    return v === undefined ? undefined : asTenantId(v);
  } catch {
    return undefined;
  }
};

export function renderIvrMenu(node: FlowNode, s: MenuSettings, context: string): string {
  const menu = section('configuration', { description: 'fs-tenantd' })
    .ele('configuration', { name: 'ivr.conf', description: 'IVR menus' })
    .ele('menus')
    .ele('menu', {
      name: node.id,
      'greet-long': s.greeting,
      'greet-short': s.greeting,
      ...(s.invalidSound ? { 'invalid-sound': s.invalidSound } : {}),
      ...(s.exitSound ? { 'exit-sound': s.exitSound } : {}),
      timeout: String(s.timeoutMs),
      'inter-digit-timeout': String(s.interDigitTimeoutMs),
      'max-failures': String(s.maxFailures),
      'max-timeouts': String(s.maxTimeouts),
      'digit-len': String(s.digitLen),
    });
  // menu-exec-app runs the transfer; the transfer ends the menu (switch_channel_ready is false once CF_TRANSFER).
  for (const [digits, target] of [...node.choices].sort(([a], [b]) => a.localeCompare(b))) {
    menu.ele('entry', {
      action: 'menu-exec-app',
      digits,
      param: `transfer ${flowDestination(target as FlowNodeId)} XML ${context}`,
    });
  }
  return serialize(menu);
}

export const ivrConf: ConfigurationFile<IvrRequest> = {
  name: 'ivr.conf',
  parse: (get) => ({
    file: 'ivr.conf',
    menu: get('Menu-Name'),
    channelTenantId: tenantIdOf(get(eventHeader(CHANNEL_VARS.tenantId))),
  }),
  needs: (req) => (req.channelTenantId && req.menu ? { tenantId: req.channelTenantId } : 'none'),
  render: (req, tenants) => {
    const tenant = tenants[0];
    const node = req.menu === undefined ? undefined : tenant?.flowNodes.get(req.menu as FlowNodeId);
    if (!tenant?.primaryDomain || tenant.status !== 'active' || node?.kind !== 'menu') return undefined;
    const read = readNode(node, tenant);
    if ('problem' in read) {
      return {
        xml: NOT_FOUND,
        warnings: [{ msg: 'ivr.conf: menu unusable', tenant: tenant.slug, problem: read.problem }],
      };
    }
    return { xml: renderIvrMenu(node, read.settings as MenuSettings, tenant.primaryDomain) };
  },
};
