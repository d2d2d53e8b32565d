//! Webhooks end to end: endpoints created over HTTP, SCIM writes made through `Storage`, a real
//! receiver on 127.0.0.1 that checks every signature with its own HMAC code (not the service's),
//! retries of failing and slow receivers, disabling, tenant scoping, the test event, secret rotation,
//! the SSRF guard, and two replicas sharing one PostgreSQL outbox.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hmac::{Hmac, Mac as _};
use scim_core::{ResourceKind, TenantId};
use serde_json::{Value, json};
use service::Settings;
use sha2::Sha256;
use storage::testing::TestDb;
use storage::webhooks::RetryPolicy;
use storage::{Storage, WriteContext};
use token_admin::webhooks::WebhookOptions;
use token_admin::{Application, Options};

use crate::helpers::{
    ServerThread, Started, TestApp, admin_token, on_each_backend, settings, tenant_operator_token,
};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    content_type: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Whether one of the `v1,` signatures is HMAC-SHA256 of `id.timestamp.body` under `secret`'s key.
    fn signed_with(&self, secret: &str) -> bool {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signature.split(' ').any(|signature| signature == expected)
    }
}

/// How a path of the receiver answers: `/fail-N` 500 to its first N requests, `/slow-N` waits 3 s on
/// its first N, `/hold` waits 500 ms, `/gone` always 500; anything else 204 at once.
#[derive(Debug, Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    seen: Arc<Mutex<BTreeMap<String, usize>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn on(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, receiver: web::Data<Receiver>) -> HttpResponse {
    let now = receiver.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    receiver.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = answer(&req, body, &receiver).await;
    receiver.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

async fn answer(req: &HttpRequest, body: web::Bytes, receiver: &Receiver) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path = req.path().to_owned();
    receiver.log.lock().unwrap().push(Received {
        path: path.clone(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let count = {
        let mut seen = receiver.seen.lock().unwrap();
        let count = seen.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    let limit = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    if path == "/gone" || count <= limit("/fail-") {
        return HttpResponse::InternalServerError().finish();
    }
    if count <= limit("/slow-") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if path == "/hold" {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    HttpResponse::NoContent().finish()
}

/// Starts a receiver on 127.0.0.1:0; returns its base URL.
fn start_receiver() -> (String, Receiver, ServerThread) {
    let receiver = Receiver::default();
    let data = web::Data::new(receiver.clone());
    let (port, server) = ServerThread::spawn(move || {
        Box::pin(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .default_service(web::to(receive))
            })
            .workers(2)
            .shutdown_timeout(0)
            .bind("127.0.0.1:0")
            .unwrap();
            let port = server.addrs()[0].port();
            let server = server.run();
            let handle = server.handle();
            let serve: Pin<Box<dyn Future<Output = ()>>> = Box::pin(async move { server.await.unwrap() });
            (port, handle, serve) as Started
        })
    });
    (format!("http://127.0.0.1:{port}"), receiver, server)
}

/// Settings for a test app that may call 127.0.0.1.
fn webhook_settings(db_url: &str) -> Settings {
    Settings {
        webhook_allow_private_targets: true,
        ..settings(db_url)
    }
}

/// Quick polling, a 1 s timeout and retries after 200 ms for `window`.
fn fast_options(window: Duration) -> Options {
    Options {
        webhooks: WebhookOptions {
            retry: Some(RetryPolicy {
                delays: vec![Duration::from_millis(200)],
                window,
            }),
            timeout: Duration::from_secs(1),
            poll_interval: Duration::from_millis(50),
            ..WebhookOptions::default()
        },
        ..Options::default()
    }
}

async fn spawn_app(db: TestDb, window: Duration) -> TestApp {
    let settings = webhook_settings(db.url());
    TestApp::spawn_with(db, settings, fast_options(window)).await
}

/// Waits up to 15 s for a condition, which may `.await`.
macro_rules! eventually {
    ($what:expr, $done:expr) => {{
        let mut done = false;
        for _ in 0..300 {
            if $done {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(done, "timed out waiting for {}", $what);
    }};
}

fn create_user(storage: &Storage, tenant: &str, user_name: &str) {
    let ctx = WriteContext {
        tenant: TenantId::parse(tenant).unwrap(),
        actor_token_id: None,
        request_id: Some(format!("req-{user_name}")),
        now: Utc::now(),
    };
    let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name});
    storage
        .create_resource(&ctx, ResourceKind::User, doc, None)
        .unwrap();
    // Position it now rather than at the app's next sweep (up to a second).
    storage.sequence_events().unwrap();
}

fn create_group(storage: &Storage, tenant: &str, name: &str) {
    let ctx = WriteContext {
        tenant: TenantId::parse(tenant).unwrap(),
        actor_token_id: None,
        request_id: None,
        now: Utc::now(),
    };
    let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
    storage
        .create_resource(&ctx, ResourceKind::Group, doc, None)
        .unwrap();
}

async fn create_webhook(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = app.post("/admin/v1/webhooks", token, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn deliveries(app: &TestApp, id: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/admin/v1/webhooks/{id}/deliveries"), &admin_token())
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn writes_reach_the_subscribed_receivers_signed_and_scoped() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let acme_hook = create_webhook(
            &app,
            &admin,
            json!({"url": format!("{base}/acme"), "tenants": ["acme"], "description": "acme only"}),
        )
        .await;
        let created_hook = create_webhook(
            &app,
            &admin,
            json!({"url": format!("{base}/created"), "eventTypes": ["user.created"]}),
        )
        .await;
        assert_eq!(acme_hook["tenants"], json!(["acme"]));
        assert_eq!(acme_hook["eventTypes"], Value::Null);
        assert_eq!(
            (acme_hook["enabled"].as_bool(), acme_hook["description"].as_str()),
            (Some(true), Some("acme only"))
        );
        let secret = acme_hook["secret"].as_str().unwrap().to_owned();
        let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert!((24..=32).contains(&key.len()), "{secret}");

        create_user(app.storage(), "acme", "alice");
        create_user(app.storage(), "globex", "bob");
        create_group(app.storage(), "acme", "ops");

        eventually!("four deliveries", receiver.received().len() >= 4);
        let acme = receiver.on("/acme");
        let types: BTreeSet<String> = acme
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            BTreeSet::from(["group.created".to_owned(), "user.created".to_owned()])
        );
        for delivery in &acme {
            let event = delivery.json();
            assert_eq!(
                event["tenant"], "acme",
                "globex's events never reach an acme webhook"
            );
            assert!(delivery.signed_with(&secret), "{delivery:?}");
            assert_eq!(delivery.content_type, "application/json");
            assert_eq!(delivery.id, event["id"].as_str().unwrap());
            let timestamp: i64 = delivery.timestamp.parse().unwrap();
            assert!((Utc::now().timestamp() - timestamp).abs() < 60);
            assert!(event["sequence"].as_i64().unwrap() >= 1);
        }
        let alice = acme
            .iter()
            .find(|r| r.json()["type"] == "user.created")
            .unwrap()
            .json();
        assert_eq!(alice["data"]["userName"], "alice");
        assert_eq!(alice["requestId"], "req-alice");
        // The body is the events API's event object, unchanged.
        let (_, feed) = app.get("/admin/v1/events?tenant=acme", &admin).await;
        assert_eq!(feed["data"][0], alice);

        let created = receiver.on("/created");
        let tenants: BTreeSet<String> = created
            .iter()
            .map(|r| r.json()["tenant"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(created.len(), 2);
        assert_eq!(tenants, BTreeSet::from(["acme".to_owned(), "globex".to_owned()]));
        assert!(
            created
                .iter()
                .all(|r| r.signed_with(created_hook["secret"].as_str().unwrap()))
        );
        assert!(created.iter().all(|r| !r.signed_with(&secret)));

        // Recorded as delivered; the secret was shown once.
        let id = acme_hook["id"].as_str().unwrap();
        eventually!("deliveries recorded", {
            let listed = deliveries(&app, id).await;
            listed.len() == 2 && listed.iter().all(|d| d["state"] == "succeeded")
        });
        let listed = deliveries(&app, id).await;
        assert_eq!(listed.len(), 2);
        assert_eq!(
            (
                listed[0]["attempts"].as_i64(),
                listed[0]["lastStatus"].as_i64(),
                &listed[0]["nextAttemptAt"]
            ),
            (Some(1), Some(204), &Value::Null)
        );
        assert!(listed[0]["latencyMs"].as_i64().is_some());
        let (_, fetched) = app.get(&format!("/admin/v1/webhooks/{id}"), &admin).await;
        let (_, list) = app.get("/admin/v1/webhooks", &admin).await;
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert!(!fetched.to_string().contains(&secret) && !list.to_string().contains("whsec_"));
        assert!(fetched.get("secret").is_none());

        let other = created_hook["id"].as_str().unwrap();
        eventually!("the other deliveries recorded", {
            let listed = deliveries(&app, other).await;
            listed.len() == 2 && listed.iter().all(|d| d["state"] == "succeeded")
        });
        // Metrics: four attempts, none failed, four lags observed, and the outbox depth exposed.
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "webhook_delivery_attempts_total 4",
            "webhook_delivery_failures_total 0",
            "webhook_delivery_lag_seconds_count 4",
        ] {
            assert!(
                metrics.lines().any(|l| l == line),
                "{line} missing from\n{metrics}"
            );
        }
        assert!(
            metrics.contains("# TYPE webhook_outbox_pending gauge"),
            "{metrics}"
        );

        // Nothing is delivered twice.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ids: BTreeSet<(String, String)> =
            receiver.received().into_iter().map(|r| (r.path, r.id)).collect();
        assert_eq!(ids.len(), receiver.received().len());
    })
    .await;
}

#[tokio::test]
async fn failing_and_slow_receivers_are_retried_with_the_same_id() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        let failing = create_webhook(&app, &admin, json!({"url": format!("{base}/fail-2")})).await;
        let slow = create_webhook(&app, &admin, json!({"url": format!("{base}/slow-1")})).await;
        create_user(app.storage(), "acme", "alice");

        eventually!("the third attempt", receiver.on("/fail-2").len() >= 3);
        eventually!("the second attempt", receiver.on("/slow-1").len() >= 2);
        for (hook, path, attempts) in [(&failing, "/fail-2", 3), (&slow, "/slow-1", 2)] {
            let got = receiver.on(path);
            assert!(
                got.iter().all(|r| r.id == got[0].id),
                "every attempt carries the event id"
            );
            assert!(
                got.iter()
                    .all(|r| r.signed_with(hook["secret"].as_str().unwrap()))
            );
            let id = hook["id"].as_str().unwrap();
            eventually!(
                "the success recorded",
                deliveries(&app, id)
                    .await
                    .first()
                    .is_some_and(|d| d["state"] == "succeeded")
            );
            let delivery = &deliveries(&app, id).await[0];
            assert_eq!(delivery["attempts"], attempts, "{delivery}");
            assert_eq!(delivery["eventType"], "user.created");
        }
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled_and_can_be_enabled_again() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(3)).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        let hook = create_webhook(&app, &admin, json!({"url": format!("{base}/gone")})).await;
        let id = hook["id"].as_str().unwrap();
        create_user(app.storage(), "acme", "alice");
        eventually!(
            "the delivery failed",
            deliveries(&app, id)
                .await
                .first()
                .is_some_and(|d| d["state"] == "failed")
        );
        let delivery = &deliveries(&app, id).await[0];
        assert_eq!(delivery["lastStatus"], 500);
        assert!(
            delivery["lastError"].as_str().unwrap().contains("HTTP 500"),
            "{delivery}"
        );
        assert!(receiver.on("/gone").len() >= 2, "retried before failing");

        // The next failure after the window disables the endpoint.
        create_user(app.storage(), "acme", "bob");
        eventually!(
            "the endpoint disabled",
            app.get(&format!("/admin/v1/webhooks/{id}"), &admin).await.1["enabled"] == false
        );
        let (_, disabled) = app.get(&format!("/admin/v1/webhooks/{id}"), &admin).await;
        assert!(
            disabled["disabledReason"].as_str().unwrap().contains("HTTP 500"),
            "{disabled}"
        );

        let (status, enabled) = app
            .send(
                reqwest::Method::PATCH,
                &format!("/admin/v1/webhooks/{id}"),
                &admin,
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, 200, "{enabled}");
        assert_eq!(
            (&enabled["enabled"], &enabled["disabledReason"]),
            (&json!(true), &Value::Null)
        );
    })
    .await;
}

#[tokio::test]
async fn the_test_endpoint_sends_a_signed_event_that_is_not_in_the_feed() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        let hook = create_webhook(
            &app,
            &admin,
            json!({"url": format!("{base}/test"), "tenants": ["acme"]}),
        )
        .await;
        let id = hook["id"].as_str().unwrap();
        let (status, outcome) = app
            .post(&format!("/admin/v1/webhooks/{id}/test"), &admin, json!({}))
            .await;
        assert_eq!(status, 200, "{outcome}");
        assert_eq!(
            (&outcome["delivered"], &outcome["status"]),
            (&json!(true), &json!(204))
        );
        let got = receiver.on("/test");
        assert_eq!(got.len(), 1, "sent synchronously");
        assert!(got[0].signed_with(hook["secret"].as_str().unwrap()));
        let event = got[0].json();
        assert_eq!(
            (&event["type"], &event["id"], &event["tenant"]),
            (&json!("webhook.test"), &outcome["eventId"], &json!("acme"))
        );
        let (_, feed) = app.get("/admin/v1/events", &admin).await;
        assert_eq!(feed["data"], json!([]));
        assert!(deliveries(&app, id).await.is_empty());

        // A receiver error is the answer's, not the request's.
        let broken = create_webhook(&app, &admin, json!({"url": format!("{base}/gone")})).await;
        let (status, outcome) = app
            .post(
                &format!("/admin/v1/webhooks/{}/test", broken["id"].as_str().unwrap()),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(
            (status, &outcome["delivered"], &outcome["status"]),
            (200, &json!(false), &json!(500))
        );
    })
    .await;
}

#[tokio::test]
async fn a_rotated_secret_signs_next_to_the_new_one_during_its_grace() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        let hook = create_webhook(&app, &admin, json!({"url": format!("{base}/rotating")})).await;
        let id = hook["id"].as_str().unwrap();
        let old = hook["secret"].as_str().unwrap();
        let (status, rotated) = app
            .post(
                &format!("/admin/v1/webhooks/{id}/rotate-secret"),
                &admin,
                json!({"graceSeconds": 3600}),
            )
            .await;
        assert_eq!(status, 200, "{rotated}");
        let new = rotated["secret"].as_str().unwrap();
        assert!(new.starts_with("whsec_") && new != old);
        app.post(&format!("/admin/v1/webhooks/{id}/test"), &admin, json!({}))
            .await;
        let got = receiver.on("/rotating").pop().unwrap();
        assert_eq!(got.signature.split(' ').count(), 2, "{}", got.signature);
        assert!(got.signed_with(old) && got.signed_with(new));

        let (_, newest) = app
            .send(
                reqwest::Method::POST,
                &format!("/admin/v1/webhooks/{id}/rotate-secret"),
                &admin,
                None,
            )
            .await;
        let newest = newest["secret"].as_str().unwrap();
        app.post(&format!("/admin/v1/webhooks/{id}/test"), &admin, json!({}))
            .await;
        let got = receiver.on("/rotating").pop().unwrap();
        assert!(got.signed_with(newest) && !got.signed_with(new) && !got.signed_with(old));
        let (status, _) = app
            .post(
                &format!("/admin/v1/webhooks/{id}/rotate-secret"),
                &admin,
                json!({"graceSeconds": 999_999_999}),
            )
            .await;
        assert_eq!(status, 400);
    })
    .await;
}

#[tokio::test]
async fn private_targets_are_refused_unless_the_setting_allows_them() {
    on_each_backend(|db| async {
        let settings = settings(db.url());
        let app = TestApp::spawn_with(db, settings, fast_options(Duration::from_secs(60))).await;
        let admin = admin_token();
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        let port = base.rsplit(':').next().unwrap();
        for (url, expected) in [
            (
                format!("{base}/literal"),
                "refused target 127.0.0.1: a loopback address",
            ),
            (format!("http://localhost:{port}/name"), "resolves to"),
            (format!("http://[::ffff:127.0.0.1]:{port}/mapped"), "loopback"),
        ] {
            let hook = create_webhook(&app, &admin, json!({"url": url})).await;
            let id = hook["id"].as_str().unwrap();
            let (_, outcome) = app
                .post(&format!("/admin/v1/webhooks/{id}/test"), &admin, json!({}))
                .await;
            let error = outcome["error"].as_str().unwrap_or_default();
            assert_eq!(outcome["delivered"], false, "{outcome}");
            assert!(
                error.contains(expected) && error.contains("webhook_allow_private_targets"),
                "{error}"
            );
        }
        create_user(app.storage(), "acme", "alice");
        let (_, hooks) = app.get("/admin/v1/webhooks", &admin).await;
        let first = hooks[0]["id"].as_str().unwrap();
        eventually!(
            "a refused attempt",
            deliveries(&app, first)
                .await
                .first()
                .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
        );
        let delivery = &deliveries(&app, first).await[0];
        assert!(
            delivery["lastError"].as_str().unwrap().contains("loopback"),
            "{delivery}"
        );
        assert!(receiver.received().is_empty());
    })
    .await;
}

#[tokio::test]
async fn requests_are_validated_and_tenant_operators_see_only_their_tenants_webhooks() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let admin = admin_token();
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        for (body, expected) in [
            (json!({"url": "ftp://hooks.example/x"}), "http or https"),
            (json!({"url": "/relative"}), "absolute URL"),
            (
                json!({"url": "https://hooks.example", "eventTypes": ["user.exploded"]}),
                "unknown event type",
            ),
            (
                json!({"url": "https://hooks.example", "eventTypes": []}),
                "at least one type",
            ),
            (
                json!({"url": "https://hooks.example", "tenants": ["nope"]}),
                "unknown tenant",
            ),
            (
                json!({"url": "https://hooks.example", "tenants": []}),
                "at least one tenant",
            ),
            (
                json!({"url": "https://hooks.example", "secret": "mine"}),
                "unknown field",
            ),
            (
                json!({"url": "https://hooks.example", "description": "a\u{0}b"}),
                "NUL",
            ),
        ] {
            let (status, error) = app.post("/admin/v1/webhooks", &admin, body).await;
            assert_eq!(status, 400, "{error}");
            assert!(error["detail"].as_str().unwrap().contains(expected), "{error}");
        }

        assert_eq!(app.get("/admin/v1/webhooks/wh%00x", &admin).await.0, 404);
        let everything = create_webhook(&app, &admin, json!({"url": "https://hooks.example/all"})).await;
        let both = create_webhook(
            &app,
            &admin,
            json!({"url": "https://hooks.example/both", "tenants": ["acme", "globex"]}),
        )
        .await;
        let acme_op = tenant_operator_token("alice", "acme");
        let own = create_webhook(&app, &acme_op, json!({"url": "https://hooks.example/acme"})).await;
        assert_eq!(
            own["tenants"],
            json!(["acme"]),
            "defaults to the operator's tenant"
        );
        let (status, _) = app
            .post(
                "/admin/v1/webhooks",
                &acme_op,
                json!({"url": "https://hooks.example", "tenants": ["globex"]}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _) = app
            .post(
                "/admin/v1/webhooks",
                &acme_op,
                json!({"url": "https://hooks.example", "tenants": ["acme", "globex"]}),
            )
            .await;
        assert_eq!(status, 403);
        let (_, listed) = app.get("/admin/v1/webhooks", &acme_op).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], own["id"]);
        for other in [&everything, &both] {
            let path = format!("/admin/v1/webhooks/{}", other["id"].as_str().unwrap());
            assert_eq!(app.get(&path, &acme_op).await.0, 404);
            assert_eq!(app.delete(&path, &acme_op).await.0, 404);
            assert_eq!(
                app.post(&format!("{path}/test"), &acme_op, json!({})).await.0,
                404
            );
        }
        let own_path = format!("/admin/v1/webhooks/{}", own["id"].as_str().unwrap());
        let (status, _) = app
            .send(
                reqwest::Method::PATCH,
                &own_path,
                &acme_op,
                Some(json!({"tenants": null})),
            )
            .await;
        assert_eq!(status, 403, "a tenant operator cannot widen its webhook");
        let (status, patched) = app
            .send(
                reqwest::Method::PATCH,
                &own_path,
                &acme_op,
                Some(
                    json!({"eventTypes": ["group.member_added"], "description": "members", "enabled": false}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(
            (
                &patched["eventTypes"],
                &patched["description"],
                &patched["enabled"],
                &patched["disabledReason"]
            ),
            (
                &json!(["group.member_added"]),
                &json!("members"),
                &json!(false),
                &json!("disabled by an operator")
            )
        );
        let (status, _) = app
            .post(
                &format!("{own_path}/rotate-secret"),
                &acme_op,
                json!({"graceSeconds": 60}),
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = app.delete(&own_path, &acme_op).await;
        assert_eq!(status, 204);
        assert_eq!(app.get(&own_path, &admin).await.0, 404);

        let acme = TenantId::parse("acme").unwrap();
        let actions: Vec<String> = app
            .storage()
            .list_admin_audit(Some(&acme), 20)
            .unwrap()
            .into_iter()
            .map(|entry| entry.action)
            .filter(|action| action.starts_with("webhook."))
            .collect();
        assert_eq!(
            actions,
            [
                "webhook.delete",
                "webhook.rotate_secret",
                "webhook.update",
                "webhook.create"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn two_replicas_on_one_postgres_deliver_each_event_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let url = db.url().to_owned();
    let app = spawn_app(db, Duration::from_secs(60)).await;
    let (replica_port, _replica) = spawn_replica(&url, fast_options(Duration::from_secs(60)));
    let (base, receiver, _server) = start_receiver();
    app.create_tenant("acme").await;
    create_webhook(&app, &admin_token(), json!({"url": format!("{base}/replicas")})).await;
    for n in 0..40 {
        create_user(app.storage(), "acme", &format!("user{n}"));
    }
    eventually!(
        "every event delivered",
        receiver
            .received()
            .iter()
            .map(|r| r.id.clone())
            .collect::<BTreeSet<_>>()
            .len()
            == 40
    );
    // Give a second delivery of anything the time to arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 40, "an event was delivered twice");
    // Between them the replicas made 40 attempts: none was made twice.
    let mut attempts = Vec::new();
    for address in [app.address.clone(), format!("http://127.0.0.1:{replica_port}")] {
        let metrics = reqwest::get(format!("{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = metrics
            .lines()
            .find(|line| line.starts_with("webhook_delivery_attempts_total "))
            .unwrap();
        attempts.push(line.rsplit(' ').next().unwrap().parse::<u64>().unwrap());
    }
    eprintln!("attempts per replica: {attempts:?}");
    assert_eq!(
        attempts.iter().sum::<u64>(),
        40,
        "attempts per replica: {attempts:?}"
    );
}

/// The public `standardwebhooks` Python package verifies a captured delivery unchanged. Runs when the
/// Python named by `SCIM_TEST_PYTHON` (default `python3`) can import it (`scripts/webhook-verify.sh`
/// sets one up in a virtual environment); skipped otherwise.
#[tokio::test]
async fn the_standardwebhooks_python_package_verifies_a_delivery() {
    // Named explicitly (scripts/webhook-verify.sh, which CI runs), the package is required.
    let required = std::env::var("SCIM_TEST_PYTHON").ok();
    let python = required.clone().unwrap_or_else(|| "python3".to_owned());
    let importable = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        importable || required.is_none(),
        "SCIM_TEST_PYTHON={python} cannot import standardwebhooks"
    );
    if !importable {
        eprintln!(
            "*** SKIPPING: {python} cannot import standardwebhooks (run scripts/webhook-verify.sh) ***"
        );
        return;
    }
    let app = spawn_app(TestDb::sqlite(), Duration::from_secs(60)).await;
    let admin = admin_token();
    let (base, receiver, _server) = start_receiver();
    app.create_tenant("acme").await;
    let hook = create_webhook(&app, &admin, json!({"url": format!("{base}/python")})).await;
    create_user(app.storage(), "acme", "alice");
    eventually!("a delivery", !receiver.on("/python").is_empty());
    let got = receiver.on("/python").remove(0);
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("delivery.json");
    let captured = json!({
        "secret": hook["secret"],
        "headers": {"webhook-id": got.id, "webhook-timestamp": got.timestamp, "webhook-signature": got.signature},
        "body": got.body,
    });
    std::fs::write(&capture, captured.to_string()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/webhook-verify.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&capture)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn at_most_eight_requests_are_in_flight_per_worker() {
    on_each_backend(|db| async {
        let app = spawn_app(db, Duration::from_secs(60)).await;
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        create_webhook(&app, &admin_token(), json!({"url": format!("{base}/hold")})).await;
        for n in 0..20 {
            create_user(app.storage(), "acme", &format!("user{n}"));
        }
        eventually!("every delivery", receiver.on("/hold").len() == 20);
        let max = receiver.max_in_flight.load(Ordering::SeqCst);
        assert!((2..=8).contains(&max), "{max} requests in flight at once");
    })
    .await;
}

/// Spawns another token-admin (with its webhook worker) on the database at `url`; returns its port.
fn spawn_replica(url: &str, options: Options) -> (u16, ServerThread) {
    let settings = webhook_settings(url);
    ServerThread::spawn(move || {
        Box::pin(async move {
            let replica = Application::build_with(settings, options).await.unwrap();
            let (port, handle) = (replica.port(), replica.server_handle());
            let serve: Pin<Box<dyn Future<Output = ()>>> =
                Box::pin(async move { replica.run_until_stopped().await.unwrap() });
            (port, handle, serve) as Started
        })
    })
}

#[tokio::test]
async fn a_delivery_cut_off_by_a_stopped_worker_is_made_by_another_after_its_lease() {
    on_each_backend(|db| async {
        let url = db.url().to_owned();
        // This app serves the API only; the replicas deliver.
        let settings = Settings {
            webhook_worker: false,
            ..webhook_settings(db.url())
        };
        let app = TestApp::spawn_with(db, settings, Options::default()).await;
        let (base, receiver, _server) = start_receiver();
        app.create_tenant("acme").await;
        let hook = create_webhook(&app, &admin_token(), json!({"url": format!("{base}/slow-1")})).await;
        let options = |lease| Options {
            webhooks: WebhookOptions {
                lease,
                poll_interval: Duration::from_millis(50),
                ..WebhookOptions::default()
            },
            ..Options::default()
        };
        let (_, first) = spawn_replica(&url, options(Duration::from_secs(2)));
        create_user(app.storage(), "acme", "alice");
        eventually!("the first attempt", receiver.on("/slow-1").len() == 1);
        // Stopped while the receiver is still answering: nothing is recorded, the lease stays.
        drop(first);
        let (_, _second) = spawn_replica(&url, options(Duration::from_secs(2)));
        eventually!("the second attempt", receiver.on("/slow-1").len() == 2);
        let got = receiver.on("/slow-1");
        assert_eq!(got[0].id, got[1].id);
        let id = hook["id"].as_str().unwrap();
        eventually!(
            "the delivery recorded",
            deliveries(&app, id)
                .await
                .first()
                .is_some_and(|d| d["state"] == "succeeded")
        );
        assert_eq!(
            deliveries(&app, id).await[0]["attempts"],
            1,
            "the cut-off attempt was never recorded"
        );
    })
    .await;
}
