//! `sortOrder` (RFC 7644 §3.4.2.3): `ascending` (default) or `descending`. Storage orders by the resolved
//! `sortBy` in SQL (`storage::filter_sql`), so there is no in-memory comparison.

use std::str::FromStr;

use crate::ScimError;

/// `sortOrder` (RFC 7644 §3.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Parses the optional query parameter: absent or empty is `Ascending`; `ascending` / `descending` in
    /// any case; anything else is `invalidValue`.
    pub fn parse(text: Option<&str>) -> Result<SortOrder, ScimError> {
        match text.map(str::trim) {
            None | Some("") => Ok(SortOrder::Ascending),
            Some(text) => text.parse(),
        }
    }
}

impl FromStr for SortOrder {
    type Err = ScimError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if text.eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(ScimError::InvalidValue(format!(
                "sortOrder must be \"ascending\" or \"descending\", not {text:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_order_parses_case_insensitively_and_defaults_to_ascending() {
        assert_eq!(SortOrder::parse(None).unwrap(), SortOrder::Ascending);
        assert_eq!(SortOrder::parse(Some("")).unwrap(), SortOrder::Ascending);
        assert_eq!(
            SortOrder::parse(Some("Descending")).unwrap(),
            SortOrder::Descending
        );
        assert_eq!(SortOrder::parse(Some("ASCENDING")).unwrap(), SortOrder::Ascending);
        assert!(matches!(
            SortOrder::parse(Some("up")),
            Err(ScimError::InvalidValue(_))
        ));
    }
}
