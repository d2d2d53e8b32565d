DROP TABLE admin_audit;
DROP TABLE oauth_clients;
