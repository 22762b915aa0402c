-- Data model. Every table that holds a tenant's data carries tenant_id, and every
-- reference between two such tables is a composite foreign key that includes
-- tenant_id, so PostgreSQL itself refuses a link across tenants.

-- The tenant the current transaction acts for, or NULL. Never raises: an unset,
-- empty or malformed setting yields NULL, and `tenant_id = NULL` matches no row.
CREATE FUNCTION app_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN current_setting('app.current_tenant', true)
         ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    THEN current_setting('app.current_tenant', true)::uuid
  END
$$;

CREATE DOMAIN slug AS text
  CHECK (VALUE ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$');

CREATE DOMAIN e164 AS text
  CHECK (VALUE ~ '^\+[1-9][0-9]{1,14}$');

-- A SIP domain as FreeSWITCH sees it: lower-case host name, no port.
CREATE DOMAIN sip_domain_name AS text
  CHECK (VALUE ~ '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$');

CREATE TABLE tenants (
  id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug                        slug NOT NULL UNIQUE,
  name                        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status                      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  parent_id                   uuid REFERENCES tenants (id) ON DELETE RESTRICT CHECK (parent_id <> id),
  is_reseller                 boolean NOT NULL DEFAULT false,
  default_timezone            text NOT NULL DEFAULT 'UTC' CHECK (length(default_timezone) BETWEEN 1 AND 64),
  default_language            text NOT NULL DEFAULT 'en' CHECK (default_language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
  default_caller_id_name      text CHECK (length(default_caller_id_name) <= 80),
  default_caller_id_number    text CHECK (default_caller_id_number ~ '^\+?[0-9]{1,20}$'),
  -- Call ceilings; NULL means unlimited.
  max_inbound                 integer CHECK (max_inbound >= 0),
  max_outbound                integer CHECK (max_outbound >= 0),
  max_total                   integer CHECK (max_total >= 0),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sip_domains (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  domain      sip_domain_name NOT NULL UNIQUE,
  is_primary  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX sip_domains_one_primary ON sip_domains (tenant_id) WHERE is_primary;

CREATE TABLE extensions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  number            text NOT NULL CHECK (number ~ '^[0-9]{2,10}$'),
  -- MD5(number:realm:password). The plaintext password is never stored anywhere.
  a1_hash           text NOT NULL CHECK (a1_hash ~ '^[0-9a-f]{32}$'),
  -- The realm a1_hash was computed for (a SIP domain of this tenant).
  a1_realm          sip_domain_name NOT NULL,
  caller_id_name    text CHECK (length(caller_id_name) <= 80),
  caller_id_number  text CHECK (caller_id_number ~ '^\+?[0-9]{1,20}$'),
  enabled           boolean NOT NULL DEFAULT true,
  -- Extra channel variables: names are FreeSWITCH-safe identifiers, values strings.
  variables         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(variables) = 'object'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, number),
  UNIQUE (tenant_id, id)
);

CREATE TABLE sip_trunks (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name            slug NOT NULL,
  -- Outbound gateway parameters (sofia gateway); NULL proxy = inbound-only trunk.
  proxy           text CHECK (proxy ~ '^[A-Za-z0-9.:\[\]-]{1,255}$'),
  username        text CHECK (length(username) <= 128),
  password        text CHECK (length(password) <= 128),
  register        boolean NOT NULL DEFAULT false,
  -- Source addresses allowed to send calls for this tenant's DIDs.
  allowed_cidrs   cidr[] NOT NULL DEFAULT '{}' CHECK (array_position(allowed_cidrs, NULL) IS NULL),
  enabled         boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id)
);

CREATE TABLE queues (
  id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id                    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name                         slug NOT NULL,
  -- What a tenant's own phones dial to enter the queue (e.g. 7000); optional.
  dial_code                    text CHECK (dial_code ~ '^[0-9]{2,10}$'),
  -- mod_callcenter strategies (mod_callcenter.c, cc_queue strategy names).
  strategy                     text NOT NULL DEFAULT 'longest-idle-agent' CHECK (strategy IN (
                                 'ring-all', 'longest-idle-agent', 'round-robin', 'top-down',
                                 'agent-with-least-talk-time', 'agent-with-fewest-calls',
                                 'sequentially-by-agent-order', 'random', 'ring-progressively')),
  moh_sound                    text NOT NULL DEFAULT 'local_stream://moh' CHECK (length(moh_sound) <= 255),
  time_base_score              text NOT NULL DEFAULT 'system' CHECK (time_base_score IN ('queue', 'system')),
  max_wait_time                integer NOT NULL DEFAULT 0 CHECK (max_wait_time >= 0),
  max_wait_time_with_no_agent  integer NOT NULL DEFAULT 0 CHECK (max_wait_time_with_no_agent >= 0),
  tier_rules_apply             boolean NOT NULL DEFAULT false,
  discard_abandoned_after      integer NOT NULL DEFAULT 60 CHECK (discard_abandoned_after >= 0),
  abandoned_resume_allowed     boolean NOT NULL DEFAULT false,
  created_at                   timestamptz NOT NULL DEFAULT now(),
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, dial_code),
  UNIQUE (tenant_id, id)
);

CREATE TABLE dids (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  e164              e164 NOT NULL UNIQUE,
  destination_type  text NOT NULL CHECK (destination_type IN ('extension', 'queue')),
  -- Exactly one destination, of this tenant (composite keys).
  extension_id      uuid,
  queue_id          uuid,
  enabled           boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, extension_id) REFERENCES extensions (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE,
  CHECK ((destination_type = 'extension' AND extension_id IS NOT NULL AND queue_id IS NULL)
      OR (destination_type = 'queue' AND queue_id IS NOT NULL AND extension_id IS NULL)),
  UNIQUE (tenant_id, id)
);

CREATE TABLE outbound_routes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name              slug NOT NULL,
  -- A regular expression over the dialled digits (PCRE subset FreeSWITCH and JS agree on).
  pattern           text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 200),
  priority          integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 10000),
  trunk_id          uuid NOT NULL,
  strip_digits      integer NOT NULL DEFAULT 0 CHECK (strip_digits BETWEEN 0 AND 20),
  prepend           text NOT NULL DEFAULT '' CHECK (prepend ~ '^[0-9+*#]{0,20}$'),
  caller_id_number  text CHECK (caller_id_number ~ '^\+?[0-9]{1,20}$'),
  caller_id_name    text CHECK (length(caller_id_name) <= 80),
  enabled           boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, trunk_id) REFERENCES sip_trunks (tenant_id, id) ON DELETE CASCADE,
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, id)
);

CREATE TABLE agents (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  extension_id          uuid NOT NULL,
  -- mod_callcenter agent statuses (cc_agent_status_t names).
  status                text NOT NULL DEFAULT 'Logged Out' CHECK (status IN (
                          'Logged Out', 'Available', 'Available (On Demand)', 'On Break')),
  max_no_answer         integer NOT NULL DEFAULT 3 CHECK (max_no_answer >= 0),
  wrap_up_time          integer NOT NULL DEFAULT 10 CHECK (wrap_up_time >= 0),
  reject_delay_time     integer NOT NULL DEFAULT 10 CHECK (reject_delay_time >= 0),
  busy_delay_time       integer NOT NULL DEFAULT 60 CHECK (busy_delay_time >= 0),
  no_answer_delay_time  integer NOT NULL DEFAULT 60 CHECK (no_answer_delay_time >= 0),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, extension_id) REFERENCES extensions (tenant_id, id) ON DELETE CASCADE,
  UNIQUE (tenant_id, extension_id),
  UNIQUE (tenant_id, id)
);

-- A tier joins an agent and a queue; the composite keys make a cross-tenant tier impossible.
CREATE TABLE tiers (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  queue_id    uuid NOT NULL,
  agent_id    uuid NOT NULL,
  level       integer NOT NULL DEFAULT 1 CHECK (level BETWEEN 0 AND 1000),
  position    integer NOT NULL DEFAULT 1 CHECK (position BETWEEN 0 AND 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
  UNIQUE (queue_id, agent_id),
  UNIQUE (tenant_id, id)
);

CREATE TABLE tenant_features (
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  feature_key  text NOT NULL CHECK (feature_key ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  enabled      boolean NOT NULL DEFAULT false,
  config       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, feature_key)
);

CREATE TABLE audit_logs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  actor         text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
  actor_role    text NOT NULL CHECK (actor_role IN ('agent', 'tenant_admin', 'reseller_admin', 'superadmin', 'system')),
  action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
  target        text NOT NULL CHECK (length(target) <= 300),
  cross_tenant  boolean NOT NULL DEFAULT false,
  -- Before/after summary; callers strip secrets before writing.
  summary       jsonb NOT NULL DEFAULT '{}',
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_tenant_at ON audit_logs (tenant_id, at DESC);

CREATE TABLE call_records (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  call_uuid     text NOT NULL CHECK (length(call_uuid) BETWEEN 1 AND 64),
  node          text NOT NULL CHECK (length(node) BETWEEN 1 AND 128),
  direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
  caller        text NOT NULL DEFAULT '' CHECK (length(caller) <= 128),
  callee        text NOT NULL DEFAULT '' CHECK (length(callee) <= 128),
  created_at    timestamptz NOT NULL,
  answered_at   timestamptz,
  ended_at      timestamptz NOT NULL,
  duration_s    integer NOT NULL CHECK (duration_s >= 0),
  billsec       integer NOT NULL CHECK (billsec >= 0),
  hangup_cause  text NOT NULL CHECK (length(hangup_cause) <= 64),
  queue         text CHECK (length(queue) <= 128),
  -- Replaying a spooled record is idempotent.
  UNIQUE (tenant_id, call_uuid)
);
CREATE INDEX call_records_tenant_created ON call_records (tenant_id, created_at DESC);

CREATE INDEX extensions_tenant ON extensions (tenant_id);
CREATE INDEX dids_tenant ON dids (tenant_id);
CREATE INDEX sip_trunks_tenant ON sip_trunks (tenant_id);
CREATE INDEX outbound_routes_tenant ON outbound_routes (tenant_id, priority);
CREATE INDEX queues_tenant ON queues (tenant_id);
CREATE INDEX agents_tenant ON agents (tenant_id);
CREATE INDEX tiers_tenant ON tiers (tenant_id);
CREATE INDEX tenants_parent ON tenants (parent_id);
