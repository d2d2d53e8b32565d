//! Storage integration tests. Every test runs on SQLite and on PostgreSQL (`storage::backend_tests!`).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test fixtures and helpers outside #[test] fns fail the test on any error"
)]

mod common;
mod concurrency;
mod connect;
mod crud;
mod feed;
mod filters;
mod hostile;
mod keyset;
mod members;
mod migrations;
mod plans;
mod tenants;
mod tokens;
mod webhooks;
