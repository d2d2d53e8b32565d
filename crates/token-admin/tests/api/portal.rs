//! Setup-portal links over HTTP: the admin API that makes them (who may, what they answer), and what
//! opening one does (a one-time exchange for a strict session cookie, security headers, CSRF, tenant
//! isolation). The browser walk-through is in `portal_browser.rs`.

use reqwest::header;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use service::Settings;
use token_admin::Options;

use crate::helpers::*;

const PORTAL_URL: &str = "https://portal.example.test";

fn portal_settings(db_url: &str) -> Settings {
    Settings {
        portal_public_url: Some(PORTAL_URL.to_owned()),
        ..settings(db_url)
    }
}

async fn spawn(db: storage::testing::TestDb) -> TestApp {
    let settings = portal_settings(db.url());
    TestApp::spawn_with(db, settings, Options::default()).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The link's path and query, to open on the test server.
fn local(app: &TestApp, link: &Value) -> String {
    let url = link["url"].as_str().unwrap();
    app.url(url.strip_prefix(PORTAL_URL).unwrap())
}

/// Opens a link and returns the answer's status and the session cookie it set.
async fn open(app: &TestApp, link: &Value) -> (u16, Option<String>) {
    let response = no_redirects().get(local(app, link)).send().await.unwrap();
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), cookie)
}

fn session_cookie(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = no_redirects()
        .get(app.url(path))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = no_redirects()
        .post(app.url(path))
        .header(header::COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The CSRF token in a rendered page's forms.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html.get(start..start + 64).unwrap().to_owned()
}

#[tokio::test]
async fn operators_make_setup_links_for_their_tenants() {
    on_each_backend(|db| async move {
        let app = spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let path = "/admin/v1/tenants/acme/portal-links";

        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(admin_token())
            .json(&json!({"expiresIn": "1h"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let link: Value = response.json().await.unwrap();
        let url = link["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{PORTAL_URL}/portal/start?code=")),
            "{link}"
        );
        assert_eq!(
            (link["scope"].as_str(), link["tenant"].as_str()),
            (Some("tenant"), Some("acme"))
        );
        let expires: chrono::DateTime<chrono::Utc> = link["expiresAt"].as_str().unwrap().parse().unwrap();
        let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
        assert!((expires - in_an_hour).num_seconds().abs() < 60, "{link}");

        // Without a body: the default lifetime (a day).
        let (status, link) = app.post(path, &admin_token(), json!({})).await;
        assert_eq!(status, 201, "{link}");
        let expires: chrono::DateTime<chrono::Utc> = link["expiresAt"].as_str().unwrap().parse().unwrap();
        assert!(
            expires > chrono::Utc::now() + chrono::Duration::hours(23),
            "{link}"
        );

        // A tenant's operator for its own tenant only; bad bodies and unknown tenants refused.
        let (status, _) = app
            .post(path, &tenant_operator_token("bob", "acme"), json!({}))
            .await;
        assert_eq!(status, 201);
        let (status, body) = app
            .post(
                "/admin/v1/tenants/globex/portal-links",
                &tenant_operator_token("bob", "acme"),
                json!({}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        for bad in [
            json!({"expiresIn": "8d"}),
            json!({"expiresIn": 0}),
            json!({"ttl": 5}),
        ] {
            let (status, body) = app.post(path, &admin_token(), bad.clone()).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        let (status, _) = app
            .post("/admin/v1/tenants/nobody/portal-links", &admin_token(), json!({}))
            .await;
        assert_eq!(status, 404);
        let (status, _) = app.post(path, &forged_admin_token(), json!({})).await;
        assert_eq!(status, 401);

        // Operator scope: admins only.
        let (status, body) = app
            .post(
                "/admin/v1/portal-links",
                &tenant_operator_token("bob", "acme"),
                json!({}),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        let (status, link) = app
            .post("/admin/v1/portal-links", &admin_token(), json!({}))
            .await;
        assert_eq!(status, 201, "{link}");
        assert_eq!(link["scope"], "operator");
        assert!(link.get("tenant").is_none());

        // Only the code's hash is stored, and link creation is audited.
        let code = url.split("code=").nth(1).unwrap();
        let audit = app.storage().list_admin_audit(None, 20).unwrap();
        assert!(audit.iter().any(|e| e.action == "portal_link.create"));
        assert!(!format!("{audit:?}").contains(code));
    })
    .await;
}

#[tokio::test]
async fn a_setup_link_opens_one_strict_session_once() {
    on_each_backend(|db| async move {
        let app = spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (_, link) = app
            .post("/admin/v1/tenants/acme/portal-links", &admin_token(), json!({}))
            .await;

        let (status, set_cookie) = open(&app, &link).await;
        assert_eq!(status, 200);
        let set_cookie = set_cookie.expect("a session cookie");
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/portal/"] {
            assert!(set_cookie.contains(part), "{set_cookie}");
        }
        // The link works once.
        let (status, again) = open(&app, &link).await;
        assert_eq!((status, again), (404, None));

        let cookie = session_cookie(&set_cookie);
        let response = no_redirects()
            .get(app.url("/portal/"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()[header::LOCATION], "/portal/t/acme");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");

        let (status, html) = page(&app, &cookie, "/portal/t/acme").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("https://scim.example.test/scim/v2/acme"),
            "the Tenant URL"
        );
        let csrf = csrf_of(&html);

        // Another tenant's page and forms: as if it did not exist.
        let (status, html) = page(&app, &cookie, "/portal/t/globex").await;
        assert_eq!(status, 404);
        assert!(!html.contains("scim/v2/globex"));
        let (status, _) = post_form(
            &app,
            &cookie,
            "/portal/t/globex/tokens",
            &[("csrf", &csrf), ("confirmed", "yes")],
        )
        .await;
        assert_eq!(status, 404);
        let globex = scim_core::TenantId::parse("globex").unwrap();
        assert!(app.storage().list_tokens(&globex).unwrap().is_empty());

        // A form without the CSRF token, or with another one, does nothing.
        let acme = scim_core::TenantId::parse("acme").unwrap();
        let zeros = "0".repeat(64);
        for form in [
            vec![("confirmed", "yes")],
            vec![("csrf", zeros.as_str()), ("confirmed", "yes")],
        ] {
            let (status, html) = post_form(&app, &cookie, "/portal/t/acme/tokens", &form).await;
            assert_eq!(status, 403, "{html}");
        }
        assert!(app.storage().list_tokens(&acme).unwrap().is_empty());

        // With it: a token, shown once in the answer, never stored in the clear.
        let (status, html) = post_form(
            &app,
            &cookie,
            "/portal/t/acme/tokens",
            &[("csrf", &csrf), ("confirmed", "yes")],
        )
        .await;
        assert_eq!(status, 200);
        let marker = "data-testid=\"new-token\"";
        assert!(html.contains(marker), "{html}");
        let tokens = app.storage().list_tokens(&acme).unwrap();
        assert_eq!(tokens.len(), 1);
        let (_, html) = page(&app, &cookie, "/portal/t/acme").await;
        assert!(!html.contains(marker), "the token is shown once");

        // Replacing a working token without the script's confirmation: a page asks first, nothing changes.
        let (status, html) = post_form(
            &app,
            &cookie,
            "/portal/t/acme/tokens",
            &[("csrf", &csrf), ("confirmed", "")],
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            html.contains(">Confirm</button>") && html.contains("stops working"),
            "{html}"
        );
        assert!(!html.contains(marker));
        assert_eq!(app.storage().list_tokens(&acme).unwrap().len(), 1);

        // No session: a page saying how to get one.
        let (status, _) = page(&app, "scim_portal=forged", "/portal/t/acme").await;
        assert_eq!(status, 401);
        // Signing out ends the session server-side.
        let (status, _) = post_form(&app, &cookie, "/portal/logout", &[("csrf", &csrf)]).await;
        assert_eq!(status, 200);
        let (status, _) = page(&app, &cookie, "/portal/t/acme").await;
        assert_eq!(status, 401);
    })
    .await;
}

#[tokio::test]
async fn framing_follows_portal_frame_ancestors_and_assets_are_embedded() {
    let db = storage::testing::TestDb::sqlite();
    let settings = Settings {
        portal_frame_ancestors: "https://app.vendor.example".to_owned(),
        ..portal_settings(db.url())
    };
    let app = TestApp::spawn_with(db, settings, Options::default()).await;
    let response = no_redirects().get(app.url("/portal/")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors https://app.vendor.example"),
        "{csp}"
    );
    assert!(response.headers().get(header::X_FRAME_OPTIONS).is_none());
    let html = response.text().await.unwrap();
    for (ext, kind) in [(".css", "text/css"), (".js", "text/javascript")] {
        let end = html.find(ext).unwrap() + ext.len();
        let start = html.get(..end).unwrap().rfind("/portal/assets/").unwrap();
        let response = no_redirects()
            .get(app.url(html.get(start..end).unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            response.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
    // A wrong code and a missing one look the same.
    for path in ["/portal/start?code=nope", "/portal/start"] {
        let response = no_redirects().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn exchanging_codes_is_rate_limited_per_client() {
    let db = storage::testing::TestDb::sqlite();
    let app = spawn(db).await;
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let response = no_redirects()
            .get(app.url("/portal/start?code=guess"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(
        statuses.contains(&404) && statuses.ends_with(&[429]),
        "{statuses:?}"
    );
}
