//! `group-patch`: N one-member `Add` PATCHes into one group, latency by member position.
//!
//! Strategy: Entra adds memberships one PATCH at a time (300 users in a group means 300 PATCHes
//! to that group), so the cost of one add must not grow with the group. The scenario seeds N users
//! and one empty group, then adds member 1, 2, …, N in order (sequentially by default) and files
//! each PATCH's latency in the bucket of its position (`--bucket` members per bucket). A flat
//! server shows the same p50 in the first and last buckets; the report gives that ratio and the
//! least-squares slope of latency over position (ms per 1,000 members). A final
//! `GET /Groups/{id}` (members included) checks that the group really holds N members, from
//! `--verify-clients` clients at once (what serving a large group costs the server's memory).

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use serde_json::json;

use super::{Ctx, Phase, ScenarioOutput, carry_on, first_stop, for_each, group_name, lock, user_spec};
use crate::cli::GroupPatchArgs;
use crate::client::ScimClient;
use crate::entra;
use crate::stats::{LatencySummary, new_histogram, record_latency};

/// Latency samples `(member position, ms)` and per-bucket histograms.
#[derive(Debug)]
struct Positions {
    buckets: Vec<Histogram<u64>>,
    samples: Vec<(f64, f64)>,
}

/// Least-squares slope of `y` over `x`; `None` for fewer than two distinct `x`.
pub fn slope(samples: &[(f64, f64)]) -> Option<f64> {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return None;
    }
    let mean_x = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let mean_y = samples.iter().map(|s| s.1).sum::<f64>() / n;
    let cov: f64 = samples.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let var: f64 = samples.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (var > 0.0).then(|| cov / var)
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx, client: &ScimClient, args: &GroupPatchArgs) -> anyhow::Result<ScenarioOutput> {
    let n = args.members;
    let bucket = args.bucket.max(1);
    ctx.warn_if_over_budget(2 * n as u64 + 2);
    let seed = Phase::start(ctx, "seed", Some(n as u64 + 1), None)?;
    let ids: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; n]));
    let (c, prefix, ids2) = (seed.client(client), ctx.run_prefix.clone(), Arc::clone(&ids));
    let mut stop = for_each(n, args.seed_concurrency, move |i| {
        let (c, prefix, ids) = (c.clone(), prefix.clone(), Arc::clone(&ids2));
        async move {
            if let Some((id, _)) = carry_on(c.create_user(&user_spec(&prefix, i)).await)? {
                if let Some(slot) = lock(&ids).get_mut(i) {
                    *slot = Some(id);
                }
            }
            Ok(())
        }
    })
    .await?;
    let name = group_name(&ctx.run_prefix, 0);
    let group_id = match stop {
        Some(_) => None,
        None => match carry_on(
            seed.client(client)
                .create_group(&name, &format!("{}-ext-g0", ctx.run_prefix))
                .await,
        ) {
            Ok(id) => id,
            Err(reason) => {
                stop = Some(reason);
                None
            }
        },
    };
    let mut phases = vec![seed.finish()?];
    let Some(group_id) = group_id else {
        if stop.is_none() {
            anyhow::bail!("the group could not be created (see the seed phase errors)");
        }
        return Ok((phases, serde_json::Value::Null, stop));
    };

    let member_ids: Arc<Vec<Option<String>>> = Arc::new(std::mem::take(&mut *lock(&ids)));
    let bucket_count = n.div_ceil(bucket);
    let template = new_histogram()?;
    let positions = Arc::new(Mutex::new(Positions {
        buckets: vec![template; bucket_count],
        samples: Vec::with_capacity(n),
    }));
    let phase = Phase::start(ctx, "patch", Some(n as u64), None)?;
    let (c, gid, pos, mids) = (
        phase.client(client),
        group_id.clone(),
        Arc::clone(&positions),
        Arc::clone(&member_ids),
    );
    stop = first_stop(
        stop,
        for_each(n, args.concurrency, move |i| {
            let (c, gid, pos, mids) = (c.clone(), gid.clone(), Arc::clone(&pos), Arc::clone(&mids));
            async move {
                let Some(Some(user_id)) = mids.get(i) else {
                    return Ok(());
                };
                let body = entra::add_member(user_id);
                if let Some(latency) = carry_on(c.patch_group("group.member.add", &gid, &body).await)? {
                    let mut p = lock(&pos);
                    if let Some(h) = p.buckets.get_mut(i / bucket) {
                        record_latency(h, latency);
                    }
                    p.samples.push(((i + 1) as f64, latency.as_secs_f64() * 1000.0));
                }
                Ok(())
            }
        })
        .await?,
    );
    phases.push(phase.finish()?);

    // Every verifying client's member count; the group holds N members only if each saw N.
    let counts: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
    if stop.is_none() {
        let clients = args.verify_clients.max(1);
        let verify = Phase::start(ctx, "verify", Some(clients as u64), None)?;
        let (c, gid, seen) = (verify.client(client), group_id.clone(), Arc::clone(&counts));
        stop = first_stop(
            stop,
            for_each(clients, clients, move |_| {
                let (c, gid, seen) = (c.clone(), gid.clone(), Arc::clone(&seen));
                async move {
                    if let Some(group) = carry_on(c.get_group("group.get", &gid, true).await)? {
                        lock(&seen).push(group.members.map_or(0, |m| m.len()));
                    }
                    Ok(())
                }
            })
            .await?,
        );
        phases.push(verify.finish()?);
    }
    let member_count = lock(&counts).iter().copied().min();

    let p = lock(&positions);
    let buckets: Vec<_> = p
        .buckets
        .iter()
        .enumerate()
        .map(|(b, h)| {
            let first = b * bucket + 1;
            let last = ((b + 1) * bucket).min(n);
            json!({ "members": format!("{first}-{last}"), "latencyMs": LatencySummary::from_histogram(h) })
        })
        .collect();
    let p50 = |h: Option<&Histogram<u64>>| h.map(|h| LatencySummary::from_histogram(h).p50);
    let (first_p50, last_p50) = (p50(p.buckets.first()), p50(p.buckets.last()));
    let mut ordered = p.samples.clone();
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let extra = json!({
        "groupId": group_id,
        "members": n,
        "membersInGroupAfter": member_count,
        "patchTotalSecs": phases.get(1).map(|ph| ph.elapsed_secs),
        "firstMemberMs": ordered.first().map(|s| s.1),
        "lastMemberMs": ordered.last().map(|s| s.1),
        "firstBucketP50Ms": first_p50,
        "lastBucketP50Ms": last_p50,
        "lastOverFirstP50": match (first_p50, last_p50) { (Some(f), Some(l)) if f > 0.0 => Some(l / f), _ => None },
        "slopeMsPer1000Members": slope(&ordered).map(|s| s * 1000.0),
        "buckets": buckets,
    });
    Ok((phases, extra, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_flat_and_linear_series() {
        let flat: Vec<_> = (0..100).map(|i| (i as f64, 2.0)).collect();
        assert_eq!(slope(&flat), Some(0.0));
        let linear: Vec<_> = (0..100).map(|i| (i as f64, 1.0 + 0.5 * i as f64)).collect();
        assert!((slope(&linear).unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
