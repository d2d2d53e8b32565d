-- SQLite (3.35+) drops a column whose only constraint is its own CHECK.
ALTER TABLE scim_tokens DROP COLUMN scope;
