DROP TABLE credential_generation;
