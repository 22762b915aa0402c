-- Several daemons on one database (issue 16): which FreeSWITCH core each node runs, and leases with fencing for
-- the work that must happen once per node. Platform tables, not tenant data: no tenant_id, no RLS, and no
-- privilege for the serving role, which reaches them only through the SECURITY DEFINER functions below.

-- ---- node restarts --------------------------------------------------------------------------------------------
-- The Core-UUID each ESL node answered last (a new one per FreeSWITCH start, switch_core_init). A daemon that finds
-- another one than recorded here knows the node restarted, even if that daemon was not running at the time.
CREATE TABLE node_cores (
  node      text PRIMARY KEY,
  core_uuid text NOT NULL,
  seen_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE ALL ON node_cores FROM PUBLIC;

-- Records p_core for p_node. When another core was recorded, the node restarted: every slot it held that was
-- created before p_started_before (no later than the new core's start, as the daemon computed it from FreeSWITCH's
-- uptime and this database's clock) belonged to the old core and is deleted now, reserved or live. Later slots
-- were admitted by fetches of the new core and stay. The row lock makes one daemon do it when several see the
-- restart at once; the others find the new core recorded and release nothing.
CREATE FUNCTION node_core_seen(p_node text, p_core text, p_started_before timestamptz)
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
  -- call_slots is tenant data under forced RLS: each tenant's slots under its own context (as reconcile_node_slots).
  FOR t IN SELECT l.tenant_id FROM list_tenants() l LOOP
    PERFORM set_config('app.current_tenant', t::text, true);
    DELETE FROM call_slots WHERE tenant_id = t AND node = p_node AND created_at < p_started_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN QUERY SELECT prev, total;
END
$$;

-- ---- leases ---------------------------------------------------------------------------------------------------
-- One row per (node, job): the daemon (holder) that does the job for that node until expires_at, and the fencing
-- token `epoch`, which grows by one each time the lease changes hands. A holder renews well before expiry; when
-- it dies, the lease is free at expires_at and the next daemon to ask takes it with epoch + 1. Work fenced by the
-- lease checks (holder, epoch) before it acts, so an owner that was paused past its expiry cannot act any more.
CREATE TABLE node_leases (
  node       text NOT NULL,
  job        text NOT NULL,
  holder     text NOT NULL,
  epoch      bigint NOT NULL CHECK (epoch > 0),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (node, job)
);
REVOKE ALL ON node_leases FROM PUBLIC;

-- Takes or renews the lease. Returns its epoch when p_holder holds it afterwards, NULL while another holder's lease
-- runs. The same holder keeps its epoch across renewals (also a late one nobody else used the gap for).
CREATE FUNCTION acquire_node_lease(p_node text, p_job text, p_holder text, p_ttl_ms integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  now_ timestamptz := clock_timestamp();
  e bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO node_leases AS l (node, job, holder, epoch, expires_at)
  VALUES (p_node, p_job, p_holder, 1, now_ + make_interval(secs => p_ttl_ms / 1000.0))
  ON CONFLICT (node, job) DO UPDATE SET
    holder = EXCLUDED.holder,
    epoch = CASE WHEN l.holder = EXCLUDED.holder THEN l.epoch ELSE l.epoch + 1 END,
    expires_at = EXCLUDED.expires_at
  WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now_
  RETURNING l.epoch INTO e;
  RETURN e;
END
$$;

-- A clean stop hands the lease over at once instead of at expiry.
CREATE FUNCTION release_node_lease(p_node text, p_job text, p_holder text, p_epoch bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
  UPDATE node_leases SET expires_at = clock_timestamp()
  WHERE node = p_node AND job = p_job AND holder = p_holder AND epoch = p_epoch AND expires_at > clock_timestamp();
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n > 0;
END
$$;

-- The fencing check. True while (p_holder, p_epoch) holds an unexpired lease; the row is then locked FOR SHARE
-- until the caller's transaction ends, so nobody can take the lease over (acquire_node_lease's update waits)
-- between this check and the caller's writes in the same statement or transaction.
CREATE FUNCTION node_lease_valid(p_node text, p_job text, p_holder text, p_epoch bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM 1 FROM node_leases
  WHERE node = p_node AND job = p_job AND holder = p_holder AND epoch = p_epoch AND expires_at > clock_timestamp()
  FOR SHARE;
  RETURN FOUND;
END
$$;

-- reconcile_node_slots (008) under the node's 'resync' lease, checked in the same statement: NULL (nothing
-- touched) when (p_holder, p_epoch) no longer holds it.
CREATE FUNCTION reconcile_node_slots_fenced(
  p_node text, p_live text[], p_before timestamptz, p_holder text, p_epoch bigint
)
RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT node_lease_valid(p_node, 'resync', p_holder, p_epoch) THEN
    RETURN NULL;
  END IF;
  RETURN reconcile_node_slots(p_node, p_live, p_before);
END
$$;

REVOKE ALL ON FUNCTION node_core_seen(text, text, timestamptz), acquire_node_lease(text, text, text, integer),
  release_node_lease(text, text, text, bigint), node_lease_valid(text, text, text, bigint),
  reconcile_node_slots_fenced(text, text[], timestamptz, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION node_core_seen(text, text, timestamptz), acquire_node_lease(text, text, text, integer),
  release_node_lease(text, text, text, bigint), node_lease_valid(text, text, text, bigint),
  reconcile_node_slots_fenced(text, text[], timestamptz, text, bigint) TO fs_tenantd_app;
