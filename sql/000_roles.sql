-- Cluster-level bootstrap, run once by a superuser (embedded mode does it itself).
-- Not a migration: roles belong to the cluster, and the schema owner that runs
-- migrations should not be able to create roles.
--
-- fs_tenantd_app: the group role the serving login is a member of. It owns nothing,
-- is never superuser and never BYPASSRLS, so every row it reads passes a policy.
-- The schema owner (any login role; `fs_tenantd_owner` in embedded mode) runs the
-- migrations in sql/ and must not be the serving role or one of its members.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fs_tenantd_app') THEN
    CREATE ROLE fs_tenantd_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;
