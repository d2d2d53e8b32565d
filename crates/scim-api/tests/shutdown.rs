//! Graceful shutdown of the real binary: after SIGTERM, `/readyz` answers 503 for the drain period while
//! requests are still served, then the process exits cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_fails_readiness_during_the_drain_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scim-api"))
        .env_clear()
        .env(
            "SCIM_DATABASE_URL",
            format!("sqlite://{}/scim.db", dir.path().display()),
        )
        .env("SCIM_LISTEN", "127.0.0.1:0")
        .env("SCIM_LOG_FORMAT", "json")
        .env("SCIM_SHUTDOWN_DRAIN_SECONDS", "3")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scim-api starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let entry: serde_json::Value = serde_json::from_str(&line).ok()?;
            (entry["fields"]["message"] == "scim-api listening").then(|| entry["fields"]["port"].as_u64())?
        })
        .expect("the listening line names the port");
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let status = |url: &str| reqwest::blocking::get(url).map(|r| r.status().as_u16()).ok();
    assert_eq!(status(&readyz), Some(200));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut saw_draining = false;
    while Instant::now() < deadline {
        if status(&readyz) == Some(503) {
            saw_draining = true;
            // Liveness still answers while draining.
            assert_eq!(status(&format!("http://127.0.0.1:{port}/healthz")), Some(200));
            break;
        }
    }
    assert!(saw_draining, "/readyz never reported draining");
    let exit = child.wait().unwrap();
    assert!(exit.success(), "scim-api exited with {exit}");
}
