-- Back to one indexed work email per user: the primary work email, else the first work email, and no
-- planner statistics.
DELETE FROM sqlite_stat1 WHERE tbl IN ('resources', 'resource_emails', 'group_members');
ALTER TABLE resources ADD COLUMN work_email_lower TEXT;
UPDATE resources SET work_email_lower = (
    SELECT lower(json_extract(e.value, '$.value'))
    FROM json_each(resources.document, '$.emails') e
    WHERE json_type(resources.document, '$.emails') = 'array'
      AND lower(json_extract(e.value, '$.type')) = 'work'
      AND json_type(e.value, '$.value') = 'text'
    ORDER BY CASE WHEN json_extract(e.value, '$.primary') = 1 THEN 0 ELSE 1 END, CAST(e.key AS INTEGER)
    LIMIT 1
)
WHERE resource_type = 'User';
CREATE INDEX resources_work_email_idx ON resources (tenant_id, resource_type, work_email_lower);
DROP TABLE resource_emails;
