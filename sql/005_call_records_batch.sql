-- Call records arrive in batches that span many tenants (one record per ended
-- call). Written one transaction per tenant, a batch costs four round trips per
-- tenant; insert_call_records writes it in one. For each tenant in turn it sets
-- the transaction-local tenant context and inserts only that tenant's rows, so
-- every row is still checked by call_records' RLS policy under its own
-- tenant's context. SECURITY INVOKER: it runs with the caller's rights and
-- policies, so it can do nothing the caller could not do through withTenant.
-- The context is cleared before it returns; call it outside any transaction.
CREATE FUNCTION insert_call_records(
  p_tenant uuid[], p_call_uuid text[], p_node text[], p_direction text[], p_caller text[], p_callee text[],
  p_created timestamptz[], p_answered timestamptz[], p_ended timestamptz[], p_duration integer[], p_billsec integer[],
  p_cause text[], p_queue text[])
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  t uuid;
  idx integer[];
  n integer;
  inserted integer := 0;
BEGIN
  -- Each tenant's rows by position, so the batch is read once, not once per tenant.
  FOR t, idx IN SELECT p_tenant[i], array_agg(i) FROM generate_subscripts(p_tenant, 1) AS i
                WHERE p_tenant[i] IS NOT NULL GROUP BY p_tenant[i] LOOP
    PERFORM set_config('app.current_tenant', t::text, true);
    INSERT INTO call_records (tenant_id, call_uuid, node, direction, caller, callee,
      created_at, answered_at, ended_at, duration_s, billsec, hangup_cause, queue)
    SELECT t, p_call_uuid[i], p_node[i], p_direction[i], p_caller[i], p_callee[i],
      p_created[i], p_answered[i], p_ended[i], p_duration[i], p_billsec[i], p_cause[i], p_queue[i]
    FROM unnest(idx) AS i
    ON CONFLICT (tenant_id, call_uuid) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    inserted := inserted + n;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN inserted;
END
$$;

REVOKE ALL ON FUNCTION insert_call_records(uuid[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[],
  timestamptz[], integer[], integer[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insert_call_records(uuid[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[],
  timestamptz[], integer[], integer[], text[], text[]) TO fs_tenantd_app;
