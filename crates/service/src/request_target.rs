//! Request targets the `http` crate refuses, made valid before actix-web reads them.
//!
//! **Why.** actix-http reads each HTTP/1 request head with httparse, which takes any visible ASCII or UTF-8
//! as the request-target, and then builds the `http` crate's `Uri` from it, which refuses `<` and `>`, `"`
//! in the query, a backtick in the path, raw non-ASCII bytes and targets over 64 KiB. That refusal happens
//! in actix-http's h1 decoder (`src/h1/decoder.rs`, `Uri::try_from`), before any middleware, and actix
//! answers it with a bare `400` and no body; actix-web has no hook for it (actix-web issues #3102, #3158).
//! Clients do send such targets: a hand-written `?filter=userName eq "bob"` reaches the wire with its
//! quotes as they are from curl and Python's `http.client`.
//!
//! **What.** [`RepairingStream`] wraps each accepted connection (see `http_server`). In the request line of
//! each HTTP/1.x request whose target the `http` crate would refuse, it percent-encodes the bytes no URI
//! may hold (RFC 3986 §2: `"` `<` `>` `\` `^` `` ` `` `{` `|` `}` and bytes from 0x80), much as browsers
//! do. If the target is still refused (over 64 KiB, a malformed authority), it becomes
//! [`UNREPAIRABLE_TARGET`], which `error_format` answers with a 400 in the service's own error format.
//! Targets actix accepts, and every byte outside request targets, pass unchanged.
//!
//! **Why it is safe.**
//! - The encoded characters are never delimiters, so `%22` means what `"` meant: routing, path
//!   extraction and query parsing, which percent-decode, see the same values. `#`, `%` and `?` are left as
//!   they are.
//! - It does not autocorrect whitespace (RFC 9112 §3.2: such a request line may be crafted to get past
//!   filters): a request line `method SP target SP HTTP/1.x` whose target holds raw spaces gets
//!   [`SPACED_TARGET`] instead, which `error_format` refuses with a 400 that says to encode them. Any
//!   other line that is not of that form is left alone (HTTP/2's preface, garbage), for actix to refuse.
//! - It finds the next request line exactly where actix does. Each head ends at its empty line and is
//!   read with httparse, as actix reads it (same header limit); its body is followed by Content-Length or
//!   by the chunked coding, with actix's rules. Whatever it could not follow byte for byte as actix does
//!   (Transfer-Encoding other than one `chunked`, it together with Content-Length, a repeated or malformed
//!   Content-Length, Upgrade, CONNECT, chunk trailers, a head past actix's 128 KiB buffer, a malformed
//!   chunk) turns the connection into a plain copy for good. From then on bytes are only copied, so a
//!   byte actix reads as body is never rewritten. Where actix refuses a message, it closes the
//!   connection, so what the adapter does after that is never read.

use std::borrow::Cow;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::http::Uri;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The target a request gets when no encoding makes its own valid. Not a route: the framework-error
/// middleware answers it with a 400. A client asking for it by name gets the same 400.
pub const UNREPAIRABLE_TARGET: &str = "/.invalid-request-target";

/// The target a request gets when its own holds raw spaces; answered like [`UNREPAIRABLE_TARGET`], with
/// its own detail.
pub const SPACED_TARGET: &str = "/.request-target-with-spaces";

/// actix-http's limit on an unfinished head (`MAX_BUFFER_SIZE` in its `src/h1/decoder.rs`): past it,
/// actix refuses the request, and so the adapter stops looking.
const MAX_HEAD_BYTES: usize = 131_072;

/// The most headers actix-http reads in one head (`MAX_HEADERS` in its `src/h1/decoder.rs`).
const MAX_HEADERS: usize = 96;

/// A chunk-size line longer than this (its extensions, which actix ignores) is not followed.
const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// Bytes read from the socket per call while the adapter still looks at the stream.
const READ_CHUNK_BYTES: usize = 8192;

/// Bytes no URI may hold and that delimit nothing, percent-encoded when a target is refused.
fn needs_encoding(byte: u8) -> bool {
    byte >= 0x80 || b"\"<>\\^`{|}".contains(&byte)
}

/// What actix-http accepts as a target: UTF-8 (httparse) that the `http` crate parses as a `Uri`.
fn accepted(target: &[u8]) -> bool {
    std::str::from_utf8(target).is_ok_and(|target| Uri::try_from(target).is_ok())
}

/// The target to send on instead of `target`, or `None` when actix accepts it as it is.
fn repaired_target(target: &[u8]) -> Option<Vec<u8>> {
    if accepted(target) {
        return None;
    }
    let mut encoded = Vec::with_capacity(target.len() + 16);
    for &byte in target {
        if needs_encoding(byte) {
            encoded.extend_from_slice(format!("%{byte:02X}").as_bytes());
        } else {
            encoded.push(byte);
        }
    }
    Some(if accepted(&encoded) {
        encoded
    } else {
        UNREPAIRABLE_TARGET.as_bytes().to_vec()
    })
}

/// Where the adapter is in the stream of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a request, or in the empty lines httparse skips before one.
    Head,
    /// Inside a body: `remaining` bytes pass unchanged, then the next head (`chunk` false: a
    /// Content-Length body) or the CRLF that ends a chunk's data.
    Body { remaining: u64, chunk: bool },
    /// At a chunk-size line.
    ChunkSize,
    /// At the CRLF after a chunk's data, or after the last chunk (`last`; no trailers).
    ChunkEnd { last: bool },
    /// Copying everything, for good.
    PassThrough,
}

/// The sans-I/O part of [`RepairingStream`]: bytes from the client in, the bytes actix should read out.
#[derive(Debug)]
struct TargetRepair {
    state: State,
    /// Bytes read but not yet released: an unfinished head or chunk-size line (and what came after it).
    held: Vec<u8>,
    /// How much of the unfinished head in `held` has been searched for its end.
    searched: usize,
}

impl TargetRepair {
    fn new() -> Self {
        Self {
            state: State::Head,
            held: Vec::new(),
            searched: 0,
        }
    }

    /// Nothing held and nothing more to look at: reads can go straight to the socket.
    fn copies_only(&self) -> bool {
        self.state == State::PassThrough && self.held.is_empty()
    }

    /// Takes bytes read from the client and appends to `out` all that can be released.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut held = std::mem::take(&mut self.held);
        held.extend_from_slice(input);
        let mut at = 0;
        while let Some(rest) = held.get(at..).filter(|rest| !rest.is_empty()) {
            match self.step(rest, out) {
                Some(used) => at += used,
                None => break,
            }
        }
        held.drain(..at);
        self.held = held;
    }

    /// The client closed its side: whatever is held goes to actix as it is.
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.state = State::PassThrough;
        out.append(&mut self.held);
    }

    /// Handles the start of `rest` (never empty): the number of bytes used, which may be 0 after a
    /// change of state, or `None` when more input is needed.
    fn step(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        match self.state {
            State::PassThrough => {
                out.extend_from_slice(rest);
                Some(rest.len())
            }
            State::Body { remaining, chunk } => {
                let take = usize::try_from(remaining).map_or(rest.len(), |n| n.min(rest.len()));
                out.extend_from_slice(rest.get(..take).unwrap_or(rest));
                let remaining = remaining - take as u64;
                self.state = match (remaining, chunk) {
                    (0, false) => State::Head,
                    (0, true) => State::ChunkEnd { last: false },
                    _ => State::Body { remaining, chunk },
                };
                Some(take)
            }
            State::Head => self.head(rest, out),
            State::ChunkSize => self.chunk_size(rest, out),
            State::ChunkEnd { last } => match rest {
                [b'\r'] => None,
                [b'\r', b'\n', ..] => {
                    out.extend_from_slice(b"\r\n");
                    self.state = if last { State::Head } else { State::ChunkSize };
                    Some(2)
                }
                _ => self.give_up(),
            },
        }
    }

    /// Stops following the stream: everything from here on is copied.
    fn give_up(&mut self) -> Option<usize> {
        self.state = State::PassThrough;
        Some(0)
    }

    fn head(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        // httparse skips empty lines before a request line (some clients send a CRLF after a body).
        match rest {
            [b'\n', ..] | [b'\r', b'\n', ..] => {
                let used = if rest.first() == Some(&b'\n') { 1 } else { 2 };
                out.extend_from_slice(rest.get(..used).unwrap_or_default());
                return Some(used);
            }
            [b'\r'] => return None,
            [b'\r', ..] => return self.give_up(),
            _ => {}
        }
        let Some(end) = self.head_end(rest) else {
            return if rest.len() >= MAX_HEAD_BYTES {
                self.give_up()
            } else {
                None
            };
        };
        self.searched = 0;
        let original = rest.get(..end).unwrap_or(rest);
        match read_head(original) {
            Some((head, next)) => {
                out.extend_from_slice(&head);
                self.state = next.unwrap_or(State::PassThrough);
            }
            None => {
                out.extend_from_slice(original);
                self.state = State::PassThrough;
            }
        }
        Some(end)
    }

    /// The length of the head at the start of `rest` (up to and including its empty line), once it is
    /// all there. Remembers how far it searched, so a head arriving in small pieces is scanned once.
    fn head_end(&mut self, rest: &[u8]) -> Option<usize> {
        let mut from = self.searched;
        while let Some(newline) = rest.get(from..)?.iter().position(|&b| b == b'\n') {
            let at = from + newline;
            match rest.get(at + 1..) {
                Some([b'\n', ..]) => return Some(at + 2),
                Some([b'\r', b'\n', ..]) => return Some(at + 3),
                Some([] | [b'\r']) | None => {
                    self.searched = at;
                    return None;
                }
                Some(_) => from = at + 1,
            }
        }
        self.searched = rest.len();
        None
    }

    fn chunk_size(&mut self, rest: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        // actix wants a hex digit first; httparse would take an empty size as 0.
        if !rest.first().is_some_and(u8::is_ascii_hexdigit) {
            return self.give_up();
        }
        match httparse::parse_chunk_size(rest) {
            Ok(httparse::Status::Complete((used, size))) => {
                out.extend_from_slice(rest.get(..used).unwrap_or(rest));
                self.state = if size == 0 {
                    State::ChunkEnd { last: true }
                } else {
                    State::Body {
                        remaining: size,
                        chunk: true,
                    }
                };
                Some(used)
            }
            Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE_BYTES => None,
            Ok(httparse::Status::Partial) | Err(_) => self.give_up(),
        }
    }
}

/// A complete head as actix should read it, and the state after it (`None`: copy from then on). `None`
/// when the head is not one the adapter reads; it then passes as it came.
fn read_head(head: &[u8]) -> Option<(Cow<'_, [u8]>, Option<State>)> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = head.get(..line_end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let method_end = line.iter().position(|&b| b == b' ')?;
    let target_start = method_end + 1;
    // The version is the line's last word, so a target with raw spaces still ends right before it.
    let target_end = line.len().checked_sub(b" HTTP/1.1".len())?;
    let target = line.get(target_start..target_end)?;
    let version = line.get(target_end..)?;
    let well_formed = !target.is_empty()
        && target.first() != Some(&b' ')
        && target.last() != Some(&b' ')
        && target.iter().all(|&b| b >= b' ' && b != 0x7f)
        && matches!(version, b" HTTP/1.0" | b" HTTP/1.1");
    if !well_formed {
        return None;
    }
    let replacement = if target.contains(&b' ') {
        Some(SPACED_TARGET.as_bytes().to_vec())
    } else {
        repaired_target(target)
    };
    let head = match replacement {
        None => Cow::Borrowed(head),
        Some(replacement) => {
            let splice = |replacement: &[u8]| {
                [
                    head.get(..target_start),
                    Some(replacement),
                    head.get(target_end..),
                ]
                .into_iter()
                .flatten()
                .flatten()
                .copied()
                .collect::<Vec<u8>>()
            };
            let repaired = splice(&replacement);
            // Never hand actix a head longer than it takes when the client's own fitted.
            Cow::Owned(if repaired.len() > MAX_HEAD_BYTES {
                splice(UNREPAIRABLE_TARGET.as_bytes())
            } else {
                repaired
            })
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(&head) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        _ => return None,
    }
    let next = next_state(&request);
    Some((head, next))
}

/// How the body of a parsed request is framed, as actix-http frames it (`set_headers` and `decode` in
/// its `src/h1/decoder.rs`); `None` for whatever the adapter does not follow.
fn next_state(request: &httparse::Request<'_, '_>) -> Option<State> {
    if request.method == Some("CONNECT") {
        return None;
    }
    let mut length = None;
    let mut chunked = false;
    for header in request.headers.iter() {
        let name = header.name;
        let value = header.value.trim_ascii();
        if name.eq_ignore_ascii_case("content-length") {
            if length.is_some() || value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return None;
            }
            length = Some(std::str::from_utf8(value).ok()?.parse::<u64>().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !value.eq_ignore_ascii_case(b"chunked") {
                return None;
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("upgrade")
            || (name.eq_ignore_ascii_case("connection")
                && value
                    .split(|&b| b == b',')
                    .any(|option| option.trim_ascii().eq_ignore_ascii_case(b"upgrade")))
        {
            return None;
        }
    }
    match (chunked, length) {
        // HTTP/1.0 has no chunked coding; actix refuses it there.
        (true, None) if request.version == Some(1) => Some(State::ChunkSize),
        (true, _) => None,
        (false, Some(remaining)) if remaining > 0 => Some(State::Body {
            remaining,
            chunk: false,
        }),
        (false, _) => Some(State::Head),
    }
}

/// An accepted connection whose request targets are repaired on the way in (see the module doc).
/// Writes pass straight through.
#[derive(Debug)]
pub struct RepairingStream<S> {
    inner: S,
    repair: TargetRepair,
    /// Released bytes not yet handed to the reader, from `ready_from` on.
    ready: Vec<u8>,
    ready_from: usize,
}

impl<S> RepairingStream<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            repair: TargetRepair::new(),
            ready: Vec::new(),
            ready_from: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RepairingStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(ready) = this.ready.get(this.ready_from..).filter(|r| !r.is_empty()) {
                let n = ready.len().min(buf.remaining());
                buf.put_slice(ready.get(..n).unwrap_or_default());
                this.ready_from += n;
                if this.ready_from == this.ready.len() {
                    this.ready.clear();
                    this.ready_from = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.repair.copies_only() || buf.remaining() == 0 {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut chunk = [0; READ_CHUNK_BYTES];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.repair.finish(&mut this.ready);
                if this.ready.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            } else {
                this.repair.feed(read.filled(), &mut this.ready);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RepairingStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    /// What actix reads when the client sends `input` in one piece and closes.
    fn repaired(input: &[u8]) -> Vec<u8> {
        let mut repair = TargetRepair::new();
        let mut out = Vec::new();
        repair.feed(input, &mut out);
        repair.finish(&mut out);
        out
    }

    /// Asserts that `input` comes out as `expected` however it is split into two reads, and when it
    /// arrives one byte at a time.
    fn assert_repaired_in_any_pieces(input: &[u8], expected: &[u8]) {
        assert_eq!(text(&repaired(input)), text(expected));
        for split in 1..input.len() {
            let (first, second) = input.split_at(split);
            let mut repair = TargetRepair::new();
            let mut out = Vec::new();
            repair.feed(first, &mut out);
            repair.feed(second, &mut out);
            repair.finish(&mut out);
            assert_eq!(text(&out), text(expected), "split at {split}");
        }
        let mut repair = TargetRepair::new();
        let mut out = Vec::new();
        for byte in input {
            repair.feed(std::slice::from_ref(byte), &mut out);
        }
        repair.finish(&mut out);
        assert_eq!(text(&out), text(expected), "byte by byte");
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn get(target: &str) -> String {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    #[test]
    fn quotes_in_a_filter_are_percent_encoded_and_nothing_else_changes() {
        assert_repaired_in_any_pieces(
            get("/scim/v2/acme/Users?filter=userName%20eq%20\"bob\"").as_bytes(),
            get("/scim/v2/acme/Users?filter=userName%20eq%20%22bob%22").as_bytes(),
        );
    }

    #[test]
    fn every_byte_no_uri_may_hold_is_encoded_once_a_target_is_refused() {
        let input = b"GET /a`b?q=\"<>\\^`{|}\xc3\xa9\xff&r=%41#f HTTP/1.0\r\n\r\n";
        let expected = "GET /a%60b?q=%22%3C%3E%5C%5E%60%7B%7C%7D%C3%A9%FF&r=%41#f HTTP/1.0\r\n\r\n";
        assert_eq!(text(&repaired(input)), expected);
    }

    #[test]
    fn targets_actix_accepts_pass_byte_for_byte() {
        for target in [
            "/Users?filter=x{y}|z^w\\v`u",
            "/Users/{id}",
            "/a%zz?b=%",
            "*",
            "http://host:8080/Users?x=1",
        ] {
            let request = get(target);
            assert_eq!(text(&repaired(request.as_bytes())), request, "{target}");
        }
    }

    #[test]
    fn a_target_still_invalid_once_encoded_becomes_the_unrepairable_target() {
        let too_long = format!("/Users?filter={}", "a".repeat(70_000));
        for target in [too_long.as_str(), "http://[::1/Users?x=\"y\"", "http://h\"ost/"] {
            assert_eq!(
                text(&repaired(get(target).as_bytes())),
                get(UNREPAIRABLE_TARGET),
                "{}",
                target.get(..40).unwrap_or(target)
            );
        }
    }

    #[test]
    fn a_target_with_raw_spaces_is_refused_not_corrected() {
        for target in ["/Users?filter=userName eq \"bob\"", "/a b", "/a  b"] {
            assert_eq!(
                text(&repaired(get(target).as_bytes())),
                get(SPACED_TARGET),
                "{target}"
            );
        }
        // Not a request line of the form `method SP target SP HTTP/1.x`: left for actix to refuse.
        for line in [
            "GET  /a HTTP/1.1",
            "GET /a  HTTP/1.1",
            "GET /a b HTTP/2.0",
            "GET /a\tb HTTP/1.1",
        ] {
            let request = format!("{line}\r\nHost: x\r\n\r\n");
            assert_eq!(text(&repaired(request.as_bytes())), request, "{line}");
        }
    }

    #[test]
    fn pipelined_requests_are_each_repaired_and_bodies_left_alone() {
        // The body holds what would be repaired if it were read as a request line.
        let body = "GET /\"x\" HTTP/1.1\r\n\r\n";
        let input = format!(
            "{}POST /Users?x=\"1\" HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n{body}\r\n{}",
            get("/a?b=\"c\""),
            body.len(),
            get("/d?e=\"f\""),
        );
        let expected = format!(
            "{}POST /Users?x=%221%22 HTTP/1.1\r\nHost: x\r\ncontent-length: {}\r\n\r\n{body}\r\n{}",
            get("/a?b=%22c%22"),
            body.len(),
            get("/d?e=%22f%22"),
        );
        assert_repaired_in_any_pieces(input.as_bytes(), expected.as_bytes());
    }

    #[test]
    fn chunked_bodies_are_followed_at_every_byte_boundary() {
        let chunked = |target: &str| {
            format!(
                "POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 7\r\nGET /\"x\r\n18;ext=\"v\"\r\n HTTP/1.1\r\nHost: y\r\n\r\n{{}}\r\n0\r\n\r\n"
            )
        };
        let input = format!("{}{}{}", chunked("/a?q=\"1\""), get("/b?q=\"2\""), chunked("/c"));
        let expected = format!(
            "{}{}{}",
            chunked("/a?q=%221%22"),
            get("/b?q=%222%22"),
            chunked("/c")
        );
        assert_repaired_in_any_pieces(input.as_bytes(), expected.as_bytes());
    }

    #[test]
    fn empty_lines_before_a_request_line_are_skipped_as_httparse_does() {
        let input = format!("\r\n\n{}", get("/a?q=\"1\""));
        let expected = format!("\r\n\n{}", get("/a?q=%221%22"));
        assert_repaired_in_any_pieces(input.as_bytes(), expected.as_bytes());
    }

    #[test]
    fn zero_content_length_has_no_body() {
        let input = format!(
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n{}",
            get("/b?q=\"1\"")
        );
        let expected = input.replace("\"1\"", "%221%22");
        assert_repaired_in_any_pieces(input.as_bytes(), expected.as_bytes());
    }

    /// Heads after which the adapter does not know where the next request starts: that head is still
    /// repaired (or passed as it came), and everything after it is copied unchanged.
    #[test]
    fn unusual_framing_turns_the_connection_into_a_copy() {
        let next = get("/next?q=\"1\"");
        for head in [
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, upgrade\r\n\r\n",
            "CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n",
            // Not a request line the adapter reads.
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET /a HTTP/1.2\r\nHost: x\r\n\r\n",
            "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
            "\rGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            // A head httparse refuses.
            "GET /a HTTP/1.1\r\nHo st: x\r\n\r\n",
        ] {
            let input = format!("{head}{next}");
            assert_eq!(text(&repaired(input.as_bytes())), input, "{head}");
        }
        let repaired_head =
            repaired(format!("GET /a?q=\"1\" HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n{next}").as_bytes());
        assert_eq!(
            text(&repaired_head),
            format!("GET /a?q=%221%22 HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n{next}")
        );
    }

    #[test]
    fn chunk_syntax_actix_might_read_otherwise_turns_the_connection_into_a_copy() {
        let next = get("/next?q=\"1\"");
        let head = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        for body in [
            "0\r\nTrailer: x\r\n\r\n",
            "\r\n0\r\n\r\n",
            " 1\r\na\r\n0\r\n\r\n",
            "1\na\r\n0\r\n\r\n",
            "1\r\naXY0\r\n\r\n",
            "00000000000000001\r\na\r\n0\r\n\r\n",
        ] {
            let input = format!("{head}{body}{next}");
            assert_eq!(text(&repaired(input.as_bytes())), input, "{body:?}");
        }
        let long_extension = format!("1;{}\r\na\r\n0\r\n\r\n", "x".repeat(2 * MAX_CHUNK_LINE_BYTES));
        let input = format!("{head}{long_extension}{next}");
        let mut repair = TargetRepair::new();
        let mut out = Vec::new();
        for piece in input.as_bytes().chunks(100) {
            repair.feed(piece, &mut out);
        }
        assert_eq!(text(&out), input);
    }

    #[test]
    fn a_head_past_actix_buffer_is_copied_unchanged() {
        let input = format!(
            "GET /a?q=\"1\" HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n{}",
            "b".repeat(MAX_HEAD_BYTES),
            get("/b?q=\"1\"")
        );
        let mut repair = TargetRepair::new();
        let mut out = Vec::new();
        for piece in input.as_bytes().chunks(READ_CHUNK_BYTES) {
            repair.feed(piece, &mut out);
        }
        assert_eq!(text(&out), input);
    }

    #[test]
    fn an_encoded_head_never_grows_past_actix_buffer() {
        // Encoded, the target alone would be valid (60 KB); with the rest of the head, too long.
        let quotes = "\"".repeat(20_000);
        let input = format!(
            "GET /a?q={quotes} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "b".repeat(MAX_HEAD_BYTES - 30_000)
        );
        assert!(input.len() < MAX_HEAD_BYTES);
        let out = text(&repaired(input.as_bytes()));
        assert!(
            out.starts_with(&format!("GET {UNREPAIRABLE_TARGET} HTTP/1.1\r\n")),
            "{}",
            out.len()
        );
    }

    #[test]
    fn an_unfinished_request_goes_to_actix_as_it_came_when_the_client_closes() {
        for input in [
            "GET /a?q=\"1\" HTTP/1.1\r\nHost:",
            "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab",
        ] {
            assert_eq!(text(&repaired(input.as_bytes())), input);
        }
    }

    /// A reader handing out fixed pieces, each after one `Pending`, then end of stream.
    struct Pieces {
        pieces: std::collections::VecDeque<Vec<u8>>,
        pending_next: bool,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.pending_next = !self.pending_next;
            if self.pending_next {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if let Some(piece) = self.pieces.pop_front() {
                buf.put_slice(&piece);
            }
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_stream_hands_out_repaired_bytes_to_small_reads_across_pending_reads() {
        let input = format!("{}{}", get("/a?q=\"1\""), get("/b"));
        let pieces = input.as_bytes().chunks(7).map(<[u8]>::to_vec).collect();
        let mut stream = RepairingStream::new(Pieces {
            pieces,
            pending_next: false,
        });
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        loop {
            let mut small = [0; 5];
            let mut buf = ReadBuf::new(&mut small);
            match Pin::new(&mut stream).poll_read(&mut cx, &mut buf) {
                Poll::Pending => continue,
                Poll::Ready(result) => result.unwrap(),
            }
            if buf.filled().is_empty() {
                break;
            }
            out.extend_from_slice(buf.filled());
        }
        assert_eq!(text(&out), format!("{}{}", get("/a?q=%221%22"), get("/b")));
    }
}
