//! `token-admin`: parse the command line, load settings, start logging, dispatch. Everything else lives in
//! the library so tests can drive it.

use std::process::ExitCode;

use clap::Parser as _;
use service::Settings;
use token_admin::Application;
use token_admin::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Plain text, not a log line: it may come before logging is set up, and a person reads it.
        Err(e) => service::startup::exit_with(e.as_ref()),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let loaded = Settings::load(cli.config.as_deref())?;
    let _logs = service::telemetry::init(loaded.settings.log_format);
    loaded.log_warnings();
    match cli.command {
        Command::Serve => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(async {
                let app = Application::build(loaded.settings).await?;
                app.run_until_stopped().await?;
                anyhow::Ok(())
            })
        }
        command => {
            let stdout = std::io::stdout();
            token_admin::cli::run_offline(
                command,
                &loaded.settings,
                &service::Clock::system(),
                &mut stdout.lock(),
            )?;
            Ok(())
        }
    }
}
