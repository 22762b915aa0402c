-- Bulk changes notify in bounded numbers (issue 18). One NOTIFY per row made a 10,000-extension import send 20,000
-- notifications, which every daemon parsed and acted on one by one (a look-up per row in the FreeSWITCH cache
-- flusher). Now, per transaction, table and tenant, the first 100 rows still notify row by row (a few edits re-read
-- a few rows); each row past that sends {"table", "op", "tenant_id", "bulk": true} with neither id nor keys, meaning
-- "any row of this table of this tenant may have changed", and PostgreSQL delivers identical payloads of one
-- transaction once (async.c AsyncExistsPendingNotify): at most one per table, tenant and operation.
-- sip_domains always notifies row by row: a removed domain's name is needed to drop the registrations filed under
-- it (daemon/esl/cache-flush.ts), and a tenant has a handful.
-- The count lives in a transaction-local setting (one per session, reset at commit or rollback, as a savepoint's
-- rolled-back notifications are); a trigger cannot see how many rows its statement touches.
CREATE OR REPLACE FUNCTION notify_tenant_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  any_row jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
  tenant text := coalesce(any_row ->> 'tenant_id', any_row ->> 'id');
  old_row jsonb;
  new_row jsonb;
  keys jsonb := '{}';
  col text;
  counted jsonb;
  slot text := TG_TABLE_NAME || ' ' || tenant;
  n integer;
BEGIN
  IF TG_TABLE_NAME <> 'sip_domains' THEN
    counted := coalesce(nullif(current_setting('fs_tenantd.notified_rows', true), ''), '{}')::jsonb;
    n := coalesce((counted ->> slot)::integer, 0) + 1;
    IF n > 100 THEN
      PERFORM pg_notify('fs_tenantd_changes', jsonb_build_object(
        'table', TG_TABLE_NAME, 'op', TG_OP, 'tenant_id', tenant, 'bulk', true)::text);
      RETURN NULL;
    END IF;
    PERFORM set_config('fs_tenantd.notified_rows', (counted || jsonb_build_object(slot, n))::text, true);
  END IF;
  old_row := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  FOREACH col IN ARRAY TG_ARGV LOOP
    keys := keys || jsonb_build_object(col, jsonb_build_object('old', old_row -> col, 'new', new_row -> col));
  END LOOP;
  PERFORM pg_notify('fs_tenantd_changes', jsonb_build_object(
    'table', TG_TABLE_NAME,
    'op', TG_OP,
    'tenant_id', tenant,
    'id', any_row -> 'id',
    'keys', keys)::text);
  RETURN NULL;
END
$$;
