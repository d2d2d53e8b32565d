-- PostgreSQL twin of migrations/sqlite/2026-11-23-000001_initial. Portable column types only:
-- ids TEXT (UUID strings / slugs), times TIMESTAMP without time zone holding UTC, JSON as TEXT (cast to jsonb in queries).

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE scim_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX scim_tokens_tenant_idx ON scim_tokens (tenant_id, created_at);

CREATE TABLE resources (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('User', 'Group')),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_modified TIMESTAMP NOT NULL,
    document TEXT NOT NULL,
    user_name TEXT,
    user_name_lower TEXT,
    display_name TEXT,
    display_name_lower TEXT,
    group_name_lower TEXT,
    external_id TEXT,
    active BOOLEAN,
    work_email_lower TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX resources_user_name_uq ON resources (tenant_id, resource_type, user_name_lower);
CREATE UNIQUE INDEX resources_group_name_uq ON resources (tenant_id, resource_type, group_name_lower);
CREATE INDEX resources_display_name_idx ON resources (tenant_id, resource_type, display_name_lower);
CREATE INDEX resources_external_id_idx ON resources (tenant_id, resource_type, external_id);
CREATE INDEX resources_work_email_idx ON resources (tenant_id, resource_type, work_email_lower);
CREATE INDEX resources_last_modified_idx ON resources (tenant_id, resource_type, last_modified);
CREATE INDEX resources_created_idx ON resources (tenant_id, resource_type, created_at, id);
CREATE INDEX resources_type_id_idx ON resources (tenant_id, resource_type, id);

CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES resources (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, member_id) REFERENCES resources (tenant_id, id) ON DELETE CASCADE,
    CHECK (group_id <> member_id)
);
CREATE INDEX group_members_member_idx ON group_members (tenant_id, member_id);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    actor_token_id TEXT,
    request_id TEXT,
    operation TEXT NOT NULL CHECK (operation IN ('create', 'replace', 'patch', 'delete')),
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX events_tenant_idx ON events (tenant_id, id);
