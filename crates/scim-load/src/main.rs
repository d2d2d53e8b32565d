//! `scim-load`: replays Microsoft Entra ID provisioning traffic against a SCIM 2.0 endpoint.
//!
//! Strategy: parse the command line, check every target with the loopback guard, build one
//! bounded [`budget::Budget`] (requests and wall time; Ctrl-C cancels it) and one HTTP connection
//! pool, run the chosen scenario, then print its report as a table or as JSON. Timing claims
//! about the server are made with this tool, never with timed assertions in tests. Usage and
//! scenario descriptions: `docs/load-tool.md`.

mod budget;
mod cli;
mod client;
mod entra;
mod guard;
mod progress;
mod report;
mod rng;
mod scenarios;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use crate::budget::Budget;
use crate::cli::{Cli, Command};
use crate::client::{ClientOptions, ScimClient, http_client};
use crate::progress::Progress;
use crate::report::{BudgetReport, RunReport};
use crate::scenarios::{Ctx, random_prefix};
use crate::stats::Stats;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = match cli.common.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut multi = tokio::runtime::Builder::new_multi_thread();
            multi.worker_threads(usize::from(n));
            multi
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let result = builder
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli.common, cli.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The cause chain on one line, without anyhow's backtrace dump.
            eprintln!("scim-load: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(common: cli::Common, command: Command) -> anyhow::Result<()> {
    let budget = Budget::new(common.max_requests, common.max_duration);
    let cancel = Arc::clone(&budget);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: finishing in-flight requests");
            cancel.cancel();
        }
    });
    let connections = match &command {
        Command::Filter(a) => a.connections,
        Command::Create(a) => a.concurrency,
        Command::GroupPatch(a) => a.concurrency.max(a.seed_concurrency),
        Command::Sync(a) => a.concurrency,
        // Keep every tenant's connections alive: closing idle ones past a small cap churns
        // through ephemeral ports (TIME_WAIT) at thousands of requests per second.
        Command::Tenants(a) => a.max_in_flight.saturating_mul(a.tenants.max(1)),
        Command::AuthTiming(_) => 1,
        Command::NoisyNeighbour(a) => a.noisy_clients + a.bulk_clients + 64,
    };
    let ctx = Ctx {
        http: http_client(connections.max(1), common.request_timeout)?,
        budget: Arc::clone(&budget),
        progress: Progress::new(!common.json && !common.no_progress),
        run_prefix: common.run_prefix.clone().unwrap_or_else(random_prefix),
        options: Arc::new(ClientOptions {
            max_retries: common.max_retries,
            core_group_schema: common.core_group_schema,
        }),
    };
    // One target for every scenario but `tenants`, which resolves its own.
    let single = || -> anyhow::Result<ScimClient> {
        let raw = common
            .base_url
            .as_deref()
            .context("--base-url (or SCIM_LOAD_BASE_URL) is required")?;
        let url = guard::check_base_url(raw, common.allow_remote)?;
        Ok(ScimClient::new(
            ctx.http.clone(),
            &url,
            common.token.as_deref(),
            Arc::clone(&budget),
            Arc::new(Stats::new()?),
            Arc::clone(&ctx.options),
        ))
    };
    let (scenario, params, output, targets) = match &command {
        Command::Filter(a) => {
            let params = serde_json::json!({"users": a.users, "connections": a.connections, "duration": a.duration.map(|d| d.as_secs_f64()), "requests": a.requests, "missEvery": a.miss_every});
            (
                "filter",
                params,
                scenarios::filter::run(&ctx, &single()?, a).await?,
                vec![],
            )
        }
        Command::Create(a) => {
            let params = serde_json::json!({"count": a.count, "concurrency": a.concurrency});
            (
                "create",
                params,
                scenarios::create::run(&ctx, &single()?, a).await?,
                vec![],
            )
        }
        Command::GroupPatch(a) => {
            let params =
                serde_json::json!({"members": a.members, "bucket": a.bucket, "concurrency": a.concurrency});
            (
                "group-patch",
                params,
                scenarios::group_patch::run(&ctx, &single()?, a).await?,
                vec![],
            )
        }
        Command::Sync(a) => {
            let params = serde_json::json!({"users": a.users, "groups": a.groups, "memberships": a.memberships, "concurrency": a.concurrency, "cycles": a.cycles, "changes": a.changes, "seed": a.seed});
            (
                "sync",
                params,
                scenarios::sync::run(&ctx, &single()?, a).await?,
                vec![],
            )
        }
        Command::AuthTiming(a) => {
            anyhow::ensure!(
                common.token.is_some(),
                "auth-timing needs --token: a valid token of another tenant than --base-url names"
            );
            let params = serde_json::json!({"rounds": a.rounds, "freshUnknown": a.fresh_unknown});
            (
                "auth-timing",
                params,
                scenarios::auth_timing::run(&ctx, &single()?, a).await?,
                vec![],
            )
        }
        Command::NoisyNeighbour(a) => {
            let params = serde_json::json!({"noisyUsers": a.noisy_users, "quietUsers": a.quiet_users, "quietRate": a.quiet_rate, "noisyClients": a.noisy_clients, "bulkClients": a.bulk_clients, "bulkOperations": a.bulk_operations, "duration": a.duration.as_secs_f64()});
            let quiet = single()?;
            let noisy_url = guard::check_base_url(&a.noisy_base_url, common.allow_remote)?;
            let noisy = ScimClient::new(
                ctx.http.clone(),
                &noisy_url,
                Some(&a.noisy_token),
                Arc::clone(&budget),
                Arc::new(Stats::new()?),
                Arc::clone(&ctx.options),
            );
            (
                "noisy-neighbour",
                params,
                scenarios::noisy_neighbour::run(&ctx, &quiet, &noisy, a).await?,
                vec![a.noisy_base_url.clone()],
            )
        }
        Command::Tenants(a) => {
            let params = serde_json::json!({"tenants": a.tenants, "rate": a.rate, "duration": a.duration.as_secs_f64(), "usersPerTenant": a.users_per_tenant, "groupsPerTenant": a.groups_per_tenant, "membershipsPerTenant": a.memberships_per_tenant, "maxInFlight": a.max_in_flight});
            let source = match (&a.targets_file, &a.token_cmd) {
                (Some(f), _) => format!("targets file {}", f.display()),
                (None, Some(cmd)) => format!("token command {cmd:?}"),
                (None, None) => common.base_url.clone().unwrap_or_default(),
            };
            (
                "tenants",
                params,
                scenarios::tenants::run(&ctx, &common, a).await?,
                vec![source],
            )
        }
    };
    let (phases, extra, stop) = output;
    let targets = if targets.is_empty() {
        common.base_url.iter().cloned().collect()
    } else {
        targets
    };
    let report = RunReport {
        tool: "scim-load",
        version: env!("CARGO_PKG_VERSION"),
        scenario,
        run_prefix: ctx.run_prefix.clone(),
        targets,
        params,
        phases,
        extra,
        stopped_early: stop.map(|r| r.to_string()),
        budget: BudgetReport {
            max_requests: common.max_requests,
            max_duration_secs: common.max_duration.as_secs_f64(),
            requests_used: budget.taken(),
        },
    };
    if common.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}
