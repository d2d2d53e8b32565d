//! `tenants`: many tenants at once, each at a fixed request rate.
//!
//! Strategy: targets come from `--targets-file` (`[{"baseUrl","apiToken"}]`), from `--token-cmd`
//! run once per tenant (printing one such object), or from `--base-url` with `{tenant}` replaced
//! by each tenant's name (a base URL without `{tenant}` is shared, the tenants then being
//! distinguished only by their name prefixes). Every base URL passes the loopback guard.
//!
//! Phase `setup` gives each tenant a small initial sync (users, empty groups, memberships; not
//! rate-limited, `--setup-concurrency` tenants at a time). Phase `steady` then starts one
//! open-loop driver per tenant at `--rate` changes/s until `--duration` ends (start times spread
//! over `--ramp`, at least one period, so connections open gradually rather than in one SYN
//! storm), all recording into one histogram for the p99 across tenants. Per-tenant achieved
//! rates (min/median/max), missed ticks and tenants with errors show whether every tenant got the
//! rate Entra needs (25 requests/s).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Url;
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::directory::Directory;
use super::incremental::{DriverOutcome, run_open};
use super::sync::{Plan, sync_groups, sync_memberships, sync_users};
use super::{Ctx, Phase, ScenarioOutput, first_stop, for_each, lock};
use crate::cli::{Common, TenantsArgs};
use crate::client::ScimClient;
use crate::guard::check_base_url;

/// One tenant's endpoint, as `token-admin` prints it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub base_url: String,
    #[serde(default)]
    pub api_token: Option<String>,
}

/// Reads `[{"baseUrl":…,"apiToken":…}]`.
pub fn parse_targets(json: &str) -> anyhow::Result<Vec<Target>> {
    let targets: Vec<Target> =
        serde_json::from_str(json).context("targets must be a JSON list of {baseUrl, apiToken}")?;
    if targets.is_empty() {
        bail!("the targets list is empty");
    }
    Ok(targets)
}

/// Replaces `{tenant}` in a template (command or URL).
pub fn expand(template: &str, tenant: &str) -> String {
    template.replace("{tenant}", tenant)
}

fn run_token_cmd(template: &str, tenant: &str) -> anyhow::Result<Target> {
    let cmd = expand(template, tenant);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .with_context(|| format!("could not run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{cmd:?} did not print {{\"baseUrl\",\"apiToken\"}}"))
}

/// Tenant `i`'s name: lowercase, as tenant slugs are (`[a-z0-9][a-z0-9_-]*`).
fn tenant_name(run_prefix: &str, i: usize) -> String {
    format!("{}-t{i:04}", run_prefix.to_ascii_lowercase())
}

/// Resolves the tenants' targets and checks each against the loopback guard.
pub fn resolve_targets(
    common: &Common,
    args: &TenantsArgs,
    run_prefix: &str,
) -> anyhow::Result<Vec<(String, Url, Option<String>)>> {
    let names: Vec<String> = (0..args.tenants).map(|i| tenant_name(run_prefix, i)).collect();
    let targets: Vec<(String, Target)> = if let Some(path) = &args.targets_file {
        let raw = std::fs::read_to_string(Path::new(path))
            .with_context(|| format!("reading {}", path.display()))?;
        parse_targets(&raw)?
            .into_iter()
            .enumerate()
            .map(|(i, t)| (tenant_name(run_prefix, i), t))
            .collect()
    } else if let Some(cmd) = &args.token_cmd {
        // The command's baseUrl is the public one; `--base-url` (with `{tenant}`) overrides it, e.g.
        // to reach a local server whose configured public URL is not loopback.
        let mut issued = Vec::with_capacity(names.len());
        for name in names {
            let mut target = run_token_cmd(cmd, &name)?;
            if let Some(base) = &common.base_url {
                target.base_url = expand(base, &name);
            }
            issued.push((name, target));
        }
        issued
    } else {
        let Some(base) = &common.base_url else {
            bail!(
                "tenants needs --targets-file, --token-cmd or --base-url (with {{tenant}} for one URL per tenant)"
            );
        };
        names
            .into_iter()
            .map(|n| {
                let target = Target {
                    base_url: expand(base, &n),
                    api_token: common.token.clone(),
                };
                (n, target)
            })
            .collect()
    };
    targets
        .into_iter()
        .map(|(name, t)| {
            Ok((
                name,
                check_base_url(&t.base_url, common.allow_remote)?,
                t.api_token,
            ))
        })
        .collect()
}

/// One tenant of the run.
#[derive(Debug)]
struct Tenant {
    name: String,
    client: ScimClient,
    dir: Arc<Mutex<Directory>>,
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let idx = ((last as f64) * q).round() as usize;
    sorted.get(idx.min(last)).copied()
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx, common: &Common, args: &TenantsArgs) -> anyhow::Result<ScenarioOutput> {
    let targets = resolve_targets(common, args, &ctx.run_prefix)?;
    let plan = Plan::new(
        args.users_per_tenant,
        args.groups_per_tenant,
        args.memberships_per_tenant,
    );
    let steady_planned = (args.rate * args.duration.as_secs_f64()) as u64 * targets.len() as u64;
    ctx.warn_if_over_budget(plan.requests() * targets.len() as u64 + steady_planned);
    let setup = Phase::start(ctx, "setup", Some(plan.requests() * targets.len() as u64), None)?;
    let setup_stats_client = |url: &Url, token: &Option<String>| {
        let base = ScimClient::new(
            ctx.http.clone(),
            url,
            token.as_deref(),
            Arc::clone(&ctx.budget),
            Arc::clone(setup.stats()),
            Arc::clone(&ctx.options),
        );
        setup.client(&base)
    };
    let tenants: Arc<Vec<Tenant>> = Arc::new(
        targets
            .iter()
            .enumerate()
            .map(|(i, (name, url, token))| {
                let dir = Directory::new(
                    name.clone(),
                    plan.users,
                    plan.groups,
                    args.seed.wrapping_add(i as u64),
                );
                Tenant {
                    name: name.clone(),
                    client: setup_stats_client(url, token),
                    dir: Arc::new(Mutex::new(dir)),
                }
            })
            .collect(),
    );
    let t2 = Arc::clone(&tenants);
    let mut stop = for_each(tenants.len(), args.setup_concurrency, move |i| {
        let t = Arc::clone(&t2);
        async move {
            let Some(Tenant { client, dir, .. }) = t.get(i) else {
                return Ok(());
            };
            let to_stop = |r: anyhow::Result<Option<_>>| match r {
                Ok(Some(reason)) => Err(reason),
                _ => Ok(()),
            };
            to_stop(sync_users(client, dir, 1).await)?;
            to_stop(sync_groups(client, dir, 1).await)?;
            to_stop(sync_memberships(client, dir, plan.memberships, 1).await)
        }
    })
    .await?;
    let mut phases = vec![setup.finish()?];

    let mut outcomes: Vec<(String, DriverOutcome)> = Vec::new();
    if stop.is_none() {
        let planned = (args.rate * args.duration.as_secs_f64()) as u64 * tenants.len() as u64;
        let steady = Phase::start(ctx, "steady", Some(planned), None)?;
        let start = Instant::now() + Duration::from_millis(50);
        let end = (start + args.duration).min(ctx.budget.deadline());
        let period = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
        let n = tenants.len().max(1);
        let mut drivers = JoinSet::new();
        for (i, Tenant { name, client, dir }) in tenants.iter().enumerate() {
            let offset = period.max(args.ramp).mul_f64(i as f64 / n as f64);
            let (client, dir, name) = (steady.client(client), Arc::clone(dir), name.clone());
            let (rate, cap) = (args.rate, args.max_in_flight);
            drivers.spawn(async move { (name, run_open(client, dir, rate, start + offset, end, cap).await) });
        }
        while let Some(joined) = drivers.join_next().await {
            let (name, outcome) = joined?;
            stop = first_stop(stop, outcome.stop);
            outcomes.push((name, outcome));
        }
        phases.push(steady.finish()?);
    }

    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut rates: Vec<f64> = outcomes
        .iter()
        .map(|(_, o)| {
            if o.window_secs > 0.0 {
                o.sent as f64 / o.window_secs
            } else {
                0.0
            }
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let failed_tenants = outcomes.iter().filter(|(_, o)| o.succeeded < o.sent).count();
    let missed: u64 = outcomes.iter().map(|(_, o)| o.missed).sum();
    let below_target = rates.iter().filter(|r| **r < args.rate * 0.95).count();
    let provisioned_users: usize = tenants
        .iter()
        .map(|t| lock(&t.dir).users.iter().filter(|u| u.id.is_some()).count())
        .sum();
    let steady_total = phases.get(1).map(|p| &p.total);
    let extra = json!({
        "tenants": tenants.len(),
        "targetRatePerTenant": args.rate,
        "offeredRate": args.rate * tenants.len() as f64,
        // Changes sent per second over each tenant's tick window, summed (what the tool offered).
        "sentRate": rates.iter().sum::<f64>(),
        // Responses per second over the steady phase's wall time, drain included.
        "responsesPerSec": steady_total.map(|t| t.throughput_per_sec),
        "steadyP99Ms": steady_total.map(|t| t.latency_ms.p99),
        "steadyErrors": steady_total.map(|t| t.errors),
        "perTenantChangesPerSec": {
            "min": rates.first(),
            "median": quantile(&rates, 0.5),
            "max": rates.last(),
        },
        "tenantsBelow95PctOfRate": below_target,
        "tenantsWithFailedChanges": failed_tenants,
        "missedTicks": missed,
        "usersProvisioned": provisioned_users,
    });
    Ok((phases, extra, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_file_parses_token_admin_shape() {
        let t = parse_targets(r#"[{"baseUrl":"http://127.0.0.1:8080/scim/v2/a","apiToken":"x"},{"baseUrl":"http://127.0.0.1:8080/scim/v2/b"}]"#).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].api_token.as_deref(), Some("x"));
        assert_eq!(t[1].api_token, None);
        assert!(parse_targets("[]").is_err());
        assert!(parse_targets(r#"{"baseUrl":"x"}"#).is_err());
    }

    #[test]
    fn tenant_placeholder_is_expanded() {
        assert_eq!(
            expand("token-admin tokens issue {tenant}", "t1"),
            "token-admin tokens issue t1"
        );
        assert_eq!(
            expand("http://127.0.0.1:8080/scim/v2/{tenant}", "t1"),
            "http://127.0.0.1:8080/scim/v2/t1"
        );
    }

    #[test]
    fn token_cmd_output_is_read_as_a_target() {
        let t = run_token_cmd(
            r#"printf '{"baseUrl":"http://127.0.0.1:1/{tenant}","apiToken":"tok-%s"}' {tenant}"#,
            "t7",
        )
        .unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:1/t7");
        assert_eq!(t.api_token.as_deref(), Some("tok-t7"));
        assert!(run_token_cmd("exit 3", "t1").is_err());
        assert!(run_token_cmd("echo not-json", "t1").is_err());
    }

    #[test]
    fn quantiles_of_sorted_rates() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 1.0), Some(3.0));
    }
}
