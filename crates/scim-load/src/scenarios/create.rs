//! `create`: `POST /Users` with Entra's body A, sequential by default.
//!
//! Strategy: Entra creates one object at a time per worker after a failed match, so the default is
//! one connection: the figure is users/s of back-to-back creates, which exposes per-insert cost
//! (commit latency, index maintenance). `-c N` shows how creates scale with concurrency. The
//! matching query is left out here (the `sync` scenario plays it) so the number is creates only.

use serde_json::json;

use super::{Ctx, Phase, ScenarioOutput, carry_on, for_each, user_spec};
use crate::cli::CreateArgs;
use crate::client::ScimClient;

/// Runs the scenario.
pub async fn run(ctx: &Ctx, client: &ScimClient, args: &CreateArgs) -> anyhow::Result<ScenarioOutput> {
    ctx.warn_if_over_budget(args.count as u64);
    let phase = Phase::start(ctx, "create", Some(args.count as u64), None)?;
    let c = phase.client(client);
    let prefix = ctx.run_prefix.clone();
    let stop = for_each(args.count, args.concurrency, move |i| {
        let (c, prefix) = (c.clone(), prefix.clone());
        async move { carry_on(c.create_user(&user_spec(&prefix, i)).await).map(drop) }
    })
    .await?;
    let report = phase.finish()?;
    let created = report.operations.get("user.create").map(|s| s.ok).unwrap_or(0);
    let users_per_sec = if report.elapsed_secs > 0.0 {
        created as f64 / report.elapsed_secs
    } else {
        0.0
    };
    let extra = json!({
        "usersCreated": created,
        "usersPerSec": users_per_sec,
        "concurrency": args.concurrency,
    });
    Ok((vec![report], extra, stop))
}
