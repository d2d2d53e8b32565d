//! Test support for the services' integration tests (feature `testing`): running the real binaries
//! (`process.rs`), capturing what an in-process server logs (`logs.rs`), and talking raw HTTP/1.1
//! (`raw_http.rs`).

mod logs;
mod process;
mod raw_http;

pub use logs::CapturedLogs;
pub use process::*;
pub use raw_http::{RawAnswer, RawHttp};
