//! The source of "now" for both services: a parameter, so tests can fix time.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where the current time comes from. Cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(Utc::now))
    }

    /// A clock that always answers `at` (tests).
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self(Arc::new(move || at))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_always_answers_its_time() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = Clock::fixed(at);
        assert_eq!((clock.now(), clock.clone().now()), (at, at));
    }
}
