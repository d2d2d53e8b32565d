//! One delivery attempt over HTTP: the signed POST and how it ended.
//!
//! The client follows no redirects (a 3xx is a failed attempt: the endpoint's URL should be updated),
//! ignores proxy environment variables (a proxy would resolve the target itself, past the guard), gives
//! up after the timeout (10 s), resolves names through the SSRF guard ([`super::target`]) and never reads
//! the response body: only the status counts, and nothing the receiver says is stored.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Url;
use storage::webhooks::Attempt;

use super::signing::signature_header;
use super::target::{GuardedResolver, RefusedTarget, check_url};

/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

/// Sends signed webhook requests; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub url: &'a str,
    /// `webhook-id`: the event id, the same on every attempt, so receivers can de-duplicate.
    pub id: &'a str,
    pub body: &'a [u8],
    pub secrets: &'a [String],
}

impl Sender {
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("scim-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Makes one attempt at `now` (the signed `webhook-timestamp`); never fails, the outcome says how it
    /// went.
    pub async fn send(&self, message: Message<'_>, now: DateTime<Utc>) -> Attempt {
        let started = Instant::now();
        let (status, error) = match self.post(message, now).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("the endpoint answered HTTP {status}"))),
            Err(error) => (None, Some(error)),
        };
        Attempt {
            status,
            error: error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            at: now,
        }
    }

    async fn post(&self, message: Message<'_>, now: DateTime<Utc>) -> Result<u16, String> {
        let url = Url::parse(message.url).map_err(|e| format!("invalid URL: {e}"))?;
        check_url(&url, self.allow_private).map_err(|e| e.to_string())?;
        let timestamp = now.timestamp();
        let signature = signature_header(message.secrets, message.id, timestamp, message.body)
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.to_vec())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        Ok(response.status().as_u16())
    }
}

/// A transport failure in words: the guard's refusal as it is, a timeout as such, else the error chain.
fn describe(error: &reqwest::Error) -> String {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedTarget>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return "timed out waiting for the endpoint's answer".to_owned();
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
