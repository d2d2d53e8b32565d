#![doc = include_str!("../README.md")]

#[cfg(feature = "access-tokens")]
pub mod access_token;
pub mod token;

#[cfg(feature = "access-tokens")]
pub use access_token::{
    ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, AccessTokenError, AccessTokenIssuer, AccessTokenVerifier,
    DEFAULT_ACCESS_TOKEN_TTL, IssuedAccessToken, VerifiedAccessToken,
};
pub use token::{
    API_TOKEN_PREFIX, CLIENT_SECRET_PREFIX, HashedToken, IssuedApiToken, PlainToken, expose_once,
};
