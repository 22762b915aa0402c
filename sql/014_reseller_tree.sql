-- The account tree (issue 17): platform -> reseller -> customer, resellers may
-- have sub-resellers. tenants.parent_id and is_reseller existed since sql/001;
-- this makes them mean something, enforced by PostgreSQL:
--
-- * app.current_reseller (transaction-local, like app.current_tenant) is a
--   reseller's tree context: it reads the account rows, domains and usage of
--   its subtree (itself included) and creates or moves accounts under it. It
--   reads no other tenant table: to act inside a child the daemon enters it.
-- * app.via_reseller: set with app.current_tenant when a reseller acts inside
--   a child (X-Tenant-Id). app_current_tenant() then yields the tenant only if
--   it lies in that reseller's subtree, so a wrong tenant id from the daemon
--   still reads and writes nothing.
-- * Triggers refuse a cycle, children under a non-reseller, and a ceiling above
--   what an ancestor allows, naming the column.
-- * Defaults (time zone, language, caller id, hold music, unrouted DIDs, brand)
--   are inherited down the tree unless an account sets its own.

CREATE FUNCTION app_uuid_setting(p_name text) RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN current_setting(p_name, true) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN current_setting(p_name, true)::uuid
  END
$$;

CREATE FUNCTION app_current_reseller() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT app_uuid_setting('app.current_reseller') $$;

-- Whether p_tenant is p_root or lies below it. Walks up from p_tenant (a handful of primary-key look-ups), so it
-- costs the same under a reseller of 10 customers or 10,000. Returns a boolean only: it reveals nothing else.
CREATE FUNCTION tenant_in_subtree(p_root uuid, p_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH RECURSIVE up (id, parent_id, depth) AS (
    SELECT t.id, t.parent_id, 0 FROM tenants t WHERE t.id = p_tenant
    UNION ALL
    SELECT t.id, t.parent_id, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id WHERE up.depth < 32
  )
  SELECT p_root IS NOT NULL AND EXISTS (SELECT 1 FROM up WHERE up.id = p_root)
$$;

-- The ids of p_root and every account below it (for the policies: one set per statement, not a walk per row).
CREATE FUNCTION tenant_subtree(p_root uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH RECURSIVE down (id, depth) AS (
    SELECT t.id, 0 FROM tenants t WHERE t.id = p_root
    UNION ALL
    SELECT t.id, down.depth + 1 FROM tenants t JOIN down ON t.parent_id = down.id WHERE down.depth < 32
  )
  SELECT id FROM down
$$;

-- The tenant context, now checked against app.via_reseller when one is set (a reseller inside a child). The
-- common case (no via_reseller) costs one more current_setting; the walk runs only for a reseller's requests.
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN coalesce(current_setting('app.via_reseller', true), '') = '' THEN app_uuid_setting('app.current_tenant')
    WHEN tenant_in_subtree(app_uuid_setting('app.via_reseller'), app_uuid_setting('app.current_tenant'))
    THEN app_uuid_setting('app.current_tenant')
  END
$$;

-- Every tenant_isolation policy compares with (SELECT app_current_tenant()): an InitPlan, evaluated once per
-- statement rather than once per row visited (which the via_reseller walk would make costly).
DO $$
DECLARE p record;
BEGIN
  FOR p IN SELECT c.oid::regclass AS tbl, (c.relname = 'tenants') AS is_tenants
           FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE pol.polname = 'tenant_isolation' AND n.nspname = current_schema()
  LOOP
    IF p.is_tenants THEN
      EXECUTE format('ALTER POLICY tenant_isolation ON %s USING (id = (SELECT app_current_tenant())) '
                     'WITH CHECK (id = (SELECT app_current_tenant()))', p.tbl);
    ELSE
      EXECUTE format('ALTER POLICY tenant_isolation ON %s USING (tenant_id = (SELECT app_current_tenant())) '
                     'WITH CHECK (tenant_id = (SELECT app_current_tenant()))', p.tbl);
    END IF;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION protect_tenant_table(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (tenant_id = (SELECT app_current_tenant())) '
    'WITH CHECK (tenant_id = (SELECT app_current_tenant()))', tbl);
END
$$;

-- A reseller's tree context: its subtree's account rows and domains. It may create an account under any
-- reseller of its subtree and move or change accounts strictly below itself, never its own row (its parent
-- and ceilings are its own parent's to set).
CREATE POLICY reseller_read ON tenants FOR SELECT
  USING (id IN (SELECT tenant_subtree((SELECT app_current_reseller()))));
CREATE POLICY reseller_create ON tenants FOR INSERT
  WITH CHECK (parent_id IN (SELECT tenant_subtree((SELECT app_current_reseller()))));
CREATE POLICY reseller_update ON tenants FOR UPDATE
  USING (id <> (SELECT app_current_reseller()) AND id IN (SELECT tenant_subtree((SELECT app_current_reseller()))))
  WITH CHECK (id <> (SELECT app_current_reseller())
              AND parent_id IN (SELECT tenant_subtree((SELECT app_current_reseller()))));
CREATE POLICY reseller_read ON sip_domains FOR SELECT
  USING (tenant_id IN (SELECT tenant_subtree((SELECT app_current_reseller()))));

GRANT EXECUTE ON FUNCTION app_uuid_setting(text), app_current_reseller() TO fs_tenantd_app;
REVOKE ALL ON FUNCTION tenant_in_subtree(uuid, uuid), tenant_subtree(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_in_subtree(uuid, uuid), tenant_subtree(uuid) TO fs_tenantd_app;

-- Inheritance: NULL now means "as my parent" (at the root: the platform default below). Existing rows keep the
-- values they hold.
ALTER TABLE tenants
  ALTER COLUMN default_timezone DROP NOT NULL,
  ALTER COLUMN default_timezone DROP DEFAULT,
  ALTER COLUMN default_language DROP NOT NULL,
  ALTER COLUMN default_language DROP DEFAULT,
  -- Where a DID of this account lands when it is disabled or its destination cannot take the call: an extension
  -- number, looked up in the account that owns the DID. NULL: inherited; none anywhere: the call is refused.
  ADD COLUMN unrouted_did_extension text CHECK (unrouted_did_extension ~ '^[0-9]{2,10}$'),
  -- White label: what a reseller's customers are shown instead of the platform.
  ADD COLUMN brand_name text CHECK (length(brand_name) BETWEEN 1 AND 100),
  ADD COLUMN brand_domain text CHECK (brand_domain ~ '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$'),
  ADD CONSTRAINT tenants_brand_check CHECK (is_reseller OR (brand_name IS NULL AND brand_domain IS NULL));

-- The values an account's calls and answers use: its own, else the nearest ancestor's, else the platform's.
-- Hold music is inherited as the owning account and stream (FreeSWITCH's name for it is built from both ids,
-- xml-handlers/media-names.ts), from the nearest account that has a default stream. Readable for the current
-- tenant and for accounts in the current reseller's subtree; anything else gets no row.
CREATE FUNCTION tenant_effective_settings(p_tenant uuid)
RETURNS TABLE (
  timezone text, language text, caller_id_name text, caller_id_number text, unrouted_did_extension text,
  moh_tenant_id uuid, moh_stream_id uuid, brand_name text, brand_domain text, ancestors uuid[]
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH RECURSIVE up (id, parent_id, depth) AS (
    SELECT t.id, t.parent_id, 0 FROM tenants t
    WHERE t.id = p_tenant
      AND (p_tenant = app_current_tenant() OR tenant_in_subtree(app_current_reseller(), p_tenant))
    UNION ALL
    SELECT t.id, t.parent_id, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id WHERE up.depth < 32
  ),
  chain AS (SELECT t.*, up.depth FROM up JOIN tenants t ON t.id = up.id)
  SELECT
    coalesce((SELECT default_timezone FROM chain WHERE default_timezone IS NOT NULL ORDER BY depth LIMIT 1), 'UTC'),
    coalesce((SELECT default_language FROM chain WHERE default_language IS NOT NULL ORDER BY depth LIMIT 1), 'en'),
    (SELECT default_caller_id_name FROM chain WHERE default_caller_id_name IS NOT NULL ORDER BY depth LIMIT 1),
    (SELECT default_caller_id_number FROM chain WHERE default_caller_id_number IS NOT NULL ORDER BY depth LIMIT 1),
    (SELECT unrouted_did_extension FROM chain WHERE unrouted_did_extension IS NOT NULL ORDER BY depth LIMIT 1),
    m.tenant_id, m.id,
    (SELECT brand_name FROM chain WHERE brand_name IS NOT NULL ORDER BY depth LIMIT 1),
    (SELECT brand_domain FROM chain WHERE brand_domain IS NOT NULL ORDER BY depth LIMIT 1),
    (SELECT coalesce(array_agg(id ORDER BY depth), '{}') FROM chain WHERE depth > 0)
  FROM (SELECT 1) one
  LEFT JOIN LATERAL (
    SELECT s.tenant_id, s.id FROM moh_streams s JOIN chain c ON c.id = s.tenant_id
    WHERE s.is_default ORDER BY c.depth LIMIT 1
  ) m ON true
  WHERE EXISTS (SELECT 1 FROM chain)
$$;
-- moh_streams is read across accounts only here (the chain's default streams: ids, nothing else).
CREATE POLICY registry_read ON moh_streams FOR SELECT TO CURRENT_USER USING (true);
REVOKE ALL ON FUNCTION tenant_effective_settings(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_effective_settings(uuid) TO fs_tenantd_app;

-- Tree rules, checked on every insert and on every change of the tree or a ceiling. Errors carry the column,
-- which the API reports as the field (daemon/api/errors.ts).
CREATE FUNCTION check_tenant_tree() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  parent tenants%ROWTYPE;
  cap integer;
  col text;
BEGIN
  -- Two concurrent moves could each pass the cycle check and together make one: tree changes serialise.
  PERFORM pg_advisory_xact_lock(1179866177, 0);
  IF TG_OP = 'UPDATE' AND NOT NEW.is_reseller AND OLD.is_reseller
     AND EXISTS (SELECT 1 FROM tenants c WHERE c.parent_id = NEW.id) THEN
    RAISE EXCEPTION 'an account with child accounts must stay a reseller'
      USING ERRCODE = 'check_violation', COLUMN = 'is_reseller', TABLE = 'tenants';
  END IF;
  IF NEW.parent_id IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT * INTO parent FROM tenants WHERE id = NEW.parent_id;
  IF NOT FOUND THEN
    RETURN NEW; -- the foreign key reports it
  END IF;
  IF NOT parent.is_reseller THEN
    RAISE EXCEPTION 'the parent account is not a reseller'
      USING ERRCODE = 'check_violation', COLUMN = 'parent_id', TABLE = 'tenants';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.parent_id IS DISTINCT FROM OLD.parent_id AND tenant_in_subtree(NEW.id, NEW.parent_id) THEN
    RAISE EXCEPTION 'an account cannot move under itself or its own descendant'
      USING ERRCODE = 'check_violation', COLUMN = 'parent_id', TABLE = 'tenants';
  END IF;
  -- A ceiling may not exceed the lowest one set above it (NULL: no limit of its own, the ancestors' apply).
  FOREACH col IN ARRAY ARRAY['max_inbound', 'max_outbound', 'max_total'] LOOP
    EXECUTE format(
      'WITH RECURSIVE up (id, parent_id, v, depth) AS (
         SELECT id, parent_id, %1$I, 0 FROM tenants WHERE id = $1
         UNION ALL SELECT t.id, t.parent_id, t.%1$I, up.depth + 1 FROM tenants t JOIN up ON t.id = up.parent_id
         WHERE up.depth < 32)
       SELECT min(v) FROM up', col) INTO cap USING NEW.parent_id;
    IF cap IS NOT NULL AND (to_jsonb(NEW) ->> col)::integer > cap
       AND (TG_OP = 'INSERT' OR (to_jsonb(NEW) -> col) IS DISTINCT FROM (to_jsonb(OLD) -> col)
            OR NEW.parent_id IS DISTINCT FROM OLD.parent_id) THEN
      RAISE EXCEPTION '% is above % set by a parent account', col, cap
        USING ERRCODE = 'check_violation', COLUMN = col, TABLE = 'tenants';
    END IF;
  END LOOP;
  RETURN NEW;
END
$$;
CREATE TRIGGER check_tenant_tree BEFORE INSERT OR UPDATE OF parent_id, is_reseller, max_inbound, max_outbound, max_total
  ON tenants FOR EACH ROW EXECUTE FUNCTION check_tenant_tree();

-- The daemon's caches hold effective values: a change to an account reaches its descendants' next fetch. The
-- daemon finds them with this (ids only) when an account or its hold music changes (daemon/tenants).
CREATE FUNCTION tenant_descendants(p_root uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM tenant_subtree(p_root) id WHERE id <> p_root
$$;
REVOKE ALL ON FUNCTION tenant_descendants(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_descendants(uuid) TO fs_tenantd_app;

-- The operator's account list shows the tree: each account's parent and whether it is a reseller.
DROP FUNCTION list_tenants();
CREATE FUNCTION list_tenants()
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_status text, parent_slug text, is_reseller boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.status, p.slug::text, t.is_reseller
  FROM tenants t LEFT JOIN tenants p ON p.id = t.parent_id ORDER BY t.slug
$$;
REVOKE ALL ON FUNCTION list_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION list_tenants() TO fs_tenantd_app;
