-- Row-level security: the product's core promise. Every table with a tenant_id
-- gets RLS enabled and FORCED (the owner is filtered too), and one policy that
-- compares tenant_id with the transaction-local app.current_tenant. With no
-- context app_current_tenant() is NULL and the policy matches nothing.

CREATE FUNCTION protect_tenant_table(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (tenant_id = app_current_tenant()) '
    'WITH CHECK (tenant_id = app_current_tenant())', tbl);
END
$$;
REVOKE ALL ON FUNCTION protect_tenant_table(regclass) FROM PUBLIC;

SELECT protect_tenant_table(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p');

-- The tenants table is keyed by id rather than tenant_id.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (id = app_current_tenant()) WITH CHECK (id = app_current_tenant());

-- Look-ups that must run before any tenant is known. They are SECURITY DEFINER
-- functions owned by the schema owner, which alone gets a read-everything policy
-- on the few tables they touch; they return ids and status, never tenant data.
CREATE POLICY registry_read ON tenants FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY registry_read ON sip_domains FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY registry_read ON dids FOR SELECT TO CURRENT_USER USING (true);

CREATE FUNCTION resolve_sip_domain(p_domain text)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.status
  FROM sip_domains d JOIN tenants t ON t.id = d.tenant_id
  WHERE d.domain = lower(p_domain)
$$;

CREATE FUNCTION resolve_did(p_e164 text)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.status
  FROM dids d JOIN tenants t ON t.id = d.tenant_id
  WHERE d.e164 = p_e164
$$;

CREATE FUNCTION resolve_tenant_slug(p_slug text)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.status FROM tenants t WHERE t.slug = p_slug
$$;

-- For work that visits every tenant in turn (sofia.conf, acl.conf, call-center
-- reconciliation), each visit then going through withTenant.
CREATE FUNCTION list_tenants()
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.status FROM tenants t ORDER BY t.slug
$$;

REVOKE ALL ON FUNCTION resolve_sip_domain(text), resolve_did(text), resolve_tenant_slug(text), list_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION resolve_sip_domain(text), resolve_did(text), resolve_tenant_slug(text), list_tenants() TO fs_tenantd_app;
GRANT EXECUTE ON FUNCTION app_current_tenant() TO fs_tenantd_app;

-- The serving role's privileges: data tables read/write, the audit log and call
-- records append-only.
GRANT USAGE ON SCHEMA public TO fs_tenantd_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  tenants, sip_domains, extensions, sip_trunks, queues, dids, outbound_routes,
  agents, tiers, tenant_features TO fs_tenantd_app;
GRANT SELECT, INSERT ON audit_logs, call_records TO fs_tenantd_app;
