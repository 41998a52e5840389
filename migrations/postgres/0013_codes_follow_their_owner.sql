-- A code's identity and address are no longer foreign keys. Checking them locked both rows
-- (FOR KEY SHARE: a WAL record and two dirtied pages) whenever a code for a known address was
-- stored, and never for an unknown one, whose code holds NULLs, so the send of a known
-- address took longer than that of an unknown one (SECURITY.md C3). Triggers keep what the
-- cascade did: a code goes with its identity and with its address. (SQLite keeps its foreign
-- keys: their check is an in-process index lookup that writes nothing.)
ALTER TABLE selfservice_flow_challenges
    DROP CONSTRAINT selfservice_flow_challenges_identity_id_fkey,
    DROP CONSTRAINT selfservice_flow_challenges_verifiable_address_id_fkey;

CREATE FUNCTION selfservice_flow_challenges_follow_address() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM selfservice_flow_challenges WHERE verifiable_address_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER selfservice_flow_challenges_follow_address
    AFTER DELETE ON identity_verifiable_addresses
    FOR EACH ROW EXECUTE FUNCTION selfservice_flow_challenges_follow_address();

-- One statement per deleting statement (the cleanup removes identities in batches).
CREATE FUNCTION selfservice_flow_challenges_follow_identity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM selfservice_flow_challenges c USING gone g WHERE c.identity_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER selfservice_flow_challenges_follow_identity
    AFTER DELETE ON identities REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION selfservice_flow_challenges_follow_identity();
