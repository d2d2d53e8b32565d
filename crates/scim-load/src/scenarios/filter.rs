//! `filter`: `GET /Users?filter=userName eq "…"` under C concurrent connections.
//!
//! Strategy: seed `--users` users (concurrently, not measured as the target), then run C workers
//! that each look up a random seeded userName back to back until `--requests` or `--duration`
//! (both inside the global budget). This is the query Entra sends for every object of every cycle,
//! so it is the one that has to stay fast as a tenant grows. Each hit must return exactly the user
//! created (`totalResults` 1): a miss counts as an error (`missing`). With `--miss-every N`, one
//! lookup in N asks for a random non-existent name, as Test Connection does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::{Ctx, Phase, ScenarioOutput, carry_on, first_stop, for_each, lock, user_spec};
use crate::budget::Budget;
use crate::cli::FilterArgs;
use crate::client::ScimClient;
use crate::rng::Rng;

/// Runs the scenario.
pub async fn run(ctx: &Ctx, client: &ScimClient, args: &FilterArgs) -> anyhow::Result<ScenarioOutput> {
    ctx.warn_if_over_budget(args.users as u64 + args.requests.unwrap_or(0));
    let seed = Phase::start(ctx, "seed", Some(args.users as u64), None)?;
    let seeded = Arc::new(Mutex::new(Vec::with_capacity(args.users)));
    let (c, prefix, s) = (seed.client(client), ctx.run_prefix.clone(), Arc::clone(&seeded));
    let mut stop = for_each(args.users, args.connections, move |i| {
        let (c, prefix, s) = (c.clone(), prefix.clone(), Arc::clone(&s));
        async move {
            let spec = user_spec(&prefix, i);
            if carry_on(c.create_user(&spec).await)?.is_some() {
                lock(&s).push(spec.user_name);
            }
            Ok(())
        }
    })
    .await?;
    let mut phases = vec![seed.finish()?];
    let names: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *lock(&seeded)));
    if names.is_empty() && stop.is_none() {
        anyhow::bail!("no user could be created, nothing to look up (see the seed phase errors)");
    }

    if stop.is_none() {
        // Neither bound given: 10 s, so the phase ends on its own rather than on the run budget.
        let duration = match (args.requests, args.duration) {
            (None, None) => Some(Duration::from_secs(10)),
            (_, d) => d,
        };
        let budget = Budget::child(&ctx.budget, args.requests, duration);
        let phase = Phase::start(ctx, "lookup", args.requests, Some(budget))?;
        let c = phase.client(client);
        let misses = Arc::new(AtomicU64::new(0));
        let (prefix, miss_every) = (ctx.run_prefix.clone(), args.miss_every);
        let workers = args.connections.max(1);
        let lookups = Arc::new(AtomicU64::new(0));
        let (names2, misses2, lookups2) = (Arc::clone(&names), Arc::clone(&misses), Arc::clone(&lookups));
        let lookup_stop = for_each(workers, workers, move |worker| {
            let (c, names, prefix) = (c.clone(), Arc::clone(&names2), prefix.clone());
            let (misses, lookups) = (Arc::clone(&misses2), Arc::clone(&lookups2));
            async move {
                let mut rng = Rng::new(0x5eed ^ worker as u64);
                loop {
                    let n = lookups.fetch_add(1, Ordering::Relaxed) + 1;
                    if miss_every > 0 && n % miss_every == 0 {
                        let name = format!("{prefix}.probe-{:016x}", rng.next_u64());
                        if let Some(Some(_)) = carry_on(c.find_user("user.probe", &name).await)? {
                            c.stats().note_error("user.probe", "unexpected-match");
                        }
                        continue;
                    }
                    let Some(name) = names.get(rng.below(names.len())) else {
                        return Ok(());
                    };
                    if let Some(None) = carry_on(c.find_user("user.query", name).await)? {
                        misses.fetch_add(1, Ordering::Relaxed);
                        c.stats().note_error("user.query", "missing");
                    }
                }
            }
        })
        .await?;
        // The lookup phase always ends on its own budget; only a global stop is worth reporting.
        let global = ctx.budget.check().err();
        stop = first_stop(stop, lookup_stop.and(global));
        phases.push(phase.finish()?);
    }
    let lookup = phases.get(1).and_then(|p| p.operations.get("user.query"));
    let extra = json!({
        "seededUsers": names.len(),
        "connections": args.connections,
        "lookupsPerSec": lookup.map(|s| s.throughput_per_sec),
        "lookupP99Ms": lookup.map(|s| s.latency_ms.p99),
    });
    Ok((phases, extra, stop))
}
