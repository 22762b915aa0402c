-- A SIP domain's first character must be a letter.
--
-- FreeSWITCH caches directory users under key || user || domain with no
-- separator (switch_xml.c, switch_xml_locate_user_merged), and extension
-- numbers are digits. With a domain that may start with a digit, extension 100
-- in 0acme.test and extension 1000 in acme.test share the key
-- "id1000acme.test", so one tenant's cached user (its a1-hash, its tenant
-- variables) answers for the other's. With a letter first, the user is the
-- key's whole leading run of digits and the key names one (user, domain) pair
-- (xml-handlers/fs-names.ts holds the same rule for the daemon and the API).
--
-- Existing data is never changed here: a domain is what phones and trunks are
-- configured with. If any stored domain breaks the rule the migration stops,
-- names every one of them, and changes nothing.
DO $$
DECLARE
  bad_domains text;
  bad_realms text;
  t record;
  r text;
BEGIN
  -- The schema owner reads sip_domains and tenants through the registry_read policy (002_isolation.sql).
  SELECT string_agg(format('%s (tenant %s)', d.domain, tn.slug), ', ' ORDER BY d.domain)
    INTO bad_domains
    FROM sip_domains d JOIN tenants tn ON tn.id = d.tenant_id
   WHERE d.domain !~ '^[a-z]';
  -- extensions.a1_realm has the same type; RLS shows it only inside each tenant's own context.
  FOR t IN SELECT id, slug FROM tenants LOOP
    PERFORM set_config('app.current_tenant', t.id::text, true);
    SELECT string_agg(format('%s (tenant %s, extension %s)', e.a1_realm, t.slug, e.number), ', ' ORDER BY e.number)
      INTO r
      FROM extensions e
     WHERE e.tenant_id = t.id AND e.a1_realm !~ '^[a-z]';
    IF r IS NOT NULL THEN
      bad_realms := concat_ws(', ', bad_realms, r);
    END IF;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);

  IF bad_domains IS NOT NULL OR bad_realms IS NOT NULL THEN
    RAISE EXCEPTION 'SIP domains must begin with a letter (FreeSWITCH caches users under "id" || user || domain, '
        'so a domain starting with a digit can share a cache key with another tenant''s user); '
        'offending sip_domains: %; offending extensions.a1_realm: %. Nothing was changed. '
        'Rename each listed domain to one that begins with a letter (and reconfigure its phones and trunks), '
        'set a new password for each listed extension so its hash is computed for a valid realm, '
        'then start fs-tenantd (or run npm run migrate) again; README.md, "Using your own PostgreSQL", shows how.',
        coalesce(bad_domains, 'none'), coalesce(bad_realms, 'none')
      USING ERRCODE = 'check_violation';
  END IF;
END
$$;

-- Checks every column of this type (sip_domains.domain, extensions.a1_realm) as it is added.
ALTER DOMAIN sip_domain_name ADD CONSTRAINT sip_domain_name_letter_first CHECK (VALUE ~ '^[a-z]');
