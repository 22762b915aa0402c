// The contract between the dialplan handler (xml_curl) and the call ledger (ESL):
// the dialplan fetch asks for a slot before it routes a call.
import type { AncestorCeilings, CallDirection, Ceilings, TenantId } from '../../xml-handlers/model.js';

export interface AdmissionRequest {
  tenantId: TenantId;
  /** For logs and metric labels (the ledger may not have seen this tenant's calls yet). */
  tenantSlug?: string;
  /** The A-leg Unique-ID from the dialplan fetch: the reservation's key. */
  callUuid: string;
  direction: CallDirection;
  ceilings: Ceilings;
  /** The ancestors' ceilings, root first (from the snapshot): the in-process ledger applies them too. */
  ancestors?: readonly AncestorCeilings[];
  /** FreeSWITCH node (xml_curl `hostname`) the call is on. */
  node: string;
}

export type AdmissionDecision = { admitted: true } | { admitted: false; sipCode: number; reason: string };

export interface CallAdmission {
  admit(req: AdmissionRequest): Promise<AdmissionDecision>;
}
