//! Start-up of the real binary, `serve` and the offline commands alike: the one line naming the database,
//! the refusals that keep a command from creating an empty database or working on an old schema, a busy
//! port, and who the audit log names. Every run gets a temporary working directory and only the `SCIM_*`
//! variables it sets.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use credentials::PlainToken;
use scim_core::TenantId;
use serde_json::Value;
use service::testing::{Exited, entries, run_to_exit, start};
use storage::NewTenant;
use storage::oauth_clients::NewOAuthClient;
use storage::testing::TestDb;

use crate::helpers::{AUDIENCE, ISSUER, OPERATOR_SECRET};

fn token_admin(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    service::testing::isolated(env!("CARGO_BIN_EXE_token-admin"), dir, env, args)
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Exited {
    run_to_exit(token_admin(dir, env, args))
}

/// What `serve` needs besides the database: operator authentication and a free port.
const SERVE_ENV: [(&str, &str); 4] = [
    ("SCIM_ADMIN_LISTEN", "127.0.0.1:0"),
    ("SCIM_ADMIN_JWT_HS256_SECRET", OPERATOR_SECRET),
    ("SCIM_ADMIN_JWT_ISSUER", ISSUER),
    ("SCIM_ADMIN_JWT_AUDIENCE", AUDIENCE),
];

/// The fields of the log lines with this message.
fn logged(stderr: &str, message: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == message)
        .map(|entry| entry["fields"].clone())
        .collect()
}

fn create_acme(db: &TestDb) -> TenantId {
    let acme = TenantId::parse("acme").unwrap();
    db.create_tenant(&NewTenant {
        id: acme.clone(),
        display_name: "Acme".to_owned(),
        policy: serde_json::json!({}),
    })
    .unwrap();
    acme
}

#[test]
fn cli_says_on_one_stderr_line_which_database_it_opened_never_the_password() {
    for db in TestDb::each_backend() {
        let url = db
            .url()
            .replacen("postgres://postgres@", "postgres://postgres:hunter2-secret@", 1);
        let dir = tempfile::tempdir().unwrap();
        let exited = run(
            dir.path(),
            &[
                ("SCIM_DATABASE_URL", &url),
                ("SCIM_PUBLIC_URL", "https://scim.example.test"),
            ],
            &["tenants", "list"],
        );
        assert!(exited.status.success(), "{}", exited.stderr);
        assert_eq!(exited.stdout.trim(), "[]");
        let lines = logged(&exited.stderr, "token-admin tenants list");
        assert_eq!(lines.len(), 1, "{}", exited.stderr);
        let line = &lines[0];
        assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(line["backend"], db.backend().as_str());
        assert_eq!(line["public_url"], "https://scim.example.test");
        let database = line["database"].as_str().unwrap();
        match db.backend() {
            storage::Backend::Sqlite => {
                assert_eq!(Some(database), db.url().strip_prefix("sqlite://"));
                assert!(Path::new(database).is_absolute());
            }
            storage::Backend::Postgres => {
                assert!(url.contains("hunter2-secret"), "the test URL has a password");
                assert_eq!(database, "127.0.0.1:5432/postgres");
            }
        }
        assert!(!exited.stderr.contains("hunter2"), "{}", exited.stderr);
    }
}

#[test]
fn cli_commands_refuse_a_missing_sqlite_file_naming_it_and_create_nothing() {
    let commands: [&[&str]; 5] = [
        &["tokens", "issue", "acme"],
        &["tokens", "list", "acme"],
        &["tokens", "revoke", "acme", "f6b6c7a2"],
        &["tenants", "list"],
        &["tenants", "create", "acme"],
    ];
    for args in commands {
        let dir = tempfile::tempdir().unwrap();
        // The default database_url, `./data/scim.db`, from a directory without one.
        let exited = run(dir.path(), &[], args);
        assert!(!exited.status.success(), "{args:?}");
        let expected = dir.path().join("data").join("scim.db");
        let last = exited.last_error_line();
        for part in [
            expected.to_str().unwrap(),
            "SCIM_DATABASE_URL",
            "--config",
            "token-admin migrate",
        ] {
            assert!(last.contains(part), "{args:?}: {part} missing: {}", exited.stderr);
        }
        assert!(
            entries(dir.path()).is_empty(),
            "{args:?}: {:?}",
            entries(dir.path())
        );
    }
}

#[test]
fn migrate_creates_a_missing_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let exited = run(dir.path(), &[], &["migrate"]);
    assert!(exited.status.success(), "{}", exited.stderr);
    let applied: Value = serde_json::from_str(&exited.stdout).unwrap();
    assert!(applied["applied"].as_u64().unwrap() > 0, "{applied}");
    assert!(dir.path().join("data").join("scim.db").exists());
    let exited = run(dir.path(), &[], &["tenants", "list"]);
    assert!(exited.status.success(), "{}", exited.stderr);
}

#[test]
fn pending_migrations_stop_cli_commands_and_serve_naming_token_admin_migrate() {
    for db in TestDb::each_backend() {
        db.revert_all_migrations().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let off = [("SCIM_DATABASE_URL", db.url()), ("SCIM_RUN_MIGRATIONS", "false")];
        for (args, env) in [
            (&["tenants", "list"][..], off.to_vec()),
            (&["serve"][..], [&off[..], &SERVE_ENV[..]].concat()),
        ] {
            let exited = run(dir.path(), &env, args);
            assert!(!exited.status.success(), "{args:?}");
            let last = exited.last_error_line();
            assert!(
                last.starts_with("error: ") && last.contains("token-admin migrate"),
                "{args:?}: {}",
                exited.stderr
            );
            assert!(!exited.stderr.contains("listening"), "{}", exited.stderr);
        }
        assert!(db.pending_migrations().unwrap() > 0, "nothing was migrated");
        // With run_migrations on (the default), a command applies them as before.
        let exited = run(
            dir.path(),
            &[("SCIM_DATABASE_URL", db.url())],
            &["tenants", "list"],
        );
        assert!(exited.status.success(), "{}", exited.stderr);
        assert_eq!(db.pending_migrations().unwrap(), 0);
    }
}

#[test]
fn serve_on_a_busy_port_names_the_address_and_the_os_error_once() {
    let db = TestDb::sqlite();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        &SERVE_ENV[..],
        &[("SCIM_DATABASE_URL", db.url()), ("SCIM_ADMIN_LISTEN", &address)],
    ]
    .concat();
    let exited = run(dir.path(), &env, &["serve"]);
    assert!(!exited.status.success());
    let last = exited.last_error_line();
    assert!(
        last.starts_with(&format!(
            "error: cannot listen on {address} (the admin_listen setting, SCIM_ADMIN_LISTEN): "
        )),
        "{}",
        exited.stderr
    );
    assert_eq!(last.matches("os error").count(), 1, "{last}");
}

#[test]
fn serve_start_up_line_names_database_listen_public_url_and_oauth() {
    let db = TestDb::sqlite();
    let acme = create_acme(&db);
    let secret = PlainToken::generate_client_secret();
    db.insert_oauth_client(
        &acme,
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
    let env = [
        &SERVE_ENV[..],
        &[("SCIM_DATABASE_URL", db.url()), ("SCIM_LISTEN", "0.0.0.0:9443")],
    ]
    .concat();
    let running = start(token_admin(dir.path(), &env, &["serve"]), "token-admin listening");
    let line = &running.line;
    assert_eq!(line["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(line["backend"], "sqlite");
    assert_eq!(
        Some(line["database"].as_str().unwrap()),
        db.url().strip_prefix("sqlite://")
    );
    let port = line["port"].as_u64().unwrap();
    assert_eq!(line["listen"], format!("127.0.0.1:{port}"));
    assert_eq!(
        line["public_url"],
        "http://127.0.0.1:9443 (public_url unset: from listen)"
    );
    assert_eq!(line["oauth"], "off (oauth_signing_secret unset)");
    let warnings = running.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("/oauth2/token") && w.contains("\"clients\":1")),
        "{warnings:?}"
    );
}

#[test]
fn without_public_url_printed_tenant_urls_use_scim_api_listen_address() {
    let db = TestDb::sqlite();
    create_acme(&db);
    let dir = tempfile::tempdir().unwrap();
    let exited = run(
        dir.path(),
        &[("SCIM_DATABASE_URL", db.url()), ("SCIM_LISTEN", "0.0.0.0:9443")],
        &["tokens", "issue", "acme"],
    );
    assert!(exited.status.success(), "{}", exited.stderr);
    let issued: Value = serde_json::from_str(&exited.stdout).unwrap();
    assert_eq!(issued["baseUrl"], "http://127.0.0.1:9443/scim/v2/acme");
}

#[test]
fn cli_audit_names_a_usable_operator_where_user_is_unset() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let url = ("SCIM_DATABASE_URL", db.url());
    // A container: neither USER nor LOGNAME.
    let exited = run(dir.path(), &[url], &["tenants", "create", "acme"]);
    assert!(exited.status.success(), "{}", exited.stderr);
    let exited = run(
        dir.path(),
        &[url, ("LOGNAME", "alice")],
        &["tenants", "create", "globex"],
    );
    assert!(exited.status.success(), "{}", exited.stderr);
    let entries = db.list_admin_audit(None, 10).unwrap();
    let operators: Vec<&str> = entries.iter().map(|e| e.operator.as_str()).collect();
    assert_eq!(operators.len(), 2, "{operators:?}");
    assert_eq!(operators[0], "cli:alice");
    assert!(
        operators[1].starts_with("cli:uid:") && operators[1].contains('@'),
        "{operators:?}"
    );
}
