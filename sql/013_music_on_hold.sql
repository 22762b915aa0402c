-- Music on hold (issue 15): per-tenant local_stream streams, their files, and a
-- tenant default (README "Music on hold").
--
-- A stream is a folder of WAV files that mod_local_stream plays in a loop. In
-- FreeSWITCH it is named from the tenant's and the stream's ids
-- (xml-handlers/media-names.ts mohStreamName), never from `name`: `name` is the
-- tenant's own handle for it (what queues.moh_sound says after local_stream://),
-- unique per tenant only. The files live at
-- <FS_TENANTD_MOH_DIR>/<tenant_id>/<stream id>/<file name>, written by the API
-- (daemon/moh/files.ts).
CREATE TABLE moh_streams (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  -- The stock stream names (the platform's "default" and "moh", local_stream.conf) are reserved: a queue's
  -- local_stream://moh always means the platform's stream, never a tenant's.
  name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$' AND name NOT IN ('default', 'moh')),
  -- The tenant's hold music (hold_music on every call the dialplan routes, queues without a stream of their own):
  -- at most one per tenant; none means the platform's stock stream.
  is_default  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX moh_streams_one_default ON moh_streams (tenant_id) WHERE is_default;

-- One row per file on disk. The API writes the file to a temporary name, inserts or updates this row, renames
-- the file into place and only then commits, so a row never names a file that was not fully written. A stream
-- with files cannot be deleted (RESTRICT): its files go first, so no folder is left without a row.
CREATE TABLE moh_stream_files (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  stream_id    uuid NOT NULL,
  -- A plain file name, never a path (no '/', no leading dot).
  name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}\.wav$'),
  size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
  sample_rate  integer NOT NULL CHECK (sample_rate IN (8000, 16000, 48000)),
  duration_ms  integer NOT NULL CHECK (duration_ms >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, stream_id, name),
  FOREIGN KEY (tenant_id, stream_id) REFERENCES moh_streams (tenant_id, id) ON DELETE RESTRICT
);

SELECT protect_tenant_table('moh_streams');
SELECT protect_tenant_table('moh_stream_files');
GRANT SELECT, INSERT, UPDATE, DELETE ON moh_streams TO fs_tenantd_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON moh_stream_files TO fs_tenantd_app;

-- Streams and their files are part of the tenant snapshot (local_stream.conf, hold_music, queues' moh-sound) and
-- what the ESL sync (daemon/esl/moh-sync.ts) starts, reloads and stops: every change must reach the feed.
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON moh_streams
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('name');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON moh_streams FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON moh_stream_files
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('stream_id', 'name');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON moh_stream_files FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
