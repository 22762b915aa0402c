-- Conference rooms, parking lots and voicemail (issue 15). Rooms and lots are call-flow nodes: reached by
-- dial code, DID, menu choice or forward like any node, isolated by the same
-- keys. Neither continues anywhere (a room or a parked call ends the flow).
ALTER TABLE call_flow_nodes
  DROP CONSTRAINT call_flow_nodes_next_node_id_check,
  ADD CONSTRAINT call_flow_nodes_next_node_id_check CHECK (
    CASE kind WHEN 'time_condition' THEN next_node_id IS NOT NULL
              WHEN 'queue' THEN next_node_id IS NULL
              WHEN 'hangup' THEN next_node_id IS NULL
              WHEN 'conference' THEN next_node_id IS NULL
              WHEN 'parking_lot' THEN next_node_id IS NULL
              WHEN 'voicemail' THEN next_node_id IS NULL
              ELSE true END);

-- Voicemail (issue 15): one mailbox per extension. The PIN is kept only as
-- MD5(<extension>:<primary domain>:<pin>), the form mod_voicemail checks as
-- `vm-a1-hash` (voicemail_check_main: digest of id:domain:entered digits);
-- messages, greetings and the message index are mod_voicemail's own, stored
-- under a directory derived from the tenant id (README "Voicemail").
ALTER TABLE extensions
  ADD COLUMN voicemail_enabled boolean NOT NULL DEFAULT false,
  ADD COLUMN voicemail_pin_hash text CHECK (voicemail_pin_hash ~ '^[0-9a-f]{32}$'),
  ADD COLUMN voicemail_pin_realm text,
  -- Seconds of messages the box may hold (mod_voicemail vm-disk-quota); null: no limit.
  ADD COLUMN voicemail_quota_s integer CHECK (voicemail_quota_s BETWEEN 60 AND 360000),
  ADD CHECK ((voicemail_pin_hash IS NULL) = (voicemail_pin_realm IS NULL));

-- A call-flow node that takes a message for an extension's mailbox.
ALTER TABLE call_flow_nodes
  DROP CONSTRAINT call_flow_nodes_kind_check,
  ADD CONSTRAINT call_flow_nodes_kind_check CHECK (kind IN ('extension', 'ring_group', 'queue', 'menu',
    'time_condition', 'announcement', 'hangup', 'conference', 'parking_lot', 'voicemail')),
  DROP CONSTRAINT call_flow_nodes_extension_id_check,
  ADD CONSTRAINT call_flow_nodes_extension_id_check CHECK ((kind IN ('extension', 'voicemail')) = (extension_id IS NOT NULL));
