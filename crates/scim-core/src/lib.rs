#![doc = include_str!("../README.md")]

pub mod discovery;
pub mod error;
pub mod filter;
pub mod ids;
pub mod patch;
pub mod path;
pub mod policy;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod sort;

pub use error::{ScimError, ScimType};
pub use ids::{ResourceId, ResourceKind, TenantId, weak_etag};
