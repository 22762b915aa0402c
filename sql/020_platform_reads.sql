-- Slim cross-tenant reads for the platform-wide work: sofia.conf (every tenant's gateways), acl.conf (every tenant's
-- trunk CIDRs), local_stream.conf and the gateway / hold-music syncs, and the call-center reconciliation. Each used to
-- load every tenant's full snapshot (all extensions: 1,000,000 rows for 20,000 tenants) one transaction at a time,
-- to use a few columns of a few tables.
--
-- Why a SECURITY INVOKER loop and not a SECURITY DEFINER read like resolve_sip_domain: these return tenant data
-- (trunk credentials, agents), not just ids. A definer function would need the schema owner to read every row of
-- sip_trunks, queues, agents and tiers (new registry_read policies), the one thing RLS here is meant to rule out.
-- Instead the function runs as the serving role and visits each tenant under its own transaction-local context,
-- as reconcile_node_slots (sql/008) does: every row it returns was let through by that tenant's own policy, and a
-- missing or wrong tenant_id filter below could only return less, never another tenant's rows. One statement, one
-- round trip, instead of 20,000 transactions; the previous context is put back at the end, so a caller inside
-- withTenant keeps its own. The price is a few statements per tenant (about 0.05 ms each at 20,000 tenants, see
-- README Benchmarks), where one set-based definer query would take a fraction of that: these run at start-up and
-- for changed tenants only. Generic plans: the statements differ per tenant only by the tenant id, and planning them
-- through the tenant policies for every tenant (custom plans) costs more than running them.

-- Per tenant (all of them, or those in p_tenants): slug, status, SIP domains, trunks (what sofia parse_gateways and
-- switch_load_network_lists need) and hold-music streams with their files (local_stream.conf, the moh sync).
CREATE FUNCTION platform_config(p_tenants uuid[] DEFAULT NULL)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text, domains text[], trunks json, moh_streams json)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  r record;
  prev text := current_setting('app.current_tenant', true);
BEGIN
  -- Slug and status from list_tenants (ids and status only, as resolve_sip_domain): reading them from `tenants`
  -- here would also evaluate its reseller policies (sql/014) once per tenant.
  FOR r IN SELECT l.tenant_id, l.tenant_slug, l.tenant_status FROM list_tenants() l
           WHERE p_tenants IS NULL OR l.tenant_id = ANY (p_tenants) LOOP
    PERFORM set_config('app.current_tenant', r.tenant_id::text, true);
    RETURN QUERY
    SELECT r.tenant_id, r.tenant_slug, r.tenant_status,
      ARRAY(SELECT d.domain::text FROM sip_domains d WHERE d.tenant_id = r.tenant_id ORDER BY d.domain),
      (SELECT coalesce(json_agg(json_build_object('name', s.name, 'proxy', s.proxy, 'username', s.username,
          'password', s.password, 'register', s.register, 'cidrs', s.allowed_cidrs::text[], 'enabled', s.enabled)
          ORDER BY s.name), '[]')
        FROM sip_trunks s WHERE s.tenant_id = r.tenant_id),
      (SELECT coalesce(json_agg(json_build_object('id', m.id, 'name', m.name, 'is_default', m.is_default,
          'files', (SELECT coalesce(json_agg(json_build_object('name', f.name, 'size', f.size_bytes, 'at', f.updated_at)
            ORDER BY f.name), '[]') FROM moh_stream_files f WHERE f.stream_id = m.id)) ORDER BY m.name), '[]')
        FROM moh_streams m WHERE m.tenant_id = r.tenant_id);
  END LOOP;
  PERFORM set_config('app.current_tenant', coalesce(prev, ''), true);
END
$$;

-- Per tenant: what mod_callcenter should hold (xml-handlers/callcenter-state.ts) and nothing else: queues, agents
-- (with their extension's number and enabled flag, not the extensions), tiers, and the hold music queues resolve
-- against. Without p_tenants (a full reconciliation) only tenants with a queue or an agent: the others hold
-- nothing, and whatever a node holds under their domains is removed all the same (planner.ts removes what no
-- tenant wants). With p_tenants every listed tenant is returned, so an emptied tenant still scopes its removals.
CREATE FUNCTION callcenter_config(p_tenants uuid[] DEFAULT NULL)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text, primary_domain text, queues json, agents json,
  tiers json, moh_streams json, moh_tenant uuid, moh_stream uuid)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  r record;
  prev text := current_setting('app.current_tenant', true);
BEGIN
  FOR r IN SELECT l.tenant_id, l.tenant_slug, l.tenant_status FROM list_tenants() l
           WHERE p_tenants IS NULL OR l.tenant_id = ANY (p_tenants) LOOP
    PERFORM set_config('app.current_tenant', r.tenant_id::text, true);
    IF p_tenants IS NULL AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.tenant_id = r.tenant_id)
       AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.tenant_id = r.tenant_id) THEN
      CONTINUE;
    END IF;
    RETURN QUERY
    SELECT r.tenant_id, r.tenant_slug, r.tenant_status,
      (SELECT d.domain::text FROM sip_domains d WHERE d.tenant_id = r.tenant_id AND d.is_primary),
      (SELECT coalesce(json_agg(q), '[]') FROM queues q WHERE q.tenant_id = r.tenant_id),
      (SELECT coalesce(json_agg(json_build_object('extension', e.number, 'enabled', e.enabled, 'status', a.status,
          'max_no_answer', a.max_no_answer, 'wrap_up_time', a.wrap_up_time, 'reject_delay_time', a.reject_delay_time,
          'busy_delay_time', a.busy_delay_time, 'no_answer_delay_time', a.no_answer_delay_time) ORDER BY e.number), '[]')
        FROM agents a JOIN extensions e ON e.id = a.extension_id WHERE a.tenant_id = r.tenant_id),
      (SELECT coalesce(json_agg(json_build_object('queue', q.name, 'extension', e.number, 'level', t.level,
          'position', t.position) ORDER BY q.name, t.level, t.position, e.number), '[]')
        FROM tiers t JOIN queues q ON q.id = t.queue_id JOIN agents a ON a.id = t.agent_id
          JOIN extensions e ON e.id = a.extension_id WHERE t.tenant_id = r.tenant_id),
      (SELECT coalesce(json_agg(json_build_object('id', m.id, 'name', m.name, 'is_default', m.is_default,
          'files', '[]'::json) ORDER BY m.name), '[]')
        FROM moh_streams m WHERE m.tenant_id = r.tenant_id),
      -- Inherited hold music (sql/014); its tree walk is the costliest part, and a root account inherits nothing.
      s.moh_tenant_id, s.moh_stream_id
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (SELECT e.moh_tenant_id, e.moh_stream_id FROM tenant_effective_settings(r.tenant_id) e
      WHERE EXISTS (SELECT 1 FROM tenants x WHERE x.id = r.tenant_id AND x.parent_id IS NOT NULL)) s ON true;
  END LOOP;
  PERFORM set_config('app.current_tenant', coalesce(prev, ''), true);
END
$$;

REVOKE ALL ON FUNCTION platform_config(uuid[]), callcenter_config(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_config(uuid[]), callcenter_config(uuid[]) TO fs_tenantd_app;
