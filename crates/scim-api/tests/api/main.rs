//! HTTP tests of scim-api: the real server on 127.0.0.1:0, a real database (SQLite file and PostgreSQL
//! schema), requests over TCP with reqwest. One binary, one module per area.

// Test bodies are plain async fns run by `on_both_backends!`, so clippy does not see them as tests.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "integration tests: a failed expectation must panic"
)]

mod helpers;

mod auth;
mod bulk;
mod change_feed;
mod concurrency;
mod cursor;
mod discovery;
mod entra;
mod error_bodies;
mod hardening;
mod hostile;
mod isolation;
mod oauth;
mod okta;
mod ops;
mod protocol;
mod quirks;
mod read_tokens;
mod request_log;
mod snapshots;
