//! Command line: common bounds and target flags, one subcommand per scenario.
//!
//! Strategy: everything that bounds or aims a run is a global flag, so it reads the same after any
//! subcommand. Defaults are deliberately small (10,000 requests, 60 s): a big run has to be asked
//! for. Durations accept `500ms`, `30s`, `5m`, `1h` or bare seconds.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Replays Microsoft Entra ID provisioning traffic against a SCIM 2.0 endpoint and reports
/// throughput, p50/p95/p99 latency and errors.
#[derive(Debug, Parser)]
#[command(name = "scim-load", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every scenario understands.
#[derive(Debug, Args)]
pub struct Common {
    /// SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/<tenant>. In `tenants`, `{tenant}` in it
    /// is replaced by each tenant's name.
    #[arg(long, global = true, env = "SCIM_LOAD_BASE_URL")]
    pub base_url: Option<String>,

    /// Bearer token sent as `Authorization: Bearer <token>`.
    #[arg(long, global = true, env = "SCIM_LOAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Hard cap on HTTP requests for the whole run (retries included).
    #[arg(long, global = true, default_value_t = 10_000)]
    pub max_requests: u64,

    /// Hard cap on the run's wall time; no request starts after it.
    #[arg(long, global = true, default_value = "60s", value_parser = parse_duration)]
    pub max_duration: Duration,

    /// Timeout of a single HTTP request.
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Retries after a 429 (waiting for Retry-After) before the request counts as failed.
    #[arg(long, global = true, default_value_t = 3)]
    pub max_retries: u32,

    /// Print the summary as JSON on stdout (and no progress bar).
    #[arg(long, global = true)]
    pub json: bool,

    /// Never show the progress bar.
    #[arg(long, global = true)]
    pub no_progress: bool,

    /// Allow hosts other than 127.0.0.0/8, ::1 and localhost.
    #[arg(long, global = true)]
    pub allow_remote: bool,

    /// Prefix for created userNames and displayNames (default: random per run).
    #[arg(long, global = true, value_parser = parse_prefix)]
    pub run_prefix: Option<String>,

    /// Create groups with only the core Group schema URI, leaving out Entra's ADSCIM URI (for
    /// servers that reject unknown schema URIs, such as the Python reference server).
    #[arg(long, global = true)]
    pub core_group_schema: bool,

    /// Threads driving requests (default: one per core). With 1 the tool runs on one thread and
    /// leaves the other cores to a server on the same machine.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// The scenarios.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seed users, then hammer `GET /Users?filter=userName eq "..."` with C connections.
    Filter(FilterArgs),
    /// `POST /Users`, sequentially by default.
    Create(CreateArgs),
    /// One group, N one-member `Add` PATCHes; latency per bucket of members.
    GroupPatch(GroupPatchArgs),
    /// Entra initial sync (query, create, groups empty, one PATCH per membership), then optional
    /// incremental cycles.
    Sync(SyncArgs),
    /// Many tenants at once, each at a fixed request rate, playing incremental cycles.
    Tenants(TenantsArgs),
    /// A quiet tenant (--base-url, --token) plays Entra's pattern at a fixed rate while a noisy one
    /// (--noisy-base-url, --noisy-token) runs unindexed filters and 1,000-operation Bulk writes;
    /// reports the quiet tenant's latency and errors.
    NoisyNeighbour(NoisyNeighbourArgs),
    /// How long the 401 takes for an unknown token and for `--token`, a valid token of another tenant
    /// than the one `--base-url` names (requests interleaved on one connection).
    AuthTiming(AuthTimingArgs),
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Users to create before measuring.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Concurrent connections for the lookups (and the seeding).
    #[arg(long, short = 'c', default_value_t = 32)]
    pub connections: usize,
    /// Length of the lookup phase (bounded by --max-duration; 10s when neither this nor
    /// --requests is given).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Number of lookups (bounded by --max-requests).
    #[arg(long)]
    pub requests: Option<u64>,
    /// One lookup in N asks for a userName that does not exist (Test Connection's probe); 0 = never.
    #[arg(long, default_value_t = 0)]
    pub miss_every: u64,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Users to create.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Concurrent creates (1 = sequential, as Entra's per-object loop).
    #[arg(long, short = 'c', default_value_t = 1)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct GroupPatchArgs {
    /// Members to add, one PATCH each.
    #[arg(long, default_value_t = 1000)]
    pub members: usize,
    /// Members per latency bucket.
    #[arg(long, default_value_t = 100)]
    pub bucket: usize,
    /// Concurrent PATCHes to the group (1 = sequential, so latency is per member position).
    #[arg(long, short = 'c', default_value_t = 1)]
    pub concurrency: usize,
    /// Concurrent creates while seeding the users.
    #[arg(long, default_value_t = 8)]
    pub seed_concurrency: usize,
    /// Clients that fetch the full group (members included) at once at the end, each checking that it
    /// holds every member (with the server's peak memory from scripts/perf.sh: what big groups cost).
    #[arg(long, default_value_t = 1)]
    pub verify_clients: usize,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    #[arg(long, default_value_t = 10)]
    pub groups: usize,
    /// Memberships, spread evenly over the groups (each at most --users per group).
    #[arg(long, default_value_t = 2000)]
    pub memberships: usize,
    /// Concurrent requests (Entra works several objects at once).
    #[arg(long, short = 'c', default_value_t = 8)]
    pub concurrency: usize,
    /// Incremental cycles after the initial sync.
    #[arg(long, default_value_t = 0)]
    pub cycles: u32,
    /// Changes per incremental cycle.
    #[arg(long, default_value_t = 500)]
    pub changes: u64,
    /// Seed of the change mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct NoisyNeighbourArgs {
    /// The noisy tenant's SCIM base URL.
    #[arg(long)]
    pub noisy_base_url: String,
    /// The noisy tenant's bearer token.
    #[arg(long, env = "SCIM_LOAD_NOISY_TOKEN", hide_env_values = true)]
    pub noisy_token: String,
    /// Users the noisy tenant gets (through 1,000-operation Bulk requests) before the measurement;
    /// 0 when an earlier run with the same --run-prefix seeded them.
    #[arg(long, default_value_t = 50_000)]
    pub noisy_users: usize,
    /// Users the quiet tenant gets before the measurement.
    #[arg(long, default_value_t = 200)]
    pub quiet_users: usize,
    /// The quiet tenant's requests per second (lookups by userName, one PATCH in five).
    #[arg(long, default_value_t = 25.0)]
    pub quiet_rate: f64,
    /// Noisy clients sending the unindexed filter back to back.
    #[arg(long, default_value_t = 32)]
    pub noisy_clients: usize,
    /// Noisy clients sending 1,000-operation Bulk creates back to back.
    #[arg(long, default_value_t = 2)]
    pub bulk_clients: usize,
    /// Operations per noisy Bulk request.
    #[arg(long, default_value_t = 1000)]
    pub bulk_operations: usize,
    /// Length of the contended phase.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
}

#[derive(Debug, Args)]
pub struct TenantsArgs {
    /// Number of tenants (ignored with --targets-file, which lists them).
    #[arg(long, default_value_t = 10)]
    pub tenants: usize,
    /// Requests per second per tenant (Entra's gallery floor is 25).
    #[arg(long, default_value_t = 25.0)]
    pub rate: f64,
    /// Length of the steady phase (bounded by --max-duration).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Tenant start times are spread over this much of the steady phase, so a thousand tenants
    /// do not open their connections in the same millisecond.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub ramp: Duration,
    /// JSON list `[{"baseUrl":"…","apiToken":"…"}]`, one entry per tenant.
    #[arg(long, conflicts_with = "token_cmd")]
    pub targets_file: Option<PathBuf>,
    /// Shell command run per tenant, `{tenant}` replaced by its name, printing
    /// `{"baseUrl":"…","apiToken":"…"}`; e.g. `token-admin tokens issue {tenant}`. With
    /// --base-url too, its (templated) URL replaces the printed baseUrl.
    #[arg(long)]
    pub token_cmd: Option<String>,
    /// Users provisioned per tenant before the steady phase.
    #[arg(long, default_value_t = 20)]
    pub users_per_tenant: usize,
    /// Groups per tenant.
    #[arg(long, default_value_t = 2)]
    pub groups_per_tenant: usize,
    /// Memberships per tenant, spread over its groups.
    #[arg(long, default_value_t = 20)]
    pub memberships_per_tenant: usize,
    /// Tenants set up at once.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Changes in flight per tenant before ticks are counted as missed (8 covers 320 ms of
    /// latency at 25/s; more only piles connections onto a server that is already behind).
    #[arg(long, default_value_t = 8)]
    pub max_in_flight: usize,
    /// Seed of the change mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct AuthTimingArgs {
    /// Requests per token.
    #[arg(long, default_value_t = 300)]
    pub rounds: usize,
    /// A never-seen unknown token on every request (each costs the server a database lookup) instead
    /// of one unknown token repeated (after its first lookup, answered from the server's token cache).
    #[arg(long)]
    pub fresh_unknown: bool,
}

/// Parses `250ms`, `30s`, `5m`, `2h` or bare seconds (`1.5`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("invalid duration {raw:?}"))?;
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {raw:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {raw:?}: {e}"))
}

/// Run prefixes end up in userNames and filters: keep them to letters, digits, `-` and `_`.
fn parse_prefix(raw: &str) -> Result<String, String> {
    if raw.is_empty()
        || raw.len() > 40
        || !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("use 1-40 ASCII letters, digits, '-' or '_'".to_owned());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "scim-load",
            "filter",
            "--base-url",
            "http://127.0.0.1:8000/t1",
            "--max-requests",
            "50",
            "--json",
            "-c",
            "4",
        ])
        .unwrap();
        assert_eq!(cli.common.max_requests, 50);
        assert!(cli.common.json);
        assert_eq!(cli.common.max_duration, Duration::from_secs(60));
        match cli.command {
            Command::Filter(args) => assert_eq!(args.connections, 4),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn run_prefix_must_be_filter_safe() {
        assert!(Cli::try_parse_from(["scim-load", "create", "--run-prefix", "a\"b"]).is_err());
        assert!(Cli::try_parse_from(["scim-load", "create", "--run-prefix", "nightly-1"]).is_ok());
    }
}
