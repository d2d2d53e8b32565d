//! The `token-admin` command line: `serve`, `migrate`, and bootstrap / break-glass commands that work on
//! the database directly, with no operator JWT (whoever can run the binary with the database URL already
//! holds the keys).
//!
//! Strategy: clap derive types here, execution in [`run_offline`] on top of [`crate::scim_tokens`] and [`crate::audit`] (the same code
//! the HTTP handlers use). Every command prints exactly one JSON value on stdout, so scripts can pipe it to
//! `jq`; logs go to stderr, starting with one line naming the database and public URL. Only `migrate`
//! creates a database. Offline actions are recorded in the audit log as operator `cli:<user>`
//! ([`crate::audit::cli_operator`]).

use std::io::Write;
use std::path::PathBuf;

use chrono::Duration;
use clap::{Parser, Subcommand};
use scim_core::TenantId;
use secrecy::ExposeSecret as _;
use serde::Serialize;
use serde_json::json;
use service::startup::StartupLine;
use service::{BoxError, Clock, ErrorContext, Settings};
use storage::open::{OpenError, OpenOptions};
use storage::portal::PortalScope;
use storage::{NewTenant, Storage, TokenScope};

use crate::audit::{audit, cli_operator};
use crate::error::AdminError;
use crate::portal::links;
use crate::routes::tenants::{TenantView, check_display_name, default_policy, parse_policy};
use crate::scim_tokens::{self, IssueOptions, TokenView};

/// Tenants, SCIM tokens and OAuth clients for the SCIM server.
#[derive(Debug, Parser)]
#[command(name = "token-admin", version)]
pub struct Cli {
    /// A TOML or JSON settings file; `SCIM_*` environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the admin HTTP API on `admin_listen`.
    Serve,
    /// Apply pending database migrations and exit (for a Kubernetes Job).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage a tenant's SCIM bearer tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Make a one-time setup-portal link; prints `{"url","expiresAt","scope","tenant"}`.
    PortalLink {
        /// The tenant whose admin gets the link.
        #[arg(required_unless_present = "operator", conflicts_with = "operator")]
        slug: Option<String>,
        /// A link for the vendor's staff: every tenant's page (operator view).
        #[arg(long)]
        operator: bool,
        /// How long the link can be opened, e.g. `1h`; default `portal_link_expiry_minutes`, at most 7 days.
        #[arg(long, value_parser = scim_tokens::parse_duration)]
        expires_in: Option<Duration>,
    },
}

impl Command {
    /// The command as typed, for the start-up line.
    fn name(&self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Migrate => "migrate",
            Self::Tenants(TenantsCommand::Create { .. }) => "tenants create",
            Self::Tenants(TenantsCommand::List) => "tenants list",
            Self::Tokens(TokensCommand::Issue { .. }) => "tokens issue",
            Self::Tokens(TokensCommand::Revoke { .. }) => "tokens revoke",
            Self::Tokens(TokensCommand::List { .. }) => "tokens list",
            Self::PortalLink { .. } => "portal-link",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// The tenant slug, used in `/scim/v2/<slug>`.
        slug: String,
        /// A name for people, up to 200 characters; the slug if omitted.
        #[arg(long)]
        display_name: Option<String>,
        /// The policy document as JSON.
        #[arg(long)]
        policy: Option<String>,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token; prints `{"id","baseUrl","apiToken","expiresAt"}`. The token is shown only here.
    Issue {
        /// The tenant slug.
        slug: String,
        /// Revoke the tenant's other provisioning (`write`) tokens; read tokens stay.
        #[arg(long)]
        rotate: bool,
        /// `write`: a provisioning token for the IdP (every SCIM operation); `read`: reads and searches only.
        #[arg(long, default_value = "write", value_parser = scim_tokens::parse_scope)]
        scope: TokenScope,
        /// A note shown by `tokens list`, e.g. `entra`; up to 200 characters.
        #[arg(long)]
        label: Option<String>,
        /// Lifetime such as `90d`, `12h`; without it the token does not expire.
        #[arg(long, value_parser = scim_tokens::parse_duration)]
        expires_in: Option<Duration>,
        /// With `--rotate`: how long the other tokens keep working, e.g. `1h`.
        #[arg(long, requires = "rotate", value_parser = scim_tokens::parse_duration)]
        grace: Option<Duration>,
    },
    /// Revoke a token now.
    Revoke {
        /// The tenant slug.
        slug: String,
        /// The token's `id`, as printed by `tokens issue` and `tokens list`.
        id: String,
    },
    /// List a tenant's tokens (metadata only).
    List {
        /// The tenant slug.
        slug: String,
    },
}

/// Pool size of the short-lived CLI commands.
const CLI_POOL_SIZE: u32 = 2;

/// Why an offline command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The database could not be opened; the message names it and what to do.
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error(transparent)]
    Command(#[from] AdminError),
}

fn slug(text: &str) -> Result<TenantId, AdminError> {
    TenantId::parse(text).map_err(|e| AdminError::BadRequest(e.detail().to_owned()))
}

fn print(out: &mut impl Write, value: &impl Serialize) -> Result<(), AdminError> {
    let failed = |e: BoxError| AdminError::Internal(Box::new(ErrorContext::new("cannot write output", e)));
    serde_json::to_writer(&mut *out, value).map_err(|e| failed(e.into()))?;
    writeln!(out).map_err(|e| failed(e.into()))
}

/// Runs every command except `serve`, printing one JSON value to `out`.
pub fn run_offline(
    command: Command,
    settings: &Settings,
    clock: &Clock,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let migrate = matches!(command, Command::Migrate);
    // Only `migrate` creates a database: another command finding no SQLite file was most likely pointed at
    // the wrong place (a relative path run from another directory), and a new empty database would only
    // answer "not found". `migrate` always migrates; the others follow `run_migrations` like the servers.
    let opened = Storage::open(
        settings.database_url.expose_secret(),
        OpenOptions {
            pool_size: CLI_POOL_SIZE,
            create_missing: migrate,
            apply_migrations: migrate || settings.run_migrations,
            tuning: storage::ConnectionTuning {
                sqlite_synchronous: match settings.sqlite_synchronous {
                    service::SqliteSynchronousSetting::Full => storage::SqliteSynchronous::Full,
                    service::SqliteSynchronousSetting::Normal => storage::SqliteSynchronous::Normal,
                },
                statement_timeout_ms: 0,
            },
        },
    )?;
    let origin = settings.tenant_url_origin(None);
    StartupLine {
        message: &format!("token-admin {}", command.name()),
        version: env!("CARGO_PKG_VERSION"),
        backend: opened.location.backend().as_str(),
        database: &opened.location.to_string(),
        migrations_applied: opened.migrations_applied,
        public_url: &origin.to_string(),
        listen: None,
        oauth: None,
    }
    .log();
    let portal = PortalDefaults {
        base: settings.portal_base(),
        link_expiry: Duration::minutes(i64::from(settings.portal_link_expiry_minutes)),
    };
    Ok(execute(
        command,
        &opened.storage,
        opened.migrations_applied,
        (origin.as_str(), &portal),
        clock,
        out,
    )?)
}

/// What `portal-link` needs from the settings.
struct PortalDefaults {
    base: String,
    link_expiry: Duration,
}

/// Runs one command on an opened database.
fn execute(
    command: Command,
    storage: &Storage,
    applied: usize,
    (public_base, portal): (&str, &PortalDefaults),
    clock: &Clock,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let now = clock.now();
    let operator = cli_operator();
    match command {
        Command::Serve => Err(AdminError::BadRequest(
            "`serve` runs the HTTP API; it is not an offline command".to_owned(),
        )),
        Command::Migrate => print(out, &json!({"applied": applied})),
        Command::Tenants(TenantsCommand::Create {
            slug: text,
            display_name,
            policy,
        }) => {
            let id = slug(&text)?;
            let display_name = display_name.unwrap_or_else(|| id.to_string());
            check_display_name(&display_name)?;
            let policy = match policy {
                None => default_policy(),
                Some(text) => parse_policy(
                    &serde_json::from_str(&text)
                        .map_err(|e| AdminError::BadRequest(format!("--policy is not JSON: {e}")))?,
                )?,
            };
            let tenant = storage.create_tenant(&NewTenant {
                id: id.clone(),
                display_name,
                policy,
            })?;
            audit(storage, &operator, "tenant.create", Some(&id), json!({}), now);
            print(out, &TenantView::new(tenant, public_base))
        }
        Command::Tenants(TenantsCommand::List) => {
            let tenants: Vec<TenantView> = storage
                .list_tenants()?
                .into_iter()
                .map(|t| TenantView::new(t, public_base))
                .collect();
            print(out, &tenants)
        }
        Command::Tokens(TokensCommand::Issue {
            slug: text,
            rotate,
            scope,
            label,
            expires_in,
            grace,
        }) => {
            let id = slug(&text)?;
            let options = IssueOptions {
                label,
                expires_in,
                scope,
                rotate,
                grace: grace.unwrap_or_else(Duration::zero),
            };
            let issued = scim_tokens::issue_token(storage, &id, &options, public_base, now)?;
            audit(
                storage,
                &operator,
                "token.issue",
                Some(&id),
                json!({"tokenId": issued.id, "scope": scope.as_str(), "rotate": rotate}),
                now,
            );
            print(out, &issued)
        }
        Command::Tokens(TokensCommand::Revoke {
            slug: text,
            id: token_id,
        }) => {
            let id = slug(&text)?;
            storage.revoke_token(&id, &token_id, now)?;
            audit(
                storage,
                &operator,
                "token.revoke",
                Some(&id),
                json!({"tokenId": token_id}),
                now,
            );
            print(out, &json!({"revoked": token_id}))
        }
        Command::Tokens(TokensCommand::List { slug: text }) => {
            let id = slug(&text)?;
            storage.get_tenant(&id)?;
            let tokens: Vec<TokenView> = storage
                .list_tokens(&id)?
                .into_iter()
                .map(|t| TokenView::new(t, now))
                .collect();
            print(out, &tokens)
        }
        Command::PortalLink {
            slug: text,
            operator: _,
            expires_in,
        } => {
            let tenant = text.as_deref().map(slug).transpose()?;
            let scope = match &tenant {
                Some(id) => PortalScope::Tenant(id.clone()),
                None => PortalScope::Operator,
            };
            let expires_in = expires_in.unwrap_or(portal.link_expiry);
            let link = links::create_link(storage, &portal.base, scope, &operator, expires_in, now)?;
            let detail = json!({"scope": link.scope, "expiresAt": link.expires_at});
            audit(
                storage,
                &operator,
                "portal_link.create",
                tenant.as_ref(),
                detail,
                now,
            );
            print(out, &link)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_argument_has_help_text() {
        fn missing(command: &clap::Command, path: &str, found: &mut Vec<String>) {
            for arg in command.get_arguments() {
                if arg.get_help().is_none() && !matches!(arg.get_id().as_str(), "help" | "version") {
                    found.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                missing(sub, &format!("{path} {}", sub.get_name()), found);
            }
        }
        let mut found = Vec::new();
        missing(&Cli::command(), "token-admin", &mut found);
        assert!(found.is_empty(), "arguments without help: {found:?}");
    }

    #[test]
    fn issue_parses_flags() {
        let cli = Cli::try_parse_from([
            "token-admin",
            "--config",
            "x.toml",
            "tokens",
            "issue",
            "acme",
            "--rotate",
            "--label",
            "entra",
            "--expires-in",
            "90d",
            "--grace",
            "1h",
        ])
        .unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        let Command::Tokens(TokensCommand::Issue {
            slug,
            rotate,
            scope,
            label,
            expires_in,
            grace,
        }) = cli.command
        else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            (slug.as_str(), rotate, label.as_deref()),
            ("acme", true, Some("entra"))
        );
        assert_eq!(expires_in, Some(Duration::days(90)));
        assert_eq!(grace, Some(Duration::hours(1)));
        assert_eq!(scope, TokenScope::Write, "the default");
    }

    #[test]
    fn issue_takes_a_scope_by_name() {
        let cli = Cli::try_parse_from(["token-admin", "tokens", "issue", "acme", "--scope", "read"]).unwrap();
        assert!(
            matches!(
                cli.command,
                Command::Tokens(TokensCommand::Issue {
                    scope: TokenScope::Read,
                    ..
                })
            ),
            "{:?}",
            cli.command
        );
        assert!(Cli::try_parse_from(["token-admin", "tokens", "issue", "acme", "--scope", "admin"]).is_err());
    }

    #[test]
    fn portal_link_takes_a_tenant_or_operator() {
        let cli = Cli::try_parse_from(["token-admin", "portal-link", "acme", "--expires-in", "1h"]).unwrap();
        assert!(
            matches!(&cli.command, Command::PortalLink { slug: Some(s), operator: false, expires_in: Some(d) }
                if s == "acme" && *d == Duration::hours(1)),
            "{:?}",
            cli.command
        );
        assert!(Cli::try_parse_from(["token-admin", "portal-link", "--operator"]).is_ok());
        assert!(Cli::try_parse_from(["token-admin", "portal-link"]).is_err());
        assert!(Cli::try_parse_from(["token-admin", "portal-link", "acme", "--operator"]).is_err());
    }

    #[test]
    fn grace_requires_rotate() {
        assert!(Cli::try_parse_from(["token-admin", "tokens", "issue", "acme", "--grace", "1h"]).is_err());
        assert!(
            Cli::try_parse_from(["token-admin", "tokens", "issue", "acme", "--expires-in", "soon"]).is_err()
        );
    }
}
