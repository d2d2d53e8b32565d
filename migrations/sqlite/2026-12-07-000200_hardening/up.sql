-- One row counting credential revocations (tokens, OAuth clients, tenants deleted). Every revocation
-- bumps it in its own transaction; each scim-api process polls it and drops its credential caches when
-- it moves, so a revocation is refused everywhere within the poll interval.
CREATE TABLE credential_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO credential_generation (id, generation) VALUES (1, 0);
