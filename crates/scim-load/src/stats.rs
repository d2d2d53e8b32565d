//! Outcome and latency accounting.
//!
//! Strategy: every HTTP attempt is recorded once, under the label of the SCIM operation it played
//! (`user.create`, `group.member.add`, ...). Each label owns an HDR histogram of latencies in
//! microseconds (1 µs to 1 h, 3 significant digits), so percentiles stay exact to 0.1 % whatever
//! the run length, and counters for statuses, error kinds and 429s. A phase of a scenario owns one
//! [`Stats`]; its [`Stats::summary`] folds the labels into per-operation and total summaries.
//!
//! A 429 is counted as `throttled` and kept out of the latency histogram and the error count: the
//! request is retried after `Retry-After`, and the retry is recorded on its own.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms track exactly; slower requests are clamped to it.
const MAX_TRACKED_MICROS: u64 = 3_600_000_000;

/// What came back from one HTTP attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A status the operation expects (for example 201 for a create).
    Expected(u16),
    /// Any other status, 429 excepted.
    Unexpected(u16),
    /// `429 Too Many Requests`; retried after `Retry-After`.
    Throttled,
    /// No HTTP response: connect error, timeout, broken body.
    Transport(&'static str),
}

/// Makes empty latency histograms with the bounds every recorder shares.
pub fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, 3)?)
}

/// Records one latency in microseconds, clamped to the tracked range.
pub fn record_latency(hist: &mut Histogram<u64>, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
    hist.saturating_record(micros);
}

#[derive(Debug, Clone)]
struct OpRecorder {
    hist: Histogram<u64>,
    requests: u64,
    ok: u64,
    throttled: u64,
    statuses: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
}

impl OpRecorder {
    fn new(hist: Histogram<u64>) -> Self {
        Self {
            hist,
            requests: 0,
            ok: 0,
            throttled: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }

    fn record(&mut self, latency: Duration, outcome: Outcome) {
        self.requests += 1;
        match outcome {
            Outcome::Expected(status) => {
                self.ok += 1;
                *self.statuses.entry(status.to_string()).or_default() += 1;
                record_latency(&mut self.hist, latency);
            }
            Outcome::Unexpected(status) => {
                *self.statuses.entry(status.to_string()).or_default() += 1;
                *self.errors.entry(format!("status:{status}")).or_default() += 1;
                record_latency(&mut self.hist, latency);
            }
            Outcome::Throttled => {
                self.throttled += 1;
                *self.statuses.entry("429".to_owned()).or_default() += 1;
            }
            Outcome::Transport(kind) => {
                *self.errors.entry(format!("transport:{kind}")).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: &Self) -> anyhow::Result<()> {
        self.hist.add(&other.hist)?;
        self.requests += other.requests;
        self.ok += other.ok;
        self.throttled += other.throttled;
        for (k, v) in &other.statuses {
            *self.statuses.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        Ok(())
    }

    fn summarize(&self, elapsed: Duration) -> OpSummary {
        let secs = elapsed.as_secs_f64();
        OpSummary {
            requests: self.requests,
            ok: self.ok,
            errors: self.errors.values().sum(),
            throttled: self.throttled,
            throughput_per_sec: if secs > 0.0 { self.ok as f64 / secs } else { 0.0 },
            status_counts: self.statuses.clone(),
            error_kinds: self.errors.clone(),
            latency_ms: LatencySummary::from_histogram(&self.hist),
        }
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    /// Number of latencies recorded.
    pub samples: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencySummary {
    /// Reads the percentiles off a microsecond histogram; all zero when it is empty.
    pub fn from_histogram(hist: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if hist.is_empty() {
            return Self {
                samples: 0,
                mean: 0.0,
                p50: 0.0,
                p95: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        Self {
            samples: hist.len(),
            mean: hist.mean() / 1000.0,
            p50: ms(hist.value_at_quantile(0.50)),
            p95: ms(hist.value_at_quantile(0.95)),
            p99: ms(hist.value_at_quantile(0.99)),
            max: ms(hist.max()),
        }
    }
}

/// Summary of one operation label (or of all of them) over a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpSummary {
    /// HTTP attempts, retries after 429 included.
    pub requests: u64,
    /// Attempts answered with an expected status.
    pub ok: u64,
    /// Unexpected statuses, transport failures and semantic mismatches.
    pub errors: u64,
    /// Attempts answered 429.
    pub throttled: u64,
    /// Successful answers (`ok`) per second of phase wall time: errors and 429s are not throughput.
    pub throughput_per_sec: f64,
    pub status_counts: BTreeMap<String, u64>,
    pub error_kinds: BTreeMap<String, u64>,
    pub latency_ms: LatencySummary,
}

/// Thread-safe recorder for one phase.
#[derive(Debug)]
pub struct Stats {
    template: Histogram<u64>,
    ops: Mutex<BTreeMap<&'static str, OpRecorder>>,
}

impl Stats {
    /// An empty recorder.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            template: new_histogram()?,
            ops: Mutex::new(BTreeMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, OpRecorder>> {
        // A panic elsewhere cannot leave a recorder half-updated in a way that matters for a report.
        self.ops.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records one HTTP attempt.
    pub fn record(&self, label: &'static str, latency: Duration, outcome: Outcome) {
        let mut ops = self.lock();
        ops.entry(label)
            .or_insert_with(|| OpRecorder::new(self.template.clone()))
            .record(latency, outcome);
    }

    /// Counts an error found in a response that had an expected status, for example a lookup of a
    /// user we created that came back with `totalResults: 0`.
    pub fn note_error(&self, label: &'static str, kind: &str) {
        self.add_error(label, kind, true);
    }

    /// Counts an error that no recorded attempt stands for as ok, for example a request given up
    /// after its 429 retries (the 429s are already counted as throttled).
    pub fn note_failure(&self, label: &'static str, kind: &str) {
        self.add_error(label, kind, false);
    }

    fn add_error(&self, label: &'static str, kind: &str, demote_ok: bool) {
        let mut ops = self.lock();
        let rec = ops
            .entry(label)
            .or_insert_with(|| OpRecorder::new(self.template.clone()));
        if demote_ok {
            rec.ok = rec.ok.saturating_sub(1);
        }
        *rec.errors.entry(kind.to_owned()).or_default() += 1;
    }

    /// Per-label summaries plus the total over all labels, with throughput over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> anyhow::Result<(BTreeMap<String, OpSummary>, OpSummary)> {
        let ops = self.lock();
        let mut total = OpRecorder::new(self.template.clone());
        let mut per_op = BTreeMap::new();
        for (label, rec) in ops.iter() {
            total.merge(rec)?;
            per_op.insert((*label).to_owned(), rec.summarize(elapsed));
        }
        Ok((per_op, total.summarize(elapsed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_uniform_latencies_match_ranks() {
        let stats = Stats::new().unwrap();
        for i in 1..=1000 {
            stats.record("op", ms(i), Outcome::Expected(200));
        }
        let (per_op, total) = stats.summary(Duration::from_secs(10)).unwrap();
        let op = &per_op["op"];
        assert_eq!(op.requests, 1000);
        assert_eq!(op.ok, 1000);
        assert_eq!(op.errors, 0);
        // 3 significant digits: within 0.1 % of the exact rank value.
        assert!((op.latency_ms.p50 - 500.0).abs() <= 0.5, "{}", op.latency_ms.p50);
        assert!((op.latency_ms.p95 - 950.0).abs() <= 1.0, "{}", op.latency_ms.p95);
        assert!((op.latency_ms.p99 - 990.0).abs() <= 1.0, "{}", op.latency_ms.p99);
        assert!((op.latency_ms.max - 1000.0).abs() <= 1.0, "{}", op.latency_ms.max);
        assert!(
            (op.latency_ms.mean - 500.5).abs() <= 0.5,
            "{}",
            op.latency_ms.mean
        );
        assert!((op.throughput_per_sec - 100.0).abs() < 1e-9);
        assert_eq!(total, *op);
    }

    #[test]
    fn tail_latency_shows_in_p99_but_not_p50() {
        let stats = Stats::new().unwrap();
        for _ in 0..985 {
            stats.record("op", ms(2), Outcome::Expected(200));
        }
        for _ in 0..15 {
            stats.record("op", ms(400), Outcome::Expected(200));
        }
        let (per_op, _) = stats.summary(ms(1000)).unwrap();
        let lat = per_op["op"].latency_ms;
        assert!((lat.p50 - 2.0).abs() < 0.01);
        assert!((lat.p95 - 2.0).abs() < 0.01);
        assert!((lat.p99 - 400.0).abs() < 0.5);
    }

    #[test]
    fn errors_throttles_and_statuses_are_counted_apart() {
        let stats = Stats::new().unwrap();
        stats.record("user.create", ms(5), Outcome::Expected(201));
        stats.record("user.create", ms(5), Outcome::Unexpected(409));
        stats.record("user.create", ms(1), Outcome::Throttled);
        stats.record("user.create", ms(30_000), Outcome::Transport("timeout"));
        stats.record("user.query", ms(3), Outcome::Expected(200));
        stats.note_error("user.query", "missing");
        let (per_op, total) = stats.summary(ms(1000)).unwrap();
        let create = &per_op["user.create"];
        assert_eq!(create.requests, 4);
        assert_eq!(create.ok, 1);
        assert_eq!(create.errors, 2);
        assert_eq!(create.throttled, 1);
        assert_eq!(create.status_counts["201"], 1);
        assert_eq!(create.status_counts["409"], 1);
        assert_eq!(create.status_counts["429"], 1);
        assert_eq!(create.error_kinds["status:409"], 1);
        assert_eq!(create.error_kinds["transport:timeout"], 1);
        // Only answered, non-429 attempts carry a latency.
        assert_eq!(create.latency_ms.samples, 2);
        let query = &per_op["user.query"];
        assert_eq!((query.ok, query.errors), (0, 1));
        // Throughput counts successful answers only: 1 of 4 attempts in one second.
        assert!(
            (create.throughput_per_sec - 1.0).abs() < 1e-9,
            "{}",
            create.throughput_per_sec
        );
        assert_eq!(query.throughput_per_sec, 0.0);
        assert_eq!(total.requests, 5);
        assert_eq!(total.errors, 3);
        assert_eq!(total.latency_ms.samples, 3);
    }

    #[test]
    fn empty_stats_summarize_to_zeroes() {
        let stats = Stats::new().unwrap();
        let (per_op, total) = stats.summary(Duration::ZERO).unwrap();
        assert!(per_op.is_empty());
        assert_eq!(total.requests, 0);
        assert_eq!(total.throughput_per_sec, 0.0);
        assert_eq!(total.latency_ms.p99, 0.0);
    }

    #[test]
    fn latencies_beyond_the_tracked_range_are_clamped() {
        let mut hist = new_histogram().unwrap();
        record_latency(&mut hist, Duration::from_secs(10_000));
        record_latency(&mut hist, Duration::ZERO);
        assert_eq!(hist.len(), 2);
        assert!(hist.max() >= MAX_TRACKED_MICROS);
        assert_eq!(hist.min(), 1);
    }
}
