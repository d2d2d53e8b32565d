//! SCIM bearer tokens as operators manage them, shared by the HTTP handlers and the CLI so that
//! `token-admin tokens issue` and `POST /admin/v1/tenants/{slug}/tokens` cannot drift apart: issue options
//! and their limits, issuing, the listing view, and token lifetimes such as `90d`.
//!
//! Strategy: plain synchronous functions over [`Storage`] (diesel is synchronous); HTTP handlers run them
//! through `service::blocking`, the CLI calls them directly. Time is a parameter (`now`), taken from a
//! [`service::Clock`] so tests can fix it. Issuing validates the options here and leaves the rest to
//! [`Storage::issue_token`]: when rotating, every other `write` token of the tenant is revoked as of
//! `now + grace` (the storage layer treats a future `revoked_at` as a grace period). Rotation replaces the
//! IdP's provisioning token, so read-only tokens (`--scope read`) are neither revoked by it nor able to
//! rotate. The plaintext leaves exactly once, inside [`IssuedApiToken`].

use chrono::{DateTime, Duration, Utc};
use credentials::IssuedApiToken;
use scim_core::TenantId;
use serde::Serialize;
use storage::{Storage, TokenInfo, TokenRequest, TokenScope};

use crate::error::AdminError;

/// Longest accepted token label.
const MAX_LABEL_CHARS: usize = 200;
/// Longest accepted token lifetime (ten years) and rotation grace period (thirty days).
const MAX_EXPIRES_IN: Duration = Duration::days(3650);
const MAX_GRACE: Duration = Duration::days(30);

/// How to issue a token.
#[derive(Debug, Clone, Default)]
pub struct IssueOptions {
    pub label: Option<String>,
    /// `None`: the token does not expire.
    pub expires_in: Option<Duration>,
    pub scope: TokenScope,
    /// Revoke the tenant's other `write` tokens.
    pub rotate: bool,
    /// With `rotate`: how long the other tokens keep working.
    pub grace: Duration,
}

impl IssueOptions {
    fn validate(&self) -> Result<(), AdminError> {
        if self
            .label
            .as_ref()
            .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
        {
            return Err(AdminError::BadRequest(format!(
                "label is longer than {MAX_LABEL_CHARS} characters"
            )));
        }
        if let Some(expires_in) = self.expires_in
            && (expires_in <= Duration::zero() || expires_in > MAX_EXPIRES_IN)
        {
            return Err(AdminError::BadRequest(
                "expiresIn must be between 1 second and 3650 days".to_owned(),
            ));
        }
        if self.grace < Duration::zero() || self.grace > MAX_GRACE {
            return Err(AdminError::BadRequest(
                "grace period must be between 0 and 30 days".to_owned(),
            ));
        }
        if self.rotate && self.scope == TokenScope::Read {
            return Err(AdminError::BadRequest(
                "rotate replaces the IdP's provisioning token; a read token cannot rotate (revoke old read \
                 tokens one by one instead)"
                    .to_owned(),
            ));
        }
        if self.grace > Duration::zero() && !self.rotate {
            return Err(AdminError::BadRequest(
                "a grace period only applies when rotating".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Issues a token for an existing tenant; with `rotate`, revokes the tenant's other `write` tokens as of
/// `now + grace`.
pub fn issue_token(
    storage: &Storage,
    tenant: &TenantId,
    options: &IssueOptions,
    public_base: &str,
    now: DateTime<Utc>,
) -> Result<IssuedApiToken, AdminError> {
    options.validate()?;
    let request = TokenRequest {
        label: options.label.clone(),
        expires_at: options.expires_in.map(|d| now + d),
        scope: options.scope,
        revoke_others_at: options.rotate.then(|| now + options.grace),
    };
    let issued = storage.issue_token(tenant, &request)?;
    let token_id = &issued.info.id;
    let scope = options.scope.as_str();
    if options.rotate {
        tracing::info!(%tenant, %token_id, scope, revoked = issued.revoked_others, grace_seconds = options.grace.num_seconds(), "rotated tokens");
    } else {
        tracing::info!(%tenant, %token_id, scope, "issued token");
    }
    Ok(issued.with_base_url(service::tenant_base_url(public_base, tenant)))
}

/// Token metadata for listings: never the hash or the secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    /// `write` (provisioning) or `read` (reads and searches only).
    pub scope: &'static str,
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Usable right now: not expired and not revoked (a revocation in the future is a grace period).
    pub active: bool,
}

impl TokenView {
    pub fn new(info: TokenInfo, now: DateTime<Utc>) -> Self {
        let active = info.expires_at.is_none_or(|t| t > now) && info.revoked_at.is_none_or(|t| t > now);
        Self {
            id: info.id,
            scope: info.scope.as_str(),
            prefix: info.prefix,
            label: info.label,
            created_at: info.created_at,
            expires_at: info.expires_at,
            revoked_at: info.revoked_at,
            last_used_at: info.last_used_at,
            active,
        }
    }
}

/// Parses a token scope as operators type it: `write` or `read`.
pub fn parse_scope(text: &str) -> Result<TokenScope, String> {
    TokenScope::parse(text).ok_or_else(|| format!("scope must be \"write\" or \"read\", got {text:?}"))
}

/// Parses a duration such as `90d`, `12h`, `30m`, `45s` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text
        .split_at_checked(split)
        .ok_or_else(|| format!("invalid duration {text:?}"))?;
    let amount: i64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 90d"))?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: the unit must be one of s, m, h, d, w"
            ));
        }
    };
    amount
        .checked_mul(seconds_per_unit)
        .and_then(Duration::try_seconds)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90d").unwrap(), Duration::days(90));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert_eq!(parse_duration("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_duration("45s").unwrap(), Duration::seconds(45));
        assert_eq!(parse_duration("2w").unwrap(), Duration::weeks(2));
        for bad in ["", "d", "90", "90x", "-1d", "1.5d", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn scopes_parse_by_name_only() {
        assert_eq!(parse_scope("read").unwrap(), TokenScope::Read);
        assert_eq!(parse_scope("write").unwrap(), TokenScope::Write);
        for bad in ["", "READ", "admin", "read "] {
            assert!(parse_scope(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn issue_options_are_validated() {
        let ok = IssueOptions {
            rotate: true,
            grace: Duration::hours(1),
            ..IssueOptions::default()
        };
        ok.validate().unwrap();
        for bad in [
            IssueOptions {
                grace: Duration::hours(1),
                ..IssueOptions::default()
            },
            IssueOptions {
                expires_in: Some(Duration::zero()),
                ..IssueOptions::default()
            },
            IssueOptions {
                label: Some("x".repeat(201)),
                ..IssueOptions::default()
            },
            IssueOptions {
                rotate: true,
                grace: Duration::days(31),
                ..IssueOptions::default()
            },
            IssueOptions {
                rotate: true,
                scope: TokenScope::Read,
                ..IssueOptions::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
