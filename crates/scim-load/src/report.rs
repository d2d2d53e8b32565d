//! The run report: per-phase summaries, printed as a table or as JSON.
//!
//! Strategy: a scenario returns a [`RunReport`] made of [`PhaseReport`]s (one per phase, each with
//! per-operation and total summaries) plus scenario-specific `extra` figures (buckets, per-tenant
//! rates, sync totals). `--json` prints it verbatim for comparison between runs or servers; the
//! default is a compact table on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::stats::{OpSummary, Stats};

/// The whole run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub scenario: &'static str,
    pub run_prefix: String,
    pub targets: Vec<String>,
    /// Scenario parameters as given.
    pub params: serde_json::Value,
    pub phases: Vec<PhaseReport>,
    /// Scenario-specific results.
    pub extra: serde_json::Value,
    /// Set when a budget stopped the run before its plan was done.
    pub stopped_early: Option<String>,
    pub budget: BudgetReport,
}

/// The global bounds and how much of them the run used.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetReport {
    pub max_requests: u64,
    pub max_duration_secs: f64,
    pub requests_used: u64,
}

/// One phase of a scenario.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseReport {
    pub name: String,
    pub elapsed_secs: f64,
    pub total: OpSummary,
    pub operations: BTreeMap<String, OpSummary>,
}

impl PhaseReport {
    /// Summarizes a phase's stats over its wall time.
    pub fn from_stats(name: &str, stats: &Arc<Stats>, elapsed: Duration) -> anyhow::Result<Self> {
        let (operations, total) = stats.summary(elapsed)?;
        Ok(Self {
            name: name.to_owned(),
            elapsed_secs: elapsed.as_secs_f64(),
            total,
            operations,
        })
    }
}

fn row(out: &mut String, label: &str, s: &OpSummary) {
    let l = &s.latency_ms;
    let _ = writeln!(
        out,
        "  {label:<22} {:>9} {:>9} {:>7} {:>6} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
        s.requests, s.ok, s.errors, s.throttled, s.throughput_per_sec, l.p50, l.p95, l.p99, l.max
    );
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Flattens the scenario figures into `path: value` lines; latency buckets become one line each.
fn render_extra(out: &mut String, path: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                render_extra(out, &p, v);
            }
        }
        serde_json::Value::Array(items)
            if items.iter().all(|i| i.get("latencyMs").is_some()) && !items.is_empty() =>
        {
            let _ = writeln!(out, "  {path}:");
            for item in items {
                let l = &item["latencyMs"];
                let _ = writeln!(
                    out,
                    "    members {:>11}: p50 {:>9} p95 {:>9} p99 {:>9} max {:>9} ms (n={})",
                    scalar(&item["members"]),
                    scalar(&l["p50"]),
                    scalar(&l["p95"]),
                    scalar(&l["p99"]),
                    scalar(&l["max"]),
                    scalar(&l["samples"])
                );
            }
        }
        serde_json::Value::Array(items) => {
            let list: Vec<String> = items.iter().map(scalar).collect();
            let _ = writeln!(out, "  {path}: [{}]", list.join(", "));
        }
        other => {
            let _ = writeln!(out, "  {path}: {}", scalar(other));
        }
    }
}

impl RunReport {
    /// The human-readable table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scim-load {} | scenario {} | run {} | {} target(s): {}",
            self.version,
            self.scenario,
            self.run_prefix,
            self.targets.len(),
            self.targets.first().map(String::as_str).unwrap_or("-")
        );
        for phase in &self.phases {
            let _ = writeln!(out, "\nphase {} ({:.2}s)", phase.name, phase.elapsed_secs);
            let _ = writeln!(
                out,
                "  {:<22} {:>9} {:>9} {:>7} {:>6} {:>10} {:>8} {:>8} {:>8} {:>9}",
                "operation",
                "requests",
                "ok",
                "errors",
                "429",
                "ok/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms"
            );
            for (label, s) in &phase.operations {
                row(&mut out, label, s);
            }
            if phase.operations.len() > 1 {
                row(&mut out, "(all)", &phase.total);
            }
            for (label, s) in &phase.operations {
                if !s.error_kinds.is_empty() {
                    let _ = writeln!(out, "  errors in {label}: {:?}", s.error_kinds);
                }
            }
        }
        if !self.extra.is_null() {
            let _ = writeln!(out, "\nresults:");
            render_extra(&mut out, "", &self.extra);
        }
        let _ = writeln!(
            out,
            "\nbudget: {} of {} requests, {:.0}s max",
            self.budget.requests_used, self.budget.max_requests, self.budget.max_duration_secs
        );
        if let Some(reason) = &self.stopped_early {
            let _ = writeln!(out, "STOPPED EARLY: {reason}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_report_flattens_results_and_lists_buckets() {
        let stats = Arc::new(Stats::new().unwrap());
        stats.record(
            "user.create",
            Duration::from_millis(4),
            crate::stats::Outcome::Expected(201),
        );
        let phase = PhaseReport::from_stats("create", &stats, Duration::from_secs(1)).unwrap();
        let report = RunReport {
            tool: "scim-load",
            version: "0",
            scenario: "create",
            run_prefix: "sl-1".into(),
            targets: vec!["http://127.0.0.1:1/t".into()],
            params: json!({}),
            phases: vec![phase],
            extra: json!({"usersPerSec": 12.5, "nested": {"n": 3},
                "buckets": [{"members": "1-100", "latencyMs": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0, "samples": 100}}]}),
            stopped_early: Some("request budget exhausted".into()),
            budget: BudgetReport {
                max_requests: 10,
                max_duration_secs: 60.0,
                requests_used: 1,
            },
        };
        let text = report.to_text();
        assert!(text.contains("user.create"), "{text}");
        assert!(text.contains("usersPerSec: 12.500"), "{text}");
        assert!(text.contains("nested.n: 3"), "{text}");
        assert!(text.contains("members       1-100: p50     1.000"), "{text}");
        assert!(text.contains("STOPPED EARLY: request budget exhausted"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["phases"][0]["operations"]["user.create"]["statusCounts"]["201"],
            1
        );
        assert_eq!(json["stoppedEarly"], "request budget exhausted");
    }
}
