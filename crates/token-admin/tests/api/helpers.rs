//! The test harness: a real token-admin on `127.0.0.1:0` over a fresh database (SQLite temp file, or a
//! PostgreSQL schema when a server is reachable), driven with reqwest, plus operator-JWT minting.

use std::future::Future;
use std::pin::Pin;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;

use chrono::Utc;
use diesel::{Connection as _, QueryableByName, RunQueryDsl as _};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{Value, json};
use service::Settings;
use storage::testing::TestDb;
use storage::{Backend, Storage};
use token_admin::{Application, Options};

pub const OPERATOR_SECRET: &str = "integration-operator-secret-of-32-bytes-or-more";
pub const OAUTH_SECRET: &str = "integration-oauth-signing-secret-of-32-bytes+";
pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "token-admin";
pub const PUBLIC_URL: &str = "https://scim.example.test";

/// Settings for a test app on `db_url`: HS256 operators, OAuth enabled, port 0.
pub fn settings(db_url: &str) -> Settings {
    Settings {
        database_url: SecretString::from(db_url.to_owned()),
        database_pool_size: 4,
        admin_listen: "127.0.0.1:0".to_owned(),
        public_url: Some(PUBLIC_URL.to_owned()),
        admin_jwt_hs256_secret: Some(SecretString::from(OPERATOR_SECRET)),
        admin_jwt_issuer: Some(ISSUER.to_owned()),
        admin_jwt_audience: Some(AUDIENCE.to_owned()),
        oauth_signing_secret: Some(SecretString::from(OAUTH_SECRET)),
        shutdown_timeout_seconds: 1,
        ..Settings::default()
    }
}

/// What a [`ServerThread`] start function yields: the bound port, a stop handle and the serving future.
pub type Started = (u16, ServerHandle, Pin<Box<dyn Future<Output = ()>>>);

/// An HTTP server on its own thread and runtime, stopped and joined on drop, so no server outlives its
/// test (lingering worker threads holding database pools made the test process crash at exit).
pub struct ServerThread {
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `start` on a new thread's runtime and returns the port it bound.
    pub fn spawn<F>(start: F) -> (u16, Self)
    where
        F: FnOnce() -> Pin<Box<dyn Future<Output = Started>>> + Send + 'static,
    {
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let (port, handle, serve) = start().await;
                sender.send((port, handle)).expect("port reported");
                serve.await;
            });
        });
        let (port, handle) = receiver.recv().expect("server started");
        (
            port,
            Self {
                handle,
                thread: Some(thread),
            },
        )
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion, which the
        // join below does instead.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A running app and its database. The server stops before the database is dropped.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    server: Option<ServerThread>,
    pub db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        let settings = settings(db.url());
        Self::spawn_with(db, settings, Options::default()).await
    }

    pub async fn spawn_with(db: TestDb, settings: Settings, options: Options) -> Self {
        service::telemetry::init_for_tests();
        let (port, server) = ServerThread::spawn(move || {
            Box::pin(async move {
                let app = Application::build_with(settings, options)
                    .await
                    .expect("app builds");
                let (port, handle) = (app.port(), app.server_handle());
                let serve: Pin<Box<dyn Future<Output = ()>>> =
                    Box::pin(async move { app.run_until_stopped().await.expect("server runs") });
                (port, handle, serve)
            })
        });
        Self {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            server: Some(server),
            db,
        }
    }

    pub fn storage(&self) -> &Storage {
        self.db.storage()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The tokens of `issued` that are valid now (stored, not revoked, not expired), read from the database.
    pub fn still_valid(&self, issued: &[String]) -> Vec<String> {
        let now = Utc::now();
        issued
            .iter()
            .filter(|token| {
                self.storage()
                    .find_token(&credentials::HashedToken::of(token))
                    .expect("token lookup")
                    .is_some_and(|record| record.revoked_at.is_none_or(|at| at > now))
            })
            .cloned()
            .collect()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, body)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    /// Creates a tenant as the admin and returns its view.
    pub async fn create_tenant(&self, slug: &str) -> Value {
        let (status, body) = self
            .post("/admin/v1/tenants", &admin_token(), json!({"id": slug}))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Issues a token as the admin and returns the creation response.
    pub async fn issue_token(&self, slug: &str, body: Value) -> Value {
        let (status, body) = self
            .post(&format!("/admin/v1/tenants/{slug}/tokens"), &admin_token(), body)
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Every stored column of every token row, concatenated, straight from the database.
    pub fn dump_tokens_table(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let sql = "SELECT id || '|' || tenant_id || '|' || token_hash || '|' || prefix || '|' || \
                   COALESCE(label, '') AS dump FROM scim_tokens";
        let rows: Vec<Dump> = match self.db.backend() {
            Backend::Sqlite => {
                let path = self.db.url().trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).expect("sqlite opens");
                diesel::sql_query(sql).load(&mut conn).expect("dump")
            }
            Backend::Postgres => {
                let mut conn = diesel::PgConnection::establish(self.db.url()).expect("postgres connects");
                diesel::sql_query(sql).load(&mut conn).expect("dump")
            }
        };
        rows.into_iter().map(|r| r.dump).collect::<Vec<_>>().join("\n")
    }
}

/// Runs `test` on SQLite, then on PostgreSQL when it is reachable (required when `CI=true`).
pub async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    test(TestDb::sqlite()).await;
    if let Some(db) = TestDb::postgres() {
        test(db).await;
    }
}

/// Signs operator claims with the HS256 test secret.
pub fn hs256_token(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        claims,
        &EncodingKey::from_secret(OPERATOR_SECRET.as_bytes()),
        None,
    )
}

pub fn sign(alg: Algorithm, claims: &Value, key: &EncodingKey, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("token signs")
}

/// Valid operator claims (issuer, audience, five minutes of life) plus `extra`.
pub fn claims(subject: &str, extra: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": Utc::now().timestamp(),
        "exp": Utc::now().timestamp() + 300
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    claims
}

/// An operator with the admin role (all tenants).
pub fn admin_token() -> String {
    hs256_token(&claims("root", json!({"role": "scim-admin"})))
}

/// Admin claims signed with a key that is not the operator secret.
pub fn forged_admin_token() -> String {
    sign(
        Algorithm::HS256,
        &claims("root", json!({"role": "scim-admin"})),
        &EncodingKey::from_secret(b"not-the-operator-secret-but-long-enough"),
        None,
    )
}

/// Admin claims signed with the operator secret under HS512, an algorithm the service does not allow.
pub fn hs512_admin_token() -> String {
    sign(
        Algorithm::HS512,
        &claims("root", json!({"role": "scim-admin"})),
        &EncodingKey::from_secret(OPERATOR_SECRET.as_bytes()),
        None,
    )
}

/// An admin token whose claims lack `claim`.
pub fn admin_token_without(claim: &str) -> String {
    let mut c = claims("root", json!({"role": "scim-admin"}));
    if let Some(map) = c.as_object_mut() {
        map.remove(claim);
    }
    hs256_token(&c)
}

/// An operator scoped to one tenant.
pub fn tenant_operator_token(subject: &str, tenant: &str) -> String {
    hs256_token(&claims(subject, json!({"tenant": tenant})))
}
