-- Call flows (issue 14): a per-tenant routing graph. DIDs, dial codes and menu
-- choices point at a node; the daemon turns the node into the call's dialplan at
-- fetch time (xml-handlers/dialplan/call-flow.ts).
--
-- Every edge is a composite foreign key (tenant_id, id), so a node can only ever
-- point at its own tenant's nodes, extensions and queues, and ON DELETE RESTRICT
-- keeps a target from disappearing under a flow that uses it. Kind-specific
-- settings (a menu's prompts, a schedule, ring-group members) are JSON checked
-- by the daemon's parser for that kind on write and again at load.
CREATE TABLE call_flow_nodes (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  kind          text NOT NULL CHECK (kind IN
                  ('extension', 'ring_group', 'queue', 'menu', 'time_condition', 'announcement', 'hangup')),
  -- A number the tenant's users dial to reach the node (digits only: `*` codes are the phones' feature codes).
  dial_code     text CHECK (dial_code ~ '^[0-9]{2,15}$'),
  extension_id  uuid,
  queue_id      uuid,
  settings      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object' AND length(settings::text) <= 16384),
  -- Where the call goes when the node is done without a caller's choice (no answer, menu exhausted, after an
  -- announcement; a time condition's "open" branch); else_node_id is a time condition's "closed" branch.
  next_node_id  uuid,
  else_node_id  uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  -- Menu choices reference (tenant_id, id, kind) so only a menu can have choices.
  UNIQUE (tenant_id, id, kind),
  UNIQUE (tenant_id, name),
  UNIQUE (tenant_id, dial_code),
  FOREIGN KEY (tenant_id, extension_id) REFERENCES extensions (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, queue_id) REFERENCES queues (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, next_node_id) REFERENCES call_flow_nodes (tenant_id, id) ON DELETE RESTRICT,
  FOREIGN KEY (tenant_id, else_node_id) REFERENCES call_flow_nodes (tenant_id, id) ON DELETE RESTRICT,
  CONSTRAINT call_flow_nodes_extension_id_check CHECK ((kind = 'extension') = (extension_id IS NOT NULL)),
  CONSTRAINT call_flow_nodes_queue_id_check CHECK ((kind = 'queue') = (queue_id IS NOT NULL)),
  CONSTRAINT call_flow_nodes_next_node_id_check CHECK (
    CASE kind WHEN 'time_condition' THEN next_node_id IS NOT NULL
              WHEN 'queue' THEN next_node_id IS NULL
              WHEN 'hangup' THEN next_node_id IS NULL
              ELSE true END),
  CONSTRAINT call_flow_nodes_else_node_id_check CHECK ((kind = 'time_condition') = (else_node_id IS NOT NULL)),
  CHECK (next_node_id <> id AND else_node_id <> id)
);

-- A caller's choice in a menu: DTMF digits → node.
CREATE TABLE menu_choices (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  menu_id    uuid NOT NULL,
  menu_kind  text NOT NULL DEFAULT 'menu' CHECK (menu_kind = 'menu'),
  digits     text NOT NULL CHECK (digits ~ '^[0-9*#]{1,4}$'),
  target_id  uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, menu_id, digits),
  -- ON UPDATE RESTRICT: a menu with choices cannot change kind.
  FOREIGN KEY (tenant_id, menu_id, menu_kind) REFERENCES call_flow_nodes (tenant_id, id, kind)
    ON DELETE CASCADE ON UPDATE RESTRICT,
  FOREIGN KEY (tenant_id, target_id) REFERENCES call_flow_nodes (tenant_id, id) ON DELETE RESTRICT
);

-- DIDs may land on a node.
ALTER TABLE dids
  ADD COLUMN flow_node_id uuid,
  ADD FOREIGN KEY (tenant_id, flow_node_id) REFERENCES call_flow_nodes (tenant_id, id) ON DELETE RESTRICT,
  DROP CONSTRAINT dids_destination_type_check,
  ADD CONSTRAINT dids_destination_type_check CHECK (destination_type IN ('extension', 'queue', 'flow')),
  DROP CONSTRAINT dids_check,
  ADD CONSTRAINT dids_check CHECK (
    (destination_type = 'extension') = (extension_id IS NOT NULL)
    AND (destination_type = 'queue') = (queue_id IS NOT NULL)
    AND (destination_type = 'flow') = (flow_node_id IS NOT NULL));

-- Follow-me: after the extension itself, these numbers ring one after the other
-- ([{"number": "1002", "timeoutS": 15}, ...]), each dialled as the tenant dials.
ALTER TABLE extensions
  ADD COLUMN follow_me jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(follow_me) = 'array' AND jsonb_array_length(follow_me) <= 10);

SELECT protect_tenant_table('call_flow_nodes');
SELECT protect_tenant_table('menu_choices');
GRANT SELECT, INSERT, UPDATE, DELETE ON call_flow_nodes, menu_choices TO fs_tenantd_app;

CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON call_flow_nodes
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('name');
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE OR DELETE ON menu_choices
  FOR EACH ROW EXECUTE FUNCTION notify_tenant_change('menu_id');
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON call_flow_nodes FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON menu_choices FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
