//! Test support for the services' integration tests (feature `testing`): running the real binaries
//! (`process.rs`) and capturing what an in-process server logs (`logs.rs`).

mod logs;
mod process;

pub use logs::CapturedLogs;
pub use process::*;
