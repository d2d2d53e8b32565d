//! Hostile input: every malformed, oversized or malicious request is answered with a 4xx SCIM Error body
//! (never a 5xx, never a hang), and the server keeps serving normal requests afterwards.
//!
//! Each case is sent with a client timeout, so a hang fails the test instead of blocking the suite.
//! Requests that reqwest refuses to build (raw non-UTF-8 bytes in the request line, a body shorter than
//! its `Content-Length`) go over a raw TCP socket.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{SCIM_JSON, TestApp, assert_scim_error, json, on_both_backends};

on_both_backends!(
    ten_megabyte_body_is_413,
    ten_thousand_deep_json_is_400,
    hundred_kilobyte_filter_is_400_invalid_filter,
    bad_percent_encoding_and_bad_utf8_in_url_are_4xx,
    duplicate_json_keys_are_400,
    out_of_range_numbers_are_4xx,
    wrong_content_types_are_415,
    nul_bytes_in_strings_are_400,
    patch_with_ten_thousand_operations_is_answered,
    truncated_and_garbage_bodies_are_400,
    filter_operands_are_literals_and_odd_operands_never_500,
    hostile_bulk_requests_are_refused_or_answered_per_operation,
);

/// Generous bound for one hostile request on a loaded 2-core CI machine; a hang is what it catches.
const HANG: Duration = Duration::from_secs(60);

/// Sends with a timeout: a hang is a failure, not a stuck suite.
async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request
        .timeout(HANG)
        .send()
        .await
        .unwrap_or_else(|e| panic!("request failed or hung: {e}"))
}

/// The server still serves: a normal create and read succeed.
async fn still_serving(app: &TestApp) {
    let name = format!("alive-{}", uuid::Uuid::new_v4().simple());
    let id = app.create_user(&name).await;
    let response = app.get(&format!("/Users/{id}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["userName"], name.as_str());
}

/// A 4xx with a SCIM Error body, whatever the exact status.
async fn assert_scim_4xx(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let body = json(response).await;
    assert!((400..500).contains(&status), "status {status}: {body}");
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    body
}

fn post_raw(app: &TestApp, path: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    app.request(reqwest::Method::POST, path)
        .header("content-type", SCIM_JSON)
        .body(body)
}

/// Writes raw bytes to the server (optionally half-closing the socket after them) and returns its
/// answer as text. Blocking std I/O with timeouts, off the async runtime.
async fn raw_answer(app: &TestApp, request: Vec<u8>, half_close: bool) -> String {
    use std::io::{Read, Write};
    let host = app.address.trim_start_matches("http://").to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(HANG)).unwrap();
        stream.write_all(&request).unwrap();
        if half_close {
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut answer = Vec::new();
        // `Connection: close` in every raw request: the server ends the stream after its answer. A read
        // timeout means the server hung.
        match stream.read_to_end(&mut answer) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("raw request hung")
            }
            _ => answer,
        }
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code and body of a raw exchange.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> (u16, String) {
    let text = raw_answer(app, request.to_vec(), false).await;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn ten_megabyte_body_is_413(app: TestApp) {
    let padding = "x".repeat(10 * 1024 * 1024);
    let body = json!({"userName": "big", "title": padding}).to_string();
    for path in ["/Users", "/Bulk", "/.search", "/Groups/.search"] {
        let response = send(post_raw(&app, path, body.clone())).await;
        assert_scim_error(response, 413, None).await;
    }
    // The same through PUT and PATCH on an existing resource.
    let id = app.create_user("target").await;
    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        let response = send(
            app.request(method, &format!("/Users/{id}"))
                .header("content-type", SCIM_JSON)
                .body(body.clone()),
        )
        .await;
        assert_scim_error(response, 413, None).await;
    }
    still_serving(&app).await;
}

async fn ten_thousand_deep_json_is_400(app: TestApp) {
    let deep_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!(
        "{{\"userName\":\"deep\",\"title\":{}1{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    // Unbalanced: only openers, as an attacker would send to make a recursive parser overflow.
    let openers = "[".repeat(10_000);
    for body in [&deep_array, &deep_object, &openers] {
        for path in ["/Users", "/Groups", "/Bulk", "/.search"] {
            let response = send(post_raw(&app, path, body.clone())).await;
            assert_scim_error(response, 400, Some("invalidSyntax")).await;
        }
    }
    let id = app.create_group("deep-target").await;
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Groups/{id}"))
            .header("content-type", SCIM_JSON)
            .body(deep_object.clone()),
    )
    .await;
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    still_serving(&app).await;
}

async fn hundred_kilobyte_filter_is_400_invalid_filter(app: TestApp) {
    let long_value = format!("userName eq \"{}\"", "a".repeat(100 * 1024));
    let long_chain = vec!["userName eq \"a\""; 6_000].join(" or ");
    let deep_parens = format!("{}userName pr{}", "(".repeat(51_200), ")".repeat(51_200));
    for filter in [&long_value, &long_chain, &deep_parens] {
        assert!(filter.len() >= 100 * 1024, "{}", filter.len());
        // In the query string of a GET, where reqwest will not send it, so it goes raw. A target over
        // the `http` crate's 64 KiB URI limit is a SCIM 400 (`service::request_target`); a head past
        // actix's 128 KiB buffer is refused by actix itself with a bare 431.
        let encoded: String = serde_urlencoded::to_string([("filter", filter.as_str())]).unwrap();
        let raw = format!(
            "GET /scim/v2/acme/Users?{encoded} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            app.token
        );
        let (status, body) = raw_exchange(&app, raw.as_bytes()).await;
        match status {
            400 => {
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
            }
            431 => {}
            _ => panic!("{status}: {body}"),
        }
        // In a SearchRequest body.
        for path in ["/Users/.search", "/.search"] {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": filter,
            });
            let response = send(post_raw(&app, path, body.to_string())).await;
            assert_scim_error(response, 400, Some("invalidFilter")).await;
        }
    }
    // Under the URI limit, the filter limits of scim-core answer with a SCIM body: 2,500 clauses fit
    // in a 60 KB query string but exceed the node budget.
    let many_clauses = vec!["userName eq \"a\""; 2_500].join(" or ");
    let response = send(
        app.request(reqwest::Method::GET, "/Users")
            .query(&[("filter", many_clauses.as_str())]),
    )
    .await;
    assert_scim_error(response, 400, Some("invalidFilter")).await;
    still_serving(&app).await;
}

async fn bad_percent_encoding_and_bad_utf8_in_url_are_4xx(app: TestApp) {
    let id = app.create_user("percent").await;
    // Percent-escapes that are malformed or decode to invalid UTF-8, in the query and in the path.
    for query in [
        "filter=%ZZ",
        "filter=userName%20eq%20%22%FF%FE%22",
        "filter=%",
        "filter=userName+eq+%22%C0%AF%22",
        "attributes=%FF",
        "startIndex=%FF&count=%00",
        "filter=userName%20eq%20%22a%00b%22",
        "%FF=%FF",
    ] {
        let response = send(
            app.client
                .get(format!("{}?{query}", app.url("/Users")))
                .bearer_auth(&app.token),
        )
        .await;
        let status = response.status().as_u16();
        assert!(status < 500, "{query}: {status}");
        if status >= 400 {
            assert_scim_4xx(response).await;
        }
    }
    for path in [
        "/Users/%FF%FE",
        "/Users/%ZZ",
        "/Users/%00",
        "/Groups/%C0%AF",
        "/Schemas/%FF",
    ] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::PATCH,
            reqwest::Method::DELETE,
        ] {
            let response = send(
                app.client
                    .request(method.clone(), app.url(path))
                    .bearer_auth(&app.token)
                    .header("content-type", SCIM_JSON)
                    .body(r#"{"userName":"x","Operations":[]}"#),
            )
            .await;
            let status = response.status().as_u16();
            assert!((400..500).contains(&status), "{method} {path}: {status}");
            assert_scim_4xx(response).await;
        }
    }
    // A malformed tenant segment is the same 401 as an unknown tenant.
    let response = send(
        app.client
            .get(format!("{}/scim/v2/%FF%00/Users", app.address))
            .bearer_auth(&app.token),
    )
    .await;
    assert_scim_error(response, 401, None).await;
    // Raw bytes that are not UTF-8 (nor even ASCII) in the request line: percent-encoded on the way in
    // (`service::request_target`), then refused by routing with a SCIM body, never a 5xx.
    let mut raw =
        b"GET /scim/v2/acme/Users/\xff\xfe?filter=\xff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            .to_vec();
    raw.extend_from_slice(app.token.as_bytes());
    raw.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let (status, body) = raw_exchange(&app, &raw).await;
    assert!(
        (400..500).contains(&status),
        "raw non-UTF-8 request line: {status}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    let response = app.get(&format!("/Users/{id}")).await;
    assert_eq!(response.status(), 200);
    still_serving(&app).await;
}

async fn duplicate_json_keys_are_400(app: TestApp) {
    // RFC 8259 §4 leaves duplicate names undefined; a proxy or auditor that reads the first while the
    // server uses the last would disagree about what was written, so the body is refused.
    let bodies = [
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"first","userName":"second"}"#,
        r#"{"userName":"nested","name":{"givenName":"a","givenName":"b"}}"#,
        r#"{"userName":"in-array","emails":[{"value":"a@x.org","value":"b@x.org"}]}"#,
    ];
    for body in bodies {
        let response = send(post_raw(&app, "/Users", body)).await;
        assert_scim_error(response, 400, Some("invalidSyntax")).await;
    }
    let listed = json(app.get("/Users?filter=userName%20eq%20%22second%22").await).await;
    assert_eq!(listed["totalResults"], 0, "{listed}");
    let id = app.create_user("patched").await;
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false,"value":true}]}"#;
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
            .header("content-type", SCIM_JSON)
            .body(patch),
    )
    .await;
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    still_serving(&app).await;
}

async fn out_of_range_numbers_are_4xx(app: TestApp) {
    for (i, number) in [
        "1e400",
        "-1e400",
        "123456789012345678901234567890123456789012345678901234567890",
        "-99999999999999999999999999999999",
        "1e-400",
        "18446744073709551616",
    ]
    .iter()
    .enumerate()
    {
        // In a string attribute, in a boolean attribute, in an unknown attribute, in PATCH values and
        // in paging parameters.
        for body in [
            format!(r#"{{"userName":"n{i}","title":{number}}}"#),
            format!(r#"{{"userName":"b{i}","active":{number}}}"#),
            format!(r#"{{"userName":"u{i}","somethingElse":{number}}}"#),
        ] {
            let response = send(post_raw(&app, "/Users", body.clone())).await;
            let status = response.status().as_u16();
            assert!(status < 500, "{body}: {status}");
            if status >= 400 {
                assert_scim_4xx(response).await;
            }
        }
        let response = send(
            app.request(reqwest::Method::GET, "/Users")
                .query(&[("startIndex", *number), ("count", *number)]),
        )
        .await;
        let status = response.status().as_u16();
        assert!(status < 500, "paging {number}: {status}");
        if status >= 400 {
            assert_scim_4xx(response).await;
        }
    }
    let id = app.create_user("numbers").await;
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":1e400}]}"#;
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
            .header("content-type", SCIM_JSON)
            .body(patch),
    )
    .await;
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    let search = r#"{"startIndex":1e400,"count":-1e400}"#;
    let response = send(post_raw(&app, "/Users/.search", search)).await;
    assert_scim_4xx(response).await;
    still_serving(&app).await;
}

async fn wrong_content_types_are_415(app: TestApp) {
    let body = json!({"userName": "typed"}).to_string();
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "application/scim+jsonx",
        "json",
        "",
    ] {
        let response = send(
            app.request(reqwest::Method::POST, "/Users")
                .header("content-type", content_type)
                .body(body.clone()),
        )
        .await;
        assert_scim_error(response, 415, None).await;
    }
    // A content type that is not even a valid header string.
    let mut raw = b"POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Type: application/\xffjson\r\nContent-Length: 2\r\nConnection: close\r\nAuthorization: Bearer ".to_vec();
    raw.extend_from_slice(app.token.as_bytes());
    raw.extend_from_slice(b"\r\n\r\n{}");
    let (status, body) = raw_exchange(&app, &raw).await;
    assert!((400..500).contains(&status), "{status}: {body}");
    let listed = json(app.get("/Users").await).await;
    assert_eq!(listed["totalResults"], 0, "nothing was created: {listed}");
    still_serving(&app).await;
}

async fn nul_bytes_in_strings_are_400(app: TestApp) {
    // PostgreSQL text cannot hold U+0000, so the server refuses it on every backend: the same request
    // must not succeed on SQLite and fail on PostgreSQL.
    let bodies = [
        json!({"userName": "nul\u{0}byte"}),
        json!({"userName": "nul-title", "title": "a\u{0}b"}),
        json!({"userName": "nul-key", "urn:x\u{0}": {"a": 1}}),
        json!({"userName": "nul-email", "emails": [{"value": "a\u{0}@x.org"}]}),
    ];
    for body in &bodies {
        let response = send(post_raw(&app, "/Users", body.to_string())).await;
        assert_scim_error(response, 400, Some("invalidValue")).await;
    }
    let response = send(post_raw(
        &app,
        "/Groups",
        json!({"displayName": "g\u{0}"}).to_string(),
    ))
    .await;
    assert_scim_error(response, 400, Some("invalidValue")).await;
    let id = app.create_user("nul-target").await;
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "x\u{0}y"}]
    });
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
            .header("content-type", SCIM_JSON)
            .body(patch.to_string()),
    )
    .await;
    assert_scim_error(response, 400, Some("invalidValue")).await;
    // In a filter, from the query string and from a search body.
    let response = send(
        app.request(reqwest::Method::GET, "/Users")
            .query(&[("filter", "userName eq \"a\u{0}b\"")]),
    )
    .await;
    let status = response.status().as_u16();
    assert!(status == 200 || status == 400, "{status}");
    if status == 400 {
        assert_scim_4xx(response).await;
    } else {
        assert_eq!(json(response).await["totalResults"], 0);
    }
    let response = send(post_raw(
        &app,
        "/.search",
        json!({"filter": "displayName eq \"\u{0}\""}).to_string(),
    ))
    .await;
    let status = response.status().as_u16();
    assert!(status == 200 || status == 400, "{status}");
    let after = json(app.get(&format!("/Users/{id}")).await).await;
    assert_eq!(after["userName"], "nul-target");
    assert!(after.get("displayName").is_none(), "{after}");
    still_serving(&app).await;
}

async fn patch_with_ten_thousand_operations_is_answered(app: TestApp) {
    let user = app.create_user("many-ops").await;
    let operations: Vec<Value> = (0..10_000)
        .map(|i| json!({"op": "replace", "path": "title", "value": format!("t{i}")}))
        .collect();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Users/{user}"))
            .header("content-type", SCIM_JSON)
            .body(body.to_string()),
    )
    .await;
    let status = response.status().as_u16();
    if status == 200 {
        assert_eq!(
            json(response).await["title"],
            "t9999",
            "operations apply in order"
        );
    } else {
        assert_scim_4xx(response).await;
    }
    // Ten thousand member additions naming users that do not exist: refused as a whole.
    let group = app.create_group("many-ops").await;
    let operations: Vec<Value> = (0..10_000)
        .map(|i| json!({"op": "add", "path": "members", "value": [{"value": format!("missing-{i}")}]}))
        .collect();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Groups/{group}"))
            .header("content-type", SCIM_JSON)
            .body(body.to_string()),
    )
    .await;
    assert_scim_4xx(response).await;
    // Ten thousand removals of paths with filters: valid, each a no-op.
    let operations: Vec<Value> = (0..10_000)
        .map(|i| json!({"op": "remove", "path": format!("members[value eq \"gone-{i}\"]")}))
        .collect();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
    let response = send(
        app.request(reqwest::Method::PATCH, &format!("/Groups/{group}"))
            .header("content-type", SCIM_JSON)
            .body(body.to_string()),
    )
    .await;
    let status = response.status().as_u16();
    assert!(status == 204 || (400..500).contains(&status), "{status}");
    let members = json(app.get(&format!("/Groups/{group}")).await).await;
    assert!(
        members
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{members}"
    );
    still_serving(&app).await;
}

async fn truncated_and_garbage_bodies_are_400(app: TestApp) {
    for body in [
        "",
        "{",
        "{\"userName\":",
        "null",
        "[]",
        "\"just a string\"",
        "{\"userName\":\"\\ud800\"}",
        "{\"userName\":\"x\"} trailing",
        "\u{feff}{\"userName\":\"bom\"}",
    ] {
        let response = send(post_raw(&app, "/Users", body)).await;
        assert_scim_4xx(response).await;
    }
    // Invalid UTF-8 inside a JSON string.
    let response = send(post_raw(&app, "/Users", b"{\"userName\":\"\xff\xfe\"}".to_vec())).await;
    assert_scim_error(response, 400, Some("invalidSyntax")).await;
    // A body shorter than its Content-Length: the server must not wait forever. It answers once the
    // client gives up (here: half-closes the socket), or times the request out itself.
    let mut raw = b"POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\nConnection: close\r\nAuthorization: Bearer ".to_vec();
    raw.extend_from_slice(app.token.as_bytes());
    raw.extend_from_slice(b"\r\n\r\n{\"userName\":\"short\"}");
    let text = raw_answer(&app, raw, true).await;
    assert!(
        !text.starts_with("HTTP/1.1 2") && !text.starts_with("HTTP/1.1 5"),
        "{text}"
    );
    let listed = json(app.get("/Users?filter=userName%20eq%20%22short%22").await).await;
    assert_eq!(listed["totalResults"], 0, "{listed}");
    still_serving(&app).await;
}

async fn filter_operands_are_literals_and_odd_operands_never_500(app: TestApp) {
    for name in ["plain", "50%off", "under_score", "back\\slash", "quote'single"] {
        app.create_user(name).await;
    }
    // LIKE wildcards and escapes in co/sw/ew operands match themselves only.
    for (filter, expected) in [
        ("userName co \"%\"", vec!["50%off"]),
        ("userName sw \"_\"", vec![]),
        ("userName co \"_\"", vec!["under_score"]),
        ("userName ew \"%\"", vec![]),
        ("userName co \"\\\\\"", vec!["back\\slash"]),
        ("userName co \"'\"", vec!["quote'single"]),
        ("userName eq \"%\"", vec![]),
    ] {
        let response = send(
            app.request(reqwest::Method::GET, "/Users")
                .query(&[("filter", filter)]),
        )
        .await;
        assert_eq!(response.status(), 200, "{filter}");
        let body = json(response).await;
        let mut names: Vec<String> = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        assert_eq!(names, expected, "{filter}");
    }
    // Operands of the wrong type or out of range: a 400 or a result list, never a 5xx.
    for filter in [
        "userName gt 1e400",
        "userName gt 123456789012345678901234567890",
        "active eq 99999999999999999999999",
        "active gt \"x\"",
        "meta.created gt \"2020-13-45T99:99:99Z\"",
        "meta.lastModified lt \"not a date\"",
        "meta.created gt 5",
        "emails[value co \"%\" and type eq null].value pr",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber gt -1e308",
        "name.givenName eq true",
        "id eq \"' OR 1=1 --\"",
        "userName eq \"\\u0000\"",
    ] {
        let response = send(
            app.request(reqwest::Method::GET, "/Users")
                .query(&[("filter", filter)]),
        )
        .await;
        let status = response.status().as_u16();
        assert!(status == 200 || status == 400, "{filter}: {status}");
        let body = json(response).await;
        // Quotes in operands are data, never SQL.
        if status == 200 && filter.starts_with("id eq") {
            assert_eq!(body["totalResults"], 0, "{filter}: {body}");
        }
    }
    still_serving(&app).await;
}

async fn hostile_bulk_requests_are_refused_or_answered_per_operation(app: TestApp) {
    let bulk = |operations: Vec<Value>| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
            .to_string()
    };
    // Over maxOperations (1000): refused whole.
    let many: Vec<Value> = (0..1_001)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"userName": format!("bulk{i}")}}))
        .collect();
    let response = send(post_raw(&app, "/Bulk", bulk(many))).await;
    assert_scim_error(response, 413, None).await;
    assert_eq!(json(app.get("/Users").await).await["totalResults"], 0);
    // Circular and dangling bulkId references, unknown methods and paths, operations that are not
    // objects: each operation gets its own 4xx, the request as a whole is answered, nothing hangs.
    let operations = vec![
        json!({"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "ga", "members": [{"value": "bulkId:b"}]}}),
        json!({"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "gb", "members": [{"value": "bulkId:a"}]}}),
        json!({"method": "POST", "path": "/Groups", "bulkId": "c", "data": {"displayName": "gc", "members": [{"value": "bulkId:c"}]}}),
        json!({"method": "PATCH", "path": "/Users/bulkId:nowhere", "data": {"Operations": []}}),
        json!({"method": "TRACE", "path": "/Users"}),
        json!({"method": "POST", "path": "/../../etc/passwd", "data": {}}),
        json!({"method": "POST", "path": "/Bulk", "data": {}}),
        json!("not an object"),
        json!({"method": "DELETE", "path": "/Users/%00"}),
    ];
    let response = send(post_raw(&app, "/Bulk", bulk(operations))).await;
    let status = response.status().as_u16();
    let body = json(response).await;
    if status == 200 {
        let results = body["Operations"].as_array().unwrap();
        for result in results {
            let code: u16 = result["status"].as_str().unwrap().parse().unwrap();
            assert!(code < 500, "{result}");
        }
    } else {
        assert!((400..500).contains(&status), "{status}: {body}");
    }
    // Nothing that references a group not yet created got linked to anything.
    let groups = json(app.get("/Groups").await).await;
    for group in groups["Resources"].as_array().unwrap() {
        let members = group.get("members").and_then(Value::as_array).map_or(0, Vec::len);
        assert_eq!(members, 0, "{group}");
    }
    still_serving(&app).await;
}
