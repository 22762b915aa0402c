-- A tenant answers on several SIP domains (issue 17): one digest credential per
-- extension and realm.
--
-- An extension authenticates with digest realm = the SIP domain the phone uses
-- (sofia's challenge-realm auto_from), and the a1-hash MD5(number:realm:password)
-- covers the realm, so one stored hash authenticates in one domain only. Each
-- row here is the hash for one of the tenant's domains, computed when the
-- extension's password is set (the plaintext is never stored). A domain added
-- later has no row for existing extensions until their password is set again;
-- removing a domain removes its rows (the composite foreign key cascades).
--
-- extensions.a1_hash/a1_realm move here: each stored hash becomes the row for
-- its realm when that realm is a domain of the extension's tenant (a hash for
-- any other realm could not authenticate anywhere and is dropped).

-- The target of the (tenant_id, realm) foreign key: the domain must be one of this tenant's.
ALTER TABLE sip_domains ADD CONSTRAINT sip_domains_tenant_id_domain_key UNIQUE (tenant_id, domain);

CREATE TABLE extension_credentials (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  extension_id  uuid NOT NULL,
  realm         sip_domain_name NOT NULL,
  -- MD5(number:realm:password).
  a1_hash       text NOT NULL CHECK (a1_hash ~ '^[0-9a-f]{32}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, extension_id, realm),
  FOREIGN KEY (tenant_id, extension_id) REFERENCES extensions (tenant_id, id) ON DELETE CASCADE,
  -- No ON UPDATE action: a renamed domain would keep hashes of the old realm, so a rename is refused instead.
  FOREIGN KEY (tenant_id, realm) REFERENCES sip_domains (tenant_id, domain) ON DELETE CASCADE
);
CREATE INDEX extension_credentials_realm ON extension_credentials (tenant_id, realm);

SELECT protect_tenant_table('extension_credentials');
GRANT SELECT, INSERT, UPDATE, DELETE ON extension_credentials TO fs_tenantd_app;

-- Row-level security is forced on the owner too: move each tenant's hashes inside its own context (as 006 does).
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.current_tenant', t.id::text, true);
    INSERT INTO extension_credentials (tenant_id, extension_id, realm, a1_hash)
    SELECT e.tenant_id, e.id, e.a1_realm, e.a1_hash
      FROM extensions e
      JOIN sip_domains d ON d.tenant_id = e.tenant_id AND d.domain = e.a1_realm
     WHERE e.tenant_id = t.id;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
END
$$;

ALTER TABLE extensions DROP COLUMN a1_hash, DROP COLUMN a1_realm;

-- Credentials are part of the tenant snapshot (directory answers) and of FreeSWITCH's user cache: every change
-- must reach the feed (the cache flusher looks the extension's number up by extension_id). Never the hash.
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON extension_credentials
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('extension_id', 'realm');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON extension_credentials
  FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
