//! One configuration system for both services: built-in defaults < a TOML/JSON file given with
//! `--config` < `SCIM_*` environment variables.
//!
//! Both binaries read the same [`Settings`], so one file or one set of environment variables configures a
//! whole deployment. A file key that is not a setting stops start-up (`deny_unknown_fields`, naming the
//! key). Environment variables are matched against the known keys only: an unknown `SCIM_*` variable is
//! reported as a warning, not an error, because deployment tooling shares the prefix (the way lldap treats
//! `LLDAP_*`). A variable that names a setting in the wrong case (`SCIM_DATABASE_URl`) is refused
//! instead: it is a typo of a setting, and ignoring it silently would start on the default. Bad values
//! stop start-up with the key, the value and what is accepted named; `public_url` is normalised
//! (`public_url.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

use crate::public_url::{self, TenantUrlOrigin};

/// Log output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    #[default]
    Auto,
    Pretty,
    Json,
}

impl LogFormat {
    const NAMES: &[&str] = &["auto", "pretty", "json"];
}

/// By hand rather than derived: the derived impl, fed by the `config` crate, reports an unknown value
/// without the accepted ones.
impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "auto" => Ok(Self::Auto),
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            _ => Err(serde::de::Error::unknown_variant(&name, Self::NAMES)),
        }
    }
}

/// SQLite's `synchronous` pragma: `full` (every acknowledged write survives power loss) or `normal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronousSetting {
    #[default]
    Full,
    Normal,
}

impl SqliteSynchronousSetting {
    const NAMES: &[&str] = &["full", "normal"];
}

impl<'de> Deserialize<'de> for SqliteSynchronousSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(serde::de::Error::unknown_variant(&name, Self::NAMES)),
        }
    }
}

/// Every setting, with its default. Documented one by one in `docs/configuration.md`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://path`, a file path, or `postgres://...`. May hold a password, hence secret.
    pub database_url: SecretString,
    pub database_pool_size: u32,
    /// SQLite `synchronous`: `full` (default) or `normal`.
    pub sqlite_synchronous: SqliteSynchronousSetting,
    /// Time limit of one scim-api statement, in milliseconds (0: none): PostgreSQL `statement_timeout`,
    /// on SQLite checked by statements that scan documents.
    pub database_statement_timeout_ms: u64,
    /// Requests of one tenant served at once by one scim-api process (0: half of `database_pool_size`).
    pub tenant_max_concurrent_requests: u32,
    /// Reads of one tenant that may scan it (unindexed filters, sorts) served at once by one scim-api
    /// process (0: the number of CPU cores).
    pub tenant_max_concurrent_scans: u32,
    /// How long a tenant's request waits for one of its slots before 503 + `Retry-After`.
    pub tenant_queue_timeout_ms: u64,
    /// Refused (401) requests allowed per second per client address (0 disables the limit).
    pub unauthenticated_rate_limit_per_second: u32,
    pub unauthenticated_rate_limit_burst: u32,
    /// Publish per-tenant series (`scim_operations_total{tenant=...}`) on scim-api's `/metrics`.
    pub metrics_per_tenant: bool,
    /// Apply pending migrations at start-up (turn off when a Kubernetes Job runs `token-admin migrate`).
    pub run_migrations: bool,
    /// scim-api listen address.
    pub listen: String,
    /// Public base URL (scheme, host, optional path prefix) used for `meta.location` and `baseUrl`.
    pub public_url: Option<String>,
    /// Comma-separated IPs/CIDRs whose `X-Forwarded-*` headers are trusted.
    pub trusted_proxies: String,
    pub log_format: LogFormat,
    pub page_size_default: u64,
    pub page_size_max: u64,
    /// Sustained requests per second allowed per tenant (0 disables the limit).
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    pub shutdown_timeout_seconds: u64,
    /// After SIGTERM, how long to keep serving with `/readyz` failing before closing the listener.
    pub shutdown_drain_seconds: u64,
    /// token-admin listen address.
    pub admin_listen: String,
    pub admin_jwt_hs256_secret: Option<SecretString>,
    pub admin_jwt_jwks_url: Option<String>,
    pub admin_jwt_issuer: Option<String>,
    pub admin_jwt_audience: Option<String>,
    pub admin_jwt_tenant_claim: String,
    pub admin_jwt_role_claim: String,
    pub admin_jwt_admin_role: String,
    /// HS256 key for OAuth client-credentials access tokens; shared by token-admin (issues) and scim-api
    /// (verifies). Unset disables the OAuth mode.
    pub oauth_signing_secret: Option<SecretString>,
    pub oauth_token_ttl_seconds: u64,
    /// Days the change feed keeps events (`token-admin serve` prunes older ones); 0 keeps them forever.
    pub events_retention_days: u32,
    /// Run the webhook delivery worker in `token-admin serve` (replicas share the work).
    pub webhook_worker: bool,
    /// How long a webhook delivery is retried before it is `failed`, and how long an endpoint may fail
    /// every attempt before it is disabled.
    pub webhook_retry_hours: u32,
    /// Let webhooks reach loopback, private, link-local and other non-public addresses.
    pub webhook_allow_private_targets: bool,
    /// Where customers' admins reach the setup portal (scheme, host, optional path prefix; `/portal/`
    /// follows). Setup links are built on it. Unset: `http://<portal_listen or admin_listen>`.
    pub portal_public_url: Option<String>,
    /// A listener of its own for the portal, serving only `/portal/`; unset: the portal is served under
    /// `/portal/` on `admin_listen`.
    pub portal_listen: Option<String>,
    /// Space- or comma-separated origins allowed to frame the portal (`frame-ancestors`); empty denies
    /// framing.
    pub portal_frame_ancestors: String,
    /// A portal session ends after this many minutes without a request.
    pub portal_session_idle_minutes: u32,
    /// A portal session ends this many hours after its link was opened, whatever the activity.
    pub portal_session_max_hours: u32,
    /// How long a setup link stays valid when its creator does not say.
    pub portal_link_expiry_minutes: u32,
    /// scim-api records each tenant's recent requests for the portal.
    pub portal_request_log: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: SecretString::from("sqlite://./data/scim.db"),
            database_pool_size: 16,
            sqlite_synchronous: SqliteSynchronousSetting::Full,
            database_statement_timeout_ms: 10_000,
            tenant_max_concurrent_requests: 0,
            tenant_max_concurrent_scans: 0,
            tenant_queue_timeout_ms: 1000,
            unauthenticated_rate_limit_per_second: 10,
            unauthenticated_rate_limit_burst: 50,
            metrics_per_tenant: false,
            run_migrations: true,
            listen: "127.0.0.1:8080".to_owned(),
            public_url: None,
            trusted_proxies: String::new(),
            log_format: LogFormat::Auto,
            page_size_default: 100,
            page_size_max: 1000,
            rate_limit_per_second: 1000,
            rate_limit_burst: 2000,
            max_body_bytes: 1024 * 1024,
            max_json_depth: 64,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1024 * 1024,
            shutdown_timeout_seconds: 30,
            shutdown_drain_seconds: 0,
            admin_listen: "127.0.0.1:8081".to_owned(),
            admin_jwt_hs256_secret: None,
            admin_jwt_jwks_url: None,
            admin_jwt_issuer: None,
            admin_jwt_audience: None,
            admin_jwt_tenant_claim: "tenant".to_owned(),
            admin_jwt_role_claim: "role".to_owned(),
            admin_jwt_admin_role: "scim-admin".to_owned(),
            oauth_signing_secret: None,
            oauth_token_ttl_seconds: 3600,
            events_retention_days: 30,
            webhook_worker: true,
            webhook_retry_hours: 24,
            webhook_allow_private_targets: false,
            portal_public_url: None,
            portal_listen: None,
            portal_frame_ancestors: String::new(),
            portal_session_idle_minutes: 30,
            portal_session_max_hours: 12,
            portal_link_expiry_minutes: 24 * 60,
            portal_request_log: true,
        }
    }
}

/// The keys of [`Settings`]; environment variables are `SCIM_` + the key in upper case.
pub const KEYS: &[&str] = &[
    "database_url",
    "database_pool_size",
    "sqlite_synchronous",
    "database_statement_timeout_ms",
    "tenant_max_concurrent_requests",
    "tenant_max_concurrent_scans",
    "tenant_queue_timeout_ms",
    "unauthenticated_rate_limit_per_second",
    "unauthenticated_rate_limit_burst",
    "metrics_per_tenant",
    "run_migrations",
    "listen",
    "public_url",
    "trusted_proxies",
    "log_format",
    "page_size_default",
    "page_size_max",
    "rate_limit_per_second",
    "rate_limit_burst",
    "max_body_bytes",
    "max_json_depth",
    "bulk_max_operations",
    "bulk_max_payload_bytes",
    "shutdown_timeout_seconds",
    "shutdown_drain_seconds",
    "admin_listen",
    "admin_jwt_hs256_secret",
    "admin_jwt_jwks_url",
    "admin_jwt_issuer",
    "admin_jwt_audience",
    "admin_jwt_tenant_claim",
    "admin_jwt_role_claim",
    "admin_jwt_admin_role",
    "oauth_signing_secret",
    "oauth_token_ttl_seconds",
    "events_retention_days",
    "webhook_worker",
    "webhook_retry_hours",
    "webhook_allow_private_targets",
    "portal_public_url",
    "portal_listen",
    "portal_frame_ancestors",
    "portal_session_idle_minutes",
    "portal_session_max_hours",
    "portal_link_expiry_minutes",
    "portal_request_log",
];

/// Why settings could not be loaded. The message names the file or key at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

/// The result of loading: settings plus warnings to log once logging is up.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    /// `SCIM_*` variables that match no setting.
    pub unknown_env: Vec<String>,
    /// What was accepted but will probably not work as meant (e.g. a plain-http `public_url`).
    pub warnings: Vec<String>,
}

impl Loaded {
    /// Logs the warnings; call once logging is up.
    pub fn log_warnings(&self) {
        for name in &self.unknown_env {
            tracing::warn!(variable = %name, "unknown SCIM_ environment variable ignored");
        }
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
    }
}

impl Settings {
    /// Loads defaults < `file` < the process environment.
    pub fn load(file: Option<&Path>) -> Result<Loaded, SettingsError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, SettingsError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path));
        }
        let env = split_env(env);
        if !env.miscased.is_empty() {
            let each: Vec<String> = env
                .miscased
                .iter()
                .map(|(name, exact)| format!("{name} (rename it to {exact})"))
                .collect();
            return Err(SettingsError(format!(
                "environment variable names are case-sensitive, and these name a setting only when case is \
                 ignored: {}",
                each.join(", ")
            )));
        }
        for (key, value) in env.known {
            builder = builder
                .set_override(key.as_str(), value)
                .map_err(|e| SettingsError(format!("SCIM_{}: {e}", key.to_uppercase())))?;
        }
        let mut settings = builder
            .build()
            .and_then(config::Config::try_deserialize::<Settings>)
            .map_err(|e| SettingsError(without_source_excerpt(&e.to_string())))?;
        settings.check()?;
        let mut warnings = Vec::new();
        let retention_hours = u64::from(settings.events_retention_days) * 24;
        if retention_hours != 0 && retention_hours < u64::from(settings.webhook_retry_hours) {
            warnings.push(format!(
                "events_retention_days ({}) is shorter than webhook_retry_hours ({}): a webhook delivery is \
                 removed with its event, so retention ends retries early",
                settings.events_retention_days, settings.webhook_retry_hours
            ));
        }
        if let Some(raw) = &settings.portal_public_url {
            settings.portal_public_url = Some(normalize_portal_url(raw).map_err(SettingsError)?);
        }
        if let Some(raw) = &settings.public_url {
            let normalized = public_url::normalize(raw).map_err(SettingsError)?;
            settings.public_url = Some(normalized.url);
            warnings.extend(normalized.warnings);
        }
        Ok(Loaded {
            settings,
            unknown_env: env.unknown,
            warnings,
        })
    }

    /// Rules that span keys or that serde cannot express.
    fn check(&self) -> Result<(), SettingsError> {
        if self.page_size_default == 0 || self.page_size_default > self.page_size_max {
            return Err(SettingsError(format!(
                "page_size_default ({}) must be between 1 and page_size_max ({})",
                self.page_size_default, self.page_size_max
            )));
        }
        if self.webhook_retry_hours == 0 {
            return Err(SettingsError(
                "webhook_retry_hours must be at least 1 (failed webhook deliveries are retried that long)"
                    .to_owned(),
            ));
        }
        if self.database_pool_size == 0 {
            return Err(SettingsError("database_pool_size must be at least 1".to_owned()));
        }
        self.trusted_proxy_nets()?;
        self.portal_frame_origins()?;
        if self.portal_session_idle_minutes == 0 || self.portal_session_max_hours == 0 {
            return Err(SettingsError(
                "portal_session_idle_minutes and portal_session_max_hours must be at least 1".to_owned(),
            ));
        }
        if self.portal_link_expiry_minutes == 0 || self.portal_link_expiry_minutes > MAX_PORTAL_LINK_MINUTES {
            return Err(SettingsError(format!(
                "portal_link_expiry_minutes must be between 1 and {MAX_PORTAL_LINK_MINUTES} (7 days)"
            )));
        }
        Ok(())
    }

    /// `portal_frame_ancestors` parsed: each an origin such as `https://app.example.com`.
    pub fn portal_frame_origins(&self) -> Result<Vec<String>, SettingsError> {
        self.portal_frame_ancestors
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|origin| {
                let parsed = url::Url::parse(origin).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host_str().is_some_and(|h| {
                            h.chars().all(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':')
                            })
                        })
                        && u.path() == "/"
                        && u.query().is_none()
                        && u.fragment().is_none()
                        && u.username().is_empty()
                });
                match parsed {
                    Some(url) => Ok(url.origin().ascii_serialization()),
                    None => Err(SettingsError(format!(
                        "portal_frame_ancestors: {origin:?} is not an origin such as https://app.example.com"
                    ))),
                }
            })
            .collect()
    }

    /// The portal's public base (without `/portal`), from `portal_public_url`, else the portal's listener.
    pub fn portal_base(&self) -> String {
        match &self.portal_public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!(
                "http://{}",
                self.portal_listen.as_deref().unwrap_or(&self.admin_listen)
            ),
        }
    }

    /// `trusted_proxies` parsed; single addresses become host networks.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, SettingsError> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        SettingsError(format!("trusted_proxies: {s:?} is not an IP address or CIDR"))
                    })
            })
            .collect()
    }

    /// How many requests of one tenant one scim-api process serves at once: the setting, or half the pool
    /// (at least one) when it is 0.
    pub fn tenant_concurrency(&self) -> u32 {
        match self.tenant_max_concurrent_requests {
            0 => (self.database_pool_size / 2).max(1),
            n => n,
        }
    }

    /// How many reads that may scan a tenant one scim-api process serves at once for one tenant: the
    /// setting, or the number of CPU cores when it is 0 (a scan keeps a core busy, in the database or
    /// here).
    pub fn tenant_scan_concurrency(&self) -> u32 {
        match self.tenant_max_concurrent_scans {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            }
            n => n,
        }
    }

    /// `public_url` without a trailing slash.
    pub fn public_base(&self) -> Option<&str> {
        self.public_url.as_deref().map(|u| u.trim_end_matches('/'))
    }

    /// The origin of printed Tenant URLs: `public_url`, else scim-api's `listen` address (the bound one,
    /// `listening_on`, when this process is scim-api and has bound it).
    pub fn tenant_url_origin(&self, listening_on: Option<SocketAddr>) -> TenantUrlOrigin {
        TenantUrlOrigin::new(self.public_base(), &self.listen, listening_on)
    }
}

/// Longest `portal_link_expiry_minutes`: seven days.
const MAX_PORTAL_LINK_MINUTES: u32 = 7 * 24 * 60;

/// `portal_public_url` checked: http(s), no query or fragment; a trailing `/` or `/portal/` is dropped.
fn normalize_portal_url(raw: &str) -> Result<String, String> {
    let expected = "expected http(s)://host[:port][/path prefix], e.g. https://setup.example.com";
    let url = url::Url::parse(raw.trim())
        .map_err(|e| format!("portal_public_url {raw:?} is not a URL ({e}): {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("portal_public_url {raw:?}: {expected}"));
    }
    let text = url.as_str().trim_end_matches('/');
    Ok(text.strip_suffix("/portal").unwrap_or(text).to_owned())
}

/// The `SCIM_*` environment, sorted out.
#[derive(Debug, Default)]
struct EnvSettings {
    /// Setting key (lower case) → value.
    known: BTreeMap<String, String>,
    /// `SCIM_*` names that are no setting.
    unknown: Vec<String>,
    /// Names that are a setting's variable only when case is ignored, with the exact name.
    miscased: Vec<(String, String)>,
}

/// Sorts the environment: `SCIM_` + a key in upper case is that setting; any other spelling of one is
/// miscased; other `SCIM_*` names are unknown.
fn split_env(env: impl IntoIterator<Item = (String, String)>) -> EnvSettings {
    let mut sorted = EnvSettings::default();
    for (name, value) in env {
        let upper = name.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("SCIM_") else {
            continue;
        };
        let key = rest.to_ascii_lowercase();
        if !KEYS.contains(&key.as_str()) {
            if name.starts_with("SCIM_") {
                sorted.unknown.push(name);
            }
        } else if name == upper {
            sorted.known.insert(key, value);
        } else {
            sorted.miscased.push((name, upper));
        }
    }
    sorted.unknown.sort();
    sorted.miscased.sort();
    sorted
}

/// A `config` error on one line: TOML syntax errors quote the offending source lines with a caret under
/// them, which means nothing once joined.
fn without_source_excerpt(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('|') && !is_numbered_excerpt(line))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `12 | key = value`: a quoted source line.
fn is_numbered_excerpt(line: &str) -> bool {
    line.split_once(" |")
        .is_some_and(|(number, _)| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn sqlite_synchronous_is_full_unless_set_and_unknown_values_are_named() {
        let loaded = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(loaded.settings.sqlite_synchronous, SqliteSynchronousSetting::Full);
        let loaded = Settings::load_from(None, env(&[("SCIM_SQLITE_SYNCHRONOUS", "normal")])).unwrap();
        assert_eq!(
            loaded.settings.sqlite_synchronous,
            SqliteSynchronousSetting::Normal
        );
        let err = Settings::load_from(None, env(&[("SCIM_SQLITE_SYNCHRONOUS", "off")])).unwrap_err();
        assert!(
            err.to_string().contains("full") && err.to_string().contains("off"),
            "{err}"
        );
    }

    #[test]
    fn tenant_concurrency_defaults_to_half_the_pool() {
        let mut settings = Settings::default();
        assert_eq!(settings.tenant_concurrency(), 8);
        settings.database_pool_size = 1;
        assert_eq!(settings.tenant_concurrency(), 1);
        settings.tenant_max_concurrent_requests = 3;
        assert_eq!(settings.tenant_concurrency(), 3);
    }

    #[test]
    fn defaults_apply_without_file_or_env() {
        let loaded = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(
            loaded.settings.database_url.expose_secret(),
            "sqlite://./data/scim.db"
        );
        assert_eq!(loaded.settings.listen, "127.0.0.1:8080");
    }

    #[test]
    fn env_overrides_file_and_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\npage_size_max = 50\npage_size_default = 20\n",
        )
        .unwrap();
        let loaded = Settings::load_from(
            Some(&path),
            env(&[
                ("SCIM_PAGE_SIZE_MAX", "70"),
                ("SCIM_DATABASE_URL", "postgres://u:pw@db/scim"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.settings.listen, "0.0.0.0:9000");
        assert_eq!(loaded.settings.page_size_max, 70);
        assert_eq!(loaded.settings.page_size_default, 20);
        assert_eq!(
            loaded.settings.database_url.expose_secret(),
            "postgres://u:pw@db/scim"
        );
    }

    #[test]
    fn unknown_file_key_stops_start_up_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.toml");
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let err = Settings::load_from(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn bad_env_value_stops_start_up_naming_the_key() {
        let err = Settings::load_from(None, env(&[("SCIM_DATABASE_POOL_SIZE", "many")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database_pool_size"), "{err}");
    }

    #[test]
    fn unknown_scim_env_var_is_a_warning_not_an_error() {
        let loaded = Settings::load_from(None, env(&[("SCIM_LISTN", "x"), ("HOME", "/root")])).unwrap();
        assert_eq!(loaded.unknown_env, vec!["SCIM_LISTN".to_owned()]);
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let loaded = Settings::load_from(
            None,
            env(&[
                ("SCIM_DATABASE_URL", "postgres://u:hunter2@db/scim"),
                ("SCIM_ADMIN_JWT_HS256_SECRET", "s3cr3t"),
            ]),
        )
        .unwrap();
        let debug = format!("{:?}", loaded.settings);
        assert!(!debug.contains("hunter2") && !debug.contains("s3cr3t"), "{debug}");
    }

    #[test]
    fn retention_shorter_than_webhook_retries_is_a_warning() {
        let loaded = Settings::load_from(
            None,
            env(&[
                ("SCIM_EVENTS_RETENTION_DAYS", "1"),
                ("SCIM_WEBHOOK_RETRY_HOURS", "48"),
            ]),
        )
        .unwrap();
        assert!(
            loaded.warnings.iter().any(|w| w.contains("webhook_retry_hours")),
            "{:?}",
            loaded.warnings
        );
        let loaded = Settings::load_from(None, env(&[("SCIM_EVENTS_RETENTION_DAYS", "0")])).unwrap();
        assert!(loaded.warnings.is_empty());
        let err = Settings::load_from(None, env(&[("SCIM_WEBHOOK_RETRY_HOURS", "0")])).unwrap_err();
        assert!(err.to_string().contains("webhook_retry_hours"), "{err}");
    }

    #[test]
    fn every_key_is_a_setting() {
        for key in KEYS {
            let value = if key.contains("size") || key.contains("seconds") || key.contains("bytes") {
                "1"
            } else {
                "x"
            };
            let err = Settings::load_from(None, env(&[(&format!("SCIM_{}", key.to_uppercase()), value)]));
            // A key unknown to Settings would be rejected by deny_unknown_fields; type errors are fine here.
            if let Err(e) = err {
                assert!(!e.to_string().contains("unknown field"), "{key}: {e}");
            }
        }
    }

    #[test]
    fn miscased_env_var_is_refused_naming_the_exact_variable() {
        let err = Settings::load_from(None, env(&[("SCIM_DATABASE_URl", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SCIM_DATABASE_URl") && err.contains("rename it to SCIM_DATABASE_URL"),
            "{err}"
        );
        let err = Settings::load_from(None, env(&[("SCIM_LISTEN", "127.0.0.1:1"), ("scim_listen", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("scim_listen (rename it to SCIM_LISTEN)"), "{err}");
    }

    #[test]
    fn bad_log_format_names_the_key_the_value_and_the_accepted_values() {
        let from_env = Settings::load_from(None, env(&[("SCIM_LOG_FORMAT", "text")]))
            .unwrap_err()
            .to_string();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.toml");
        std::fs::write(&path, "log_format = \"text\"\n").unwrap();
        let from_file = Settings::load_from(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        for err in [from_env, from_file] {
            for part in ["log_format", "text", "auto", "pretty", "json"] {
                assert!(err.contains(part), "{part} missing from: {err}");
            }
        }
    }

    #[test]
    fn file_syntax_errors_fit_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scim.toml");
        std::fs::write(&path, "database_pool_size = \n").unwrap();
        let err = Settings::load_from(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("line 1") && err.contains("scim.toml"), "{err}");
    }

    #[test]
    fn public_url_is_normalised_when_loading_and_its_warnings_kept() {
        let loaded = Settings::load_from(
            None,
            env(&[("SCIM_PUBLIC_URL", "http://scim.example.com/scim/v2/")]),
        )
        .unwrap();
        assert_eq!(
            loaded.settings.public_url.as_deref(),
            Some("http://scim.example.com")
        );
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        let err = Settings::load_from(None, env(&[("SCIM_PUBLIC_URL", "https://x.example/?a=b")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("public_url"), "{err}");
    }

    #[test]
    fn portal_settings_are_checked() {
        let loaded = Settings::load_from(
            None,
            env(&[
                ("SCIM_PORTAL_PUBLIC_URL", "https://setup.example.com/portal/"),
                (
                    "SCIM_PORTAL_FRAME_ANCESTORS",
                    "https://app.example.com, https://x.example:8443",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.settings.portal_base(), "https://setup.example.com");
        assert_eq!(
            loaded.settings.portal_frame_origins().unwrap(),
            ["https://app.example.com", "https://x.example:8443"]
        );
        for (key, bad) in [
            ("SCIM_PORTAL_FRAME_ANCESTORS", "https://a.example; script-src *"),
            ("SCIM_PORTAL_FRAME_ANCESTORS", "*"),
            ("SCIM_PORTAL_FRAME_ANCESTORS", "https://a.example;"),
            ("SCIM_PORTAL_PUBLIC_URL", "ftp://x"),
            ("SCIM_PORTAL_SESSION_IDLE_MINUTES", "0"),
            ("SCIM_PORTAL_LINK_EXPIRY_MINUTES", "999999"),
        ] {
            let err = Settings::load_from(None, env(&[(key, bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&key.trim_start_matches("SCIM_").to_lowercase()),
                "{key}={bad}: {err}"
            );
        }
        assert_eq!(Settings::default().portal_base(), "http://127.0.0.1:8081");
    }

    #[test]
    fn trusted_proxies_accept_addresses_and_cidrs() {
        let loaded = Settings::load_from(
            None,
            env(&[("SCIM_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")]),
        )
        .unwrap();
        assert_eq!(loaded.settings.trusted_proxy_nets().unwrap().len(), 3);
        assert!(Settings::load_from(None, env(&[("SCIM_TRUSTED_PROXIES", "nope")])).is_err());
    }
}
