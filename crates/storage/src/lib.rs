//! Persistence for tenants, tokens and SCIM resources on SQLite and PostgreSQL.
