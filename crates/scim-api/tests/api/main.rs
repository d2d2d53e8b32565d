//! HTTP tests of scim-api: the real server on 127.0.0.1:0, a real database (SQLite file and PostgreSQL
//! schema), requests over TCP with reqwest. One binary, one module per area.

mod helpers;

mod auth;
mod bulk;
mod discovery;
mod entra;
mod okta;
mod protocol;
mod quirks;
