//! A SCIM client that speaks like Entra and accounts for every attempt.
//!
//! Strategy: one `reqwest::Client` (one connection pool) is shared by all tenants and workers. Each
//! [`ScimClient`] adds a base URL (parsed once: each request's URL is a copy with its path extended
//! and query pairs appended, so the host is never parsed again), a bearer token, the phase's
//! [`Stats`], the run's [`Budget`] and a progress bar. Redirects are not followed: a SCIM endpoint
//! answers in place. Every call takes a unit of budget before sending, times the request until the
//! whole body is read, records the outcome under its operation label and ticks the bar. A 429 is recorded
//! as throttled and retried after `Retry-After` (seconds; 1 s when absent or unparseable, capped at
//! 30 s and at the deadline), up to `max_retries` times.
//!
//! Calls return [`CallError::Stop`] when the budget refuses (the scenario should wind down) and
//! [`CallError::Failed`] when the attempt failed (already counted; the scenario carries on).

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use reqwest::{Method, StatusCode, Url, header};
use serde::Serialize;
use tokio::time::Instant;

use crate::budget::{Budget, StopReason};
use crate::entra::{self, ListResponse, Resource, UserSpec};
use crate::stats::{Outcome, Stats};

/// Entra's content type (third-party captures show the charset parameter).
const SCIM_JSON: &str = "application/scim+json; charset=utf-8";
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a call produced no usable result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The budget refused the request: stop the scenario.
    Stop(StopReason),
    /// The request failed; it is already in the stats.
    Failed,
}

impl From<StopReason> for CallError {
    fn from(reason: StopReason) -> Self {
        Self::Stop(reason)
    }
}

/// Settings shared by every client of a run.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub max_retries: u32,
    pub core_group_schema: bool,
}

/// A SCIM endpoint plus the run's accounting.
#[derive(Debug, Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    /// Base URL without fragment; its query (for example `aadOptscim062020`) is kept on every request.
    base: Arc<Url>,
    auth: Option<Arc<str>>,
    stats: Arc<Stats>,
    budget: Arc<Budget>,
    progress: ProgressBar,
    options: Arc<ClientOptions>,
}

/// A successful response: body and how long it took.
#[derive(Debug)]
pub struct Reply {
    pub body: Vec<u8>,
    pub latency: Duration,
}

/// Builds the shared HTTP client: one pool, sized for `connections` idle connections per host.
pub fn http_client(connections: usize, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("scim-load/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

impl ScimClient {
    /// A client for one SCIM base URL (already checked by the loopback guard).
    pub fn new(
        http: reqwest::Client,
        base: &Url,
        token: Option<&str>,
        budget: Arc<Budget>,
        stats: Arc<Stats>,
        options: Arc<ClientOptions>,
    ) -> Self {
        let mut base = base.clone();
        base.set_fragment(None);
        Self {
            http,
            base: Arc::new(base),
            auth: token.map(|t| Arc::from(format!("Bearer {t}"))),
            stats,
            budget,
            progress: ProgressBar::hidden(),
            options,
        }
    }

    /// The same endpoint, recording into another phase's stats, budget and bar.
    pub fn for_phase(&self, budget: Arc<Budget>, stats: Arc<Stats>, progress: ProgressBar) -> Self {
        Self {
            budget,
            stats,
            progress,
            ..self.clone()
        }
    }

    /// The same endpoint with another bearer token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            auth: Some(Arc::from(format!("Bearer {token}"))),
            ..self.clone()
        }
    }

    /// The stats this client records into.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The budget this client takes from.
    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// The base URL with `path` appended and the base query followed by `query`.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = Url::clone(&self.base);
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request with 429 retries, recording every attempt under `label`.
    async fn send(
        &self,
        label: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
        expected: &[u16],
    ) -> Result<Reply, CallError> {
        let url = self.url(path, query);
        let mut attempt = 0;
        loop {
            self.budget.take()?;
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(auth) = &self.auth {
                req = req.header(header::AUTHORIZATION, auth.as_ref());
            }
            if let Some(bytes) = body {
                req = req.header(header::CONTENT_TYPE, SCIM_JSON).body(bytes.to_vec());
            }
            req = req.header(header::ACCEPT, "application/scim+json");
            let started = Instant::now();
            let sent = req.send().await;
            let result = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    match resp.bytes().await {
                        Ok(bytes) => Ok((status, retry_after, bytes.to_vec())),
                        Err(err) => Err(err),
                    }
                }
                Err(err) => Err(err),
            };
            let latency = started.elapsed();
            self.progress.inc(1);
            match result {
                Err(err) => {
                    self.stats
                        .record(label, latency, Outcome::Transport(transport_kind(&err)));
                    return Err(CallError::Failed);
                }
                Ok((status, retry, _)) if status == StatusCode::TOO_MANY_REQUESTS => {
                    self.stats.record(label, latency, Outcome::Throttled);
                    if attempt >= self.options.max_retries {
                        self.stats.note_failure(label, "throttled:retries-exhausted");
                        return Err(CallError::Failed);
                    }
                    attempt += 1;
                    let wait = retry.unwrap_or(Duration::from_secs(1)).min(MAX_RETRY_AFTER);
                    let until = (Instant::now() + wait).min(self.budget.deadline());
                    tokio::time::sleep_until(until).await;
                }
                Ok((status, _, body)) if expected.contains(&status.as_u16()) => {
                    self.stats
                        .record(label, latency, Outcome::Expected(status.as_u16()));
                    return Ok(Reply { body, latency });
                }
                Ok((status, _, _)) => {
                    self.stats
                        .record(label, latency, Outcome::Unexpected(status.as_u16()));
                    return Err(CallError::Failed);
                }
            }
        }
    }

    async fn send_json<T: Serialize>(
        &self,
        label: &'static str,
        method: Method,
        path: &str,
        body: &T,
        expected: &[u16],
    ) -> Result<Reply, CallError> {
        let bytes = serde_json::to_vec(body).map_err(|_| {
            self.stats.note_failure(label, "serialize");
            CallError::Failed
        })?;
        self.send(label, method, path, &[], Some(&bytes), expected).await
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        label: &'static str,
        reply: &Reply,
    ) -> Result<T, CallError> {
        serde_json::from_slice(&reply.body).map_err(|_| {
            self.stats.note_error(label, "invalid-json");
            CallError::Failed
        })
    }

    /// `GET /Users?filter=userName eq "<name>"`: the id of the match, if any.
    pub async fn find_user(&self, label: &'static str, user_name: &str) -> Result<Option<String>, CallError> {
        let filter = entra::user_name_filter(user_name);
        let reply = self
            .send(label, Method::GET, "/Users", &[("filter", &filter)], None, &[200])
            .await?;
        let list: ListResponse = self.parse(label, &reply)?;
        if list.total_results > 1 {
            // userName is unique (RFC 7643 §4.1.1): Entra cannot match on an ambiguous answer.
            self.stats.note_error(label, "ambiguous-match");
            return Err(CallError::Failed);
        }
        Ok(list.resources.into_iter().next().map(|r| r.id))
    }

    /// `GET /Users?filter=<filter>&count=<count>` answered with one of `expected`; returns the status
    /// class through the reply (the noisy-neighbour scenario counts a 503 as the server protecting
    /// others, not as a failure).
    pub async fn search_users(
        &self,
        label: &'static str,
        filter: &str,
        count: &str,
        expected: &[u16],
    ) -> Result<Reply, CallError> {
        self.send(
            label,
            Method::GET,
            "/Users",
            &[("filter", filter), ("count", count)],
            None,
            expected,
        )
        .await
    }

    /// `POST /Bulk` with `body`, answered with one of `expected`.
    pub async fn post_bulk<T: Serialize>(
        &self,
        label: &'static str,
        body: &T,
        expected: &[u16],
    ) -> Result<Reply, CallError> {
        self.send_json(label, Method::POST, "/Bulk", body, expected).await
    }

    /// `GET /Users` with a token the server must refuse: only a 401 counts as success. Returns the
    /// latency.
    pub async fn list_users_refused(&self, label: &'static str) -> Result<Duration, CallError> {
        self.send(label, Method::GET, "/Users", &[], None, &[401])
            .await
            .map(|r| r.latency)
    }

    /// `POST /Users` with body A; returns the new id and the latency.
    pub async fn create_user(&self, spec: &UserSpec) -> Result<(String, Duration), CallError> {
        const LABEL: &str = "user.create";
        let reply = self
            .send_json(LABEL, Method::POST, "/Users", &entra::create_user(spec), &[201])
            .await?;
        let created: Resource = self.parse(LABEL, &reply)?;
        Ok((created.id, reply.latency))
    }

    /// `PATCH /Users/{id}`; Entra's examples answer 200 with the user, 204 is accepted too.
    pub async fn patch_user<T: Serialize>(
        &self,
        label: &'static str,
        id: &str,
        body: &T,
    ) -> Result<(), CallError> {
        let path = format!("/Users/{id}");
        self.send_json(label, Method::PATCH, &path, body, &[200, 204])
            .await
            .map(drop)
    }

    /// `DELETE /Users/{id}`.
    pub async fn delete_user(&self, id: &str) -> Result<(), CallError> {
        let path = format!("/Users/{id}");
        self.send("user.delete", Method::DELETE, &path, &[], None, &[204])
            .await
            .map(drop)
    }

    /// `GET /Groups?excludedAttributes=members&filter=displayName eq "<name>"` (example 11).
    pub async fn find_group(&self, display_name: &str) -> Result<Option<String>, CallError> {
        const LABEL: &str = "group.query";
        let filter = entra::display_name_filter(display_name);
        let query = [("excludedAttributes", "members"), ("filter", filter.as_str())];
        let reply = self
            .send(LABEL, Method::GET, "/Groups", &query, None, &[200])
            .await?;
        let list: ListResponse = self.parse(LABEL, &reply)?;
        Ok(list.resources.into_iter().next().map(|r| r.id))
    }

    /// `POST /Groups` with body C (no members).
    pub async fn create_group(&self, display_name: &str, external_id: &str) -> Result<String, CallError> {
        const LABEL: &str = "group.create";
        let body = entra::create_group(display_name, external_id, self.options.core_group_schema);
        let reply = self
            .send_json(LABEL, Method::POST, "/Groups", &body, &[201])
            .await?;
        let created: Resource = self.parse(LABEL, &reply)?;
        Ok(created.id)
    }

    /// `PATCH /Groups/{id}`; 204 per Entra's examples, 200 accepted. Returns the latency.
    pub async fn patch_group<T: Serialize>(
        &self,
        label: &'static str,
        id: &str,
        body: &T,
    ) -> Result<Duration, CallError> {
        let path = format!("/Groups/{id}");
        self.send_json(label, Method::PATCH, &path, body, &[200, 204])
            .await
            .map(|r| r.latency)
    }

    /// `GET /Groups/{id}`, with `excludedAttributes=members` unless `with_members`.
    pub async fn get_group(
        &self,
        label: &'static str,
        id: &str,
        with_members: bool,
    ) -> Result<Resource, CallError> {
        let path = format!("/Groups/{id}");
        let query: &[(&str, &str)] = if with_members {
            &[]
        } else {
            &[("excludedAttributes", "members")]
        };
        let reply = self.send(label, Method::GET, &path, query, None, &[200]).await?;
        self.parse(label, &reply)
    }
}

/// `Retry-After` in delta-seconds; HTTP-dates are not worth a date parser here.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let secs: f64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn transport_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if err.is_body() || err.is_decode() {
        "body"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_delta_seconds_only() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn base_url_query_is_kept_and_trailing_slash_dropped() {
        let budget = Budget::new(1, Duration::from_secs(1));
        let stats = Arc::new(Stats::new().unwrap());
        let options = Arc::new(ClientOptions {
            max_retries: 0,
            core_group_schema: false,
        });
        let http = reqwest::Client::new();
        let base = Url::parse("http://127.0.0.1:8080/scim/v2/t1/?aadOptscim062020").unwrap();
        let client = ScimClient::new(
            http.clone(),
            &base,
            None,
            budget.clone(),
            stats.clone(),
            options.clone(),
        );
        assert_eq!(
            client.url("/Users", &[]).as_str(),
            "http://127.0.0.1:8080/scim/v2/t1/Users?aadOptscim062020"
        );
        assert_eq!(
            client.url("/Users", &[("filter", "userName eq \"a\"")]).as_str(),
            "http://127.0.0.1:8080/scim/v2/t1/Users?aadOptscim062020&filter=userName+eq+%22a%22"
        );
        let plain = Url::parse("http://127.0.0.1:8080/scim/v2/t1").unwrap();
        let client = ScimClient::new(http, &plain, Some("tok"), budget, stats, options);
        assert_eq!(
            client.url("/Groups/1", &[]).as_str(),
            "http://127.0.0.1:8080/scim/v2/t1/Groups/1"
        );
        assert_eq!(client.auth.as_deref(), Some("Bearer tok"));
    }

    /// A canned HTTP/1.1 server: answers each request with the next response, records requests.
    mod mock {
        use std::sync::{Arc, Mutex};

        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpListener;

        #[derive(Debug, Clone)]
        pub struct Seen {
            pub head: String,
            pub body: String,
        }

        pub async fn serve(responses: Vec<String>) -> (String, Arc<Mutex<Vec<Seen>>>) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let queue = Arc::new(Mutex::new(responses.into_iter()));
            let seen2 = Arc::clone(&seen);
            tokio::spawn(async move {
                while let Ok((mut sock, _)) = listener.accept().await {
                    let (seen, queue) = (Arc::clone(&seen2), Arc::clone(&queue));
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        loop {
                            let mut chunk = [0u8; 4096];
                            let n = sock.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                                let len = head
                                    .lines()
                                    .find_map(|l| {
                                        l.to_ascii_lowercase()
                                            .strip_prefix("content-length:")
                                            .map(|v| v.trim().parse::<usize>().unwrap())
                                    })
                                    .unwrap_or(0);
                                if buf.len() < end + 4 + len {
                                    break;
                                }
                                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                                buf.drain(..end + 4 + len);
                                seen.lock().unwrap().push(Seen { head, body });
                                let resp = queue.lock().unwrap().next().unwrap_or_else(|| reply(500, "", ""));
                                sock.write_all(resp.as_bytes()).await.unwrap();
                            }
                        }
                    });
                }
            });
            (format!("http://{addr}/scim/v2/t1"), seen)
        }

        pub fn reply(status: u16, extra_headers: &str, body: &str) -> String {
            format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
                body.len()
            )
        }
    }

    fn client_for(base: &str, budget: Arc<Budget>, retries: u32) -> ScimClient {
        let options = Arc::new(ClientOptions {
            max_retries: retries,
            core_group_schema: false,
        });
        let http = http_client(4, Duration::from_secs(5)).unwrap();
        let url = Url::parse(base).unwrap();
        ScimClient::new(
            http,
            &url,
            Some("secret"),
            budget,
            Arc::new(Stats::new().unwrap()),
            options,
        )
    }

    #[tokio::test]
    async fn requests_go_out_in_entra_shape_with_bearer_token() {
        let (base, seen) = mock::serve(vec![
            mock::reply(200, "", r#"{"totalResults":0,"Resources":[]}"#),
            mock::reply(201, "", r#"{"id":"u-1"}"#),
            mock::reply(204, "", ""),
        ])
        .await;
        let client = client_for(&base, Budget::new(10, Duration::from_secs(10)), 0);
        assert_eq!(client.find_user("user.query", "a.b@load.test").await, Ok(None));
        let spec = crate::scenarios::user_spec("p", 1);
        assert_eq!(client.create_user(&spec).await.map(|r| r.0), Ok("u-1".to_owned()));
        assert!(
            client
                .patch_group("group.member.add", "g-1", &entra::add_member("u-1"))
                .await
                .is_ok()
        );

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert!(
            seen[0]
                .head
                .starts_with("GET /scim/v2/t1/Users?filter=userName+eq+%22a.b%40load.test%22 HTTP/1.1"),
            "{}",
            seen[0].head
        );
        for s in &seen {
            assert!(
                s.head
                    .to_ascii_lowercase()
                    .contains("authorization: bearer secret"),
                "{}",
                s.head
            );
        }
        assert!(seen[1].head.starts_with("POST /scim/v2/t1/Users HTTP/1.1"));
        assert!(
            seen[1]
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/scim+json; charset=utf-8")
        );
        let body: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
        assert_eq!(body["userName"], "p.user000001@load.test");
        assert!(seen[2].head.starts_with("PATCH /scim/v2/t1/Groups/g-1 HTTP/1.1"));
        assert_eq!(
            seen[2].body,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"u-1"}]}]}"#
        );
        let (ops, total) = client.stats().summary(Duration::from_secs(1)).unwrap();
        assert_eq!((total.requests, total.ok, total.errors), (3, 3, 0));
        assert_eq!(ops["user.create"].status_counts["201"], 1);
    }

    #[tokio::test]
    async fn throttled_requests_wait_for_retry_after_and_count_apart() {
        let (base, seen) = mock::serve(vec![
            mock::reply(429, "Retry-After: 0\r\n", ""),
            mock::reply(204, "", ""),
            mock::reply(429, "Retry-After: 0\r\n", ""),
            mock::reply(429, "Retry-After: 0\r\n", ""),
        ])
        .await;
        let client = client_for(&base, Budget::new(10, Duration::from_secs(10)), 1);
        assert!(client.delete_user("u-1").await.is_ok());
        assert_eq!(client.delete_user("u-2").await, Err(CallError::Failed));
        assert_eq!(seen.lock().unwrap().len(), 4);
        let (ops, _) = client.stats().summary(Duration::from_secs(1)).unwrap();
        let del = &ops["user.delete"];
        assert_eq!((del.requests, del.throttled, del.ok, del.errors), (4, 3, 1, 1));
        assert_eq!(del.error_kinds["throttled:retries-exhausted"], 1);
        assert_eq!(del.latency_ms.samples, 1);
    }

    #[tokio::test]
    async fn unexpected_statuses_fail_and_exhausted_budget_stops() {
        let (base, _seen) = mock::serve(vec![mock::reply(400, "", r#"{"status":"400"}"#)]).await;
        let client = client_for(&base, Budget::new(1, Duration::from_secs(10)), 0);
        assert_eq!(
            client
                .patch_group("group.member.remove", "g", &entra::remove_member("u"))
                .await,
            Err(CallError::Failed)
        );
        assert_eq!(
            client.delete_user("u").await,
            Err(CallError::Stop(StopReason::Requests))
        );
        let (ops, _) = client.stats().summary(Duration::from_secs(1)).unwrap();
        assert_eq!(ops["group.member.remove"].error_kinds["status:400"], 1);
        assert!(!ops.contains_key("user.delete"));
    }
}
