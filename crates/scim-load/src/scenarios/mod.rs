//! Scenarios and the plumbing they share.
//!
//! Strategy: a scenario is a sequence of phases. Each [`Phase`] has its own stats, progress bar
//! and (optionally tighter) budget, and turns into a [`PhaseReport`] when finished. Work inside a
//! phase runs on a fixed pool of workers pulling item indices from a counter ([`for_each`]), which
//! is how "C concurrent connections" is modelled; the rate-driven tenant load lives in
//! [`incremental`]. Names are derived from the run prefix and an index, so runs never collide and
//! every created object can be found again by its name.

pub mod auth_timing;
pub mod create;
pub mod directory;
pub mod filter;
pub mod group_patch;
pub mod incremental;
pub mod noisy_neighbour;
pub mod sync;
pub mod tenants;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indicatif::ProgressBar;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::budget::{Budget, StopReason};
use crate::client::{CallError, ClientOptions, ScimClient};
use crate::entra::UserSpec;
use crate::progress::Progress;
use crate::report::PhaseReport;
use crate::stats::Stats;

/// What a scenario returns: its phases, its own figures, and why it stopped early (if it did).
pub type ScenarioOutput = (Vec<PhaseReport>, serde_json::Value, Option<StopReason>);

/// What every scenario gets from `main`.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub http: reqwest::Client,
    pub budget: Arc<Budget>,
    pub progress: Progress,
    pub run_prefix: String,
    pub options: Arc<ClientOptions>,
}

impl Ctx {
    /// Warns on stderr when a plan needs more requests than `--max-requests` allows: the run will
    /// stop early (and say so), which is easy to mistake for a slow server.
    pub fn warn_if_over_budget(&self, planned: u64) {
        let cap = self.budget.max_requests();
        if planned > cap {
            eprintln!(
                "scim-load: this plan needs about {planned} requests but --max-requests is {cap}; \
                 the run will stop early (raise --max-requests to complete it)"
            );
        }
    }
}

/// A phase in progress.
#[derive(Debug)]
pub struct Phase {
    name: String,
    stats: Arc<Stats>,
    bar: ProgressBar,
    budget: Arc<Budget>,
    started: Instant,
}

impl Phase {
    /// Starts a phase bounded by the run budget and, optionally, its own limits.
    pub fn start(
        ctx: &Ctx,
        name: &str,
        planned: Option<u64>,
        budget: Option<Arc<Budget>>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            stats: Arc::new(Stats::new()?),
            bar: ctx.progress.phase(name, planned),
            budget: budget.unwrap_or_else(|| Arc::clone(&ctx.budget)),
            started: Instant::now(),
        })
    }

    /// `client` re-pointed at this phase's stats, budget and bar.
    pub fn client(&self, client: &ScimClient) -> ScimClient {
        client.for_phase(
            Arc::clone(&self.budget),
            Arc::clone(&self.stats),
            self.bar.clone(),
        )
    }

    /// The phase's stats.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Ends the phase and summarizes it.
    pub fn finish(self) -> anyhow::Result<PhaseReport> {
        let elapsed = self.started.elapsed();
        self.bar.finish_and_clear();
        PhaseReport::from_stats(&self.name, &self.stats, elapsed)
    }
}

/// Locks a mutex, recovering the data if a worker panicked while holding it.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps the first stop reason seen.
pub fn first_stop(a: Option<StopReason>, b: Option<StopReason>) -> Option<StopReason> {
    a.or(b)
}

/// Turns a call result into "carry on" or "stop": failures are already counted.
pub fn carry_on<T>(result: Result<T, CallError>) -> Result<Option<T>, StopReason> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(CallError::Failed) => Ok(None),
        Err(CallError::Stop(reason)) => Err(reason),
    }
}

/// Runs `f(0..count)` on `concurrency` workers; returns why it stopped early, if it did.
pub async fn for_each<F, Fut>(count: usize, concurrency: usize, f: F) -> anyhow::Result<Option<StopReason>>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), StopReason>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let f = Arc::new(f);
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let next = Arc::clone(&next);
        let f = Arc::clone(&f);
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return None;
                }
                if let Err(reason) = f(i).await {
                    return Some(reason);
                }
            }
        });
    }
    let mut stop = None;
    while let Some(joined) = workers.join_next().await {
        stop = first_stop(stop, joined?);
    }
    Ok(stop)
}

/// The generated user number `i` of a run (or of a tenant within it).
pub fn user_spec(prefix: &str, i: usize) -> UserSpec {
    UserSpec {
        user_name: format!("{prefix}.user{i:06}@load.test"),
        external_id: format!("{prefix}-ext-u{i:06}"),
        email: format!("{prefix}.user{i:06}@load.test"),
        given_name: format!("Given{i}"),
        family_name: format!("Family{i}"),
    }
}

/// The displayName of group `g`.
pub fn group_name(prefix: &str, g: usize) -> String {
    format!("{prefix} group {g:05}")
}

/// A fresh run prefix: `sl-` and 8 hex digits from the clock and the process id.
pub fn random_prefix() -> String {
    let mut rng = crate::rng::Rng::new(clock_seed());
    format!("sl-{:08x}", rng.next_u64() & 0xffff_ffff)
}

/// A seed that differs per run: the clock mixed with the process id.
pub fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_distinct_and_prefixed() {
        let a = user_spec("sl-1", 1);
        let b = user_spec("sl-1", 2);
        assert_ne!(a.user_name, b.user_name);
        assert!(a.user_name.starts_with("sl-1."));
        assert_ne!(user_spec("sl-2", 1).user_name, a.user_name);
        assert_eq!(group_name("sl-1", 3), "sl-1 group 00003");
        let p = random_prefix();
        assert!(p.starts_with("sl-") && p.len() == 11, "{p}");
    }

    #[tokio::test]
    async fn for_each_visits_every_index_once_and_reports_stops() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let stop = for_each(100, 7, move |i| {
            let s = Arc::clone(&s);
            async move {
                lock(&s).push(i);
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(stop, None);
        let mut seen = lock(&seen).clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());

        let stop = for_each(100, 3, |i| async move {
            if i == 10 {
                Err(StopReason::Requests)
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(stop, Some(StopReason::Requests));
    }
}
