#![doc = include_str!("../README.md")]

pub mod audit;
pub mod auth;
pub mod change_feed;
pub mod cli;
pub mod error;
pub mod jwks;
pub mod portal;
pub mod routes;
pub mod scim_tokens;
pub mod startup;
pub mod token_refusal;
pub mod webhooks;

pub use error::AdminError;
pub use startup::{Application, Options, StartupError};
