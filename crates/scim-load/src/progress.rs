//! Progress bars on stderr for long runs.
//!
//! Strategy: one bar per phase, counting HTTP attempts against the phase's planned total. Bars are
//! hidden when stderr is not a terminal, with `--json` or `--no-progress`, so piped output and CI
//! logs stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Makes the bars of a run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
}

impl Progress {
    pub fn new(requested: bool) -> Self {
        Self {
            enabled: requested && std::io::stderr().is_terminal(),
        }
    }

    /// A bar for one phase; `planned` requests, or a spinner when unknown.
    pub fn phase(&self, name: &str, planned: Option<u64>) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match planned {
            Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = match planned {
            Some(_) => "{prefix:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} req ({per_sec}, eta {eta})",
            None => "{prefix:>12} [{elapsed_precise}] {spinner} {pos} req ({per_sec})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}
