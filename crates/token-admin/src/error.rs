//! `AdminError`: every way an admin request can fail, and how it renders.
//!
//! Strategy: one exhaustive enum whose variants are the HTTP outcomes, so `status_code` is a plain match
//! with no fallback arm. The body is always `{"error": <code>, "detail": <text>}`. Client errors carry a
//! detail written for the operator; `Unavailable` and `Internal` carry the real cause for the log only and
//! answer a fixed, generic detail (crates-io's `server_error_response`). A 401 carries
//! `WWW-Authenticate: Bearer` (RFC 6750 §3). Storage errors are classified in one `From` impl.
//!
//! The OAuth token endpoint speaks RFC 6749 §5.2 instead (`{"error": "invalid_client", ...}`), see
//! [`OAuthError`].
//!
//! Rejections by actix-web itself (a method a route does not serve, a body over the size limit) become
//! [`AdminError::Framework`] through [`service::error_format`], so they carry the same body.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use service::{BoxError, ErrorContext};
use storage::StorageError;

/// Failure of an admin request.
#[derive(thiserror::Error)]
pub enum AdminError {
    /// Missing, malformed, expired or untrusted operator credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid operator acting outside their tenant.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or fails validation.
    #[error("{0}")]
    BadRequest(String),
    /// A uniqueness rule refused the write (e.g. the tenant already exists), or the server's
    /// configuration does (OAuth clients while OAuth is off).
    #[error("{0}")]
    Conflict(String),
    /// What the request points at existed but is gone for good (an events cursor older than retention).
    #[error("{0}")]
    CursorExpired(String),
    /// Refused by the HTTP framework before a handler ran, with the framework's status and message.
    #[error("{detail}")]
    Framework { status: StatusCode, detail: String },
    /// A dependency (database, JWKS endpoint) cannot be reached; the cause is logged, not returned.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or corrupt data; the cause is logged, not returned.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl fmt::Debug for AdminError {
    /// The code, the message and the whole cause chain.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdminError({}): {self}", self.code())?;
        service::error_context::fmt_sources(self, f)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    detail: &'a str,
}

impl AdminError {
    /// The stable machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "invalid_request",
            Self::Conflict(_) => "conflict",
            Self::CursorExpired(_) => "cursor_expired",
            Self::Framework { status, .. } => match *status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                status if status.is_server_error() => "internal_error",
                _ => "invalid_request",
            },
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// What the client may read; server-side causes stay in the log.
    fn public_detail(&self) -> &str {
        match self {
            Self::Unauthorized(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::BadRequest(d)
            | Self::Conflict(d)
            | Self::CursorExpired(d) => d,
            Self::Framework { status, detail } if !status.is_server_error() => detail,
            Self::Unavailable(_) => "a dependency is temporarily unavailable; retry later",
            Self::Framework { .. } | Self::Internal(_) => "internal error",
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::CursorExpired(_) => StatusCode::GONE,
            Self::Framework { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self, "admin request failed");
        }
        let mut response = HttpResponse::build(status);
        if let Self::Unauthorized(_) = self {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"token-admin\", error=\"invalid_token\""),
            ));
        }
        response.json(ErrorBody {
            error: self.code(),
            detail: self.public_detail(),
        })
    }
}

impl service::error_format::ErrorFormat for AdminError {
    fn is_own(error: &actix_web::Error) -> bool {
        error.as_error::<AdminError>().is_some() || error.as_error::<OAuthError>().is_some()
    }

    fn framework_error(status: StatusCode, detail: String) -> HttpResponse {
        AdminError::Framework { status, detail }.error_response()
    }
}

impl From<StorageError> for AdminError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound(d) => Self::NotFound(d),
            StorageError::Uniqueness(d) => Self::Conflict(d),
            StorageError::PreconditionFailed(d) | StorageError::InvalidReference(d) => Self::BadRequest(d),
            StorageError::Scim(e) => Self::BadRequest(e.detail().to_owned()),
            // Keep the cause (its message and any typed error below it) rather than the StorageError, whose
            // prefix would only repeat what "service unavailable" / "internal error" already say.
            StorageError::Unavailable(cause) | StorageError::TimedOut(cause) => {
                Self::Unavailable(cause.into())
            }
            StorageError::Internal(cause) => Self::Internal(cause.into()),
            StorageError::Config(d) => Self::Internal(d.into()),
        }
    }
}

impl From<actix_web::error::BlockingError> for AdminError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(Box::new(ErrorContext::new("blocking task failed", err)))
    }
}

/// The RFC 6749 §5.2 error codes this endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    UnsupportedGrantType,
    /// Not in §5.2's list for this endpoint, but the registered `server_error` code is what clients expect
    /// when the service itself failed.
    ServerError,
    /// The grant is off on this server (no `oauth_signing_secret`). Written as `unsupported_grant_type`,
    /// the §5.2 code for a grant the server does not support, with status 404: the endpoint is not
    /// served, and clients that only read a body on 400 still report the status.
    Disabled,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType | Self::Disabled => "unsupported_grant_type",
            Self::ServerError => "server_error",
        }
    }
}

/// An RFC 6749 §5.2 error from the token endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    /// The client authenticated with HTTP Basic: a 401 must then name that scheme (RFC 6749 §5.2).
    pub basic_auth: bool,
}

#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self {
            code: OAuthErrorCode::InvalidRequest,
            description: description.into(),
            basic_auth: false,
        }
    }

    pub fn invalid_client(basic_auth: bool) -> Self {
        Self {
            code: OAuthErrorCode::InvalidClient,
            description: "client authentication failed".to_owned(),
            basic_auth,
        }
    }

    pub fn unsupported_grant_type() -> Self {
        Self {
            code: OAuthErrorCode::UnsupportedGrantType,
            description: "only grant_type=client_credentials is supported".to_owned(),
            basic_auth: false,
        }
    }

    pub fn disabled() -> Self {
        Self {
            code: OAuthErrorCode::Disabled,
            description: "OAuth client credentials are not enabled on this server".to_owned(),
            basic_auth: false,
        }
    }

    pub fn server_error() -> Self {
        Self {
            code: OAuthErrorCode::ServerError,
            description: "temporarily unable to issue tokens".to_owned(),
            basic_auth: false,
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::SERVICE_UNAVAILABLE,
            OAuthErrorCode::Disabled => StatusCode::NOT_FOUND,
            OAuthErrorCode::InvalidRequest | OAuthErrorCode::UnsupportedGrantType => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.code == OAuthErrorCode::InvalidClient {
            let challenge = if self.basic_auth {
                "Basic realm=\"token-admin\""
            } else {
                "Bearer"
            };
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        response.json(OAuthErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    async fn render(err: &dyn ResponseError) -> (u16, Option<String>, serde_json::Value) {
        let response = err.error_response();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, challenge, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn each_variant_has_its_status_and_body() {
        let cases = [
            (
                AdminError::Unauthorized("no token".into()),
                401,
                "unauthorized",
                "no token",
            ),
            (
                AdminError::Forbidden("other tenant".into()),
                403,
                "forbidden",
                "other tenant",
            ),
            (
                AdminError::NotFound("no tenant".into()),
                404,
                "not_found",
                "no tenant",
            ),
            (
                AdminError::BadRequest("bad".into()),
                400,
                "invalid_request",
                "bad",
            ),
            (AdminError::Conflict("exists".into()), 409, "conflict", "exists"),
            (
                AdminError::Unavailable("pool timeout at 10.0.0.5".into()),
                503,
                "unavailable",
                "a dependency is temporarily unavailable; retry later",
            ),
            (
                AdminError::Internal("syntax error near SELECT".into()),
                500,
                "internal_error",
                "internal error",
            ),
        ];
        for (err, status, code, detail) in cases {
            let (got_status, challenge, body) = render(&err).await;
            assert_eq!(got_status, status, "{err:?}");
            assert_eq!(body, serde_json::json!({"error": code, "detail": detail}));
            assert_eq!(challenge.is_some(), status == 401, "{err:?}");
        }
    }

    #[tokio::test]
    async fn oauth_errors_follow_rfc6749() {
        let (status, challenge, body) = render(&OAuthError::invalid_client(true)).await;
        assert_eq!(status, 401);
        assert_eq!(challenge.as_deref(), Some("Basic realm=\"token-admin\""));
        assert_eq!(body["error"], "invalid_client");
        let (status, challenge, body) = render(&OAuthError::unsupported_grant_type()).await;
        assert_eq!((status, challenge), (400, None));
        assert_eq!(body["error"], "unsupported_grant_type");
    }

    #[test]
    fn causes_are_kept_and_print_as_one_line_on_the_command_line() {
        let io = std::io::Error::other("disk full");
        let err = AdminError::Internal(Box::new(ErrorContext::new("cannot write output", io)));
        assert_eq!(
            format!("{err:?}"),
            "AdminError(internal_error): internal error\n  caused by: cannot write output\n  caused by: disk full"
        );
        // What `token-admin` prints on failure (`{:#}` of the anyhow chain).
        assert_eq!(
            format!("{:#}", anyhow::Error::from(err)),
            "internal error: cannot write output: disk full"
        );
        let from_storage = AdminError::from(StorageError::Unavailable("cannot connect: refused".into()));
        assert_eq!(
            format!("{:#}", anyhow::Error::from(from_storage)),
            "service unavailable: cannot connect: refused"
        );
    }

    #[test]
    fn storage_errors_map_to_statuses() {
        let status = |e: StorageError| AdminError::from(e).status_code().as_u16();
        assert_eq!(status(StorageError::NotFound("x".into())), 404);
        assert_eq!(status(StorageError::Uniqueness("x".into())), 409);
        assert_eq!(status(StorageError::Unavailable("x".into())), 503);
        assert_eq!(status(StorageError::Internal("x".into())), 500);
    }
}
