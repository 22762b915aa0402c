// Agent status changes reach FreeSWITCH through the call-center module. The API
// commits the status (and its audit row) first, then calls this port, which
// main.ts wires to the call-center sync once it exists. Until then nothing is
// pushed here; the agents row's NOTIFY (status is a key column) still tells
// any listener.
import type { AgentStatus, TenantId } from '../../xml-handlers/model.js';

export interface AgentStatusChange {
  tenantId: TenantId;
  tenantSlug: string;
  agentId: string;
  /** The agent's extension number (mod_callcenter names the agent <extension>@<domain>). */
  extension: string;
  status: AgentStatus;
}

/** Injection point for the call-center module's setAgentStatus push. */
export type PushAgentStatus = (change: AgentStatusChange) => Promise<void>;
