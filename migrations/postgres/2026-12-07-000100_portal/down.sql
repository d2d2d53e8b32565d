DROP TABLE scim_request_log;
DROP TABLE portal_sessions;
DROP TABLE portal_links;
