//! Snapshots of representative response bodies. Ids, times, versions and URLs are redacted after their shape
//! is checked, so a snapshot pins everything a client sees except values that differ per run. Both backends
//! compare against the same snapshot files: SQLite and PostgreSQL must answer byte-for-byte alike.

use insta::internals::Content;
use serde_json::json;

use crate::helpers::{TestApp, json, on_both_backends};

on_both_backends!(user_group_list_and_error_bodies);

fn redact_uuid(value: Content, _path: insta::internals::ContentPath<'_>) -> String {
    let text = value.as_str().unwrap_or_default();
    assert_eq!(text.len(), 36, "id is a UUID: {text}");
    "[uuid]".to_owned()
}

fn redact_time(value: Content, _path: insta::internals::ContentPath<'_>) -> String {
    let text = value.as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "RFC 3339 time: {text}"
    );
    "[time]".to_owned()
}

fn redact_version(value: Content, _path: insta::internals::ContentPath<'_>) -> String {
    let text = value.as_str().unwrap_or_default();
    assert!(
        text.starts_with("W/\"") && text.ends_with('"'),
        "weak ETag: {text}"
    );
    "[version]".to_owned()
}

fn redact_url(value: Content, _path: insta::internals::ContentPath<'_>) -> String {
    let text = value.as_str().unwrap_or_default();
    assert!(
        text.starts_with("http://127.0.0.1:") && text.contains("/scim/v2/acme/"),
        "absolute URL: {text}"
    );
    let tail = text
        .rsplit_once("/scim/v2/acme/")
        .map(|(_, t)| t)
        .unwrap_or_default();
    let kind = tail.split('/').next().unwrap_or_default();
    format!("[base]/{kind}/[uuid]")
}

macro_rules! assert_resource_snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".id" => insta::dynamic_redaction(redact_uuid),
            ".meta.created" => insta::dynamic_redaction(redact_time),
            ".meta.lastModified" => insta::dynamic_redaction(redact_time),
            ".meta.version" => insta::dynamic_redaction(redact_version),
            ".meta.location" => insta::dynamic_redaction(redact_url),
            ".members[].value" => insta::dynamic_redaction(redact_uuid),
            ".members[].$ref" => insta::dynamic_redaction(redact_url),
            ".groups[].value" => insta::dynamic_redaction(redact_uuid),
            ".groups[].$ref" => insta::dynamic_redaction(redact_url),
            ".Resources[].id" => insta::dynamic_redaction(redact_uuid),
            ".Resources[].meta.created" => insta::dynamic_redaction(redact_time),
            ".Resources[].meta.lastModified" => insta::dynamic_redaction(redact_time),
            ".Resources[].meta.version" => insta::dynamic_redaction(redact_version),
            ".Resources[].meta.location" => insta::dynamic_redaction(redact_url),
        })
    };
}

async fn user_group_list_and_error_bodies(app: TestApp) {
    let user = json(
        app.post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "userName": "bjensen@example.com", "externalId": "bjensen", "active": "True",
                "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"},
                "emails": [{"type": "work", "value": "bjensen@example.com", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"},
                "password": "t1meMa$heen", "meta": {"resourceType": "User"}, "roles": []
            }),
        )
        .await,
    )
    .await;
    assert_resource_snapshot!("created_user", &user);
    let user_id = user["id"].as_str().unwrap();

    let group = json(
        app.post(
            "/Groups",
            &json!({"displayName": "Tour Guides", "members": [{"value": user_id}]}),
        )
        .await,
    )
    .await;
    assert_resource_snapshot!("created_group", &group);

    let fetched_user = json(
        app.get(&format!("/Users/{user_id}?attributes=userName,groups"))
            .await,
    )
    .await;
    assert_resource_snapshot!("user_with_groups", &fetched_user);

    let list = json(
        app.get("/Groups?excludedAttributes=members&filter=displayName eq \"tour guides\"")
            .await,
    )
    .await;
    assert_resource_snapshot!("group_list_without_members", &list);

    let error = json(
        app.post("/Users", &json!({"userName": "BJENSEN@example.com"}))
            .await,
    )
    .await;
    insta::assert_json_snapshot!("uniqueness_error", &error);
    let error = json(app.get("/Users?filter=userName%20eq").await).await;
    insta::assert_json_snapshot!("invalid_filter_error", &error);
}
