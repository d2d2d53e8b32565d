//! `ApiError`: everything a SCIM request can fail with, rendered as the RFC 7644 §3.12 Error body with
//! `Content-Type: application/scim+json`.
//!
//! Client errors carry their detail. Server errors (storage outages, bugs) answer with a fixed body and the
//! cause goes to the log, so database text never reaches a client. A 401 carries
//! `WWW-Authenticate: Bearer` and the same body whether the token is unknown, revoked, expired or belongs to
//! another tenant, so the answer reveals nothing about other tenants.
//!
//! Rejections by actix-web itself (a method a resource does not serve, an extractor's error) are turned
//! into [`ApiError::Framework`] by [`service::error_format`], so they carry the same body.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use scim_core::ScimError;
use scim_core::error::ErrorBody;
use service::{BoxError, ErrorContext};
use storage::StorageError;

/// The media type of every SCIM response body.
pub const SCIM_JSON: &str = "application/scim+json";

/// `Retry-After` of a request whose statement reached the database time limit.
const STATEMENT_TIMEOUT_RETRY_AFTER_SECS: u64 = 5;
/// What a client whose request reached the statement time limit is told.
const STATEMENT_TIMEOUT_DETAIL: &str = "The request took longer than the database time limit and was cancelled. \
     Retry after the Retry-After delay; a filter on an indexed attribute (id, userName, externalId, \
     emails.value, displayName) is served in milliseconds, while `co`/`ew` filters and filters on other \
     attributes scan every resource of the tenant.";

#[derive(thiserror::Error)]
pub enum ApiError {
    /// A SCIM protocol error with its own status and scimType.
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("authentication required")]
    Unauthorized,
    /// A read-only token asked to write.
    #[error(
        "This token is read-only: it may read and search but not create, replace, modify or delete. \
         Use the tenant's provisioning (write) token for writes."
    )]
    ReadOnlyToken,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// RFC 7644 §3.7.4: more bulk operations than `maxOperations`.
    #[error("{sent} operations exceed maxOperations {max}")]
    TooManyOperations { sent: usize, max: usize },
    #[error("unsupported content type {0:?}")]
    UnsupportedMediaType(String),
    /// Refused by the HTTP framework before a handler ran, with the framework's status and message.
    #[error("{detail}")]
    Framework { status: StatusCode, detail: String },
    #[error("{0}")]
    NotImplemented(&'static str),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// Refused to keep other tenants served: this tenant's share of the database is in use (the
    /// bulkhead), or a statement ran past its time limit. 503 with `Retry-After` and a detail saying what
    /// to do.
    #[error("{detail}")]
    Overloaded { retry_after_secs: u64, detail: String },
    /// The database is unreachable or overloaded: 503, worth retrying. The cause is logged only.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or an unexpected failure: 500, cause logged only.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        service::error_context::fmt_sources(self, f)
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound(detail) => ScimError::NotFound(detail).into(),
            StorageError::Uniqueness(detail) => ScimError::Uniqueness(detail).into(),
            StorageError::PreconditionFailed(detail) => ScimError::PreconditionFailed(detail).into(),
            StorageError::InvalidReference(detail) => ScimError::InvalidValue(detail).into(),
            StorageError::Scim(scim) => scim.into(),
            unavailable @ StorageError::Unavailable(_) => Self::Unavailable(Box::new(unavailable)),
            timed_out @ StorageError::TimedOut(_) => {
                tracing::warn!(cause = ?timed_out, "statement time limit reached");
                Self::Overloaded {
                    retry_after_secs: STATEMENT_TIMEOUT_RETRY_AFTER_SECS,
                    detail: STATEMENT_TIMEOUT_DETAIL.to_owned(),
                }
            }
            other @ (StorageError::Config(_) | StorageError::Internal(_)) => Self::Internal(Box::new(other)),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(Box::new(ErrorContext::new("blocking task failed", err)))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            Self::Scim(e) => e.status(),
            Self::Unauthorized => 401,
            Self::ReadOnlyToken => 403,
            Self::PayloadTooLarge(_) | Self::TooManyOperations { .. } => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Framework { status, .. } => return *status,
            Self::NotImplemented(_) => 501,
            Self::RateLimited { .. } => 429,
            Self::Unavailable(_) | Self::Overloaded { .. } => 503,
            Self::Internal(_) => 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = self.public_detail();
        let scim_type = match self {
            Self::Scim(e) => e.scim_type(),
            // A request the framework could not read at all: RFC 7644 §3.12's keyword for a malformed
            // request.
            Self::Framework { status, .. } if *status == StatusCode::BAD_REQUEST => {
                Some(scim_core::error::ScimType::InvalidSyntax)
            }
            _ => None,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
        match self {
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::Overloaded { retry_after_secs, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                // The server protecting other tenants, as designed: its access-log line is not an ERROR
                // (the refusal logs its own line saying why).
                response
                    .extensions_mut()
                    .insert(service::middleware::AnswerNotFailure);
            }
            _ => {}
        }
        let mut answer = response.json(ErrorBody::new(status.as_u16(), scim_type, &detail));
        // For the portal's request log (`request_log.rs`): what we told the client, without re-parsing it.
        answer.extensions_mut().insert(crate::request_log::ErrorSummary {
            scim_type: scim_type.map(|t| t.as_str().to_owned()),
            detail,
        });
        answer
    }
}

impl ApiError {
    /// The `detail` a client may see. Server errors get a fixed text and their cause goes to the log, so
    /// database text never reaches a client (also inside Bulk responses, which render errors themselves).
    pub fn public_detail(&self) -> String {
        match self {
            Self::Scim(e) => e.detail().to_owned(),
            Self::Unauthorized => "A valid bearer token for this tenant is required.".to_owned(),
            Self::Unavailable(_) => {
                tracing::warn!(cause = ?self, "storage unavailable");
                "The service is temporarily unavailable; retry later.".to_owned()
            }
            Self::Internal(_) => {
                tracing::error!(cause = ?self, "internal error");
                "An internal error occurred.".to_owned()
            }
            Self::Framework { status, detail } if status.is_server_error() => {
                tracing::error!(%status, cause = %detail, "internal error");
                "An internal error occurred.".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl service::error_format::ErrorFormat for ApiError {
    fn is_own(error: &actix_web::Error) -> bool {
        error.as_error::<ApiError>().is_some()
    }

    fn framework_error(status: StatusCode, detail: String) -> HttpResponse {
        ApiError::Framework { status, detail }.error_response()
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn body_of(err: ApiError) -> (u16, serde_json::Value, Option<String>) {
        let response = err.error_response();
        let status = response.status().as_u16();
        let www = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), www)
    }

    #[actix_web::test]
    async fn unauthorized_has_bearer_challenge_and_scim_body() {
        let (status, body, www) = body_of(ApiError::Unauthorized).await;
        assert_eq!(status, 401);
        assert_eq!(www.as_deref(), Some("Bearer"));
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(body["status"], "401");
    }

    #[actix_web::test]
    async fn read_only_token_is_403_with_scim_body_and_no_challenge() {
        let (status, body, www) = body_of(ApiError::ReadOnlyToken).await;
        assert_eq!(status, 403);
        assert_eq!(www, None);
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(body["status"], "403");
        assert!(body["detail"].as_str().unwrap().contains("read-only"), "{body}");
        assert!(body.get("scimType").is_none(), "{body}");
    }

    #[actix_web::test]
    async fn internal_errors_never_leak_their_cause() {
        let (status, body, _) =
            body_of(ApiError::Internal("relation \"resources\" does not exist".into())).await;
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("relation"), "{body}");
    }

    #[actix_web::test]
    async fn storage_failures_keep_their_cause_for_the_log_only() {
        let err = ApiError::from(StorageError::Internal(
            "relation \"resources\" does not exist".into(),
        ));
        assert!(
            format!("{err:?}").contains("caused by: internal storage error: relation"),
            "{err:?}"
        );
        let (status, body, _) = body_of(err).await;
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("relation"), "{body}");
    }

    #[actix_web::test]
    async fn a_statement_time_limit_is_503_with_retry_after_and_advice() {
        let response = ApiError::from(StorageError::TimedOut(
            "canceling statement due to statement timeout".into(),
        ))
        .error_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        let bytes = to_bytes(response.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("indexed attribute") && !detail.contains("canceling"),
            "{detail}"
        );
    }

    #[actix_web::test]
    async fn storage_uniqueness_is_409_uniqueness() {
        let (status, body, _) = body_of(StorageError::Uniqueness("userName taken".into()).into()).await;
        assert_eq!(status, 409);
        assert_eq!(body["scimType"], "uniqueness");
    }
}
