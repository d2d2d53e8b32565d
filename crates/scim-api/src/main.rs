//! `scim-api`: the SCIM 2.0 service. See `docs/configuration.md` for settings.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scim_api::Application;
use service::Settings;
use service::startup::StartupLine;

#[derive(Debug, Parser)]
#[command(version, about = "Multi-tenant SCIM 2.0 provisioning server")]
struct Cli {
    /// Settings file (TOML or JSON); `SCIM_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Create this tenant if it does not exist, issue it a fresh Secret Token and print the Tenant URL and
    /// token before serving (for a first run; earlier tokens of the tenant stay valid).
    #[arg(long, value_name = "SLUG")]
    bootstrap_tenant: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => service::startup::exit_with(e.as_ref()),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let loaded = Settings::load(cli.config.as_deref())?;
    let _logs = service::telemetry::init(loaded.settings.log_format);
    loaded.log_warnings();
    let settings = loaded.settings;
    let opened = scim_api::open_storage(&settings).await?;
    let listener = scim_api::bind(&settings.listen)?;
    let address = listener.local_addr()?;
    if let Some(slug) = &cli.bootstrap_tenant {
        let origin = settings.tenant_url_origin(Some(address));
        let issued = scim_api::bootstrap::issue_first_token(&opened.storage, origin.as_str(), slug)
            .await
            .context("bootstrap failed")?;
        // stdout carries only this JSON; logs go to stderr.
        println!("{}", serde_json::to_string_pretty(&issued)?);
    }
    let oauth = settings.oauth_signing_secret.is_some();
    if !oauth && opened.active_oauth_clients > 0 {
        tracing::warn!(
            clients = opened.active_oauth_clients,
            "OAuth clients exist but oauth_signing_secret is unset: scim-api refuses their access tokens \
             (401); set the same oauth_signing_secret as token-admin"
        );
    }
    let app = Application::build_on(listener, &settings, opened.storage, service::Clock::system())?;
    StartupLine {
        message: "scim-api listening",
        version: env!("CARGO_PKG_VERSION"),
        backend: opened.location.backend().as_str(),
        database: &opened.location.to_string(),
        migrations_applied: opened.migrations_applied,
        public_url: settings.public_base().unwrap_or(
            "unset (each response's URLs follow the request's Host, or X-Forwarded-* from trusted_proxies)",
        ),
        listen: Some(address),
        oauth: Some(oauth),
    }
    .log();
    app.run_until_stopped().await?;
    tracing::info!("scim-api stopped");
    Ok(())
}
