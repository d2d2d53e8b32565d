-- SQLite twin of migrations/postgres/2026-12-06-000300_webhooks.
-- Signed webhooks with a transactional outbox (docs/events.md, "Webhooks"). Whoever positions events
-- (the sequencer, storage/src/feed.rs, on PostgreSQL; the write itself on SQLite) inserts one
-- webhook_deliveries row per positioned event and matching enabled endpoint in that transaction, so an
-- event is either positioned and queued for every endpoint, or neither. Workers claim due rows with a
-- lease (storage/src/webhooks/).

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT,
    -- Filters: TRUE matches everything; FALSE matches the rows of the child table only (so a scoped
    -- endpoint whose tenants were all deleted matches nothing, never everything).
    all_tenants BOOLEAN NOT NULL,
    all_event_types BOOLEAN NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    -- whsec_<base64>: signing needs the key itself, so it cannot be stored as a hash.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    -- First failed attempt since the last successful one; NULL while the endpoint is healthy.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_endpoint_tenants (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (endpoint_id, tenant_id)
);

CREATE TABLE webhook_endpoint_event_types (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- events.id: a delivery goes with its event (tenant deletion, retention).
    event_row_id BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts BIGINT NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker owns a claimed row until then; an expired lease (a killed worker) is claimable again.
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status BIGINT,
    last_latency_ms BIGINT,
    last_error TEXT,
    UNIQUE (endpoint_id, event_row_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_row_id);
