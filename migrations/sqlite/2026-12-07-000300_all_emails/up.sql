-- Every email of every user, indexed (docs/architecture.md, "Indexed attributes"): a filter on any
-- email, not only the first work one, is an index lookup that agrees with the in-memory evaluator.
-- Values and types are lowercased by the server (Rust's Unicode lowercasing) on every write; this
-- backfill uses SQLite's lower(), which folds ASCII only, the same for every address IdPs send.

CREATE TABLE resource_emails (
    tenant_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    -- The element's index in the document's `emails` array.
    position INTEGER NOT NULL,
    -- `type`, lowercased; NULL when the element has none.
    email_type TEXT,
    value_lower TEXT NOT NULL,
    PRIMARY KEY (tenant_id, resource_id, position),
    FOREIGN KEY (tenant_id, resource_id) REFERENCES resources (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX resource_emails_value_idx ON resource_emails (tenant_id, value_lower);

INSERT INTO resource_emails (tenant_id, resource_id, position, email_type, value_lower)
SELECT r.tenant_id, r.id, CAST(e.key AS INTEGER),
       CASE WHEN json_type(e.value, '$.type') = 'text' THEN lower(json_extract(e.value, '$.type')) END,
       lower(json_extract(e.value, '$.value'))
FROM resources r, json_each(r.document, '$.emails') e
WHERE r.resource_type = 'User'
  AND json_type(r.document, '$.emails') = 'array'
  AND json_type(e.value, '$.value') = 'text';

DROP INDEX resources_work_email_idx;
ALTER TABLE resources DROP COLUMN work_email_lower;

-- Planner statistics. With none, SQLite assumes a tenant holds about ten resources, so for a first page in
-- creation order it prefers walking the tenant's creation index and testing each row over searching the
-- index a lookup names and sorting its few matches: every `externalId`, `displayName` or email lookup
-- read the whole tenant. These rows describe a large tenant (SQLite's documented way to steer the
-- planner; a later `ANALYZE` replaces them with measured ones); tests/it/plans.rs checks the plans.
ANALYZE sqlite_schema;
DELETE FROM sqlite_stat1 WHERE tbl IN ('resources', 'resource_emails', 'group_members');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('resources', 'sqlite_autoindex_resources_1', '1000000 10000 1'),
    ('resources', 'resources_user_name_uq', '1000000 10000 5000 1'),
    ('resources', 'resources_group_name_uq', '1000000 10000 5000 1'),
    ('resources', 'resources_display_name_idx', '1000000 10000 5000 2'),
    ('resources', 'resources_external_id_idx', '1000000 10000 5000 1'),
    ('resources', 'resources_last_modified_idx', '1000000 10000 5000 2'),
    ('resources', 'resources_created_idx', '1000000 10000 5000 1 1'),
    ('resources', 'resources_type_id_idx', '1000000 10000 5000 1'),
    ('resource_emails', 'sqlite_autoindex_resource_emails_1', '1000000 10000 2 1'),
    ('resource_emails', 'resource_emails_value_idx', '1000000 10000 1'),
    ('group_members', 'sqlite_autoindex_group_members_1', '1000000 10000 50 1'),
    ('group_members', 'group_members_member_idx', '1000000 10000 5');
