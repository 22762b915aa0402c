-- A unique index is checked before foreign keys and ignores RLS: with a global
-- UNIQUE (queue_id, agent_id), tenant B inserting a tier with A's ids would be
-- told "duplicate key" and so learn that the pair exists in A. Scoping the key
-- by tenant makes that insert fail on the foreign key like any other foreign id.
ALTER TABLE tiers DROP CONSTRAINT tiers_queue_id_agent_id_key;
ALTER TABLE tiers ADD CONSTRAINT tiers_tenant_queue_agent_key UNIQUE (tenant_id, queue_id, agent_id);
