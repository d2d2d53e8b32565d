//! Operations shared by the HTTP handlers and the CLI, so `token-admin tokens issue` and
//! `POST /admin/v1/tenants/{slug}/tokens` cannot drift apart.
//!
//! Strategy: plain synchronous functions over [`Storage`] (diesel is synchronous); HTTP handlers run them
//! through `service::blocking`, the CLI calls them directly. Time is a parameter (`now`), taken from a
//! [`service::Clock`] so tests can fix it. A token is issued by generating a [`PlainToken`], storing only its hash
//! and display prefix, and, when rotating, revoking every other token of the tenant as of `now + grace`
//! (the storage layer treats a future `revoked_at` as a grace period). The plaintext leaves this module
//! exactly once, inside [`IssuedToken`].

use chrono::{DateTime, Duration, Utc};
use credentials::PlainToken;
use scim_core::TenantId;
use serde::{Serialize, Serializer};
use storage::admin_audit::NewAdminAuditEntry;
use storage::{NewToken, Storage, TokenInfo};

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
    /// Revoke the tenant's other tokens.
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
        if self.grace > Duration::zero() && !self.rotate {
            return Err(AdminError::BadRequest(
                "a grace period only applies when rotating".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A newly issued token: the only value that ever carries the plaintext. Serialises to
/// `{"id", "baseUrl", "apiToken", "expiresAt"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub id: String,
    pub base_url: String,
    #[serde(serialize_with = "expose_once")]
    pub api_token: PlainToken,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The one place a [`PlainToken`] is written out: serialising a creation response.
pub fn expose_once<S: Serializer>(token: &PlainToken, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(token.expose_secret())
}

/// The SCIM Tenant URL of `tenant`: `<public>/scim/v2/<slug>`.
pub fn base_url(public_base: &str, tenant: &TenantId) -> String {
    format!("{}/scim/v2/{tenant}", public_base.trim_end_matches('/'))
}

/// Issues a token for an existing tenant; with `rotate`, revokes the tenant's other tokens as of
/// `now + grace`.
pub fn issue_token(
    storage: &Storage,
    tenant: &TenantId,
    options: &IssueOptions,
    public_base: &str,
    now: DateTime<Utc>,
) -> Result<IssuedToken, AdminError> {
    options.validate()?;
    let token = PlainToken::generate_api_token();
    let new = NewToken {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: token.hash(),
        prefix: token.display_prefix(),
        label: options.label.clone(),
        expires_at: options.expires_in.map(|d| now + d),
    };
    let info = storage.insert_token(tenant, &new)?;
    if options.rotate {
        let revoked = storage.revoke_tokens_except(tenant, &info.id, now + options.grace)?;
        tracing::info!(%tenant, token_id = %info.id, revoked, grace_seconds = options.grace.num_seconds(), "rotated tokens");
    } else {
        tracing::info!(%tenant, token_id = %info.id, "issued token");
    }
    Ok(IssuedToken {
        id: info.id,
        base_url: base_url(public_base, tenant),
        api_token: token,
        expires_at: info.expires_at,
    })
}

/// Token metadata for listings: never the hash or the secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
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

/// Records an admin action. The action has already happened, so a failure to record it is logged as an
/// error rather than turned into a failed response (which would invite a retry that repeats the action).
pub fn audit(
    storage: &Storage,
    operator: &str,
    action: &str,
    tenant: Option<&TenantId>,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) {
    let entry = NewAdminAuditEntry {
        operator: operator.to_owned(),
        action: action.to_owned(),
        tenant_id: tenant.cloned(),
        detail,
        occurred_at: now,
    };
    match storage.record_admin_action(&entry) {
        Ok(()) => tracing::info!(
            operator,
            action,
            tenant = tenant.map_or("", TenantId::as_str),
            "admin action"
        ),
        Err(e) => {
            tracing::error!(operator, action, error = ?e, "could not record admin action in the audit log")
        }
    }
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
    fn base_url_has_no_double_slash() {
        let tenant = TenantId::parse("acme").unwrap();
        assert_eq!(
            base_url("https://scim.example/", &tenant),
            "https://scim.example/scim/v2/acme"
        );
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
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn issued_token_serialises_the_secret_but_debug_does_not() {
        let token = IssuedToken {
            id: "t1".to_owned(),
            base_url: "http://x/scim/v2/acme".to_owned(),
            api_token: PlainToken::generate_api_token(),
            expires_at: None,
        };
        let json = serde_json::to_value(&token).unwrap();
        assert_eq!(json["apiToken"], token.api_token.expose_secret());
        assert_eq!(json["baseUrl"], "http://x/scim/v2/acme");
        assert!(json["expiresAt"].is_null());
        assert!(!format!("{token:?}").contains(token.api_token.expose_secret()));
    }
}
