// Channel variables the daemon itself puts on every call it routes (directory
// user variables, dialplan `export`, and the `{...}` prefix of dial strings, so
// a bridged B-leg carries them from its CHANNEL_CREATE on). The ledger trusts
// only these, never caller-supplied SIP headers.
export const CHANNEL_VARS = {
  /** The tenant's uuid (tenants.id). */
  tenantId: 'fs_tenant_id',
  /** The tenant's slug, for logs and for humans reading `show channels`. */
  tenantSlug: 'fs_tenant_slug',
  /** inbound | outbound | internal, decided by the dialplan. */
  direction: 'fs_call_direction',
  /**
   * Set (not exported) on a call the dialplan records: the recording's path under the recordings directory,
   * <tenant id>/<call uuid>.wav. The CDR carrying it tells the daemon to link the file (daemon/json-cdr/).
   */
  recording: 'fs_recording',
} as const;

/** In ESL events, channel variables appear with this prefix. */
export const eventHeader = (name: string): string => `variable_${name}`;
