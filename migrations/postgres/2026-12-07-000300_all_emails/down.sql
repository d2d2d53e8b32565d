-- Back to one indexed work email per user: the primary work email, else the first work email.
ALTER TABLE resources ADD COLUMN work_email_lower TEXT;
UPDATE resources r SET work_email_lower = (
    SELECT lower(e.element ->> 'value')
    FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.document::jsonb -> 'emails') = 'array'
             THEN r.document::jsonb -> 'emails' ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS e (element, ordinality)
    WHERE lower(e.element ->> 'type') = 'work' AND jsonb_typeof(e.element -> 'value') = 'string'
    ORDER BY CASE WHEN e.element -> 'primary' = 'true'::jsonb THEN 0 ELSE 1 END, e.ordinality
    LIMIT 1
)
WHERE r.resource_type = 'User';
CREATE INDEX resources_work_email_idx ON resources (tenant_id, resource_type, work_email_lower);
DROP TABLE resource_emails;
