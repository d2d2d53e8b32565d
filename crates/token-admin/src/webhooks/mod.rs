//! Signed webhooks (docs/events.md, "Webhooks"): every change-feed event, POSTed to the endpoints that
//! subscribed to its tenant and type, signed the Standard Webhooks way.
//!
//! | module | what it holds |
//! |---|---|
//! | [`signing`] | secrets and the `webhook-signature` header |
//! | [`target`] | which addresses may be called (SSRF guard, with the client's resolver) |
//! | [`sender`] | one signed attempt over HTTP and its outcome |
//! | [`worker`] | the delivery loop of `token-admin serve`, and its metrics |
//!
//! The outbox itself (endpoints, fan-out in the sequencer's transaction, claims, retries) is in
//! `storage::webhooks`; the admin routes are in `routes/webhooks.rs`.

pub mod sender;
pub mod signing;
pub mod target;
pub mod worker;

use std::time::Duration;

use storage::webhooks::RetryPolicy;

/// Knobs of the webhook machinery that are not settings (tests shorten them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// `None`: [`RetryPolicy::standard`] over `webhook_retry_hours`.
    pub retry: Option<RetryPolicy>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The worker's pause when nothing is due.
    pub poll_interval: Duration,
    /// How long a claimed delivery is the claiming worker's; after that (a killed worker) any worker
    /// may claim it again. Must exceed `timeout` by far, or a slow attempt would be made twice.
    pub lease: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            retry: None,
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
        }
    }
}
