//! Request and time budgets: every run is bounded.
//!
//! Strategy: a [`Budget`] holds a request cap, a deadline and a cancel flag (set on Ctrl-C). Every
//! HTTP attempt takes one unit first; once the cap, the deadline or the flag is hit, the client
//! refuses to send and the scenario winds down, reporting why it stopped. A phase can open a child
//! budget with its own, tighter limits (for example `filter --duration`); taking from a child also
//! takes from its parent, so the global `--max-requests`/`--max-duration` always hold.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Why a budget refuses further requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The request cap was reached.
    Requests,
    /// The deadline passed.
    Deadline,
    /// The user interrupted the run.
    Cancelled,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requests => "request budget exhausted",
            Self::Deadline => "time budget exhausted",
            Self::Cancelled => "cancelled",
        })
    }
}

/// A request cap and a deadline, optionally nested in a parent budget.
#[derive(Debug)]
pub struct Budget {
    max_requests: u64,
    taken: AtomicU64,
    deadline: Instant,
    cancelled: AtomicBool,
    parent: Option<Arc<Budget>>,
}

impl Budget {
    /// A root budget starting now.
    pub fn new(max_requests: u64, max_duration: Duration) -> Arc<Self> {
        Arc::new(Self {
            max_requests,
            taken: AtomicU64::new(0),
            deadline: Instant::now() + max_duration,
            cancelled: AtomicBool::new(false),
            parent: None,
        })
    }

    /// A budget bounded by its own limits and by all of `parent`'s.
    pub fn child(parent: &Arc<Self>, max_requests: Option<u64>, max_duration: Option<Duration>) -> Arc<Self> {
        let deadline = match max_duration {
            Some(d) => (Instant::now() + d).min(parent.deadline),
            None => parent.deadline,
        };
        Arc::new(Self {
            max_requests: max_requests.unwrap_or(u64::MAX),
            taken: AtomicU64::new(0),
            deadline,
            cancelled: AtomicBool::new(false),
            parent: Some(Arc::clone(parent)),
        })
    }

    /// Takes one request from this budget and its ancestors.
    pub fn take(&self) -> Result<(), StopReason> {
        self.check()?;
        if self.taken.fetch_add(1, Ordering::Relaxed) >= self.max_requests {
            return Err(StopReason::Requests);
        }
        match &self.parent {
            Some(parent) => parent.take(),
            None => Ok(()),
        }
    }

    /// Whether the budget would still allow a request, without taking one.
    pub fn check(&self) -> Result<(), StopReason> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(StopReason::Cancelled);
        }
        if Instant::now() >= self.deadline {
            return Err(StopReason::Deadline);
        }
        if self.taken.load(Ordering::Relaxed) >= self.max_requests {
            return Err(StopReason::Requests);
        }
        match &self.parent {
            Some(parent) => parent.check(),
            None => Ok(()),
        }
    }

    /// Stops every user of this budget (and of its children) at their next request.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// The request cap.
    pub fn max_requests(&self) -> u64 {
        self.max_requests
    }

    /// The instant after which no request is sent.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Requests taken so far (attempts refused at the cap are not counted).
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed).min(self.max_requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_cap_is_enforced() {
        let budget = Budget::new(3, Duration::from_secs(60));
        assert!(budget.take().is_ok());
        assert!(budget.take().is_ok());
        assert!(budget.take().is_ok());
        assert_eq!(budget.take(), Err(StopReason::Requests));
        assert_eq!(budget.check(), Err(StopReason::Requests));
        assert_eq!(budget.taken(), 3);
    }

    #[test]
    fn child_takes_from_parent_and_stops_at_either_cap() {
        let parent = Budget::new(5, Duration::from_secs(60));
        let child = Budget::child(&parent, Some(2), None);
        assert!(child.take().is_ok());
        assert!(child.take().is_ok());
        assert_eq!(child.take(), Err(StopReason::Requests));
        assert_eq!(parent.taken(), 2);
        let other = Budget::child(&parent, None, None);
        assert!(other.take().is_ok());
        assert!(other.take().is_ok());
        assert!(other.take().is_ok());
        assert_eq!(other.take(), Err(StopReason::Requests));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_stops_requests() {
        let budget = Budget::new(100, Duration::from_secs(2));
        assert!(budget.take().is_ok());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(budget.take(), Err(StopReason::Deadline));
    }

    #[test]
    fn cancel_reaches_children() {
        let parent = Budget::new(100, Duration::from_secs(60));
        let child = Budget::child(&parent, None, Some(Duration::from_secs(1)));
        parent.cancel();
        assert_eq!(child.take(), Err(StopReason::Cancelled));
    }
}
