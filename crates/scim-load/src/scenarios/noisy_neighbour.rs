//! `noisy-neighbour`: can one tenant starve another?
//!
//! Strategy: seed the noisy tenant with `--noisy-users` users through Bulk requests and the quiet one
//! with `--quiet-users`; then, for `--duration`, run three loads at once on the same server:
//!
//! * the quiet tenant, open loop at `--quiet-rate` requests per second (no coordinated omission: each
//!   request is spawned on its tick): Entra's steady-state pattern, a `userName eq` lookup of a known
//!   user, and one PATCH of a work email and family name in five;
//! * `--noisy-clients` back-to-back clients of the noisy tenant sending a filter no index serves
//!   (`title co "zz" or name.givenName sw "Q"`, which scans every user of the tenant);
//! * `--bulk-clients` back-to-back clients of the noisy tenant sending `--bulk-operations`-operation
//!   Bulk creates.
//!
//! The quiet tenant's operations are labelled `quiet.*`, the noisy ones `noisy.*`; a 503 or 429 to the
//! noisy tenant is the server protecting the others and is counted as expected. The extra figures give
//! the quiet tenant's p50/p99 and error count, the number to watch.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::{Ctx, Phase, ScenarioOutput, carry_on, first_stop, for_each, lock, user_spec};
use crate::budget::{Budget, StopReason};
use crate::cli::NoisyNeighbourArgs;
use crate::client::{CallError, ScimClient};
use crate::entra;
use crate::rng::Rng;

/// The filter no index serves.
const UNINDEXED_FILTER: &str = r#"title co "zz" or name.givenName sw "Q""#;

/// A Bulk request creating users `first..first + count` of `prefix`.
fn bulk_creates(prefix: &str, first: usize, count: usize) -> Value {
    let operations: Vec<Value> = (first..first + count)
        .map(|i| {
            let spec = user_spec(prefix, i);
            json!({
                "method": "POST",
                "path": "/Users",
                "bulkId": format!("u{i}"),
                "data": entra::create_user(&spec),
            })
        })
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": operations,
    })
}

/// Runs the scenario.
pub async fn run(
    ctx: &Ctx,
    quiet: &ScimClient,
    noisy: &ScimClient,
    args: &NoisyNeighbourArgs,
) -> anyhow::Result<ScenarioOutput> {
    let noisy_prefix = format!("{}n", ctx.run_prefix);
    let bulk_size = args.bulk_operations.max(1);
    let mut phases = Vec::new();

    // Seeding: the noisy tenant through Bulk (two at a time), the quiet one user by user.
    let bulks = args.noisy_users.div_ceil(bulk_size);
    let seed = Phase::start(ctx, "seed", Some((bulks + args.quiet_users) as u64), None)?;
    let (c, prefix, users) = (seed.client(noisy), noisy_prefix.clone(), args.noisy_users);
    let mut stop = for_each(bulks, 2, move |b| {
        let (c, prefix) = (c.clone(), prefix.clone());
        async move {
            let first = b * bulk_size;
            let body = bulk_creates(&prefix, first, bulk_size.min(users - first));
            carry_on(c.post_bulk("seed.bulk", &body, &[200]).await).map(drop)
        }
    })
    .await?;
    let quiet_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    if stop.is_none() {
        let (c, prefix, ids) = (seed.client(quiet), ctx.run_prefix.clone(), Arc::clone(&quiet_ids));
        stop = for_each(args.quiet_users, 4, move |i| {
            let (c, prefix, ids) = (c.clone(), prefix.clone(), Arc::clone(&ids));
            async move {
                if let Some((id, _)) = carry_on(c.create_user(&user_spec(&prefix, i)).await)? {
                    lock(&ids).push((i, id));
                }
                Ok(())
            }
        })
        .await?;
    }
    phases.push(seed.finish()?);
    let quiet_ids: Arc<Vec<(usize, String)>> = Arc::new(std::mem::take(&mut *lock(&quiet_ids)));
    if stop.is_some() || quiet_ids.is_empty() {
        anyhow::ensure!(
            stop.is_some(),
            "no quiet user could be created (see the seed phase errors)"
        );
        return Ok((phases, json!({}), stop));
    }

    let budget = Budget::child(&ctx.budget, None, Some(args.duration));
    let phase = Phase::start(ctx, "contended", None, Some(Arc::clone(&budget)))?;
    let end = Instant::now() + args.duration;
    let mut noise = JoinSet::new();
    for worker in 0..args.noisy_clients {
        let c = phase.client(noisy);
        noise.spawn(async move {
            let _worker = worker;
            loop {
                match c
                    .search_users("noisy.filter", UNINDEXED_FILTER, "10", &[200, 503])
                    .await
                {
                    Err(CallError::Stop(reason)) => return Some(reason),
                    Ok(_) | Err(CallError::Failed) => {}
                }
                if Instant::now() >= end {
                    return None;
                }
            }
        });
    }
    for worker in 0..args.bulk_clients {
        let (c, prefix) = (phase.client(noisy), noisy_prefix.clone());
        noise.spawn(async move {
            let mut next = bulk_client_offset(worker);
            loop {
                let body = bulk_creates(&prefix, next, bulk_size);
                next += bulk_size;
                match c.post_bulk("noisy.bulk", &body, &[200, 503]).await {
                    Err(CallError::Stop(reason)) => return Some(reason),
                    Ok(_) | Err(CallError::Failed) => {}
                }
                if Instant::now() >= end {
                    return None;
                }
            }
        });
    }

    // The quiet tenant, open loop.
    let period = Duration::from_secs_f64(1.0 / args.quiet_rate.max(0.001));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let quiet_client = phase.client(quiet);
    let mut quiet_tasks = JoinSet::new();
    let mut rng = Rng::new(super::clock_seed());
    let mut ticks = 0u64;
    let quiet_stop: Option<StopReason> = loop {
        let tick = interval.tick().await;
        if tick >= end {
            break None;
        }
        if let Err(reason) = budget.check() {
            break Some(reason);
        }
        ticks += 1;
        while quiet_tasks.try_join_next().is_some() {}
        let Some((i, id)) = quiet_ids.get(rng.below(quiet_ids.len())).cloned() else {
            break None;
        };
        let (c, prefix) = (quiet_client.clone(), ctx.run_prefix.clone());
        quiet_tasks.spawn(async move {
            let spec = user_spec(&prefix, i);
            if ticks % 5 == 0 {
                let body = entra::update_attributes(&format!("t{ticks}.{}", spec.email), &spec.family_name);
                let _ = c.patch_user("quiet.update", &id, &body).await;
            } else if let Ok(None) = c.find_user("quiet.query", &spec.user_name).await {
                c.stats().note_error("quiet.query", "missing");
            }
        });
    };
    while quiet_tasks.join_next().await.is_some() {}
    let mut noise_stop = None;
    while let Some(joined) = noise.join_next().await {
        noise_stop = first_stop(noise_stop, joined.ok().flatten());
    }
    // The phase ends on its own budget; only a global stop is worth reporting.
    let global = ctx.budget.check().err();
    stop = first_stop(quiet_stop.and(global), noise_stop.and(global));
    let report = phase.finish()?;
    let op = |label: &str| report.operations.get(label).cloned();
    let summary = |label: &str| {
        op(label).map(|s| {
            json!({
                "requests": s.requests,
                "p50Ms": s.latency_ms.p50,
                "p99Ms": s.latency_ms.p99,
                "maxMs": s.latency_ms.max,
                "errors": s.errors,
                "throttled": s.throttled,
                "statuses": s.status_counts,
            })
        })
    };
    let extra = json!({
        "quietTicks": ticks,
        "quietQuery": summary("quiet.query"),
        "quietUpdate": summary("quiet.update"),
        "noisyFilter": summary("noisy.filter"),
        "noisyBulk": summary("noisy.bulk"),
    });
    phases.push(report);
    Ok((phases, extra, stop))
}

/// Where a bulk client's generated users start, past the seeded ones and apart from other clients.
fn bulk_client_offset(worker: usize) -> usize {
    10_000_000 + worker * 1_000_000
}
