-- Back to the audit-only events table: resource events keep their order, member events have no
-- equivalent there and are dropped.
DROP TRIGGER events_advance_counters;
ALTER TABLE events RENAME TO events_feed;
DROP INDEX events_tenant_position_idx;
DROP INDEX events_unsequenced_idx;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO events (tenant_id, occurred_at, actor_token_id, request_id, operation, resource_type,
                    resource_id, version)
SELECT tenant_id, occurred_at, actor_token_id, request_id,
       CASE substr(event_type, instr(event_type, '.') + 1) WHEN 'created' THEN 'create'
                                                           WHEN 'deleted' THEN 'delete'
                                                           ELSE 'patch' END,
       resource_type, resource_id, COALESCE(version, 0)
FROM events_feed
WHERE event_type NOT IN ('group.member_added', 'group.member_removed')
ORDER BY COALESCE(feed_position, 9223372036854775807), id;
DROP TABLE events_feed;
DROP TABLE event_feed;
DROP TABLE event_sequences;
