-- Cascading ceilings (issue 17): a call counts against its account's ceilings and against every ancestor's
-- (tenants.parent_id), decided in the same atomic admit_call step as before (008).
--
-- Counts per subtree: call_slot_counts gains tree_* columns (the account's own slots plus all its descendants'),
-- kept by the slot trigger for the account and each ancestor, so an admission reads one row per level and never
-- scans a reseller's 10,000 customers. CHECK >= 0 like the own counts.
--
-- Why SECURITY DEFINER (owned by the schema owner) rather than switching app.current_tenant to each ancestor: a
-- customer's context must never be able to write, or read, its reseller's row, and a trigger that rewrote the
-- context would have to restore the caller's exactly, on every path. Here the serving role's rights are unchanged
-- (its policy is still tenant_isolation on every table); only these functions, whose bodies are fixed and take no
-- SQL, act for the owner, through owner-only policies: call_slot_counts (kept counts, no tenant data), and on
-- call_slots only reservations that have already expired (to purge them). Each returns ids, slugs, ceilings and
-- counts of one chain, never other tenant data, like the resolve_* functions (002).
--
-- Locking. Every transaction that adds or frees slots holds the tree lock (an advisory lock) in shared mode before
-- it reads an account's chain; a parent change takes it exclusively. So a chain read stays true until commit, and a
-- parent change runs alone: it waits for the slot changes in flight and briefly (until it commits) holds up new
-- ones, platform-wide; parent changes are rare administrative acts. Within that, an admission takes the advisory
-- lock of every account of its chain, root first (a fixed order, so two customers of one reseller queue on the
-- reseller and can never deadlock; accounts under different parents share only their common ancestors), and the
-- count rows are also locked root first. Work spanning many accounts (a node's resync) visits them in tree order
-- (tenants_tree_order), so its row locks too come in one global order.

ALTER TABLE call_slot_counts
  ADD COLUMN tree_inbound  integer NOT NULL DEFAULT 0 CHECK (tree_inbound >= 0),
  ADD COLUMN tree_outbound integer NOT NULL DEFAULT 0 CHECK (tree_outbound >= 0),
  ADD COLUMN tree_internal integer NOT NULL DEFAULT 0 CHECK (tree_internal >= 0);

-- The owner (these SECURITY DEFINER functions) keeps every account's counts; the serving role is still limited to
-- its own row by tenant_isolation.
CREATE POLICY tree_counts ON call_slot_counts TO CURRENT_USER USING (true) WITH CHECK (true);
-- Expired reservations anywhere under an ancestor are purged before that ancestor refuses (purge_expired_under).
CREATE POLICY expired_purge_read ON call_slots FOR SELECT TO CURRENT_USER
  USING (state = 'reserved' AND expires_at <= clock_timestamp());
CREATE POLICY expired_purge ON call_slots FOR DELETE TO CURRENT_USER
  USING (state = 'reserved' AND expires_at <= clock_timestamp());
CREATE INDEX call_slots_reserved_expiry ON call_slots (expires_at) WHERE state = 'reserved';

-- The account and its ancestors, root first; empty if the account does not exist. Walked up by primary key, at most
-- 32 levels: tree validation (014) refuses cycles; should one exist anyway this stops instead of looping. PL/pgSQL
-- lookups rather than SQL functions or a recursive query: a SECURITY DEFINER SQL function is never inlined and is
-- planned on every call, and these run several times per admission (SQL versions made one about twice as slow).
CREATE FUNCTION tenant_chain_ids(p_tenant uuid)
RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  cur uuid := p_tenant;
  up uuid;
  ids uuid[] := '{}';
BEGIN
  LOOP
    SELECT t.parent_id INTO up FROM tenants t WHERE t.id = cur;
    EXIT WHEN NOT FOUND;
    ids := cur || ids;
    EXIT WHEN up IS NULL OR cardinality(ids) >= 32;
    cur := up;
  END LOOP;
  RETURN ids;
END
$$;

-- The same as rows (pos 0 = root).
CREATE FUNCTION tenant_chain(p_tenant uuid)
RETURNS TABLE (tenant_id uuid, pos integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.id, (u.o - 1)::integer FROM unnest(tenant_chain_ids(p_tenant)) WITH ORDINALITY u (id, o) ORDER BY u.o
$$;

-- What admission compares, per level of a chain (p_chain, root first, as tenant_chain_ids returns it): ceilings
-- and subtree counts.
CREATE FUNCTION call_chain_state(p_chain uuid[])
RETURNS TABLE (tenant_id uuid, slug text, pos integer, max_inbound integer, max_outbound integer, max_total integer,
               n_inbound integer, n_outbound integer, n_total integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_chain), 0) LOOP
    tenant_id := p_chain[i];
    pos := i - 1;
    SELECT t.slug::text, t.max_inbound, t.max_outbound, t.max_total INTO slug, max_inbound, max_outbound, max_total
      FROM tenants t WHERE t.id = p_chain[i];
    CONTINUE WHEN NOT FOUND;
    SELECT c.tree_inbound, c.tree_outbound, c.tree_inbound + c.tree_outbound + c.tree_internal
      INTO n_inbound, n_outbound, n_total FROM call_slot_counts c WHERE c.tenant_id = p_chain[i];
    IF NOT FOUND THEN
      n_inbound := 0; n_outbound := 0; n_total := 0;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

-- The ancestors' ceilings (root first, the account itself excluded): for the daemon's tenant snapshot, which is
-- read in the account's own context and could not see them (local admission, and the down policy "enforce").
CREATE FUNCTION tenant_ancestor_ceilings(p_tenant uuid)
RETURNS TABLE (tenant_id uuid, slug text, max_inbound integer, max_outbound integer, max_total integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug::text, t.max_inbound, t.max_outbound, t.max_total
  FROM tenant_chain(p_tenant) ch JOIN tenants t ON t.id = ch.tenant_id
  WHERE ch.tenant_id <> p_tenant
  ORDER BY ch.pos
$$;

-- Every account, parents before children and each subtree together (ordered by the path from its root): work that
-- frees slots of many accounts in one transaction visits them in this order, so every transaction takes count rows
-- in one global order (root first within a chain, as everywhere) and two such never deadlock.
CREATE FUNCTION tenants_tree_order()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH RECURSIVE down (id, path) AS (
    SELECT t.id, ARRAY[t.id] FROM tenants t WHERE t.parent_id IS NULL
    UNION ALL
    SELECT t.id, down.path || t.id FROM down JOIN tenants t ON t.parent_id = down.id WHERE cardinality(down.path) < 32
  )
  SELECT id FROM down ORDER BY path
$$;

-- The tree lock (see the top of this file): 0x46535442 ('FSTB'), apart from the per-account keys ('FSTA', 008).
-- Adds d_* (all >= 0 or all <= 0) to the subtree counts of p_tenant and every ancestor, and to p_tenant's own
-- counts when p_own; rows root first.
CREATE FUNCTION add_slot_counts(p_tenant uuid, d_in integer, d_out integer, d_int integer, p_own boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  acct uuid;
  own integer;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1179866178, 0);
  FOREACH acct IN ARRAY tenant_chain_ids(p_tenant) LOOP
    own := (p_own AND acct = p_tenant)::integer;
    IF d_in < 0 OR d_out < 0 OR d_int < 0 THEN
      -- Freeing: the rows exist (a proposed insert row with negative counts would fail the CHECKs first).
      UPDATE call_slot_counts c SET
        inbound = c.inbound + own * d_in, outbound = c.outbound + own * d_out, internal = c.internal + own * d_int,
        tree_inbound = c.tree_inbound + d_in, tree_outbound = c.tree_outbound + d_out,
        tree_internal = c.tree_internal + d_int
      WHERE c.tenant_id = acct;
      CONTINUE;
    END IF;
    INSERT INTO call_slot_counts AS c (tenant_id, inbound, outbound, internal, tree_inbound, tree_outbound,
                                       tree_internal)
    VALUES (acct, own * d_in, own * d_out, own * d_int, d_in, d_out, d_int)
    ON CONFLICT (tenant_id) DO UPDATE SET
      inbound = c.inbound + EXCLUDED.inbound,
      outbound = c.outbound + EXCLUDED.outbound,
      internal = c.internal + EXCLUDED.internal,
      tree_inbound = c.tree_inbound + EXCLUDED.tree_inbound,
      tree_outbound = c.tree_outbound + EXCLUDED.tree_outbound,
      tree_internal = c.tree_internal + EXCLUDED.tree_internal;
  END LOOP;
  -- No chain: the account is being deleted, and settle_deleted_tenant already took its counts off its ancestors.
END
$$;

-- Replaces 008's trigger function (same trigger): own and subtree counts. A slot's tenant and direction never
-- change, so insert and delete suffice (as in 008).
CREATE OR REPLACE FUNCTION count_call_slot() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r call_slots;
  s integer := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
BEGIN
  r := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
  PERFORM add_slot_counts(r.tenant_id, s * (r.direction = 'inbound')::integer,
    s * (r.direction = 'outbound')::integer, s * (r.direction = 'internal')::integer, true);
  RETURN NULL;
END
$$;

-- A deleted account is a leaf (parent_id is ON DELETE RESTRICT): its subtree counts leave its ancestors before its
-- slots cascade away (after which its chain can no longer be found).
CREATE FUNCTION settle_deleted_tenant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  c call_slot_counts;
BEGIN
  IF OLD.parent_id IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock_shared(1179866178, 0);
    SELECT * INTO c FROM call_slot_counts x WHERE x.tenant_id = OLD.id;
    IF FOUND THEN
      PERFORM add_slot_counts(OLD.parent_id, -c.tree_inbound, -c.tree_outbound, -c.tree_internal, false);
    END IF;
  END IF;
  RETURN OLD;
END
$$;

-- parent_id changed: the account's subtree totals move from the old ancestors to the new ones, exactly. With the
-- tree lock held exclusively no slot changes meanwhile (see the top). Tree validation (cycles, ceilings) is 014's.
CREATE FUNCTION move_subtree_counts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  c call_slot_counts;
BEGIN
  PERFORM pg_advisory_xact_lock(1179866178, 0);
  SELECT * INTO c FROM call_slot_counts x WHERE x.tenant_id = NEW.id;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF OLD.parent_id IS NOT NULL THEN
    PERFORM add_slot_counts(OLD.parent_id, -c.tree_inbound, -c.tree_outbound, -c.tree_internal, false);
  END IF;
  IF NEW.parent_id IS NOT NULL THEN
    PERFORM add_slot_counts(NEW.parent_id, c.tree_inbound, c.tree_outbound, c.tree_internal, false);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER settle_deleted_tenant BEFORE DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION settle_deleted_tenant();
CREATE TRIGGER move_subtree_counts AFTER UPDATE OF parent_id ON tenants FOR EACH ROW
  WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id) EXECUTE FUNCTION move_subtree_counts();

-- Before an ancestor refuses: reservations under it that have expired are deleted (an admission only expires its
-- own account's, as in 008, and a sibling's stale reservation must not hold the reseller's last slot). Uses the
-- index of reservations by expiry, so it visits expired reservations, not the ancestor's subtree. The caller holds
-- the ancestor's advisory lock, so no admission under it runs meanwhile.
CREATE FUNCTION purge_expired_under(p_ancestor uuid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
  DELETE FROM call_slots s
  WHERE s.state = 'reserved' AND s.expires_at <= clock_timestamp()
    AND p_ancestor = ANY (tenant_chain_ids(s.tenant_id));
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- Existing slots: subtree counts from the own counts (the owner policy above makes every row visible here).
UPDATE call_slot_counts c SET tree_inbound = s.i, tree_outbound = s.o, tree_internal = s.n
FROM (
  SELECT ch.tenant_id AS id, sum(k.inbound)::integer AS i, sum(k.outbound)::integer AS o,
         sum(k.internal)::integer AS n
  FROM call_slot_counts k CROSS JOIN LATERAL tenant_chain(k.tenant_id) ch GROUP BY ch.tenant_id
) s
WHERE s.id = c.tenant_id;
INSERT INTO call_slot_counts (tenant_id, tree_inbound, tree_outbound, tree_internal)
SELECT ch.tenant_id, sum(k.inbound)::integer, sum(k.outbound)::integer, sum(k.internal)::integer
FROM call_slot_counts k CROSS JOIN LATERAL tenant_chain(k.tenant_id) ch
WHERE NOT EXISTS (SELECT 1 FROM call_slot_counts x WHERE x.tenant_id = ch.tenant_id)
GROUP BY ch.tenant_id;

-- admit_call (008) with the cascade: the same single statement, keyed by the A-leg uuid, same expiry, same
-- asynchronous commit (see 008), now also returning which account refused (refused_by, its slug) and at which
-- level ('own' or 'ancestor'). The levels are checked leaf first, so the most specific refusal is named.
DROP FUNCTION admit_call(uuid, text, text, text, integer);
CREATE FUNCTION admit_call(p_tenant uuid, p_call_uuid text, p_direction text, p_node text, p_ttl_ms integer)
RETURNS TABLE (admitted boolean, limit_name text, active integer, ceiling integer, refused_by uuid,
               refused_slug text, level text)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  acct uuid;
  chain uuid[];
  lv record;
  r_t uuid; r_slug text; r_lim text; r_n integer; r_m integer;
  purged boolean := false;
  now_ timestamptz := clock_timestamp();
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  -- The tree lock first (shared): the chain read below stays true until commit.
  PERFORM pg_advisory_xact_lock_shared(1179866178, 0);
  -- Root first, every account of the chain (see the top of this file). 0x46535441 ('FSTA') as in 008.
  chain := tenant_chain_ids(p_tenant);
  FOREACH acct IN ARRAY chain LOOP
    PERFORM pg_advisory_xact_lock(1179866177, hashtext(acct::text));
  END LOOP;
  IF cardinality(chain) = 0 THEN
    PERFORM set_config('app.current_tenant', '', true);
    RETURN QUERY SELECT false, 'unknown_tenant'::text, NULL::integer, NULL::integer, p_tenant, NULL::text, 'own'::text;
    RETURN;
  END IF;
  DELETE FROM call_slots s WHERE s.tenant_id = p_tenant AND s.state = 'reserved' AND s.expires_at <= now_;
  IF EXISTS (SELECT 1 FROM call_slots s WHERE s.tenant_id = p_tenant AND s.call_uuid = p_call_uuid) THEN
    -- A retry, or the same uuid through another daemon: it already holds its slot.
    PERFORM set_config('app.current_tenant', '', true);
    RETURN QUERY SELECT true, NULL::text, NULL::integer, NULL::integer, NULL::uuid, NULL::text, NULL::text;
    RETURN;
  END IF;
  LOOP
    r_t := NULL;
    FOR lv IN SELECT * FROM call_chain_state(chain) s ORDER BY s.pos DESC LOOP
      -- Same order per level as the in-process ledger (call-ledger.ts exceeded()).
      IF lv.max_total IS NOT NULL AND lv.n_total >= lv.max_total THEN
        r_lim := 'max_total'; r_n := lv.n_total; r_m := lv.max_total;
      ELSIF p_direction = 'inbound' AND lv.max_inbound IS NOT NULL AND lv.n_inbound >= lv.max_inbound THEN
        r_lim := 'max_inbound'; r_n := lv.n_inbound; r_m := lv.max_inbound;
      ELSIF p_direction = 'outbound' AND lv.max_outbound IS NOT NULL AND lv.n_outbound >= lv.max_outbound THEN
        r_lim := 'max_outbound'; r_n := lv.n_outbound; r_m := lv.max_outbound;
      ELSE
        CONTINUE;
      END IF;
      r_t := lv.tenant_id;
      r_slug := lv.slug;
      EXIT;
    END LOOP;
    -- An ancestor at its ceiling: its subtree's expired reservations go first, then one more look.
    EXIT WHEN r_t IS NULL OR r_t = p_tenant OR purged;
    purged := true;
    EXIT WHEN purge_expired_under(r_t) = 0;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
  IF r_t IS NOT NULL THEN
    RETURN QUERY SELECT false, r_lim, r_n, r_m, r_t, r_slug, CASE WHEN r_t = p_tenant THEN 'own' ELSE 'ancestor' END;
    RETURN;
  END IF;
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  INSERT INTO call_slots (tenant_id, call_uuid, direction, node, state, expires_at)
  VALUES (p_tenant, p_call_uuid, p_direction, p_node, 'reserved', now_ + make_interval(secs => p_ttl_ms / 1000.0));
  PERFORM set_config('app.current_tenant', '', true);
  RETURN QUERY SELECT true, NULL::text, NULL::integer, NULL::integer, NULL::uuid, NULL::text, NULL::text;
END
$$;

-- reconcile_node_slots (008) and node_core_seen (010), unchanged but for the order they visit tenants in: tree
-- order instead of slug order (see tenants_tree_order), since freeing a slot now also locks the ancestors' rows.
CREATE OR REPLACE FUNCTION reconcile_node_slots(p_node text, p_live text[], p_before timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  t uuid;
  n integer;
  released integer := 0;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock_shared(1179866178, 0);
  FOR t IN SELECT o.tenant_id FROM tenants_tree_order() o LOOP
    PERFORM set_config('app.current_tenant', t::text, true);
    DELETE FROM call_slots
    WHERE tenant_id = t AND node = p_node AND state = 'live' AND created_at < p_before
      AND call_uuid <> ALL (p_live);
    GET DIAGNOSTICS n = ROW_COUNT;
    released := released + n;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN released;
END
$$;

CREATE OR REPLACE FUNCTION node_core_seen(p_node text, p_core text, p_started_before timestamptz)
RETURNS TABLE (previous_core text, released integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  prev text;
  t uuid;
  n integer;
  total integer := 0;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO node_cores (node, core_uuid) VALUES (p_node, p_core) ON CONFLICT (node) DO NOTHING;
  IF FOUND THEN
    RETURN QUERY SELECT NULL::text, 0;
    RETURN;
  END IF;
  SELECT c.core_uuid INTO prev FROM node_cores c WHERE c.node = p_node FOR UPDATE;
  IF prev = p_core THEN
    RETURN QUERY SELECT prev, 0;
    RETURN;
  END IF;
  UPDATE node_cores SET core_uuid = p_core, seen_at = clock_timestamp() WHERE node = p_node;
  PERFORM pg_advisory_xact_lock_shared(1179866178, 0);
  -- call_slots is tenant data under forced RLS: each tenant's slots under its own context (as reconcile_node_slots).
  FOR t IN SELECT o.tenant_id FROM tenants_tree_order() o LOOP
    PERFORM set_config('app.current_tenant', t::text, true);
    DELETE FROM call_slots WHERE tenant_id = t AND node = p_node AND created_at < p_started_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN QUERY SELECT prev, total;
END
$$;

REVOKE ALL ON FUNCTION admit_call(uuid, text, text, text, integer), tenant_chain_ids(uuid), tenant_chain(uuid),
  call_chain_state(uuid[]), tenant_ancestor_ceilings(uuid), tenants_tree_order(),
  add_slot_counts(uuid, integer, integer, integer, boolean), purge_expired_under(uuid) FROM PUBLIC;
-- The serving role: admission (which reads the chain and purges expired reservations under a full ancestor), the
-- resync's tenant order and the snapshot's ancestor ceilings. The count writer is called only by the owner's
-- trigger functions, so the serving role can never move a count itself.
GRANT EXECUTE ON FUNCTION admit_call(uuid, text, text, text, integer), tenant_chain_ids(uuid), tenant_chain(uuid),
  call_chain_state(uuid[]), tenant_ancestor_ceilings(uuid), tenants_tree_order(), purge_expired_under(uuid)
  TO fs_tenantd_app;
