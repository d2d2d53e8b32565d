-- The change feed (docs/events.md). A write inserts its events with feed_position and tenant_sequence
-- NULL, in the write's own transaction; the sequencer (storage/src/feed.rs) stamps them afterwards, in
-- the order they became visible, so a consumer that reads `feed_position > cursor` never skips an event
-- that commits late. SQLite twin of migrations/postgres/2026-12-06-000001_change_feed.

ALTER TABLE events RENAME TO events_before_feed;
DROP INDEX events_tenant_idx;

CREATE TABLE events (
    -- Insertion order: the sequencer stamps pending events in this order.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    feed_position BIGINT UNIQUE,
    tenant_sequence BIGINT,
    event_type TEXT NOT NULL CHECK (event_type IN (
        'user.created', 'user.updated', 'user.deleted',
        'group.created', 'group.updated', 'group.deleted',
        'group.member_added', 'group.member_removed')),
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version BIGINT,
    occurred_at TIMESTAMP NOT NULL,
    resource_created_at TIMESTAMP,
    request_id TEXT,
    actor_token_id TEXT,
    member_id TEXT,
    member_type TEXT,
    data TEXT
);
CREATE INDEX events_tenant_position_idx ON events (tenant_id, feed_position);
CREATE INDEX events_unsequenced_idx ON events (id) WHERE feed_position IS NULL;

-- Each tenant's last sequence number (a row per tenant, made with the tenant), in a narrow table of its
-- own: numbering events updates it, and the tenants row (with its policy document) is not rewritten.
CREATE TABLE event_sequences (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    last_sequence BIGINT NOT NULL
);

-- One row: the last position handed out and how far retention has pruned.
CREATE TABLE event_feed (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_position BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);

-- Events written before the feed existed keep their order; they carry no data.
INSERT INTO events (event_id, tenant_id, feed_position, tenant_sequence, event_type, resource_type,
                    resource_id, version, occurred_at, request_id, actor_token_id)
SELECT 'legacy-' || id, tenant_id, id,
       ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY id),
       lower(resource_type) || CASE operation WHEN 'create' THEN '.created'
                                              WHEN 'delete' THEN '.deleted'
                                              ELSE '.updated' END,
       resource_type, resource_id, version, occurred_at, request_id, actor_token_id
FROM events_before_feed ORDER BY id;
INSERT INTO event_sequences (tenant_id, last_sequence)
SELECT id, (SELECT COUNT(*) FROM events WHERE events.tenant_id = tenants.id) FROM tenants;
INSERT INTO event_feed (id, last_position, pruned_through)
SELECT 1, COALESCE(MAX(id), 0), 0 FROM events_before_feed;
DROP TABLE events_before_feed;

-- SQLite has one writer at a time, so the order in which events are inserted is commit order: a write
-- inserts each event already numbered (the next position and tenant sequence, read in the INSERT), and
-- this trigger advances the counters, inside the writing transaction; the sequencer finds nothing to do.
CREATE TRIGGER events_advance_counters AFTER INSERT ON events WHEN NEW.feed_position IS NOT NULL
BEGIN
    UPDATE event_feed SET last_position = NEW.feed_position;
    UPDATE event_sequences SET last_sequence = NEW.tenant_sequence WHERE tenant_id = NEW.tenant_id;
END;
