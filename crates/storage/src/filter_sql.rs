//! Compiles a resolved SCIM filter into SQL (placeholder; see the following commit).

use diesel::sql_types::{Bool, Text};
use scim_core::filter::{ResolvedFilter, ResolvedPath};
use scim_core::{ResourceKind, ScimError};

use crate::connection::Dialect;
use crate::error::StorageError;
use crate::sql::SqlFrag;

pub(crate) fn compile(
    _dialect: Dialect,
    _kind: ResourceKind,
    _filter: &ResolvedFilter,
) -> Result<SqlFrag<Bool>, StorageError> {
    Err(ScimError::InvalidFilter("filters are not supported yet".to_owned()).into())
}

pub(crate) fn sort_key(
    _dialect: Dialect,
    _kind: ResourceKind,
    _path: &ResolvedPath,
    _descending: bool,
) -> Result<SqlFrag<Text>, StorageError> {
    Err(ScimError::InvalidValue("sortBy is not supported yet".to_owned()).into())
}
