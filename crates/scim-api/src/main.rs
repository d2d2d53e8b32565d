//! `scim-api`: the SCIM 2.0 service. See `docs/configuration.md` for settings.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use scim_api::Application;
use service::Settings;

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

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let loaded = Settings::load(cli.config.as_deref())?;
    let _logs = service::telemetry::init(loaded.settings.log_format);
    for name in &loaded.unknown_env {
        tracing::warn!(variable = %name, "unknown SCIM_ environment variable ignored");
    }
    let settings = loaded.settings;
    let storage = scim_api::connect_storage(&settings).await?;
    if let Some(slug) = &cli.bootstrap_tenant {
        let issued = scim_api::bootstrap::issue_first_token(&storage, &settings, slug)
            .await
            .context("bootstrap failed")?;
        // stdout carries only this JSON; logs go to stderr.
        println!("{}", serde_json::to_string_pretty(&issued)?);
    }
    let app = Application::build_with(&settings, storage, service::Clock::system())?;
    tracing::info!(listen = %settings.listen, port = app.port(), "scim-api listening");
    app.run_until_stopped().await?;
    tracing::info!("scim-api stopped");
    Ok(())
}
