-- The setup portal (docs/portal.md): one-time setup links, the sessions they open, and each tenant's recent
-- SCIM requests as scim-api answered them. Links and sessions are stored only as SHA-256 hashes of their
-- secrets. A link or session has a scope: 'tenant' (one tenant's admin) or 'operator' (the vendor's staff,
-- every tenant; tenant_id NULL).

CREATE TABLE portal_links (
    code_hash TEXT NOT NULL PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('tenant', 'operator')),
    tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    CHECK ((scope = 'tenant') = (tenant_id IS NOT NULL))
);
CREATE INDEX portal_links_expires_idx ON portal_links (expires_at);

CREATE TABLE portal_sessions (
    id_hash TEXT NOT NULL PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('tenant', 'operator')),
    tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    -- The absolute end, whatever the activity; the idle limit is checked against last_seen_at.
    expires_at TIMESTAMP NOT NULL,
    CHECK ((scope = 'tenant') = (tenant_id IS NOT NULL))
);
CREATE INDEX portal_sessions_expires_idx ON portal_sessions (expires_at);

-- Recent SCIM requests per tenant, bounded (scim-api trims to the newest rows of each tenant). Never a
-- body, a header or a query string: method, path, status, and for a 4xx the SCIM error we answered.
CREATE TABLE scim_request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    request_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status BIGINT NOT NULL,
    scim_type TEXT,
    detail TEXT,
    -- A filtered or counted GET on /Users or /Groups: what an IdP's Test Connection sends.
    probe BOOLEAN NOT NULL
);
CREATE INDEX scim_request_log_tenant_idx ON scim_request_log (tenant_id, id);
