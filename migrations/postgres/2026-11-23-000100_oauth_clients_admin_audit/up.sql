-- OAuth 2.0 clients (client-credentials grant) and the admin audit log, both written by token-admin.

CREATE TABLE oauth_clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    secret_prefix TEXT NOT NULL,
    label TEXT,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX oauth_clients_tenant_idx ON oauth_clients (tenant_id, created_at);

-- No foreign key to tenants: the record of a tenant's deletion must outlive the tenant.
CREATE TABLE admin_audit (
    id BIGSERIAL PRIMARY KEY,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant_id TEXT,
    detail TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX admin_audit_tenant_idx ON admin_audit (tenant_id, id);
