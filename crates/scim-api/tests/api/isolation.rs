//! Tenant isolation, authentication on every endpoint, the OpenAPI document, and data safety.
//!
//! The endpoint list comes from the served OpenAPI document (`/openapi.json`), and a route probe checks
//! that document against what the server actually answers, so the auth sweep cannot silently miss a
//! route added later. Data safety runs the real `scim-api` binary with `RUST_LOG=debug`, then searches its
//! whole log and a raw dump of its database for the tokens it was used with.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use scim_api::bootstrap::issue_first_token;
use serde_json::{Value, json};

use crate::helpers::{SCIM_JSON, TestApp, json, on_both_backends};

on_both_backends!(
    guessed_ids_of_another_tenant_are_not_found,
    unknown_and_foreign_tokens_get_byte_identical_401_answers,
);

/// Like `on_both_backends!`, with the app built from `$settings` (an expression with absolute paths: it is
/// evaluated inside the generated modules).
macro_rules! on_both_backends_configured {
    ($settings:expr => $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app =
                        $crate::helpers::TestApp::spawn_with(storage::testing::TestDb::sqlite(), $settings).await;
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(db) = storage::testing::TestDb::postgres() {
                        let app = $crate::helpers::TestApp::spawn_with(db, $settings).await;
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}

// Hundreds of refused requests from one address on purpose: without the per-address limit on refused
// requests, which would answer 429 after the first 50 (hardening.rs tests that limit).
on_both_backends_configured!(
    service::Settings {
        unauthenticated_rate_limit_per_second: 0,
        ..crate::helpers::test_settings()
    } => every_endpoint_refuses_missing_malformed_revoked_and_foreign_tokens,
);

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The served OpenAPI document.
async fn openapi(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    serde_json::from_str(&response.text().await.unwrap()).expect("openapi.json parses")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every (method, path template) the document declares.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

/// A concrete URL path for a template: the test tenant, real ids.
fn concrete(template: &str, tenant: &str, user: &str, group: &str) -> String {
    let path = template.replace("{tenant}", tenant);
    if path.contains("/Users/{id}") {
        path.replace("{id}", user)
    } else if path.contains("/Groups/{id}") {
        path.replace("{id}", group)
    } else if path.contains("/Schemas/{id}") {
        path.replace("{id}", USER_URN)
    } else {
        path.replace("{name}", "User")
    }
}

/// A body that would succeed for an authenticated caller, so a bypass would show as a write.
fn body_for(method: &str, template: &str) -> Option<Value> {
    let body = match (method, template) {
        ("GET" | "DELETE", _) => return None,
        (_, t) if t.ends_with(".search") => json!({"filter": "userName pr"}),
        (_, t) if t.ends_with("/Bulk") => json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "intruder-bulk"}}]
        }),
        ("PATCH", _) => json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "intruder"}]
        }),
        (_, t) if t.contains("/Groups") => json!({"displayName": "intruder-group"}),
        _ => json!({"userName": "intruder", "displayName": "intruder"}),
    };
    Some(body)
}

async fn every_endpoint_refuses_missing_malformed_revoked_and_foreign_tokens(app: TestApp) {
    let user = app.create_user("victim").await;
    let group = app.create_group("victims").await;
    let foreign = app.token_for("globex").await;
    // A second token of the right tenant, revoked before it is ever used (so no cache holds it).
    let revoked = issue_first_token(app.db.storage(), &app.address, &app.tenant)
        .await
        .unwrap();
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    app.db
        .storage()
        .revoke_token(&tenant, &revoked.id, chrono::Utc::now())
        .unwrap();
    let credentials: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("basic scheme", Some("Basic YWRtaW46YWRtaW4=".to_owned())),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("garbage", Some("Bearer not-a-token".to_owned())),
        ("valid token plus a byte", Some(format!("Bearer {}x", app.token))),
        (
            "valid token truncated",
            Some(format!(
                "Bearer {}",
                app.token.get(..app.token.len() - 1).unwrap()
            )),
        ),
        (
            "token as a parameter",
            Some(format!("Bearer token={}", app.token)),
        ),
        // Shaped like an OAuth client-credentials access token (a JWT), but not signed by us.
        (
            "forged access token",
            Some(
                "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0ZW5hbnQiOiJhY21lIn0.c2lnbmF0dXJl".to_owned(),
            ),
        ),
        (
            "unsigned access token",
            Some("Bearer eyJhbGciOiJub25lIn0.eyJ0ZW5hbnQiOiJhY21lIn0.".to_owned()),
        ),
        (
            "revoked",
            Some(format!("Bearer {}", revoked.api_token.expose_secret())),
        ),
        ("another tenant's", Some(format!("Bearer {foreign}"))),
    ];
    let doc = openapi(&app).await;
    let mut operations: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .filter(|(_, path)| path.starts_with("/scim/v2/{tenant}"))
        .collect();
    // Methods a route does not declare are refused before the 405, too.
    operations.push(("DELETE".to_owned(), "/scim/v2/{tenant}/Users".to_owned()));
    operations.push(("PUT".to_owned(), "/scim/v2/{tenant}/Schemas".to_owned()));
    operations.push((
        "POST".to_owned(),
        "/scim/v2/{tenant}/ServiceProviderConfig".to_owned(),
    ));
    assert!(operations.len() >= 20, "{operations:?}");
    let mut reference: Option<Value> = None;
    let mut checked = 0;
    for (method, template) in &operations {
        // The test tenant's own URL, and the URL of a tenant that does not exist.
        for tenant in [app.tenant.as_str(), "initech"] {
            let path = concrete(template, tenant, &user, &group);
            for (label, header) in &credentials {
                let mut request = app.client.request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{path}", app.address),
                );
                if let Some(value) = header {
                    request = request.header("authorization", value);
                }
                if let Some(body) = body_for(method, template) {
                    request = request.header("content-type", SCIM_JSON).body(body.to_string());
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                assert_eq!(status, 401, "{method} {path} with {label}");
                assert_eq!(
                    response
                        .headers()
                        .get("www-authenticate")
                        .map(|v| v.to_str().unwrap()),
                    Some("Bearer"),
                    "{method} {path} with {label}"
                );
                assert!(response.headers().get("etag").is_none());
                assert!(response.headers().get("location").is_none());
                let body = json(response).await;
                // One identical body for every reason: nothing tells a revoked token from another
                // tenant's, or an existing tenant from a missing one.
                match &reference {
                    None => reference = Some(body),
                    Some(expected) => assert_eq!(&body, expected, "{method} {path} with {label}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(
        reference.unwrap(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "401",
            "detail": "A valid bearer token for this tenant is required."
        })
    );
    eprintln!("{checked} unauthenticated requests, all 401 with one body");
    // Nothing was written or changed by any of them.
    let users = json(app.get("/Users").await).await;
    assert_eq!(users["totalResults"], 1, "{users}");
    assert_eq!(users["Resources"][0]["userName"], "victim");
    assert!(users["Resources"][0].get("displayName").is_none(), "{users}");
    let groups = json(app.get("/Groups").await).await;
    assert_eq!(groups["totalResults"], 1, "{groups}");
    assert_eq!(groups["Resources"][0]["displayName"], "victims");
    // The revoked token stays refused even on its own tenant's endpoints, and the valid one still works.
    let response = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(revoked.api_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.get(&format!("/Users/{user}")).await.status(), 200);
}

async fn guessed_ids_of_another_tenant_are_not_found(app: TestApp) {
    let user = app.create_user("acme-user").await;
    let group = app.create_group("acme-group").await;
    let foreign = app.token_for("globex").await;
    let globex = |method: Method, path: &str| {
        app.client
            .request(method, format!("{}/scim/v2/globex{path}", app.address))
            .bearer_auth(&foreign)
            .header("content-type", SCIM_JSON)
    };
    for (kind, id) in [("Users", &user), ("Groups", &group)] {
        let path = format!("/{kind}/{id}");
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "path": "externalId", "value": "stolen"}]});
        let put = json!({"userName": "stolen", "displayName": "stolen"});
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(patch)),
            (Method::PUT, Some(put)),
            (Method::DELETE, None),
        ] {
            let mut request = globex(method.clone(), &path);
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{method} {path} from globex");
        }
        let listed = json(
            globex(Method::GET, &format!("/{kind}?filter=id%20eq%20%22{id}%22"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(listed["totalResults"], 0, "{listed}");
    }
    // globex cannot link acme's user into its own group, and cannot see it through .search.
    let response = globex(Method::POST, "/Groups")
        .body(json!({"displayName": "globex-group", "members": [{"value": user}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let searched = json(
        globex(Method::POST, "/.search")
            .body(json!({"filter": "userName pr or displayName pr"}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(searched["totalResults"], 0, "{searched}");
    // acme's data is untouched.
    let mine = json(app.get(&format!("/Users/{user}")).await).await;
    assert_eq!(mine["userName"], "acme-user");
    assert!(mine.get("externalId").is_none(), "{mine}");
    assert_eq!(app.get(&format!("/Groups/{group}")).await.status(), 200);
}

/// What a client can compare between two answers: the status, every header but the per-request `date`
/// and `x-request-id`, and the body bytes.
async fn answer_to(app: &TestApp, token: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let response = app
        .client
        .get(app.url("/Users"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// A token nobody issued and a valid token of another tenant get the same answer, byte for byte, whether
/// the server read the token from the database or from its cache, so the answer cannot tell "this token
/// is valid somewhere" from "this token is unknown". (How long each answer takes is measured with
/// `scim-load auth-timing`, see docs/security.md.)
async fn unknown_and_foreign_tokens_get_byte_identical_401_answers(app: TestApp) {
    let foreign = app.token_for("globex").await;
    let unknown = format!("scim_{}", "A".repeat(43));
    // Each token's first use is looked up in the database, its second answered from the token cache.
    let reference = answer_to(&app, &unknown).await;
    assert_eq!(reference.0, 401);
    assert!(
        reference
            .1
            .contains(&("www-authenticate".to_owned(), "Bearer".to_owned())),
        "{:?}",
        reference.1
    );
    for (label, token) in [
        ("another tenant's token", &foreign),
        ("the unknown token again", &unknown),
        ("another tenant's token again", &foreign),
    ] {
        assert_eq!(answer_to(&app, token).await, reference, "{label}");
    }
    // The other tenant's token is a valid one: it works on its own tenant.
    let own_tenant = app
        .client
        .get(format!("{}/scim/v2/globex/Users", app.address))
        .bearer_auth(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(own_tenant.status(), 200);
}

/// Probes the server for routes the document does not list: any path here that the server routes
/// (anything but the catch-all "no such endpoint" 404) must be in the document, with every method the
/// server accepts on it; and every documented operation must be routed.
#[actix_web::test]
async fn openapi_document_parses_and_lists_every_route() {
    let app = TestApp::spawn(storage::testing::TestDb::sqlite()).await;
    let user = app.create_user("probe").await;
    let group = app.create_group("probe").await;
    let doc = openapi(&app).await;
    assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    let documented = operations(&doc);
    // Every $ref points at a defined component.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/").skip(1) {
        let reference = piece.split('"').next().unwrap();
        let (section, name) = reference.split_once('/').unwrap();
        assert!(
            doc["components"][section].get(name).is_some(),
            "dangling $ref {reference}"
        );
    }
    let candidates = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/",
        "/scim",
        "/scim/v2",
        "/scim/v2/{tenant}",
        "/scim/v2/{tenant}/Users",
        "/scim/v2/{tenant}/Users/.search",
        "/scim/v2/{tenant}/Users/{id}",
        "/scim/v2/{tenant}/Users/{id}/extra",
        "/scim/v2/{tenant}/Groups",
        "/scim/v2/{tenant}/Groups/.search",
        "/scim/v2/{tenant}/Groups/{id}",
        "/scim/v2/{tenant}/.search",
        "/scim/v2/{tenant}/Bulk",
        "/scim/v2/{tenant}/Me",
        "/scim/v2/{tenant}/ServiceProviderConfig",
        "/scim/v2/{tenant}/ServiceProviderConfigs",
        "/scim/v2/{tenant}/ResourceTypes",
        "/scim/v2/{tenant}/ResourceTypes/{name}",
        "/scim/v2/{tenant}/Schemas",
        "/scim/v2/{tenant}/Schemas/{id}",
        "/scim/v2/{tenant}/Tokens",
        "/scim/v2/{tenant}/Events",
        "/scim/v2/Users",
        "/scim/v2/Schemas",
        "/admin",
        "/api/tenants",
        "/identity/api/identityprovider/scim",
    ];
    let mut routed = BTreeSet::new();
    for template in candidates {
        let path = concrete(template, &app.tenant, &user, &group);
        for method in METHODS {
            let method = method.to_uppercase();
            let mut request = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{path}", app.address),
                )
                .bearer_auth(&app.token);
            if let Some(body) = body_for(&method, template) {
                request = request.header("content-type", SCIM_JSON).body(body.to_string());
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let unrouted = status == 404 && body.contains("no such endpoint");
            let wrong_method = status == 405;
            if !unrouted && !wrong_method {
                // /Me answers 501 by design (RFC 7644 §3.11); nothing else may be a 5xx.
                let honest_501 = status == 501 && template.ends_with("/Me");
                assert!(status < 500 || honest_501, "{method} {path}: {status} {body}");
                routed.insert((method.clone(), template.to_owned()));
            }
            let listed = documented.contains(&(method.clone(), template.to_owned()));
            assert_eq!(
                listed,
                !unrouted && !wrong_method,
                "{method} {template}: status {status}, documented {listed}: {body}"
            );
        }
    }
    assert_eq!(routed, documented, "the document and the server disagree");
}

/// Runs the real binary on `database_url` with `RUST_LOG=debug`, exercises it with its token and with
/// bad ones, stops it with SIGTERM, and returns (token, everything it logged).
async fn run_binary_and_collect_logs(database_url: &str) -> (String, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-api"))
        .arg("--bootstrap-tenant")
        .arg("acme")
        .env("SCIM_DATABASE_URL", database_url)
        .env("SCIM_LISTEN", format!("127.0.0.1:{port}"))
        .env("SCIM_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .expect("scim-api binary starts");
    // stdout carries only the bootstrap JSON (pretty-printed).
    let stdout = child.stdout.take().unwrap();
    let issued: Value = tokio::task::spawn_blocking(move || {
        let mut stdout = BufReader::new(stdout);
        let mut printed = String::new();
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "no bootstrap JSON: {printed}"
            );
            printed.push_str(&line);
            if let Ok(value) = serde_json::from_str(&printed) {
                break value;
            }
        }
    })
    .await
    .unwrap();
    let token = issued["apiToken"].as_str().unwrap().to_owned();
    let base = issued["baseUrl"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "scim-api did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created: Value = client
        .post(format!("{base}/Users"))
        .bearer_auth(&token)
        .header("content-type", SCIM_JSON)
        .body(json!({"userName": "logged", "password": "hunter2-secret"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    for path in [
        format!("/Users/{id}"),
        "/Users?filter=userName%20eq%20%22logged%22".to_owned(),
        "/Groups".to_owned(),
        "/Nope".to_owned(),
    ] {
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500);
    }
    // Refused tokens must not be logged either: a near-miss of the real one and another shape.
    for bad in [
        format!("{token}x"),
        "scim_guessedguessedguessedguessedguessedguessedgue".to_owned(),
    ] {
        let response = client
            .get(format!("{base}/Users"))
            .bearer_auth(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("scim-api did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = std::fs::read_to_string(&log_path).unwrap();
    (token, logs)
}

/// The secret parts of a token that must never appear: the whole token, and the part after the
/// 10-character display prefix that listings show.
fn secret_parts(token: &str) -> Vec<String> {
    vec![token.to_owned(), token.get(10..).unwrap().to_owned()]
}

fn assert_logs_clean(token: &str, logs: &str) {
    assert!(
        logs.lines().count() > 10,
        "debug logging produced too little: {logs}"
    );
    assert!(logs.contains("request completed"), "request logs missing: {logs}");
    for secret in secret_parts(token) {
        assert!(!logs.contains(&secret), "token in the logs");
    }
    let lower = logs.to_ascii_lowercase();
    assert!(
        !lower.contains("authorization"),
        "Authorization header in the logs"
    );
    assert!(!lower.contains("bearer scim_"), "bearer credential in the logs");
    assert!(!logs.contains("hunter2-secret"), "password in the logs");
}

#[actix_web::test]
async fn tokens_are_never_stored_or_logged_in_clear_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scim.db").display());
    let (token, logs) = run_binary_and_collect_logs(&url).await;
    assert_logs_clean(&token, &logs);
    // Every byte of every database file (main file, WAL, shared memory): stronger than a table dump,
    // since it includes free pages and not yet checkpointed writes.
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in secret_parts(&token) {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "token in a database file"
            );
        }
        files += 1;
    }
    assert!(files >= 1);
}

#[actix_web::test]
async fn tokens_are_never_stored_or_logged_in_clear_postgres() {
    let Some(db) = storage::testing::TestDb::postgres() else {
        return;
    };
    let (token, logs) = run_binary_and_collect_logs(db.url()).await;
    assert_logs_clean(&token, &logs);
    // A data dump of every table in the test schema.
    let schema = db.url().rsplit("search_path%3D").next().unwrap().to_owned();
    let admin = std::env::var("SCIM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| storage::testing::DEFAULT_POSTGRES_URL.to_owned());
    let dump = std::process::Command::new("pg_dump")
        .args(["--data-only", "--inserts", "--schema", &schema, &admin])
        .output();
    let Ok(dump) = dump else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "pg_dump missing");
        eprintln!("*** pg_dump not installed: PostgreSQL table dump skipped ***");
        return;
    };
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains("INSERT INTO"), "the dump holds the rows: {text}");
    assert!(text.contains("scim_tokens") || text.contains("tokens"), "{text}");
    for secret in secret_parts(&token) {
        assert!(!text.contains(&secret), "token in a PostgreSQL table");
    }
}
