//! The `token-admin` binary's offline commands, run as a child process on each backend.

use std::process::Command;

use credentials::HashedToken;
use serde_json::Value;
use storage::testing::TestDb;

use crate::helpers::on_each_backend;

/// Runs the built binary with only the given `SCIM_*` environment, returning (success, stdout, stderr).
fn token_admin(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_token-admin"))
        .args(args)
        .env_clear()
        .env("SCIM_DATABASE_URL", db.url())
        .env("SCIM_PUBLIC_URL", "https://scim.example.test")
        .env("SCIM_LOG_FORMAT", "json")
        // A scim-api setting and an unknown variable: neither may stop the CLI.
        .env("SCIM_PAGE_SIZE_MAX", "500")
        .env("SCIM_NOT_A_SETTING", "x")
        .output()
        .expect("token-admin runs");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn cli_issues_a_token_as_one_json_object() {
    on_each_backend(|db| async move {
        let (ok, out, err) = token_admin(&db, &["migrate"]);
        assert!(ok, "{err}");
        assert_eq!(
            out.trim(),
            r#"{"applied":0}"#,
            "the test database is already migrated"
        );

        let (ok, out, err) = token_admin(&db, &["tenants", "create", "acme", "--display-name", "Acme"]);
        assert!(ok, "{err}");
        let tenant: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(tenant["id"], "acme");
        assert!(
            err.contains("SCIM_NOT_A_SETTING"),
            "unknown variables are warned about: {err}"
        );

        let (ok, out, err) = token_admin(
            &db,
            &[
                "tokens",
                "issue",
                "acme",
                "--label",
                "entra",
                "--expires-in",
                "90d",
            ],
        );
        assert!(ok, "{err}");
        assert_eq!(out.lines().count(), 1, "exactly one line on stdout: {out}");
        let issued: Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&str> = issued.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["apiToken", "baseUrl", "expiresAt", "id"]);
        assert_eq!(issued["baseUrl"], "https://scim.example.test/scim/v2/acme");
        let plaintext = issued["apiToken"].as_str().unwrap();
        assert!(!err.contains(plaintext), "the token is never logged");
        let record = db.find_token(&HashedToken::of(plaintext)).unwrap().unwrap();
        assert_eq!(record.tenant.as_str(), "acme");
        assert!(record.expires_at.is_some());

        let (ok, out, _) = token_admin(&db, &["tokens", "issue", "acme", "--rotate"]);
        assert!(ok);
        let rotated: Value = serde_json::from_str(&out).unwrap();
        assert!(
            db.find_token(&HashedToken::of(plaintext))
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );

        let (ok, out, _) = token_admin(&db, &["tokens", "list", "acme"]);
        assert!(ok);
        let list: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(2));
        assert!(!out.contains(plaintext) && !out.contains(rotated["apiToken"].as_str().unwrap()));

        let id = rotated["id"].as_str().unwrap();
        let (ok, _, err) = token_admin(&db, &["tokens", "revoke", "acme", id]);
        assert!(ok, "{err}");
        let (ok, _, err) = token_admin(&db, &["tokens", "issue", "ghost"]);
        assert!(!ok, "unknown tenant fails");
        assert!(err.contains("ghost"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn cli_issues_read_tokens_that_rotation_keeps() {
    on_each_backend(|db| async move {
        let (ok, _, err) = token_admin(&db, &["tenants", "create", "acme"]);
        assert!(ok, "{err}");
        let (ok, out, err) = token_admin(&db, &["tokens", "issue", "acme", "--scope", "read"]);
        assert!(ok, "{err}");
        let read: Value = serde_json::from_str(&out).unwrap();
        let read_secret = read["apiToken"].as_str().unwrap();
        let (ok, out, err) = token_admin(&db, &["tokens", "issue", "acme", "--rotate"]);
        assert!(ok, "{err}");
        let write: Value = serde_json::from_str(&out).unwrap();

        let record = db.find_token(&HashedToken::of(read_secret)).unwrap().unwrap();
        assert_eq!(record.scope, storage::TokenScope::Read);
        assert_eq!(record.revoked_at, None, "rotation keeps read tokens");

        let (ok, out, _) = token_admin(&db, &["tokens", "list", "acme"]);
        assert!(ok);
        let list: Value = serde_json::from_str(&out).unwrap();
        let listed: Vec<(&str, &str)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_str().unwrap(), t["scope"].as_str().unwrap()))
            .collect();
        assert_eq!(
            listed,
            [
                (read["id"].as_str().unwrap(), "read"),
                (write["id"].as_str().unwrap(), "write")
            ]
        );

        let (ok, _, err) = token_admin(&db, &["tokens", "issue", "acme", "--scope", "read", "--rotate"]);
        assert!(!ok, "a read token cannot rotate");
        assert!(err.contains("read token cannot rotate"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn cli_makes_one_time_portal_links() {
    on_each_backend(|db| async move {
        let (ok, _, err) = token_admin(&db, &["tenants", "create", "acme"]);
        assert!(ok, "{err}");
        let (ok, out, err) = token_admin(&db, &["portal-link", "acme", "--expires-in", "1h"]);
        assert!(ok, "{err}");
        let link: Value = serde_json::from_str(out.trim()).unwrap();
        // Without portal_public_url or portal_listen: the admin listener's address.
        let url = link["url"].as_str().unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:8081/portal/start?code="),
            "{link}"
        );
        assert_eq!(
            (link["scope"].as_str(), link["tenant"].as_str()),
            (Some("tenant"), Some("acme"))
        );
        let code = url.split("code=").nth(1).unwrap();
        assert!(!err.contains(code), "the code is not logged");

        let (ok, out, err) = token_admin(&db, &["portal-link", "--operator"]);
        assert!(ok, "{err}");
        let link: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(link["scope"], "operator");

        let (ok, _, err) = token_admin(&db, &["portal-link", "nobody"]);
        assert!(!ok && err.contains("nobody"), "{err}");
        let (ok, _, _) = token_admin(&db, &["portal-link", "acme", "--expires-in", "8d"]);
        assert!(!ok, "at most 7 days");
    })
    .await;
}
