ALTER TABLE scim_tokens DROP COLUMN scope;
