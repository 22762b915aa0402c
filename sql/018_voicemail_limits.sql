-- Voicemail limits per mailbox (issue 15), next to voicemail_quota_s (mod_voicemail's vm-disk-quota, sql/011).
-- mod_voicemail has neither as a per-user setting: max-record-len is per profile and nothing counts messages
-- against a limit, so the daemon's dialplan enforces both (README "Voicemail"). null: no limit of the box's own.
ALTER TABLE extensions
  -- Unheard messages (mod_voicemail's `vm_boxcount <box>|new`, urgent included) at which the box takes no more.
  ADD COLUMN voicemail_max_messages integer CHECK (voicemail_max_messages BETWEEN 1 AND 9999),
  -- Seconds after which a message being left is cut (at most the profile's max-record-len, 300).
  ADD COLUMN voicemail_max_length_s integer CHECK (voicemail_max_length_s BETWEEN 5 AND 300);
