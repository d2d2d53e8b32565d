//! What scim-api logs, read from the log output of the real server: readiness is logged when it changes,
//! not on every probe.
//!
//! A separate test binary, because it installs the process-wide subscriber that captures all output.
//! Tests find their own lines by the request id they send.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "integration tests: a failed expectation must panic"
)]

#[path = "api/helpers.rs"]
#[expect(dead_code, reason = "shared with the api test binary, which uses all of it")]
mod helpers;

use serde_json::Value;
use service::testing::CapturedLogs;

use helpers::{TestApp, on_both_backends};

on_both_backends!(readiness_is_logged_when_it_changes);

fn logs() -> &'static CapturedLogs {
    CapturedLogs::install("info")
}

/// Sends `GET <path>` with `authorization` (a whole header value) and a fresh request id; returns the
/// status and the lines logged for that request.
async fn logged_get(app: &TestApp, path: &str, authorization: Option<&str>) -> (u16, Vec<Value>) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = app
        .client
        .get(format!("{}{path}", app.address))
        .header("x-request-id", &request_id);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let status = request.send().await.unwrap().status().as_u16();
    (status, logs().of_request(&request_id))
}

/// The readiness lines (`ready`, `not ready`) and any WARN or ERROR line among `lines`.
fn readiness_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| {
            let message = &l["fields"]["message"];
            *message == "ready" || *message == "not ready" || l["level"] == "WARN" || l["level"] == "ERROR"
        })
        .collect()
}

async fn readiness_is_logged_when_it_changes(app: TestApp) {
    logs();
    let probe = || async { logged_get(&app, "/readyz", None).await };
    // The first probe of the process reports the state it finds.
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "{lines:#?}");
    assert_eq!(logged[0]["fields"]["message"], "ready");
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    assert!(readiness_lines(&lines).is_empty(), "{lines:#?}");

    app.db.storage().revert_all_migrations().unwrap();
    let (status, lines) = probe().await;
    assert_eq!(status, 503);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "one WARN with the reason, no ERROR: {lines:#?}");
    assert_eq!(logged[0]["level"], "WARN");
    assert_eq!(logged[0]["fields"]["message"], "not ready");
    assert!(
        logged[0]["fields"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("database migrations pending"),
        "{}",
        logged[0]
    );
    for _ in 0..3 {
        let request_id = uuid::Uuid::new_v4().to_string();
        let response = app
            .client
            .get(format!("{}/readyz", app.address))
            .header("x-request-id", &request_id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "still not ready");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["reason"]
                .as_str()
                .unwrap()
                .ends_with("database migrations pending"),
            "the answer keeps the reason: {body}"
        );
        let lines = logs().of_request(&request_id);
        assert!(readiness_lines(&lines).is_empty(), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l["fields"]["message"] == "request completed"),
            "{lines:#?}"
        );
    }

    app.db.storage().run_migrations().unwrap();
    let (status, lines) = probe().await;
    assert_eq!(status, 200);
    let logged = readiness_lines(&lines);
    assert_eq!(logged.len(), 1, "{lines:#?}");
    assert_eq!(logged[0]["level"], "INFO");
    assert_eq!(logged[0]["fields"]["message"], "ready");
}
