-- Change notifications for cache invalidation and FreeSWITCH pushes. Each row
-- change sends one NOTIFY on channel fs_tenantd_changes with the table, the
-- operation, the tenant, the row id and the old/new values of the key columns
-- named in the trigger's arguments (never secrets: the payload is readable by
-- every listener).
CREATE FUNCTION notify_tenant_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  any_row jsonb := coalesce(new_row, old_row);
  keys jsonb := '{}';
  col text;
BEGIN
  FOREACH col IN ARRAY TG_ARGV LOOP
    keys := keys || jsonb_build_object(col, jsonb_build_object('old', old_row -> col, 'new', new_row -> col));
  END LOOP;
  PERFORM pg_notify('fs_tenantd_changes', jsonb_build_object(
    'table', TG_TABLE_NAME,
    'op', TG_OP,
    'tenant_id', coalesce(any_row ->> 'tenant_id', any_row ->> 'id'),
    'id', any_row -> 'id',
    'keys', keys)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('slug', 'status');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON sip_domains
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('domain');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON extensions
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('number');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON sip_trunks
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('name');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON queues
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('name');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON dids
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('e164');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON outbound_routes
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('name');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('extension_id', 'status');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON tiers
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('queue_id', 'agent_id');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON tenant_features
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('feature_key');

-- updated_at follows every UPDATE without each caller remembering it.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

DO $$
DECLARE tbl regclass;
BEGIN
  FOR tbl IN
    SELECT c.oid::regclass
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
    WHERE n.nspname = current_schema() AND c.relkind = 'r'
  LOOP
    EXECUTE format('CREATE TRIGGER touch_updated_at BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION touch_updated_at()', tbl);
  END LOOP;
END
$$;
