//! A "null" SCIM server: answers every request instantly with a canned, well-formed reply.
//!
//! Strategy: it measures the load tool, not a server. Running a scenario against it shows the
//! highest rate `scim-load` itself can drive on this machine (and its CPU cost per request), so a
//! server result near that ceiling is known to be tool-bound. HTTP/1.1 keep-alive, no parsing
//! beyond the request line and `Content-Length`: a filtered `GET` answers a one-result
//! ListResponse (none for the tool's `probe` names), any other `GET` a resource, `POST` a 201 with
//! a fresh id, anything else 204. Loopback only.
//!
//! `cargo run --release -p scim-load --example null_scim -- 18080`

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn reply(head: &str) -> String {
    let request_line = head.lines().next().unwrap_or_default();
    let (status, body) = if request_line.starts_with("GET ") && request_line.contains("probe") {
        (
            "200 OK",
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}"#.to_owned(),
        )
    } else if request_line.starts_with("GET ") && request_line.contains("filter=") {
        (
            "200 OK",
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"n1"}],"startIndex":1,"itemsPerPage":1}"#.to_owned(),
        )
    } else if request_line.starts_with("GET ") {
        ("200 OK", r#"{"id":"n1"}"#.to_owned())
    } else if head.starts_with("POST ") {
        (
            "201 Created",
            format!(r#"{{"id":"n{}"}}"#, NEXT_ID.fetch_add(1, Ordering::Relaxed)),
        )
    } else {
        ("204 No Content", String::new())
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

async fn serve(mut sock: TcpStream) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend(chunk.iter().take(n));
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned();
            let total = end + 4 + content_length(&head);
            if buf.len() < total {
                break;
            }
            buf.drain(..total);
            sock.write_all(reply(&head).as_bytes()).await?;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("null SCIM server on http://127.0.0.1:{port}/scim/v2/<tenant>");
    loop {
        match listener.accept().await {
            Ok((sock, _)) => {
                let _ = sock.set_nodelay(true);
                tokio::spawn(serve(sock));
            }
            // Out of file descriptors and the like: report and keep serving.
            Err(err) => {
                eprintln!("accept: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
