//! token-admin over real HTTP, on SQLite and (when reachable) PostgreSQL: one test binary, one module per
//! area (z2p's `tests/api`).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] fns fail the test on any error"
)]

mod auth;
mod cli;
mod errors;
mod events;
mod helpers;
mod jwks;
mod lusid;
mod oauth;
mod ops;
mod portal;
mod portal_browser;
mod startup;
mod tenants;
mod tokens;
mod webhooks;
