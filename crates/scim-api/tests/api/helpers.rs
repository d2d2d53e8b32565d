//! `TestApp`: the real scim-api on 127.0.0.1:0 over a real database, and a reqwest client for it.

use scim_api::Application;
use scim_api::bootstrap::issue_first_token;
use serde_json::Value;
use service::Settings;
use storage::testing::TestDb;

pub const SCIM_JSON: &str = "application/scim+json";

pub struct TestApp {
    pub db: TestDb,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub tenant: String,
    pub token: String,
    pub token_id: String,
    pub client: reqwest::Client,
}

/// Settings for tests: ephemeral port, everything else default unless a test changes it.
pub fn test_settings() -> Settings {
    Settings {
        listen: "127.0.0.1:0".to_owned(),
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, test_settings()).await
    }

    pub async fn spawn_with(db: TestDb, settings: Settings) -> TestApp {
        let storage = db.storage().clone();
        Self::spawn_on(db, settings, storage).await
    }

    /// Like [`TestApp::spawn_with`], serving through `storage` (e.g. a pool opened with other connection
    /// settings) over `db`'s database.
    pub async fn spawn_on(db: TestDb, settings: Settings, storage: storage::Storage) -> TestApp {
        service::telemetry::init_for_tests();
        let app = Application::build_with(&settings, storage, service::Clock::system()).expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let issued = issue_first_token(db.storage(), &address, "acme")
            .await
            .expect("tenant and token");
        TestApp {
            db,
            address,
            tenant: "acme".to_owned(),
            token: issued.api_token.expose_secret().to_owned(),
            token_id: issued.id,
            client: reqwest::Client::new(),
        }
    }

    /// Issues a token for another tenant (created if missing).
    pub async fn token_for(&self, tenant: &str) -> String {
        issue_first_token(self.db.storage(), &self.address, tenant)
            .await
            .expect("token")
            .api_token
            .expose_secret()
            .to_owned()
    }

    /// Replaces the tenant's policy and waits out the policy cache, so the next request sees it.
    pub async fn set_policy(&self, policy: &Value) {
        let tenant = scim_core::TenantId::parse(&self.tenant).expect("tenant slug");
        self.db
            .storage()
            .update_tenant(&tenant, None, Some(policy))
            .expect("policy stored");
        tokio::time::sleep(scim_api::state::CACHE_TTL).await;
    }

    /// Polls `GET <url>` with `bearer` until it answers 401, failing if that takes longer than the cache
    /// window in which a revoked credential may still be accepted.
    pub async fn wait_until_refused(&self, url: &str, bearer: &str, what: &str) {
        let deadline =
            std::time::Instant::now() + scim_api::state::CACHE_TTL + std::time::Duration::from_secs(2);
        loop {
            let response = self
                .client
                .get(url)
                .bearer_auth(bearer)
                .send()
                .await
                .expect("request sent");
            if response.status() == 401 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what} is still accepted");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// `http://127.0.0.1:<port>/scim/v2/acme<path>`
    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2/{}{path}", self.address, self.tenant)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    /// GETs `path` up to `attempts` times, `pause` apart, until it answers `status`: that answer, or `None`.
    pub async fn get_until(
        &self,
        path: &str,
        status: u16,
        attempts: usize,
        pause: std::time::Duration,
    ) -> Option<reqwest::Response> {
        for _ in 0..attempts {
            let response = self.get(path).await;
            if response.status() == status {
                return Some(response);
            }
            tokio::time::sleep(pause).await;
        }
        None
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value) -> reqwest::Response {
        self.request(method, path)
            .header("content-type", SCIM_JSON)
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PATCH, path, body).await
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, path)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let response = self
            .post("/Users", &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}))
            .await;
        assert_eq!(response.status(), 201, "creating {user_name}");
        json(response).await["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, display_name: &str) -> String {
        let response = self
            .post("/Groups", &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": display_name}))
            .await;
        assert_eq!(response.status(), 201, "creating {display_name}");
        json(response).await["id"].as_str().expect("id").to_owned()
    }
}

/// The response body as JSON, after checking the SCIM media type.
pub async fn json(response: reqwest::Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(
        content_type.as_deref(),
        Some(SCIM_JSON),
        "status {status}, body {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts a SCIM Error body with this status (and scimType, if given).
pub async fn assert_scim_error(response: reqwest::Response, status: u16, scim_type: Option<&str>) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body = json(response).await;
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    if let Some(expected) = scim_type {
        assert_eq!(body["scimType"], expected, "{body}");
    }
    body
}

/// Runs one async test body against SQLite and PostgreSQL: `on_both_backends!(name);` expects an
/// `async fn name(app: TestApp)` in scope and generates `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn(storage::testing::TestDb::sqlite()).await;
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(db) = storage::testing::TestDb::postgres() {
                        let app = $crate::helpers::TestApp::spawn(db).await;
                        super::$name(app).await;
                    }
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;
