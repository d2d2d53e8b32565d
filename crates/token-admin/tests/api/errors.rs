//! Every error answer of the admin API is `{"error", "detail"}`, also when actix-web refuses the request
//! before a handler runs (a method the route does not serve, a body over the limit, no route at all, a
//! request target its URI parser refuses), and JSON bodies are read the same way on every route, with or
//! without a `Content-Type`.

use reqwest::Method;
use serde_json::{Value, json};
use service::testing::RawHttp;

use crate::helpers::{TestApp, admin_token, on_each_backend};

/// Sends `method path` as the admin, with `body` and `content_type` as given; returns status, `Allow`
/// and the JSON body.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> (u16, Option<String>, Value) {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(admin_token())
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).map_err(|e| format!("{status}: not JSON ({e}): {text:?}"));
    (status, allow, body.unwrap())
}

#[tokio::test]
async fn unserved_methods_are_405_with_allow_and_a_json_body() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let cases = [
            (Method::DELETE, "/admin/v1/tenants", "POST, GET"),
            (Method::PUT, "/admin/v1/tenants/acme", "GET, PATCH, DELETE"),
            (Method::PATCH, "/admin/v1/tenants/acme/tokens", "POST, GET"),
            (Method::GET, "/admin/v1/tenants/acme/tokens/some-id", "DELETE"),
            (Method::PUT, "/admin/v1/tenants/acme/oauth-clients", "POST, GET"),
            (Method::GET, "/identity/api/identityprovider/scim", "PUT"),
            (Method::GET, "/oauth2/token", "POST"),
            (Method::POST, "/healthz", "GET"),
            (Method::POST, "/readyz", "GET"),
            (Method::DELETE, "/metrics", "GET"),
        ];
        for (method, path, allow) in cases {
            let (status, got_allow, body) = send_raw(&app, method.clone(), path, None, String::new()).await;
            assert_eq!(status, 405, "{method} {path}: {body}");
            assert_eq!(got_allow.as_deref(), Some(allow), "{method} {path}");
            assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
            assert!(
                body["detail"].as_str().unwrap().contains(method.as_str()),
                "{method} {path}: {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn unmatched_paths_and_oversized_bodies_get_json_errors() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        for path in ["/", "/nope", "/admin/v1", "/admin/v1/tenants/acme/nope"] {
            let (status, _, body) = send_raw(&app, Method::GET, path, None, String::new()).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (404, Some("not_found")),
                "{path}"
            );
        }
        let oversized = json!({"id": "big", "displayName": "x".repeat(300 * 1024)}).to_string();
        for path in ["/admin/v1/tenants", "/admin/v1/tenants/acme/tokens"] {
            let (status, _, body) = send_raw(
                &app,
                Method::POST,
                path,
                Some("application/json"),
                oversized.clone(),
            )
            .await;
            assert_eq!(status, 413, "{path}: {body}");
            assert_eq!(body["error"], "payload_too_large", "{path}");
            assert!(body["detail"].is_string(), "{body}");
        }
    })
    .await;
}

#[tokio::test]
async fn json_bodies_are_read_with_or_without_a_content_type() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        // None (curl --data-binary without -H), the form type `curl -d` sends, and JSON.
        for (slug, content_type) in [
            ("no-type", None),
            ("form-type", Some("application/x-www-form-urlencoded")),
            ("json-type", Some("application/json")),
        ] {
            let body = json!({"id": slug}).to_string();
            let (status, _, created) =
                send_raw(&app, Method::POST, "/admin/v1/tenants", content_type, body).await;
            assert_eq!(status, 201, "{content_type:?}: {created}");
            let path = format!("/admin/v1/tenants/{slug}");
            let patch = json!({"displayName": "Renamed"}).to_string();
            let (status, _, patched) = send_raw(&app, Method::PATCH, &path, content_type, patch).await;
            assert_eq!(status, 200, "{content_type:?}: {patched}");
            assert_eq!(patched["displayName"], "Renamed");
            let tokens = format!("{path}/tokens");
            let (status, _, issued) =
                send_raw(&app, Method::POST, &tokens, content_type, "{}".to_owned()).await;
            assert_eq!(status, 201, "{content_type:?}: {issued}");
        }
        for (body, what) in [("", "a JSON body is required"), ("{\"id\":", "invalid JSON body")] {
            let (status, _, refused) =
                send_raw(&app, Method::POST, "/admin/v1/tenants", None, body.to_owned()).await;
            assert_eq!(
                (status, refused["error"].as_str()),
                (400, Some("invalid_request"))
            );
            assert!(refused["detail"].as_str().unwrap().contains(what), "{refused}");
        }
    })
    .await;
}

#[tokio::test]
async fn raw_request_targets_reach_the_routes_or_get_a_json_400() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let token = admin_token();
        let get = |target: &[u8]| {
            let rest = format!(" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
            [b"GET ".as_slice(), target, rest.as_bytes()].concat()
        };
        // Pipelined on one connection: unencoded quotes and angle brackets, which the HTTP layer's
        // URI parser refuses and the server percent-encodes; a target over its 64 KiB limit, which no
        // encoding makes valid; then a plain request.
        let requests = [
            get(b"/admin/v1/tenants/acme?note=\"raw\""),
            get(b"/admin/v1/tenants/<acme>"),
            get(format!("/admin/v1/tenants?x={}", "a".repeat(70_000)).as_bytes()),
            get(b"/admin/v1/tenants/acme"),
        ]
        .concat();
        let address = app.address.clone();
        let answers = tokio::task::spawn_blocking(move || {
            let mut connection = RawHttp::connect(&address);
            connection.send(&requests);
            (0..4).map(|_| connection.answer()).collect::<Vec<_>>()
        })
        .await
        .unwrap();
        for found in [&answers[0], &answers[3]] {
            assert_eq!(
                (found.status, found.json()["id"].as_str()),
                (200, Some("acme")),
                "{}",
                found.body
            );
        }
        let refused = answers[1].json();
        assert!((400..500).contains(&answers[1].status), "{refused}");
        assert!(refused["error"].is_string(), "{refused}");
        let unrepairable = answers[2].json();
        assert_eq!(
            (answers[2].status, unrepairable["error"].as_str()),
            (400, Some("invalid_request")),
            "{unrepairable}"
        );
        assert!(
            unrepairable["detail"]
                .as_str()
                .unwrap()
                .starts_with("the request target is not a valid URI"),
            "{unrepairable}"
        );
    })
    .await;
}
