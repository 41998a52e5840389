-- Leases that belong to one worker and are renewed by its heartbeat, a count of claims so an
-- attempt that was never recorded (its worker died) shows in the dispatch log, and the index
-- that finds finished messages whose sealed bodies are still to be purged.
ALTER TABLE courier_messages ADD COLUMN lease_owner UUID;
ALTER TABLE courier_messages ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
CREATE INDEX courier_messages_lease_owner_idx ON courier_messages (lease_owner)
    WHERE status = 'processing';
CREATE INDEX courier_messages_purge_idx ON courier_messages (updated_at)
    WHERE status IN ('sent', 'abandoned', 'expired') AND length(body) > 0;
