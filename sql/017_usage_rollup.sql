-- Usage roll-up (issue 17): calls and minutes per account, day and direction, kept as call records are written,
-- so a month of a reseller's subtree is read from a few rows per account and never from call_records.
--
-- The day is the UTC date of the call's start (created_at), for every account: a reseller's sum over its subtree
-- adds up days of accounts in different time zones, and an account's effective zone is inherited and can change
-- (sql/014), which would move calls already counted from one day to another.
CREATE TABLE usage_daily (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  day            date NOT NULL,
  direction      text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
  calls          bigint NOT NULL CHECK (calls >= 0),
  answered       bigint NOT NULL CHECK (answered >= 0),
  -- Answered (talk) seconds, call_records.billsec summed.
  billsec        bigint NOT NULL CHECK (billsec >= 0),
  -- Each call's billsec rounded up to whole minutes, then summed (a per-call rounding the sums cannot give back).
  billed_minutes bigint NOT NULL CHECK (billed_minutes >= 0),
  -- Start to hangup, ringing included, call_records.duration_s summed.
  duration_s     bigint NOT NULL CHECK (duration_s >= 0),
  -- A (tenant, day, direction) may take several rows, one per writer that found the others busy (see the trigger);
  -- readers sum them.
  shard          smallint NOT NULL DEFAULT 0 CHECK (shard BETWEEN 0 AND 15),
  PRIMARY KEY (tenant_id, day, direction, shard)
);

-- An account sees its own rows; a reseller's tree context (sql/014) its subtree's, itself included.
SELECT protect_tenant_table('usage_daily');
CREATE POLICY reseller_read ON usage_daily FOR SELECT
  USING (tenant_id IN (SELECT tenant_subtree((SELECT app_current_reseller()))));
-- Read only: nothing but the trigger below writes usage (no API, and no daemon bug, can edit what an account used).
GRANT SELECT ON usage_daily TO fs_tenantd_app;

-- Once per INSERT statement on call_records, from the rows it actually inserted (the transition table): a record
-- posted again, replayed from a spool or written by both ESL and mod_json_cdr is skipped by ON CONFLICT DO NOTHING
-- and so never counted twice. insert_call_records (sql/005) inserts one statement per tenant of a batch.
--
-- SECURITY DEFINER so the serving role needs no write privilege here. RLS is still the judge: the definer is the
-- schema owner, whom FORCE ROW LEVEL SECURITY subjects to the same tenant_isolation policy, so the upsert passes
-- only for the tenant context the call records were inserted under (withTenant, insert_call_records). A statement
-- inserting several tenants' records at once (possible only around RLS, e.g. as a superuser) fails whole rather
-- than miscount.
--
-- Contention: a row updated stays locked until its transaction commits, and a mod_json_cdr record commits with a
-- WAL flush, so with one row per (tenant, day, direction) one busy tenant's records were written one flush at a
-- time (240/s against 800/s without the roll-up, 16 writers, test machine). A writer therefore takes any of the
-- group's rows that nobody holds and, when all are held, its own (backend pid mod 16): a quiet account keeps one
-- row a day and direction, a busy one at most 16 (500-700/s). Groups are visited in (tenant, day, direction)
-- order and only a writer's own row is waited for, so two writers never wait on each other in a cycle.
CREATE FUNCTION roll_up_call_records() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  g record;
  s smallint;
BEGIN
  FOR g IN SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS day, direction, count(*) AS calls,
             count(answered_at) AS answered, sum(billsec) AS billsec, sum((billsec + 59) / 60) AS billed_minutes,
             sum(duration_s) AS duration_s
           FROM inserted_call_records GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LOOP
    -- A row of the group that no other transaction holds (SKIP LOCKED never waits), else this backend's own.
    SELECT u.shard INTO s FROM usage_daily u
    WHERE u.tenant_id = g.tenant_id AND u.day = g.day AND u.direction = g.direction
    LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
      s := pg_backend_pid() % 16;
    END IF;
    INSERT INTO usage_daily AS u (tenant_id, day, direction, shard, calls, answered, billsec, billed_minutes, duration_s)
    VALUES (g.tenant_id, g.day, g.direction, s, g.calls, g.answered, g.billsec, g.billed_minutes, g.duration_s)
    ON CONFLICT (tenant_id, day, direction, shard) DO UPDATE SET
      calls = u.calls + EXCLUDED.calls,
      answered = u.answered + EXCLUDED.answered,
      billsec = u.billsec + EXCLUDED.billsec,
      billed_minutes = u.billed_minutes + EXCLUDED.billed_minutes,
      duration_s = u.duration_s + EXCLUDED.duration_s;
  END LOOP;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION roll_up_call_records() FROM PUBLIC;
-- call_records is append-only for the serving role (sql/002: SELECT, INSERT), so inserts are all there is to follow;
-- a deleted tenant's rows go with ON DELETE CASCADE on both tables.
CREATE TRIGGER roll_up_usage AFTER INSERT ON call_records
  REFERENCING NEW TABLE AS inserted_call_records
  FOR EACH STATEMENT EXECUTE FUNCTION roll_up_call_records();

-- insert_call_records (sql/005) as before, but taking a batch's tenants in id order: each statement now locks its
-- tenant's usage rows until commit, and two batches that met their tenants in different orders (a hash aggregate's
-- order changes with the number of tenants in the batch) deadlocked (test/db/usage.test.ts).
CREATE OR REPLACE FUNCTION insert_call_records(
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
  FOR t, idx IN SELECT p_tenant[i], array_agg(i) FROM generate_subscripts(p_tenant, 1) AS i
                WHERE p_tenant[i] IS NOT NULL GROUP BY p_tenant[i] ORDER BY p_tenant[i] LOOP
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

-- Recomputes one account's roll-up from its call records, under that account's context (RLS shows it nothing
-- else): the backfill below, and a repair tool for the schema owner (not granted to the serving role). Call
-- records of every account wait while it runs (SHARE lock), so no record is counted both here and by the trigger.
CREATE FUNCTION rebuild_usage_daily(p_tenant uuid) RETURNS integer
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  n integer;
BEGIN
  LOCK TABLE call_records IN SHARE MODE;
  PERFORM set_config('app.via_reseller', '', true);
  PERFORM set_config('app.current_tenant', p_tenant::text, true);
  DELETE FROM usage_daily WHERE tenant_id = p_tenant;
  INSERT INTO usage_daily (tenant_id, day, direction, calls, answered, billsec, billed_minutes, duration_s)
  SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, direction, count(*), count(answered_at), sum(billsec),
    sum((billsec + 59) / 60), sum(duration_s)
  FROM call_records
  WHERE tenant_id = p_tenant
  GROUP BY 1, 2, 3;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('app.current_tenant', '', true);
  RETURN n;
END
$$;
REVOKE ALL ON FUNCTION rebuild_usage_daily(uuid) FROM PUBLIC;

-- Backfill, after the trigger exists: its lock makes call-record writers wait for this migration's commit, and
-- each account's records are read once. The owner lists accounts through registry_read (sql/002).
SELECT rebuild_usage_daily(id) FROM tenants ORDER BY id;
