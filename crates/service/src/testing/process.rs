//! Running the real binaries in tests: to their exit, or until their start-up line.
//!
//! Both wait on events, never on time, and give up after a deadline so a process that keeps serving
//! when it should have refused fails its test instead of hanging it. Logs are expected as JSON lines
//! (`SCIM_LOG_FORMAT=json`).

#![expect(
    clippy::panic,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers: a broken expectation must fail the test (indexing a JSON value never panics)"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `program` in `dir` with only these `SCIM_*` variables (and JSON logs at info): nothing of the test
/// runner's environment leaks into what is being tested.
pub fn isolated(program: &str, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("SCIM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied());
    command
}

/// How long a process may take to start or to give up.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What a process printed before it exited.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Exited {
    /// The last line on stderr: where the binaries print why they stopped.
    pub fn last_error_line(&self) -> &str {
        self.stderr.lines().last().unwrap_or_default()
    }
}

/// Runs `command` and waits for it to exit. A process still running after [`PATIENCE`] is killed and
/// fails the test.
pub fn run_to_exit(mut command: Command) -> Exited {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let Ok(output) = receiver.recv_timeout(PATIENCE) else {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        panic!("the process kept running instead of exiting");
    };
    let output = output.expect("the process's output is read");
    Exited {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A running process, killed when dropped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// The fields of the start-up line.
    pub line: Value,
    /// Every log entry before it (lines that are not JSON as strings).
    pub earlier: Vec<Value>,
    stdout: Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// The fields of the warnings logged before the start-up line, as JSON text.
    pub fn warnings(&self) -> Vec<String> {
        self.earlier
            .iter()
            .filter(|entry| entry["level"] == "WARN")
            .map(|entry| entry["fields"].to_string())
            .collect()
    }

    /// The next JSON value printed on stdout (it may span lines).
    pub fn printed_json(&self) -> Value {
        let mut printed = String::new();
        loop {
            let Ok(line) = self.stdout.recv_timeout(PATIENCE) else {
                panic!("no JSON on stdout: {printed}");
            };
            printed.push_str(&line);
            if let Ok(value) = serde_json::from_str(&printed) {
                return value;
            }
        }
    }
}

fn lines_of(reader: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Starts `command` and waits for the log line whose message is `message`.
pub fn start(mut command: Command, message: &str) -> Running {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = lines_of(child.stderr.take().expect("stderr is piped"));
    let stdout = lines_of(child.stdout.take().expect("stdout is piped"));
    let deadline = Instant::now() + PATIENCE;
    let mut earlier = Vec::new();
    loop {
        let Ok(text) = stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no {message:?} line; logged before: {earlier:?}");
        };
        let entry: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if entry["fields"]["message"] == message {
            return Running {
                child,
                line: entry["fields"].clone(),
                earlier,
                stdout,
            };
        }
        earlier.push(entry);
    }
}

/// The names in `dir`: what a refused start-up must not have created.
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("the directory is readable")
        .map(|entry| {
            entry
                .expect("the directory is readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}
