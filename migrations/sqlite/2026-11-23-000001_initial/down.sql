DROP TABLE events;
DROP TABLE group_members;
DROP TABLE resources;
DROP TABLE scim_tokens;
DROP TABLE tenants;
