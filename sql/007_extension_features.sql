-- Extension features (issue 14, part 1): do-not-disturb and call forwarding.
--
-- Columns on extensions rather than a table of their own: one set per
-- extension, read with it by the snapshot query, and covered by the table's
-- row-level security and change notification (sql/002, sql/003) already. A
-- forward target is a number the tenant's own dialplan routes (an extension or
-- an outbound route), never a SIP URI or another tenant's domain: digits, or
-- +E.164. The daemon checks at call time that it still routes.
ALTER TABLE extensions
  ADD COLUMN dnd boolean NOT NULL DEFAULT false,
  ADD COLUMN forward_always text CHECK (forward_always ~ '^(\+[1-9][0-9]{1,14}|[0-9]{2,15})$'),
  ADD COLUMN forward_busy text CHECK (forward_busy ~ '^(\+[1-9][0-9]{1,14}|[0-9]{2,15})$'),
  ADD COLUMN forward_no_answer text CHECK (forward_no_answer ~ '^(\+[1-9][0-9]{1,14}|[0-9]{2,15})$'),
  ADD COLUMN forward_unreachable text CHECK (forward_unreachable ~ '^(\+[1-9][0-9]{1,14}|[0-9]{2,15})$'),
  -- Seconds the extension rings before a no-answer forward (bridge call_timeout).
  ADD COLUMN no_answer_timeout_s integer NOT NULL DEFAULT 20 CHECK (no_answer_timeout_s BETWEEN 5 AND 120);
