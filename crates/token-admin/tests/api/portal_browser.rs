//! The setup portal in a real browser: headless Chromium (Debian's `chromium`, driven through its
//! `chromedriver` over WebDriver; nothing is downloaded) against a `token-admin serve` process with the
//! portal on its own listener and scim-api serving SCIM over HTTP, on SQLite and PostgreSQL.
//!
//! The walk-through is what a customer's admin does: open the setup link → generate a token → Entra's
//! Test Connection with it succeeds and the page shows it → regenerate (confirm) → the old token gets 401
//! → revoke. Around it: the link cannot be reused, tenant A's session cannot see or change tenant B, a
//! forged form post without the CSRF token is refused, the operator view lists the tenants, and no token
//! or link code reaches token-admin's log. Screenshots go to `$CARGO_TARGET_TMPDIR/portal-screenshots/`
//! (the PNGs in `docs/portal/` come from there).
//!
//! Without `chromium` and `chromedriver` the test says so and passes, unless `CI=true`.

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use service::Settings;
use storage::testing::TestDb;

use crate::helpers::{AUDIENCE, ISSUER, OPERATOR_SECRET, ServerThread, on_each_backend};

/// Generous bound for things that happen in the background (a request log flush, a token cache expiry):
/// the test waits for the event, this only stops a broken build from hanging.
const EVENTUALLY: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process killed when the test ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until_up(url: &str) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if client.get(url).send().await.is_ok() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{url} never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `token-admin` with the test database and the given settings, one command.
fn token_admin(db: &TestDb, env: &[(&str, String)], args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_token-admin"))
        .args(args)
        .env_clear()
        .env("SCIM_DATABASE_URL", db.url())
        .env("SCIM_LOG_FORMAT", "json")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("token-admin runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value")
}

/// The servers of one walk-through.
struct Stack {
    scim: String,
    portal: String,
    env: Vec<(&'static str, String)>,
    log: PathBuf,
    _token_admin: Process,
    _scim_api: ServerThread,
    _dir: tempfile::TempDir,
}

async fn start_stack(db: &TestDb) -> Stack {
    let settings = Settings {
        database_url: secrecy::SecretString::from(db.url().to_owned()),
        listen: "127.0.0.1:0".to_owned(),
        shutdown_timeout_seconds: 1,
        ..Settings::default()
    };
    let (scim_port, scim_api) = ServerThread::spawn(move || {
        Box::pin(async move {
            let app = scim_api::Application::build(&settings)
                .await
                .expect("scim-api builds");
            let (port, handle) = (app.port(), app.server_handle());
            let serve: Pin<Box<dyn Future<Output = ()>>> =
                Box::pin(async move { app.run_until_stopped().await.expect("scim-api runs") });
            (port, handle, serve)
        })
    });
    let scim = format!("http://127.0.0.1:{scim_port}");
    let (admin_port, portal_port) = (free_port(), free_port());
    let portal = format!("http://127.0.0.1:{portal_port}");
    let env = vec![
        ("SCIM_PUBLIC_URL", scim.clone()),
        ("SCIM_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}")),
        ("SCIM_PORTAL_LISTEN", format!("127.0.0.1:{portal_port}")),
        ("SCIM_ADMIN_JWT_HS256_SECRET", OPERATOR_SECRET.to_owned()),
        ("SCIM_ADMIN_JWT_ISSUER", ISSUER.to_owned()),
        ("SCIM_ADMIN_JWT_AUDIENCE", AUDIENCE.to_owned()),
        ("SCIM_WEBHOOK_WORKER", "false".to_owned()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("token-admin.log");
    let child = Command::new(env!("CARGO_BIN_EXE_token-admin"))
        .arg("serve")
        .env_clear()
        .env("SCIM_DATABASE_URL", db.url())
        .env("SCIM_LOG_FORMAT", "json")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("token-admin serve starts");
    let mut token_admin = Process(child);
    let exited = token_admin.0.try_wait().unwrap();
    assert!(
        exited.is_none(),
        "token-admin serve exited ({exited:?}): {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    wait_until_up(&format!("{portal}/healthz")).await;
    Stack {
        scim,
        portal,
        env,
        log,
        _token_admin: token_admin,
        _scim_api: scim_api,
        _dir: dir,
    }
}

/// A headless Chromium session through a chromedriver of its own.
async fn browser() -> (Client, Process) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Process(driver);
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{url}/status")).await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1280,1000", "--hide-scrollbars"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&url)
        .await
        .expect("a WebDriver session");
    (client, driver)
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a full-page screenshot named `<backend>-<name>.png`.
async fn screenshot(client: &Client, backend: &str, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(screenshot_dir().join(format!("{backend}-{name}.png")), png).unwrap();
}

/// Sizes the window to the page's height (so screenshots show the whole page) at `width`.
async fn fit_window(client: &Client, width: u32) {
    client.set_window_size(width, 900).await.unwrap();
    let height = client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(900);
    client
        .set_window_size(width, u32::try_from(height.min(6000)).unwrap() + 10)
        .await
        .unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn value_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn click_button(client: &Client, label: &str) {
    client
        .find(Locator::XPath(&format!("//button[normalize-space()='{label}']")))
        .await
        .map_err(|e| format!("no button {label:?}: {e}"))
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the page the last click loads to have `css`.
async fn wait_for(client: &Client, css: &str) {
    client
        .wait()
        .at_most(EVENTUALLY)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("{css} never appeared: {e}"))
        .unwrap();
}

/// Entra's Test Connection: a filtered GET for a user that does not exist. Returns the status.
async fn test_connection(tenant_url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .query(&[("filter", "userName eq \"3b241101-e2bb-4255-8caf-4136c566a962\"")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until `token` gets `status` from scim-api (a revocation reaches it within its token cache).
async fn until_status(tenant_url: &str, token: &str, status: u16) {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    while test_connection(tenant_url, token).await != status {
        assert!(tokio::time::Instant::now() < deadline, "never got {status}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Reloads `url` until `css`'s text contains `text` (the request log is written once a second).
async fn until_page_shows(client: &Client, url: &str, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        client.goto(url).await.unwrap();
        if text_of(client, css).await.contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never showed {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn an_admin_sets_up_provisioning_in_the_browser() {
    if !(installed("chromium") && installed("chromedriver")) {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true but chromium/chromedriver are not installed (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: the portal browser test needs Debian's chromium and chromium-driver packages \
             (apt-get install chromium chromium-driver)"
        );
        return;
    }
    on_each_backend(|db| async move { walk_through(db).await }).await;
}

async fn walk_through(db: TestDb) {
    let backend = db.backend().as_str();
    let stack = start_stack(&db).await;
    let env = &stack.env;
    token_admin(
        &db,
        env,
        &["tenants", "create", "acme", "--display-name", "Acme Corporation"],
    );
    token_admin(
        &db,
        env,
        &["tenants", "create", "globex", "--display-name", "Globex"],
    );
    let link = token_admin(&db, env, &["portal-link", "acme", "--expires-in", "1h"]);
    let link_url = link["url"].as_str().unwrap().to_owned();
    assert!(
        link_url.starts_with(&format!("{}/portal/start?code=", stack.portal)),
        "{link}"
    );
    let tenant_url = format!("{}/scim/v2/acme", stack.scim);
    let page_url = format!("{}/portal/t/acme", stack.portal);

    let (client, _driver) = browser().await;

    // Open the setup link: signed in, and the address bar no longer holds the code.
    client.goto(&link_url).await.unwrap();
    wait_for(&client, "[data-testid=tenant-url]").await;
    assert_eq!(client.current_url().await.unwrap().as_str(), page_url);
    assert_eq!(value_of(&client, "[data-testid=tenant-url]").await, tenant_url);
    assert!(
        text_of(&client, "[data-testid=connection-status]")
            .await
            .contains("Not seen yet")
    );
    fit_window(&client, 1280).await;
    screenshot(&client, backend, "1-tenant-new").await;
    // The copy button (the one script) answers.
    client
        .find(Locator::Css("button[data-copy=tenant-url]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, "button[data-copy=tenant-url].copied").await;

    // Generate: the token is on the page once, and works on scim-api.
    click_button(&client, "Generate token").await;
    wait_for(&client, "[data-testid=new-token]").await;
    let first = value_of(&client, "[data-testid=new-token]").await;
    assert!(first.starts_with("scim_"), "{first}");
    fit_window(&client, 1280).await;
    screenshot(&client, backend, "2-token-generated").await;
    assert_eq!(test_connection(&tenant_url, &first).await, 200);
    // A request the IdP gets wrong: its SCIM error shows on the page.
    let refused = reqwest::Client::new()
        .get(format!("{tenant_url}/Users"))
        .query(&[("filter", "nickName zz \"x\"")])
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    until_page_shows(&client, &page_url, "[data-testid=connection-status]", "Succeeded").await;
    until_page_shows(
        &client,
        &page_url,
        "[data-testid=recent-requests]",
        "invalidFilter",
    )
    .await;
    assert!(
        !client.source().await.unwrap().contains(&first),
        "the token is shown only once"
    );
    fit_window(&client, 1280).await;
    screenshot(&client, backend, "3-connected").await;
    client.set_window_size(390, 900).await.unwrap();
    fit_window(&client, 390).await;
    screenshot(&client, backend, "4-phone").await;
    client.set_window_size(1280, 1000).await.unwrap();

    // Regenerate, confirming the browser's dialog: a new token, and the old one stops working.
    click_button(&client, "Regenerate token").await;
    let prompt = client.get_alert_text().await.unwrap();
    assert!(prompt.contains("stops working"), "{prompt}");
    client.accept_alert().await.unwrap();
    wait_for(&client, "[data-testid=new-token]").await;
    let second = value_of(&client, "[data-testid=new-token]").await;
    assert_ne!(second, first);
    assert!(
        text_of(&client, ".alert-success")
            .await
            .contains("previous token has stopped working")
    );
    until_status(&tenant_url, &first, 401).await;
    assert_eq!(test_connection(&tenant_url, &second).await, 200);

    // Tenant A's session cannot see or change tenant B.
    let cookie = client.get_named_cookie("scim_portal").await.unwrap();
    let cookie = format!("scim_portal={}", cookie.value());
    let csrf = client
        .find(Locator::Css("input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    client
        .goto(&format!("{}/portal/t/globex", stack.portal))
        .await
        .unwrap();
    assert_eq!(text_of(&client, "h1").await, "Not found");
    assert!(!client.source().await.unwrap().contains("scim/v2/globex"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let forged = http
        .post(format!("{}/portal/t/globex/tokens", stack.portal))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let globex_tokens = token_admin(&db, env, &["tokens", "list", "globex"]);
    assert_eq!(globex_tokens, json!([]));
    // A forged post without the CSRF token (another site's form) is refused and changes nothing.
    let forged = http
        .post(format!("{}/portal/t/acme/tokens", stack.portal))
        .header("cookie", &cookie)
        .form(&[("confirmed", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let acme_tokens = token_admin(&db, env, &["tokens", "list", "acme"]);
    assert_eq!(acme_tokens.as_array().unwrap().len(), 2, "{acme_tokens}");
    assert_eq!(test_connection(&tenant_url, &second).await, 200);

    // Revoke the current token from the list.
    client.goto(&page_url).await.unwrap();
    click_button(&client, "Revoke").await;
    client.accept_alert().await.unwrap();
    wait_for(&client, ".alert-info").await;
    assert!(text_of(&client, ".alert-info").await.contains("revoked"));
    assert!(
        text_of(&client, "[data-testid=token-list]")
            .await
            .contains("Revoked")
    );
    // With no working token the IdP cannot provision, whatever it did before.
    assert!(
        text_of(&client, "[data-testid=connection-status]")
            .await
            .contains("No working token")
    );
    until_status(&tenant_url, &second, 401).await;
    fit_window(&client, 1280).await;
    screenshot(&client, backend, "5-revoked").await;

    // The setup link cannot be used again, even by the same browser.
    client.delete_all_cookies().await.unwrap();
    client.goto(&link_url).await.unwrap();
    assert_eq!(text_of(&client, "h1").await, "This link cannot be used");
    client.goto(&page_url).await.unwrap();
    assert_eq!(text_of(&client, "h1").await, "Open your setup link");

    // The operator view lists every tenant with its connection status.
    let operator = token_admin(&db, env, &["portal-link", "--operator"]);
    client.goto(operator["url"].as_str().unwrap()).await.unwrap();
    wait_for(&client, "[data-testid=tenant-list]").await;
    let list = text_of(&client, "[data-testid=tenant-list]").await;
    assert!(
        list.contains("Acme Corporation") && list.contains("Globex"),
        "{list}"
    );
    fit_window(&client, 1280).await;
    screenshot(&client, backend, "6-operator").await;
    client
        .find(Locator::LinkText("Acme Corporation"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&client, "[data-testid=tenant-url]").await;
    assert!(
        text_of(&client, "[data-testid=recent-requests]")
            .await
            .contains("invalidFilter")
    );
    client.close().await.unwrap();

    // Neither token nor either link's code reached token-admin's log.
    let log = std::fs::read_to_string(&stack.log).unwrap();
    for secret in [
        first.as_str(),
        second.as_str(),
        link_url.split("code=").nth(1).unwrap(),
        operator["url"].as_str().unwrap().split("code=").nth(1).unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret in token-admin's log");
    }
    assert!(log.contains("portal link opened"), "{log}");
}
