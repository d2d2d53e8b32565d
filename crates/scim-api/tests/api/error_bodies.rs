//! Every error answer is a SCIM Error body, also when actix-web refuses the request before a handler
//! runs: methods a resource does not serve (405 with `Allow`), paths no route matches (404), inside and
//! outside a tenant's URL, and request targets the HTTP layer's URI parser refuses (sent over a raw
//! socket, as reqwest encodes them).

use reqwest::Method;
use serde_json::{Value, json};
use service::testing::{RawAnswer, RawHttp};

use crate::helpers::{SCIM_JSON, TestApp, assert_scim_error, on_both_backends};

on_both_backends!(
    unserved_methods_are_405_with_allow_and_a_scim_body,
    unmatched_paths_are_404_with_a_scim_body,
    raw_quotes_and_non_ascii_in_a_filter_reach_the_filter_parser,
    one_keep_alive_connection_carries_raw_targets_around_a_chunked_body,
    targets_no_encoding_makes_valid_get_a_scim_400,
);

/// Sends `requests` (written in one piece, so pipelined) on one connection and reads `answers` answers.
async fn raw_exchange(app: &TestApp, requests: Vec<u8>, answers: usize) -> Vec<RawAnswer> {
    let address = app.address.clone();
    tokio::task::spawn_blocking(move || {
        let mut connection = RawHttp::connect(&address);
        connection.send(&requests);
        (0..answers).map(|_| connection.answer()).collect()
    })
    .await
    .unwrap()
}

/// `GET <target>` with the tenant's token, as raw bytes.
fn raw_get(app: &TestApp, target: &[u8]) -> Vec<u8> {
    [
        b"GET ".as_slice(),
        target,
        format!(
            " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            app.token
        )
        .as_bytes(),
    ]
    .concat()
}

/// A SCIM answer's JSON body, after checking its status and media type.
fn scim_body(answer: &RawAnswer, status: u16) -> Value {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some(SCIM_JSON), "{}", answer.body);
    answer.json()
}

/// The userNames in a ListResponse answer.
fn listed_user_names(answer: &RawAnswer) -> Vec<String> {
    let body = scim_body(answer, 200);
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse",
        "{body}"
    );
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["userName"].as_str().unwrap().to_owned())
        .collect()
}

async fn raw_quotes_and_non_ascii_in_a_filter_reach_the_filter_parser(app: TestApp) {
    app.create_user("raw-quote").await;
    app.create_user("jos\u{e9}").await;
    let users = format!("/scim/v2/{}/Users", app.tenant);
    let requests = [
        raw_get(
            &app,
            format!("{users}?filter=userName%20eq%20\"raw-quote\"").as_bytes(),
        ),
        // UTF-8 sent as it is.
        raw_get(
            &app,
            format!("{users}?filter=userName%20eq%20\"jos\u{e9}\"").as_bytes(),
        ),
        // Not even UTF-8: answered as its percent-encoded form `%FF` is (it matches nobody).
        raw_get(
            &app,
            [format!("{users}?filter=userName%20eq%20\"").as_bytes(), b"\xff\""]
                .concat()
                .as_slice(),
        ),
        raw_get(&app, format!("{users}?filter=userName%20zz%20\"x\"").as_bytes()),
    ]
    .concat();
    let answers = raw_exchange(&app, requests, 4).await;
    assert_eq!(listed_user_names(&answers[0]), ["raw-quote"]);
    assert_eq!(listed_user_names(&answers[1]), ["jos\u{e9}"]);
    assert!(listed_user_names(&answers[2]).is_empty());
    let body = scim_body(&answers[3], 400);
    assert_eq!(body["scimType"], "invalidFilter", "{body}");
}

async fn one_keep_alive_connection_carries_raw_targets_around_a_chunked_body(app: TestApp) {
    app.create_user("before").await;
    let users = format!("/scim/v2/{}/Users", app.tenant);
    let find = |name: &str| {
        raw_get(
            &app,
            format!("{users}?filter=userName%20eq%20\"{name}\"").as_bytes(),
        )
    };
    // The body holds what the adapter would rewrite if it took it for a request line.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "chunked",
        "displayName": "GET /\"x\" HTTP/1.1",
    })
    .to_string();
    let (first, second) = body.split_at(body.len() / 2);
    let chunked_post = format!(
        "POST {users} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: {SCIM_JSON}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        app.token,
        first.len(),
        second.len(),
    );
    let requests = [
        find("before"),
        find("chunked"),
        chunked_post.into_bytes(),
        find("chunked"),
    ]
    .concat();
    let answers = raw_exchange(&app, requests, 4).await;
    assert_eq!(listed_user_names(&answers[0]), ["before"]);
    assert!(listed_user_names(&answers[1]).is_empty());
    let created = scim_body(&answers[2], 201);
    assert_eq!(created["displayName"], "GET /\"x\" HTTP/1.1", "{created}");
    assert_eq!(listed_user_names(&answers[3]), ["chunked"]);
}

async fn targets_no_encoding_makes_valid_get_a_scim_400(app: TestApp) {
    app.create_user("after").await;
    let users = format!("/scim/v2/{}/Users", app.tenant);
    // Over the `http` crate's 64 KiB URI limit (yet under actix's 128 KiB head), and a malformed
    // authority; then, on the same connection, a request that is answered normally.
    let too_long = format!("{users}?filter=userName%20eq%20\"{}\"", "a".repeat(70_000));
    let requests = [
        raw_get(&app, too_long.as_bytes()),
        raw_get(&app, b"http://[::1/Users"),
        raw_get(
            &app,
            format!("{users}?filter=userName%20eq%20\"after\"").as_bytes(),
        ),
    ]
    .concat();
    let answers = raw_exchange(&app, requests, 3).await;
    for refused in &answers[..2] {
        let body = scim_body(refused, 400);
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{body}"
        );
        assert_eq!(body["status"], "400", "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("the request target is not a valid URI"),
            "{body}"
        );
    }
    assert_eq!(listed_user_names(&answers[2]), ["after"]);

    // Raw spaces are refused with a body that says how to encode them, and the connection goes on.
    let spaced = format!("{users}?filter=userName eq \"after\"");
    let requests = [
        raw_get(&app, spaced.as_bytes()),
        raw_get(
            &app,
            format!("{users}?filter=userName%20eq%20%22after%22").as_bytes(),
        ),
    ]
    .concat();
    let answers = raw_exchange(&app, requests, 2).await;
    let body = scim_body(&answers[0], 400);
    assert!(body["detail"].as_str().unwrap().contains("%20"), "{body}");
    assert_eq!(listed_user_names(&answers[1]), ["after"]);
}

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
