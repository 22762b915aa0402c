// A valid body for every body-carrying admin API route, keyed "METHOD /url".
// Given one resource id per table, values naming those ids make the request
// aim at that tenant's rows (the cross-tenant gate passes tenant A's ids).
// The gate fails for a route that has a body but no entry here.
/** A valid body per body-carrying route; values naming A's ids make the write a cross-tenant attempt. */
export const SAMPLES: Record<string, (a: Record<string, string>) => Record<string, unknown>> = {
  'POST /api/extensions': () => ({ number: '5555', password: 'gate-pass-1' }),
  'PATCH /api/extensions/:id': () => ({ callerIdName: 'gate' }),
  'POST /api/dids': (a) => ({ e164: '+15559990000', destinationType: 'extension', extensionId: a.extensions }),
  'PATCH /api/dids/:id': () => ({ enabled: false }),
  'POST /api/trunks': () => ({ name: 'gate-trunk', allowedCidrs: ['192.0.2.0/24'] }),
  'PATCH /api/trunks/:id': () => ({ enabled: false }),
  'POST /api/outbound-routes': (a) => ({ name: 'gate', pattern: '^9', trunkId: a.sip_trunks }),
  'PATCH /api/outbound-routes/:id': () => ({ priority: 5 }),
  'POST /api/queues': () => ({ name: 'gate-q' }),
  'PATCH /api/queues/:id': () => ({ maxWaitTime: 5 }),
  'POST /api/agents': (a) => ({ extensionId: a.extensions }),
  'PATCH /api/agents/:id': () => ({ status: 'Available' }),
  'POST /api/tiers': (a) => ({ queueId: a.queues, agentId: a.agents }),
  'PATCH /api/tiers/:id': () => ({ level: 2 }),
  'POST /api/features': () => ({ key: 'gate_feature', enabled: true }),
  'PATCH /api/features/:key': () => ({ enabled: true }),
  'PATCH /api/tenant': () => ({ defaultLanguage: 'fr', maxTotal: 1 }),
  'PUT /api/me/agent/status': () => ({ status: 'Available' }),
  'PUT /api/me/features': () => ({ dnd: false }),
  'POST /api/call-flow-nodes': (a) => ({ name: 'gate-node', kind: 'extension', extensionId: a.extensions }),
  'PATCH /api/call-flow-nodes/:id': () => ({ dialCode: null }),
  'POST /api/menu-choices': (a) => ({ menuId: a.call_flow_nodes, digits: '9', targetId: a.call_flow_nodes }),
  'PATCH /api/menu-choices/:id': (a) => ({ targetId: a.call_flow_nodes }),
  'POST /api/tenants': () => ({ slug: 'gate-tenant', name: 'Gate', sipDomain: 'gate.pbx.test' }),
  'PATCH /api/tenants/:slug': () => ({ isReseller: true }),
  'POST /api/sip-domains': () => ({ domain: 'gate-second.pbx.test' }),
  'POST /api/recording-rules': (a) => ({ scope: 'extension', extensionId: a.extensions }),
  'PATCH /api/recording-rules/:id': () => ({ enabled: true }),
  'POST /api/moh-streams': () => ({ name: 'gate-stream' }),
  'PATCH /api/moh-streams/:id': () => ({ isDefault: true }),
};
