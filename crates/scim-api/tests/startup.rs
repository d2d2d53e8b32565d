//! Start-up of the real binary, as a newcomer meets it: the one line naming version, database and
//! addresses; warnings about what would fail later; and one-line refusals, without creating anything, of
//! what cannot work. Every run gets a temporary working directory and only the `SCIM_*` variables it sets.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test on any error"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use credentials::PlainToken;
use scim_core::TenantId;
use storage::oauth_clients::NewOAuthClient;
use storage::testing::TestDb;
use storage::{NewTenant, Storage};

use service::testing::{Exited, Running, entries};

fn scim_api(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    service::testing::isolated(env!("CARGO_BIN_EXE_scim-api"), dir, env, args)
}

fn run_to_exit(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Exited {
    service::testing::run_to_exit(scim_api(dir, env, args))
}

fn start(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Running {
    service::testing::start(scim_api(dir, env, args), "scim-api listening")
}

/// An SQLite database file in `dir`, migrated, with the tenant `acme`.
fn sqlite_with_acme(dir: &Path) -> (String, Storage) {
    let url = format!("sqlite://{}", dir.join("scim.db").display());
    let storage = Storage::connect(&url, 1).unwrap();
    storage.run_migrations().unwrap();
    storage
        .create_tenant(&NewTenant {
            id: TenantId::parse("acme").unwrap(),
            display_name: "Acme".to_owned(),
            policy: serde_json::json!({}),
        })
        .unwrap();
    (url, storage)
}

#[test]
fn start_up_line_names_version_backend_absolute_database_listen_public_url_and_oauth() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SCIM_LISTEN", "127.0.0.1:0"),
        ("SCIM_PUBLIC_URL", "https://scim.example.test/"),
    ];
    // The default database_url is relative: the line shows where it resolved.
    let first = start(dir.path(), &env, &[]);
    let line = &first.line;
    assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(line["backend"], "sqlite");
    assert_eq!(
        line["database"],
        dir.path().join("data").join("scim.db").to_str().unwrap()
    );
    assert!(line["migrations_applied"].as_u64().unwrap() > 0, "{line}");
    let port = line["port"].as_u64().unwrap();
    assert!(port > 0);
    assert_eq!(line["listen"], format!("127.0.0.1:{port}"));
    assert_eq!(line["public_url"], "https://scim.example.test");
    assert_eq!(line["oauth"], "off (oauth_signing_secret unset)");
    drop(first);

    let secret = [(
        "SCIM_OAUTH_SIGNING_SECRET",
        "a-signing-secret-of-at-least-32-bytes!!",
    )];
    let second = start(dir.path(), &[&env[..], &secret[..]].concat(), &[]);
    assert_eq!(second.line["oauth"], "on");
    assert_eq!(second.line["migrations_applied"], 0);
}

#[test]
fn start_up_line_shows_postgres_host_port_and_database_never_the_password() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let url = db
        .url()
        .replacen("postgres://postgres@", "postgres://postgres:hunter2-secret@", 1);
    assert!(
        url.contains("hunter2-secret"),
        "the test URL has a password: {url}"
    );
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[("SCIM_LISTEN", "127.0.0.1:0"), ("SCIM_DATABASE_URL", &url)],
        &[],
    );
    assert_eq!(running.line["backend"], "postgres");
    assert_eq!(running.line["database"], "127.0.0.1:5432/postgres");
    let everything = format!("{:?} {}", running.earlier, running.line);
    assert!(!everything.contains("hunter2"), "{everything}");
}

#[test]
fn plain_http_public_url_on_a_public_host_is_warned_about_naming_entra() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[
            ("SCIM_LISTEN", "127.0.0.1:0"),
            ("SCIM_PUBLIC_URL", "http://scim.example.test"),
        ],
        &[],
    );
    let warnings = running.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("http://scim.example.test") && w.contains("Entra") && w.contains("https")),
        "{warnings:?}"
    );
    assert_eq!(running.line["public_url"], "http://scim.example.test");
}

#[test]
fn oauth_clients_without_a_signing_secret_are_warned_about() {
    let db = TestDb::sqlite();
    let tenant = TenantId::parse("acme").unwrap();
    db.create_tenant(&NewTenant {
        id: tenant.clone(),
        display_name: "Acme".to_owned(),
        policy: serde_json::json!({}),
    })
    .unwrap();
    let secret = PlainToken::generate_client_secret();
    db.insert_oauth_client(
        &tenant,
        &NewOAuthClient {
            client_id: "entra".to_owned(),
            secret_hash: secret.hash(),
            secret_prefix: secret.display_prefix(),
            label: None,
        },
        chrono::Utc::now(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[("SCIM_LISTEN", "127.0.0.1:0"), ("SCIM_DATABASE_URL", db.url())],
        &[],
    );
    let warnings = running.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("oauth_signing_secret") && w.contains("\"clients\":1")),
        "{warnings:?}"
    );
}

#[test]
fn pending_migrations_stop_start_up_before_listening_naming_token_admin_migrate() {
    for db in TestDb::each_backend() {
        db.revert_all_migrations().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let exited = run_to_exit(
            dir.path(),
            &[
                ("SCIM_LISTEN", "127.0.0.1:0"),
                ("SCIM_DATABASE_URL", db.url()),
                ("SCIM_RUN_MIGRATIONS", "false"),
            ],
            &[],
        );
        assert!(!exited.status.success());
        let last = exited.last_error_line();
        assert!(
            last.starts_with("error: ") && last.contains("token-admin migrate"),
            "{}",
            exited.stderr
        );
        assert!(!exited.stderr.contains("listening"), "{}", exited.stderr);
        assert!(db.pending_migrations().unwrap() > 0, "nothing was migrated");
    }
}

#[test]
fn with_run_migrations_off_a_missing_sqlite_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let exited = run_to_exit(dir.path(), &[("SCIM_RUN_MIGRATIONS", "false")], &[]);
    assert!(!exited.status.success());
    let path = dir.path().join("data").join("scim.db");
    assert!(
        exited.stderr.contains(path.to_str().unwrap()),
        "{}",
        exited.stderr
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn configuration_errors_are_one_line_naming_key_value_and_accepted_values_without_a_backtrace() {
    // (environment, what the error line must name)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 4] = [
        (
            &[("SCIM_LOG_FORMAT", "text")],
            &["log_format", "text", "auto", "pretty", "json"],
        ),
        (
            &[("SCIM_PUBLIC_URL", "https://scim.example.test/?tenant=acme")],
            &[
                "public_url",
                "https://scim.example.test/?tenant=acme",
                "query string",
                "https://",
            ],
        ),
        (
            &[("SCIM_PUBLIC_URL", "ftp://scim.example.test")],
            &["public_url", "ftp://scim.example.test", "http:// or https://"],
        ),
        (
            &[("SCIM_DATABASE_POOL_SIZE", "many")],
            &["database_pool_size", "many", "integer"],
        ),
    ];
    for (env, parts) in cases {
        let dir = tempfile::tempdir().unwrap();
        let env = [env, &[("RUST_BACKTRACE", "1")]].concat();
        let exited = run_to_exit(dir.path(), &env, &[]);
        assert_eq!(exited.status.code(), Some(1), "{env:?}: {}", exited.stderr);
        assert_eq!(exited.stderr.lines().count(), 1, "{env:?}: {}", exited.stderr);
        assert!(exited.stderr.starts_with("error: "), "{}", exited.stderr);
        for part in parts {
            assert!(exited.stderr.contains(part), "{part} missing: {}", exited.stderr);
        }
        assert!(
            !exited.stderr.to_lowercase().contains("backtrace"),
            "{}",
            exited.stderr
        );
        assert!(entries(dir.path()).is_empty(), "nothing is created");
    }
}

#[test]
fn miscased_variable_is_refused_naming_the_exact_one_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exited = run_to_exit(dir.path(), &[("SCIM_DATABASE_URl", "x")], &[]);
    assert!(!exited.status.success());
    assert!(
        exited.stderr.contains("SCIM_DATABASE_URl") && exited.stderr.contains("SCIM_DATABASE_URL"),
        "{}",
        exited.stderr
    );
    assert_eq!(exited.stderr.lines().count(), 1, "{}", exited.stderr);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn host_like_database_urls_are_refused_listing_the_accepted_forms_and_create_nothing() {
    for url in ["127.0.0.1:5432/scim", "localhost/scim"] {
        let dir = tempfile::tempdir().unwrap();
        let exited = run_to_exit(dir.path(), &[("SCIM_DATABASE_URL", url)], &[]);
        assert!(!exited.status.success());
        let last = exited.last_error_line();
        for part in [url, "database_url", "postgres://", "sqlite://", ".db"] {
            assert!(last.contains(part), "{part} missing: {}", exited.stderr);
        }
        assert!(entries(dir.path()).is_empty(), "{url}: {:?}", entries(dir.path()));
    }
}

#[test]
fn bootstrap_on_a_busy_port_names_the_address_and_issues_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let (url, storage) = sqlite_with_acme(dir.path());
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let exited = run_to_exit(
        dir.path(),
        &[("SCIM_DATABASE_URL", &url), ("SCIM_LISTEN", &address)],
        &["--bootstrap-tenant", "acme"],
    );
    assert!(!exited.status.success());
    let last = exited.last_error_line();
    assert!(
        last.starts_with(&format!(
            "error: cannot listen on {address} (the listen setting, SCIM_LISTEN): "
        )),
        "{}",
        exited.stderr
    );
    assert!(exited.stdout.is_empty(), "nothing printed: {}", exited.stdout);
    let tokens = storage.list_tokens(&TenantId::parse("acme").unwrap()).unwrap();
    assert!(tokens.is_empty(), "a token was issued: {tokens:?}");
}

#[test]
fn bootstrap_without_public_url_prints_the_address_actually_bound() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[("SCIM_LISTEN", "0.0.0.0:0")],
        &["--bootstrap-tenant", "acme"],
    );
    let issued = running.printed_json();
    let port = running.line["port"].as_u64().unwrap();
    assert_eq!(issued["baseUrl"], format!("http://127.0.0.1:{port}/scim/v2/acme"));
}

#[test]
fn public_url_ending_in_scim_v2_is_used_without_it_and_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[
            ("SCIM_LISTEN", "127.0.0.1:0"),
            ("SCIM_PUBLIC_URL", "https://scim.example.test/scim/v2/"),
        ],
        &["--bootstrap-tenant", "acme"],
    );
    let issued = running.printed_json();
    assert_eq!(issued["baseUrl"], "https://scim.example.test/scim/v2/acme");
    let warnings = running.warnings();
    assert!(warnings.iter().any(|w| w.contains("/scim/v2")), "{warnings:?}");
}
