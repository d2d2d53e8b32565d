//! Refusal of NUL characters in text headed for the database.
//!
//! PostgreSQL's `text` and `jsonb` cannot hold U+0000 while SQLite can, so a value with a NUL would be
//! stored on one backend and fail with a database error on the other. Every write path checks its text
//! here first and answers `Scim(InvalidValue)`, the same on both backends.

use scim_core::ScimError;
use serde_json::Value;

use crate::error::StorageError;

/// `InvalidValue` if `s` contains a NUL character.
pub(crate) fn reject_nul_str(s: &str, what: &str) -> Result<(), StorageError> {
    if s.contains('\0') {
        return Err(ScimError::InvalidValue(format!("{what} must not contain NUL characters")).into());
    }
    Ok(())
}

/// `InvalidValue` if any string or key in `value` contains a NUL character.
pub(crate) fn reject_nul(value: &Value, what: &str) -> Result<(), StorageError> {
    match value {
        Value::String(s) => reject_nul_str(s, what),
        Value::Array(items) => items.iter().try_for_each(|v| reject_nul(v, what)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            reject_nul_str(k, what)?;
            reject_nul(v, what)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}
