//! Read-only tokens (`scope: read`): every read answers as for the provisioning token, every write kind
//! (including a Bulk request) gets 403 with a SCIM Error body, and nothing is written.

use reqwest::Method;
use serde_json::{Value, json};
use storage::{TokenRequest, TokenScope};

use crate::helpers::{SCIM_JSON, TestApp, assert_scim_error, json, on_both_backends};

on_both_backends!(read_token_reads_everything, read_token_is_refused_every_write);

/// Issues the tenant a read-only token and returns its secret.
fn read_token(app: &TestApp) -> String {
    let tenant = scim_core::TenantId::parse(&app.tenant).unwrap();
    let request = TokenRequest {
        scope: TokenScope::Read,
        ..TokenRequest::default()
    };
    let issued = app.db.storage().issue_token(&tenant, &request).unwrap();
    issued.token.expose_secret().to_owned()
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", SCIM_JSON).body(body.to_string());
    }
    request.send().await.unwrap()
}

async fn read_token_reads_everything(app: TestApp) {
    let user = app.create_user("alice").await;
    let group = app.create_group("ops").await;
    let token = read_token(&app);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    let reads: [(Method, String, Option<&Value>); 10] = [
        (Method::GET, "/Users".to_owned(), None),
        (
            Method::GET,
            "/Users?filter=userName%20eq%20%22alice%22".to_owned(),
            None,
        ),
        (Method::GET, format!("/Users/{user}"), None),
        (Method::GET, "/Groups".to_owned(), None),
        (Method::GET, format!("/Groups/{group}"), None),
        (Method::POST, "/Users/.search".to_owned(), Some(&search)),
        (Method::POST, "/.search".to_owned(), Some(&search)),
        (Method::GET, "/ServiceProviderConfig".to_owned(), None),
        (Method::GET, "/Schemas".to_owned(), None),
        (Method::GET, "/ResourceTypes".to_owned(), None),
    ];
    for (method, path, body) in reads {
        let with_read = send(&app, &token, method.clone(), &path, body).await;
        assert_eq!(with_read.status(), 200, "{method} {path}");
        let with_write = send(&app, &app.token, method.clone(), &path, body).await;
        assert_eq!(json(with_read).await, json(with_write).await, "{method} {path}");
    }
}

async fn read_token_is_refused_every_write(app: TestApp) {
    let user = app.create_user("alice").await;
    let group = app.create_group("ops").await;
    let before_user = json(app.get(&format!("/Users/{user}")).await).await;
    let before_group = json(app.get(&format!("/Groups/{group}")).await).await;
    let token = read_token(&app);

    let new_user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory"});
    let new_group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "evil"});
    let replace = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "renamed"});
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "x"}],
    });
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b1", "data": new_user}],
    });
    // Not even a JSON body: the scope is checked before the body is read.
    let garbage = json!("not a resource");
    let writes: [(Method, String, Option<&Value>); 11] = [
        (Method::POST, "/Users".to_owned(), Some(&new_user)),
        (Method::POST, "/Groups".to_owned(), Some(&new_group)),
        (Method::PUT, format!("/Users/{user}"), Some(&replace)),
        (Method::PATCH, format!("/Users/{user}"), Some(&patch)),
        (Method::PATCH, format!("/Groups/{group}"), Some(&patch)),
        (Method::DELETE, format!("/Users/{user}"), None),
        (Method::DELETE, format!("/Groups/{group}"), None),
        (Method::POST, "/Bulk".to_owned(), Some(&bulk)),
        (Method::POST, "/Users".to_owned(), Some(&garbage)),
        (Method::PUT, format!("/Groups/{group}"), Some(&garbage)),
        (Method::POST, "/Bulk".to_owned(), Some(&garbage)),
    ];
    for (method, path, body) in writes {
        let response = send(&app, &token, method.clone(), &path, body).await;
        let error = assert_scim_error(response, 403, None).await;
        let detail = error["detail"].as_str().unwrap();
        assert!(
            detail.contains("read-only") && detail.contains("provisioning"),
            "{method} {path}: {error}"
        );
    }

    assert_eq!(json(app.get(&format!("/Users/{user}")).await).await, before_user);
    assert_eq!(
        json(app.get(&format!("/Groups/{group}")).await).await,
        before_group
    );
    assert_eq!(json(app.get("/Users").await).await["totalResults"], 1);
    assert_eq!(json(app.get("/Groups").await).await["totalResults"], 1);
}
