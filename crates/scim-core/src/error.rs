//! One error type for everything SCIM can refuse, rendered as the RFC 7644 §3.12 Error body.
//!
//! Each variant maps to exactly one HTTP status and at most one `scimType`, so the HTTP layer never
//! has to guess. Details are meant for the client: they name the attribute, path or position at fault
//! and never carry internal causes (those stay in logs, in the crates that do I/O).

use serde::Serialize;

/// The URN of the SCIM Error message schema (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` keywords of RFC 7644 §3.12, Table 9, plus RFC 9865 §2.1's `invalidCursor`. (RFC 9865
/// also defines `expiredCursor` and `invalidCount`; this server's cursors never expire and it caps `count`
/// as RFC 7644 does, so it never sends them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    InvalidCursor,
}

impl ScimType {
    /// The keyword exactly as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
            Self::InvalidCursor => "invalidCursor",
        }
    }
}

/// Everything a SCIM operation can be refused with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Uniqueness(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    InvalidVers(String),
    #[error("{0}")]
    Sensitive(String),
    /// 400 `invalidCursor` (RFC 9865): a `cursor` this server did not issue, or one for another listing.
    #[error("{0}")]
    InvalidCursor(String),
    /// 404: the resource (or endpoint) does not exist for this tenant.
    #[error("{0}")]
    NotFound(String),
    /// 412: `If-Match` named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 400 without a scimType: a request that is wrong in a way Table 9 has no keyword for.
    #[error("{0}")]
    BadRequest(String),
}

impl ScimError {
    /// The HTTP status RFC 7644 §3.12 assigns to this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Uniqueness(_) => 409,
            Self::NotFound(_) => 404,
            Self::PreconditionFailed(_) => 412,
            Self::Sensitive(_) => 403,
            Self::InvalidFilter(_)
            | Self::TooMany(_)
            | Self::Mutability(_)
            | Self::InvalidSyntax(_)
            | Self::InvalidPath(_)
            | Self::NoTarget(_)
            | Self::InvalidValue(_)
            | Self::InvalidVers(_)
            | Self::InvalidCursor(_)
            | Self::BadRequest(_) => 400,
        }
    }

    /// The `scimType` keyword, when RFC 7644 defines one for this error.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            Self::InvalidFilter(_) => Some(ScimType::InvalidFilter),
            Self::TooMany(_) => Some(ScimType::TooMany),
            Self::Uniqueness(_) => Some(ScimType::Uniqueness),
            Self::Mutability(_) => Some(ScimType::Mutability),
            Self::InvalidSyntax(_) => Some(ScimType::InvalidSyntax),
            Self::InvalidPath(_) => Some(ScimType::InvalidPath),
            Self::NoTarget(_) => Some(ScimType::NoTarget),
            Self::InvalidValue(_) => Some(ScimType::InvalidValue),
            Self::InvalidVers(_) => Some(ScimType::InvalidVers),
            Self::Sensitive(_) => Some(ScimType::Sensitive),
            Self::InvalidCursor(_) => Some(ScimType::InvalidCursor),
            Self::NotFound(_) | Self::PreconditionFailed(_) | Self::BadRequest(_) => None,
        }
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        match self {
            Self::InvalidFilter(d)
            | Self::TooMany(d)
            | Self::Uniqueness(d)
            | Self::Mutability(d)
            | Self::InvalidSyntax(d)
            | Self::InvalidPath(d)
            | Self::NoTarget(d)
            | Self::InvalidValue(d)
            | Self::InvalidVers(d)
            | Self::Sensitive(d)
            | Self::InvalidCursor(d)
            | Self::NotFound(d)
            | Self::PreconditionFailed(d)
            | Self::BadRequest(d) => d,
        }
    }

    /// The RFC 7644 §3.12 Error body.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody::new(self.status(), self.scim_type(), self.detail())
    }

    /// The same error with `context: ` before its detail, e.g. so a client learns which PATCH operation
    /// failed.
    pub(crate) fn with_context(self, context: &str) -> Self {
        let prefix = |detail: String| format!("{context}: {detail}");
        match self {
            Self::InvalidFilter(d) => Self::InvalidFilter(prefix(d)),
            Self::TooMany(d) => Self::TooMany(prefix(d)),
            Self::Uniqueness(d) => Self::Uniqueness(prefix(d)),
            Self::Mutability(d) => Self::Mutability(prefix(d)),
            Self::InvalidSyntax(d) => Self::InvalidSyntax(prefix(d)),
            Self::InvalidPath(d) => Self::InvalidPath(prefix(d)),
            Self::NoTarget(d) => Self::NoTarget(prefix(d)),
            Self::InvalidValue(d) => Self::InvalidValue(prefix(d)),
            Self::InvalidVers(d) => Self::InvalidVers(prefix(d)),
            Self::Sensitive(d) => Self::Sensitive(prefix(d)),
            Self::InvalidCursor(d) => Self::InvalidCursor(prefix(d)),
            Self::NotFound(d) => Self::NotFound(prefix(d)),
            Self::PreconditionFailed(d) => Self::PreconditionFailed(prefix(d)),
            Self::BadRequest(d) => Self::BadRequest(prefix(d)),
        }
    }
}

/// The SCIM Error message as it goes on the wire. `status` is a string, as RFC 7644 §3.12 shows it.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub schemas: [&'static str; 1],
    pub status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: &'a str,
}

impl<'a> ErrorBody<'a> {
    /// An Error body for any status, including ones (401, 413, 429, 500) that have no `ScimError` variant.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: &'a str) -> Self {
        Self {
            schemas: [ERROR_SCHEMA],
            status: status.to_string(),
            scim_type: scim_type.map(ScimType::as_str),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scim_type_has_its_rfc_status_and_keyword() {
        let cases = [
            (
                ScimError::InvalidFilter(String::new()),
                400,
                Some("invalidFilter"),
            ),
            (ScimError::TooMany(String::new()), 400, Some("tooMany")),
            (ScimError::Uniqueness(String::new()), 409, Some("uniqueness")),
            (ScimError::Mutability(String::new()), 400, Some("mutability")),
            (
                ScimError::InvalidSyntax(String::new()),
                400,
                Some("invalidSyntax"),
            ),
            (ScimError::InvalidPath(String::new()), 400, Some("invalidPath")),
            (ScimError::NoTarget(String::new()), 400, Some("noTarget")),
            (ScimError::InvalidValue(String::new()), 400, Some("invalidValue")),
            (ScimError::InvalidVers(String::new()), 400, Some("invalidVers")),
            (ScimError::Sensitive(String::new()), 403, Some("sensitive")),
            (
                ScimError::InvalidCursor(String::new()),
                400,
                Some("invalidCursor"),
            ),
            (ScimError::NotFound(String::new()), 404, None),
            (ScimError::PreconditionFailed(String::new()), 412, None),
            (ScimError::BadRequest(String::new()), 400, None),
        ];
        for (err, status, keyword) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.scim_type().map(ScimType::as_str), keyword, "{err:?}");
        }
    }

    #[test]
    fn error_body_has_string_status_and_omits_missing_scim_type() {
        let body = serde_json::to_value(ScimError::NotFound("Resource 42 not found".into()).body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [ERROR_SCHEMA],
                "status": "404",
                "detail": "Resource 42 not found"
            })
        );
        let body = serde_json::to_value(ScimError::InvalidFilter("at 3".into()).body()).unwrap();
        assert_eq!(body["scimType"], "invalidFilter");
        assert_eq!(body["status"], "400");
    }
}
