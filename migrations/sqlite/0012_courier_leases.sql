-- Leases owned by one worker and renewed by its heartbeat, a count of claims (attempts that
-- were never recorded show in the dispatch log), and the index of bodies still to purge.
ALTER TABLE courier_messages ADD COLUMN lease_owner BLOB;
ALTER TABLE courier_messages ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
CREATE INDEX courier_messages_lease_owner_idx ON courier_messages (lease_owner)
    WHERE status = 'processing';
CREATE INDEX courier_messages_purge_idx ON courier_messages (updated_at)
    WHERE status IN ('sent', 'abandoned', 'expired') AND length(body) > 0;
