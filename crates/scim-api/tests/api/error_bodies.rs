//! Every error answer is a SCIM Error body, also when actix-web refuses the request before a handler
//! runs: methods a resource does not serve (405 with `Allow`), paths no route matches (404), inside and
//! outside a tenant's URL.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{SCIM_JSON, TestApp, assert_scim_error, on_both_backends};

on_both_backends!(
    unserved_methods_are_405_with_allow_and_a_scim_body,
    unmatched_paths_are_404_with_a_scim_body,
);

async fn unserved_methods_are_405_with_allow_and_a_scim_body(app: TestApp) {
    let user = app.create_user("allowed").await;
    let tenant_url = |path: &str| app.url(path);
    let root_url = |path: &str| format!("{}{path}", app.address);
    let cases = [
        (Method::DELETE, tenant_url("/Users"), "GET, POST"),
        (
            Method::POST,
            tenant_url(&format!("/Users/{user}")),
            "GET, PUT, PATCH, DELETE",
        ),
        (Method::GET, tenant_url("/Users/.search"), "POST"),
        (Method::PATCH, tenant_url("/Groups"), "GET, POST"),
        (Method::GET, tenant_url("/.search"), "POST"),
        (Method::PUT, tenant_url("/Bulk"), "POST"),
        (Method::DELETE, tenant_url("/ServiceProviderConfig"), "GET"),
        (Method::POST, tenant_url("/ResourceTypes/User"), "GET"),
        (Method::PUT, tenant_url("/Schemas"), "GET"),
        (Method::POST, root_url("/healthz"), "GET"),
        (Method::DELETE, root_url("/readyz"), "GET"),
        (Method::POST, root_url("/metrics"), "GET"),
        (Method::PUT, root_url("/openapi.json"), "GET"),
    ];
    for (method, url, allow) in cases {
        let response = app
            .client
            .request(method.clone(), &url)
            .bearer_auth(&app.token)
            .header("content-type", SCIM_JSON)
            .body(json!({}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {url}"
        );
        let body = assert_scim_error(response, 405, None).await;
        assert!(
            body["detail"].as_str().unwrap().contains(method.as_str()),
            "{method} {url}: {body}"
        );
    }
}

async fn unmatched_paths_are_404_with_a_scim_body(app: TestApp) {
    for path in [
        "/",
        "/nope",
        "/scim/v2",
        "/scim/v2/acme/Users/x/extra",
        "/scim/v2/acme/Nope",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_scim_error(response, 404, None).await;
    }
}
