-- Call recordings (issue 15): a per-tenant policy the dialplan applies, and one
-- row per recorded call linking the file to the call's record.
--
-- Policy: a tenant records a call when any of its enabled rules matches it
-- (xml-handlers/dialplan/record-call.ts): every call, inbound calls, outbound
-- calls, calls to or from one extension, calls into one queue. Extensions and
-- queues are composite foreign keys, so a rule can only ever name the tenant's
-- own; deleting an extension or queue deletes its rules with it.
CREATE TABLE recording_rules (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  scope         text NOT NULL CHECK (scope IN ('all', 'inbound', 'outbound', 'extension', 'queue')),
  extension_id  uuid,
  queue_id      uuid,
  enabled       boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, extension_id) REFERENCES extensions (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE,
  CONSTRAINT recording_rules_extension_id_check CHECK ((scope = 'extension') = (extension_id IS NOT NULL)),
  CONSTRAINT recording_rules_queue_id_check CHECK ((scope = 'queue') = (queue_id IS NOT NULL))
);
CREATE INDEX recording_rules_tenant ON recording_rules (tenant_id);

-- How long a tenant keeps its recordings; NULL keeps them until deleted through the API.
ALTER TABLE tenants ADD COLUMN recording_retention_days integer
  CHECK (recording_retention_days BETWEEN 1 AND 36500);

-- One recording per call (the A-leg's uuid, as call_records keys calls). Written only by the daemon, from the
-- call's mod_json_cdr record, in the same transaction as the call record itself; the file lives at
-- <FS_TENANTD_RECORDINGS_DIR>/<relative_path>, and relative_path is always <tenant_id>/<call_uuid>.wav (the CHECK
-- holds the daemon to it, so no row can ever point outside its tenant's directory).
CREATE TABLE call_recordings (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  call_uuid      text NOT NULL,
  relative_path  text NOT NULL,
  started_at     timestamptz NOT NULL,
  ended_at       timestamptz NOT NULL,
  -- FreeSWITCH's record_ms: audio written, in milliseconds (NULL when the record did not say).
  duration_ms    integer CHECK (duration_ms >= 0),
  -- NULL when the daemon could not stat the file when it wrote the row (logged and counted).
  size_bytes     bigint CHECK (size_bytes >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, call_uuid),
  -- The call record stays while its recording does: no call record can be removed from under a file.
  FOREIGN KEY (tenant_id, call_uuid) REFERENCES call_records (tenant_id, call_uuid) ON DELETE RESTRICT,
  CHECK (relative_path = tenant_id::text || '/' || call_uuid || '.wav'),
  CHECK (call_uuid ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  CHECK (ended_at >= started_at)
);
CREATE INDEX call_recordings_tenant_ended ON call_recordings (tenant_id, ended_at);

SELECT protect_tenant_table('recording_rules');
SELECT protect_tenant_table('call_recordings');
GRANT SELECT, INSERT, UPDATE, DELETE ON recording_rules TO fs_tenantd_app;
-- Recordings are never edited: written once, deleted by the API or the retention job.
GRANT SELECT, INSERT, DELETE ON call_recordings TO fs_tenantd_app;

-- The policy is part of the tenant snapshot (the dialplan reads it): changes evict the cache.
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON recording_rules
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('scope');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON recording_rules FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
