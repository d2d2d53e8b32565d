//! The events API: the event object, cursor pages, type and tenant filters, tenant-scoped operators,
//! expired cursors and bad parameters. Writes go through the storage API scim-api uses; the SCIM side
//! end to end is in scim-api's `change_feed` tests.

use scim_core::{ResourceKind, TenantId};
use serde_json::{Value, json};
use storage::WriteContext;

use crate::helpers::{PUBLIC_URL, TestApp, admin_token, on_each_backend, tenant_operator_token};

fn ctx(tenant: &str) -> WriteContext {
    WriteContext {
        tenant: TenantId::parse(tenant).unwrap(),
        actor_token_id: None,
        request_id: Some(format!("req-{tenant}")),
        now: chrono::Utc::now(),
    }
}

fn create_user(app: &TestApp, tenant: &str, user_name: &str) -> String {
    let doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name});
    app.storage()
        .create_resource(&ctx(tenant), ResourceKind::User, doc, None)
        .unwrap()
        .id
        .as_str()
        .to_owned()
}

/// Reads until the sequencer thread has positioned `expected` events (it runs right after each write).
async fn events(app: &TestApp, path: &str, token: &str, expected: usize) -> Value {
    let mut attempts = 0;
    loop {
        let (status, body) = app.get(path, token).await;
        assert_eq!(status, 200, "{body}");
        attempts += 1;
        if body["data"].as_array().unwrap().len() >= expected || attempts == 100 {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn types(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn events_page_by_cursor_with_the_documented_object() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let alice = create_user(&app, "acme", "alice");
        create_user(&app, "globex", "gina");
        create_user(&app, "acme", "bob");

        let first = events(&app, "/admin/v1/events?limit=2", &admin_token(), 2).await;
        assert_eq!(first["hasMore"], true);
        let event = &first["data"][0];
        let keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "data",
                "id",
                "occurredAt",
                "requestId",
                "resourceId",
                "resourceType",
                "sequence",
                "tenant",
                "type"
            ]
        );
        assert_eq!(event["type"], "user.created");
        assert_eq!(event["tenant"], "acme");
        assert_eq!(event["sequence"], 1);
        assert_eq!(event["resourceType"], "User");
        assert_eq!(event["resourceId"], alice.as_str());
        assert_eq!(event["requestId"], "req-acme");
        assert_eq!(event["data"]["userName"], "alice");
        assert_eq!(event["data"]["id"], alice.as_str());
        assert_eq!(
            event["data"]["meta"]["location"],
            format!("{PUBLIC_URL}/scim/v2/acme/Users/{alice}")
        );
        assert_eq!(first["data"][1]["tenant"], "globex");

        let cursor = first["nextCursor"].as_str().unwrap();
        let (status, rest) = app
            .get(&format!("/admin/v1/events?after={cursor}"), &admin_token())
            .await;
        assert_eq!(status, 200);
        assert_eq!(rest["hasMore"], false);
        assert_eq!(rest["data"][0]["data"]["userName"], "bob");
        assert_eq!(rest["data"][0]["sequence"], 2);

        // Per tenant, on both routes; a tenant-scoped operator sees only its own.
        let acme = events(&app, "/admin/v1/tenants/acme/events", &admin_token(), 2).await;
        assert_eq!(acme["data"].as_array().unwrap().len(), 2);
        let own = tenant_operator_token("ops", "globex");
        let scoped = events(&app, "/admin/v1/events", &own, 1).await;
        assert_eq!(scoped["data"].as_array().unwrap().len(), 1);
        assert_eq!(scoped["data"][0]["tenant"], "globex");
        let (status, _) = app.get("/admin/v1/events?tenant=acme", &own).await;
        assert_eq!(status, 403);
        let (status, _) = app.get("/admin/v1/tenants/acme/events", &own).await;
        assert_eq!(status, 403);
    })
    .await;
}

#[tokio::test]
async fn filters_latest_and_refusals() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let id = create_user(&app, "acme", "alice");
        events(&app, "/admin/v1/events", &admin_token(), 1).await;
        let (_, latest) = app.get("/admin/v1/events?after=latest", &admin_token()).await;
        assert_eq!(latest["data"], json!([]));
        let head = latest["nextCursor"].as_str().unwrap().to_owned();

        app.storage()
            .delete_resource(
                &ctx("acme"),
                ResourceKind::User,
                &scim_core::ResourceId::new(id.clone()),
                None,
            )
            .unwrap();
        let after_head = events(&app, &format!("/admin/v1/events?after={head}"), &admin_token(), 1).await;
        assert_eq!(types(&after_head), ["user.deleted"]);
        assert_eq!(
            after_head["data"][0]["data"],
            json!({"id": id, "userName": "alice"})
        );
        let deletes = events(
            &app,
            "/admin/v1/events?types=user.deleted,group.deleted",
            &admin_token(),
            1,
        )
        .await;
        assert_eq!(types(&deletes), ["user.deleted"]);

        for (query, needle) in [
            ("limit=0", "limit must be between 1 and 1000"),
            ("limit=1001", "limit must be between 1 and 1000"),
            ("types=user.renamed", "unknown event type"),
            ("after=not-a-cursor", "invalid cursor"),
            ("colour=red", "colour"),
        ] {
            let (status, body) = app
                .get(&format!("/admin/v1/events?{query}"), &admin_token())
                .await;
            assert_eq!(status, 400, "{query}: {body}");
            assert!(
                body["detail"].as_str().unwrap().contains(needle),
                "{query}: {body}"
            );
        }
        let (status, _) = app.get("/admin/v1/tenants/ghost/events", &admin_token()).await;
        assert_eq!(status, 404);
        let (status, _) = app.get("/admin/v1/events", "").await;
        assert_eq!(status, 401);
    })
    .await;
}

#[tokio::test]
async fn a_cursor_older_than_retention_is_gone() {
    on_each_backend(|db| async {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (_, empty) = app.get("/admin/v1/events?after=latest", &admin_token()).await;
        let start = empty["nextCursor"].as_str().unwrap().to_owned();
        create_user(&app, "acme", "alice");
        events(&app, "/admin/v1/events", &admin_token(), 1).await;
        // Retention (here: a prune with a cutoff in the future) deletes that event.
        let cutoff = chrono::Utc::now() + chrono::Duration::days(1);
        assert_eq!(app.storage().prune_events(cutoff).unwrap(), 1);
        let (status, body) = app
            .get(&format!("/admin/v1/events?after={start}"), &admin_token())
            .await;
        assert_eq!(status, 410, "{body}");
        assert_eq!(body["error"], "cursor_expired");
        assert!(
            body["detail"].as_str().unwrap().contains("resynchronise"),
            "{body}"
        );
        // Without a cursor the feed starts at what is kept.
        let (status, body) = app.get("/admin/v1/events", &admin_token()).await;
        assert_eq!((status, body["data"].clone()), (200, json!([])));
    })
    .await;
}
