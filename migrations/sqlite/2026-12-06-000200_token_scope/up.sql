-- SQLite twin of the PostgreSQL migration of the same name. What a SCIM token may do: 'write' is the IdP's
-- provisioning token (every SCIM operation), 'read' may only read and search. Tokens issued before scopes
-- existed were all provisioning tokens.
ALTER TABLE scim_tokens
    ADD COLUMN scope TEXT NOT NULL DEFAULT 'write' CHECK (scope IN ('write', 'read'));
