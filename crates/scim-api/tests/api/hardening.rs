//! One tenant cannot starve the others, and a revocation is refused at once: the per-tenant bulkhead,
//! Bulk operations counted one by one against the rate limit, the per-address limit on refused requests,
//! revocations reaching a running scim-api through the credential generation, and per-tenant metrics
//! only when asked for.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use service::Settings;
use storage::testing::TestDb;
use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, assert_scim_error, json};

/// One test on SQLite and, when a server is reachable, PostgreSQL, with its own settings.
macro_rules! on_both_backends_with {
    ($($name:ident => $settings:expr),+ $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name(storage::testing::TestDb::sqlite(), $settings).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(db) = storage::testing::TestDb::postgres() {
                        super::$name(db, $settings).await;
                    }
                }
            }
        )+
    };
}

on_both_backends_with!(
    a_tenant_over_its_share_gets_503_while_others_are_served => service::Settings {
        tenant_max_concurrent_requests: 1,
        tenant_queue_timeout_ms: 200,
        ..crate::helpers::test_settings()
    },
    bulk_operations_count_one_by_one_against_the_rate_limit => service::Settings {
        rate_limit_per_second: 1,
        rate_limit_burst: 10,
        ..crate::helpers::test_settings()
    },
    a_client_sending_bad_tokens_is_limited_and_valid_cached_tokens_still_work => service::Settings {
        unauthenticated_rate_limit_per_second: 1,
        unauthenticated_rate_limit_burst: 3,
        ..crate::helpers::test_settings()
    },
    a_revoked_token_is_refused_well_within_the_cache_lifetime => crate::helpers::test_settings(),
    per_tenant_metrics_are_published_only_when_enabled => crate::helpers::test_settings(),
    scans_beyond_the_tenants_scan_slots_get_503_while_its_lookups_are_served => service::Settings {
        tenant_max_concurrent_scans: 1,
        tenant_queue_timeout_ms: 1,
        ..crate::helpers::test_settings()
    },
    a_statement_past_the_time_limit_is_503_with_advice => service::Settings {
        // Far below what a scan of 100,000 users' documents takes, far above an index lookup.
        database_statement_timeout_ms: 25,
        ..crate::helpers::test_settings()
    },
);

/// Starts `POST /Users` for the app's tenant and sends half of its body: the request holds one of the
/// tenant's slots (authentication runs before the body is read) until the connection is dropped.
async fn hold_a_slot(app: &TestApp) -> tokio::net::TcpStream {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /scim/v2/{}/Users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{\"userName\":",
        app.tenant, app.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

async fn a_tenant_over_its_share_gets_503_while_others_are_served(db: TestDb, settings: Settings) {
    let app = TestApp::spawn_with(db, settings).await;
    let other = app.token_for("quiet").await;
    // Warm the token cache, so the held request is surely past authentication once written.
    assert_eq!(app.get("/Users").await.status(), 200);
    let held = hold_a_slot(&app).await;

    // The tenant's only slot is taken: its next request waits out the queue time, then 503.
    let response = app
        .get_until("/Users", 503, 50, Duration::from_millis(20))
        .await
        .expect("a request beyond the tenant's share is refused");
    assert_eq!(response.headers().get("retry-after").unwrap(), "1");
    let body = assert_scim_error(response, 503, None).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 requests in progress") && detail.contains("Retry"),
        "{detail}"
    );

    // Another tenant is not affected.
    let quiet = app
        .client
        .get(format!(
            "{}/scim/v2/quiet/Users?filter=userName%20eq%20%22x%22",
            app.address
        ))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(quiet.status(), 200);

    // The slot comes back when the held request ends.
    drop(held);
    let served = app.get_until("/Users", 200, 50, Duration::from_millis(20)).await;
    assert!(served.is_some(), "the slot was never released");
}

fn bulk_of_creates(count: usize) -> Value {
    let operations: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "method": "POST",
                "path": "/Users",
                "bulkId": format!("u{i}"),
                "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("bulk{i}")}
            })
        })
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
}

async fn bulk_operations_count_one_by_one_against_the_rate_limit(db: TestDb, settings: Settings) {
    let app = TestApp::spawn_with(db, settings).await;
    // The burst is 10 requests: one Bulk of 10 operations spends all of it.
    let response = app
        .send_json(reqwest::Method::POST, "/Bulk", &bulk_of_creates(10))
        .await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["Operations"].as_array().unwrap().len(), 10, "{body}");

    let limited = app.get("/Users").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_scim_error(limited, 429, None).await;
}

async fn a_client_sending_bad_tokens_is_limited_and_valid_cached_tokens_still_work(
    db: TestDb,
    settings: Settings,
) {
    let app = TestApp::spawn_with(db, settings).await;
    assert_eq!(app.get("/Users").await.status(), 200);
    let bad = |token: &'static str| app.client.get(app.url("/Users")).bearer_auth(token).send();
    // A burst of three refusals is allowed, then the address is over its limit.
    for token in [
        "not-a-token",
        "scim_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x",
    ] {
        assert_eq!(bad(token).await.unwrap().status(), 401);
    }
    let limited = bad("scim_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_scim_error(limited, 429, None).await;
    let missing = app.client.get(app.url("/Users")).send().await.unwrap();
    assert_eq!(missing.status(), 429, "requests without a token count too");
    // The tenant's own token, cached by its earlier request, is still served from this address.
    assert_eq!(app.get("/Users").await.status(), 200);
}

async fn a_revoked_token_is_refused_well_within_the_cache_lifetime(db: TestDb, settings: Settings) {
    let settings = Settings {
        database_url: SecretString::from(db.url().to_owned()),
        admin_listen: "127.0.0.1:0".to_owned(),
        admin_jwt_hs256_secret: Some(SecretString::from(OPERATOR_SECRET)),
        admin_jwt_issuer: Some("https://idp.test".to_owned()),
        admin_jwt_audience: Some("token-admin".to_owned()),
        ..settings
    };
    let admin = token_admin::Application::build(settings.clone()).await.unwrap();
    let admin_address = format!("http://127.0.0.1:{}", admin.port());
    actix_web::rt::spawn(admin.run_until_stopped());
    let app = TestApp::spawn_with(db, settings).await;

    // Cached by scim-api: without the revocation signal it would be trusted for the cache lifetime.
    assert_eq!(app.get("/Users").await.status(), 200);
    let revoked = app
        .client
        .delete(format!(
            "{admin_address}/admin/v1/tenants/{}/tokens/{}",
            app.tenant, app.token_id
        ))
        .bearer_auth(operator_token())
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let bound = Duration::from_secs(3);
    assert!(bound < scim_api::state::CACHE_TTL);
    let deadline = Instant::now() + bound;
    loop {
        let status = app.get("/Users").await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "the revoked token is still accepted after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const OPERATOR_SECRET: &str = "hardening-operator-secret-of-32-bytes-or-more";

fn operator_token() -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": "https://idp.test", "aud": "token-admin", "sub": "root", "role": "scim-admin",
        "iat": now, "exp": now + 300
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(OPERATOR_SECRET.as_bytes()),
    )
    .unwrap()
}

async fn metrics_text(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn per_tenant_metrics_are_published_only_when_enabled(db: TestDb, settings: Settings) {
    let quiet = TestApp::spawn_with(db, settings.clone()).await;
    quiet.create_user("metered").await;
    let text = metrics_text(&quiet).await;
    assert!(
        !text.contains("scim_operations") && !text.contains("acme"),
        "{text}"
    );
    assert!(text.contains("http_requests_total"), "{text}");

    let enabled = Settings {
        metrics_per_tenant: true,
        ..settings
    };
    let db = match quiet.db.backend() {
        storage::Backend::Sqlite => TestDb::sqlite(),
        storage::Backend::Postgres => TestDb::postgres().expect("PostgreSQL was reachable"),
    };
    let app = TestApp::spawn_with(db, enabled).await;
    app.create_user("metered").await;
    let text = metrics_text(&app).await;
    assert!(
        text.contains(r#"scim_operations_total{tenant="acme",resource_type="User",operation="create"} 1"#),
        "{text}"
    );
}

/// Stores `count` users named `scan0`, `scan1`, ... in the app's tenant directly.
fn seed_users(app: &TestApp, count: usize) {
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    app.db
        .storage()
        .bulk_insert_users(
            &storage::WriteContext {
                tenant,
                actor_token_id: None,
                request_id: None,
                now: chrono::Utc::now(),
            },
            "scan",
            count,
        )
        .unwrap();
}

/// With one scan slot, of four unindexed filters sent at once one is served and the others get 503 with
/// `Retry-After` and advice naming the indexed attributes, while an index lookup sent with them is served.
async fn scans_beyond_the_tenants_scan_slots_get_503_while_its_lookups_are_served(
    db: TestDb,
    settings: Settings,
) {
    let app = TestApp::spawn_with(db, settings).await;
    seed_users(&app, 50_000);
    let scan = "/Users?filter=title%20co%20%22zz%22%20or%20name.givenName%20sw%20%22Q%22";
    let (scans, lookup) = tokio::join!(
        futures_util::future::join_all((0..4).map(|_| app.get(scan))),
        async {
            // Sent once the scans are in progress.
            tokio::time::sleep(Duration::from_millis(20)).await;
            app.get("/Users?filter=userName%20eq%20%22scan7%22").await
        }
    );
    assert_eq!(lookup.status(), 200, "the index lookup waited for a scan slot");
    let mut served = 0;
    let mut refused = Vec::new();
    for response in scans {
        match response.status().as_u16() {
            200 => served += 1,
            _ => refused.push(response),
        }
    }
    assert!(served >= 1, "no scan was served");
    assert!(!refused.is_empty(), "four scans ran at once with one scan slot");
    for response in refused {
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        let body = assert_scim_error(response, 503, None).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("served from indexes"), "{detail}");
    }
}

/// A scan past `database_statement_timeout_ms` is ended (PostgreSQL's `statement_timeout`, SQLite's
/// per-row check) and answered 503 with `Retry-After` and advice, never 500 and never a partial list,
/// and the server keeps serving.
async fn a_statement_past_the_time_limit_is_503_with_advice(db: TestDb, settings: Settings) {
    // The pool scim-api opens at start-up (`open_storage`) sets the limit on each connection; the test
    // database's own pool does not, so open one as scim-api would.
    let tuned = storage::Storage::connect_tuned(
        db.url(),
        4,
        storage::ConnectionTuning {
            statement_timeout_ms: settings.database_statement_timeout_ms,
            ..storage::ConnectionTuning::default()
        },
    )
    .unwrap();
    let app = TestApp::spawn_on(db, settings, tuned).await;
    seed_users(&app, 100_000);
    // The token and policy lookups are index reads: retried in case a busy machine stretches one past 25 ms.
    let warmed = app
        .get_until(
            "/Users?filter=userName%20eq%20%22scan1%22",
            200,
            20,
            Duration::ZERO,
        )
        .await;
    assert!(
        warmed.is_some(),
        "an index lookup never completed within the limit"
    );

    let response = app
        .get("/Users?filter=title%20co%20%22zz%22%20or%20name.givenName%20sw%20%22Q%22")
        .await;
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("5".to_owned()),
        "{status}"
    );
    let body = assert_scim_error(response, 503, None).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("indexed attribute"), "{detail}");
    assert!(
        !detail.contains("canceling") && !detail.contains("scim statement"),
        "database text leaked: {detail}"
    );

    let served = app
        .get_until(
            "/Users?filter=userName%20eq%20%22scan2%22",
            200,
            20,
            Duration::ZERO,
        )
        .await;
    assert!(
        served.is_some(),
        "the server kept no usable connection after the cancellation"
    );
}
