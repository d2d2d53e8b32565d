-- Every email of every user, indexed (docs/architecture.md, "Indexed attributes"): a filter on any
-- email, not only the first work one, is an index lookup that agrees with the in-memory evaluator.
-- Values and types are lowercased by the server (Rust's Unicode lowercasing) on every write; this
-- backfill uses lower(), which agrees for every address IdPs send.

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
SELECT r.tenant_id, r.id, (e.ordinality - 1)::INTEGER,
       CASE WHEN jsonb_typeof(e.element -> 'type') = 'string' THEN lower(e.element ->> 'type') END,
       lower(e.element ->> 'value')
FROM resources r
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(r.document::jsonb -> 'emails') = 'array'
         THEN r.document::jsonb -> 'emails' ELSE '[]'::jsonb END
) WITH ORDINALITY AS e (element, ordinality)
WHERE r.resource_type = 'User'
  AND jsonb_typeof(e.element -> 'value') = 'string';

DROP INDEX resources_work_email_idx;
ALTER TABLE resources DROP COLUMN work_email_lower;
