//! The operator endpoints next to the API: metrics.

use storage::testing::TestDb;

use crate::helpers::TestApp;

#[tokio::test]
async fn metrics_are_served_as_openmetrics_text() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");
}
