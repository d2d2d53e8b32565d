//! A raw HTTP/1.1 connection for tests: bytes written exactly as given (what reqwest refuses to send, such
//! as unencoded quotes in a target), answers read one by one on a keep-alive connection.
//!
//! Blocking I/O with a read timeout, so a hung server fails the test; call it off the async runtime
//! (`spawn_blocking`).

#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "test helpers: a broken expectation must fail the test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use super::PATIENCE;

/// One connection to a server under test.
#[derive(Debug)]
pub struct RawHttp {
    reader: BufReader<TcpStream>,
}

/// One answer read off a [`RawHttp`] connection.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawAnswer {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find_map(|(n, value)| (n == name).then_some(value.as_str()))
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {:?}", self.status, self.body))
    }
}

impl RawHttp {
    /// Connects to `address` (`host:port`, or a URL starting `http://`).
    pub fn connect(address: &str) -> Self {
        let stream = TcpStream::connect(address.trim_start_matches("http://")).expect("server reachable");
        stream.set_read_timeout(Some(PATIENCE)).expect("read timeout set");
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Writes `request` as it is.
    pub fn send(&mut self, request: &[u8]) {
        self.reader.get_mut().write_all(request).expect("request written");
    }

    /// Reads the next answer: head, then a body framed by Content-Length or chunked coding.
    pub fn answer(&mut self) -> RawAnswer {
        let status_line = self.line();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a header: {line:?}"));
            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut answer = RawAnswer {
            status,
            headers,
            body: String::new(),
        };
        let mut body = Vec::new();
        if answer.header("transfer-encoding") == Some("chunked") {
            loop {
                let size_line = self.line();
                let size = usize::from_str_radix(size_line.split(';').next().unwrap_or_default(), 16)
                    .unwrap_or_else(|_| panic!("not a chunk size: {size_line:?}"));
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).expect("chunk read");
                chunk.truncate(size);
                body.extend_from_slice(&chunk);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = answer
                .header("content-length")
                .map_or(0, |n| n.parse().expect("Content-Length is a number"));
            body.resize(length, 0);
            self.reader.read_exact(&mut body).expect("body read");
        }
        answer.body = String::from_utf8_lossy(&body).into_owned();
        answer
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self.reader.read_line(&mut line).expect("answer read");
        assert!(read > 0, "connection closed before an answer");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }
}
