-- Shared call admission (issue 16): the count-compare-reserve step runs in
-- PostgreSQL, so every daemon on every node decides against the same slots.
--
-- One row per call holding a slot, keyed by the A-leg uuid: 'reserved' from the
-- dialplan fetch until the first ESL event of the call ('live'); deleted when it
-- ends. A second, late or reordered release finds no row and changes nothing,
-- and the counts follow the rows (call_slot_counts below). A reservation
-- carries expires_at and is deleted by the next admission of its tenant after
-- that. Ended calls leave no row (a tombstone per call would make every count
-- scan them); a late dialplan fetch of an ended call is answered from the
-- daemon's ledger, whose tombstones every daemon keeps from the same ESL events.
CREATE TABLE call_slots (
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  call_uuid  text NOT NULL,
  direction  text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
  node       text NOT NULL,
  state      text NOT NULL DEFAULT 'reserved' CHECK (state IN ('reserved', 'live')),
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, call_uuid),
  CHECK ((state = 'live') = (expires_at IS NULL))
);
-- Reconciling a node after an ESL reconnect finds its live slots without a scan.
CREATE INDEX call_slots_node ON call_slots (node) WHERE state = 'live';
-- Each admission deletes its tenant's expired reservations: found by range, not by visiting every slot (each row
-- visited costs the RLS policy's check, about 2 µs).
CREATE INDEX call_slots_expiry ON call_slots (tenant_id, expires_at) WHERE state = 'reserved';

SELECT protect_tenant_table('call_slots');
-- UPDATE of state, expiry and node only: a slot's tenant and direction are what call_slot_counts counted.
GRANT SELECT, INSERT, DELETE, UPDATE (state, expires_at, node) ON call_slots TO fs_tenantd_app;

-- The slots held per tenant and direction, kept by a trigger on every insert and delete of call_slots (whatever
-- deletes: release, expiry, reconciliation, a tenant's cascade), so an admission reads three numbers instead of
-- counting every slot (each row visited costs the RLS policy's check, about 2 µs). Never negative: CHECK.
CREATE TABLE call_slot_counts (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  inbound   integer NOT NULL DEFAULT 0 CHECK (inbound >= 0),
  outbound  integer NOT NULL DEFAULT 0 CHECK (outbound >= 0),
  internal  integer NOT NULL DEFAULT 0 CHECK (internal >= 0)
);
SELECT protect_tenant_table('call_slot_counts');
GRANT SELECT, INSERT, UPDATE, DELETE ON call_slot_counts TO fs_tenantd_app;

CREATE FUNCTION count_call_slot() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO call_slot_counts AS c (tenant_id, inbound, outbound, internal)
    VALUES (NEW.tenant_id, (NEW.direction = 'inbound')::integer, (NEW.direction = 'outbound')::integer,
            (NEW.direction = 'internal')::integer)
    ON CONFLICT (tenant_id) DO UPDATE SET
      inbound = c.inbound + EXCLUDED.inbound,
      outbound = c.outbound + EXCLUDED.outbound,
      internal = c.internal + EXCLUDED.internal;
  ELSE
    -- Never an insert here: when a tenant is deleted, its counts row may already be gone with it.
    UPDATE call_slot_counts SET
      inbound = inbound - (OLD.direction = 'inbound')::integer,
      outbound = outbound - (OLD.direction = 'outbound')::integer,
      internal = internal - (OLD.direction = 'internal')::integer
    WHERE tenant_id = OLD.tenant_id;
  END IF;
  RETURN NULL;
END
$$;
-- A slot's direction and tenant never change (admission has no UPDATE of them), so insert and delete suffice.
CREATE TRIGGER count_call_slot AFTER INSERT OR DELETE ON call_slots FOR EACH ROW EXECUTE FUNCTION count_call_slot();

-- Like insert_call_records (005): SECURITY INVOKER, so every row is still checked
-- by call_slots' RLS under the tenant's own context, set here transaction-locally
-- and cleared before returning. One statement, so one round trip per admission;
-- call it outside any transaction (its advisory lock lasts until commit).
--
-- These functions commit asynchronously (synchronous_commit off for their own
-- transaction): the tenant's lock is held until commit, so a WAL flush per
-- admission would cap one tenant at the disk's flushes per second (76/s here).
-- What that risks: a PostgreSQL crash can lose the slot changes of its last
-- moments (up to 3 x wal_writer_delay), so calls admitted then are not counted
-- until they end, and a freed slot can reappear until the node's next ESL
-- resync. A standby never sees changes the primary lost this way.
CREATE FUNCTION admit_call(p_tenant uuid, p_call_uuid text, p_direction text, p_node text, p_ttl_ms integer)
RETURNS TABLE (admitted boolean, limit_name text, active integer, ceiling integer)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  c_in integer; c_out integer; c_total integer;
  n_in integer; n_out integer; n_total integer;
  now_ timestamptz := clock_timestamp();
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  -- Admissions of one tenant serialise here (until commit); other tenants do not contend.
  -- 0x46535441 ('FSTA') keeps these keys apart from any other advisory lock user.
  PERFORM pg_advisory_xact_lock(1179866177, hashtext(p_tenant::text));
  DELETE FROM call_slots s WHERE s.tenant_id = p_tenant AND s.state = 'reserved' AND s.expires_at <= now_;
  IF EXISTS (SELECT 1 FROM call_slots s WHERE s.tenant_id = p_tenant AND s.call_uuid = p_call_uuid) THEN
    -- A retry, or the same uuid through another daemon: it already holds its slot.
    PERFORM set_config('app.current_tenant', '', true);
    RETURN QUERY SELECT true, NULL::text, NULL::integer, NULL::integer;
    RETURN;
  END IF;
  SELECT t.max_inbound, t.max_outbound, t.max_total INTO c_in, c_out, c_total FROM tenants t WHERE t.id = p_tenant;
  IF NOT FOUND THEN
    PERFORM set_config('app.current_tenant', '', true);
    RETURN QUERY SELECT false, 'unknown_tenant'::text, NULL::integer, NULL::integer;
    RETURN;
  END IF;
  SELECT c.inbound, c.outbound, c.inbound + c.outbound + c.internal INTO n_in, n_out, n_total
    FROM call_slot_counts c WHERE c.tenant_id = p_tenant;
  IF NOT FOUND THEN
    n_in := 0; n_out := 0; n_total := 0;
  END IF;
  PERFORM set_config('app.current_tenant', '', true);
  -- Same order as the in-process ledger (call-ledger.ts exceeded()).
  IF c_total IS NOT NULL AND n_total >= c_total THEN
    RETURN QUERY SELECT false, 'max_total'::text, n_total, c_total;
    RETURN;
  ELSIF p_direction = 'inbound' AND c_in IS NOT NULL AND n_in >= c_in THEN
    RETURN QUERY SELECT false, 'max_inbound'::text, n_in, c_in;
    RETURN;
  ELSIF p_direction = 'outbound' AND c_out IS NOT NULL AND n_out >= c_out THEN
    RETURN QUERY SELECT false, 'max_outbound'::text, n_out, c_out;
    RETURN;
  END IF;
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  INSERT INTO call_slots (tenant_id, call_uuid, direction, node, state, expires_at)
  VALUES (p_tenant, p_call_uuid, p_direction, p_node, 'reserved', now_ + make_interval(secs => p_ttl_ms / 1000.0));
  PERFORM set_config('app.current_tenant', '', true);
  RETURN QUERY SELECT true, NULL::text, n_total + 1, c_total;
END
$$;

-- The call's first ESL event: a reservation becomes a live call and no longer expires. Idempotent.
CREATE FUNCTION mark_call_live(p_tenant uuid, p_call_uuid text, p_node text)
RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  UPDATE call_slots SET state = 'live', expires_at = NULL, node = p_node
  WHERE tenant_id = p_tenant AND call_uuid = p_call_uuid AND state = 'reserved';
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN n > 0;
END
$$;

-- The call's A-leg ended: its slot is freed once; a second release finds no row and changes nothing.
CREATE FUNCTION release_call(p_tenant uuid, p_call_uuid text)
RETURNS boolean
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  DELETE FROM call_slots WHERE tenant_id = p_tenant AND call_uuid = p_call_uuid;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN n > 0;
END
$$;

-- After an ESL (re)connect to p_node: its live slots created before p_before (the database's clock when the
-- channel list was requested) whose uuid is not in p_live lost their hangup; they are released. Only that node's
-- slots: other daemons' and other nodes' calls are not touched. Visits each tenant under its own context.
CREATE FUNCTION reconcile_node_slots(p_node text, p_live text[], p_before timestamptz)
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  t uuid;
  n integer;
  released integer := 0;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR t IN SELECT l.tenant_id FROM list_tenants() l LOOP
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

REVOKE ALL ON FUNCTION admit_call(uuid, text, text, text, integer), mark_call_live(uuid, text, text),
  release_call(uuid, text), reconcile_node_slots(text, text[], timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION admit_call(uuid, text, text, text, integer), mark_call_live(uuid, text, text),
  release_call(uuid, text), reconcile_node_slots(text, text[], timestamptz) TO fs_tenantd_app;
