-- Conference rooms and parking lots (issue 15) are call-flow nodes: reached by
-- dial code, DID, menu choice or forward like any node, isolated by the same
-- keys. Neither continues anywhere (a room or a parked call ends the flow).
ALTER TABLE call_flow_nodes
  DROP CONSTRAINT call_flow_nodes_kind_check,
  ADD CONSTRAINT call_flow_nodes_kind_check CHECK (kind IN ('extension', 'ring_group', 'queue', 'menu',
    'time_condition', 'announcement', 'hangup', 'conference', 'parking_lot')),
  DROP CONSTRAINT call_flow_nodes_next_node_id_check,
  ADD CONSTRAINT call_flow_nodes_next_node_id_check CHECK (
    CASE kind WHEN 'time_condition' THEN next_node_id IS NOT NULL
              WHEN 'queue' THEN next_node_id IS NULL
              WHEN 'hangup' THEN next_node_id IS NULL
              WHEN 'conference' THEN next_node_id IS NULL
              WHEN 'parking_lot' THEN next_node_id IS NULL
              ELSE true END);
