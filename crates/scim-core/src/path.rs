//! Attribute paths: `name`, `name.sub`, `urn:...:Schema:name.sub` (RFC 7644 §3.10, `attrPath` in §3.4.2.2).
//!
//! A URN-qualified path keeps its schema URN separately. The URN ends at the last `:`, so the `.` in
//! `2.0` is never taken for a sub-attribute separator (Entra sends
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`).

use std::fmt;

use crate::ScimError;

/// A parsed attribute path. Names keep the case the client sent; lookups are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, without the trailing `:`.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path to a top-level attribute of the resource's core schema.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }

    /// The same path with a sub-attribute.
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Parses `[urn ":"] ATTRNAME ["." subAttr]`. Returns `InvalidPath` for anything else.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let invalid = || ScimError::InvalidPath(format!("{text:?} is not a valid attribute path"));
        let (urn, rest) = split_urn(text);
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
            return Err(invalid());
        }
        if urn.is_some_and(|u| u.len() <= "urn:".len() || u.ends_with(':')) {
            return Err(invalid());
        }
        Ok(Self {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }
}

/// Splits a leading schema URN (anything starting with `urn:`, case-insensitive) at its last `:`.
/// Returns `(Some(urn), rest)` or `(None, text)`.
pub fn split_urn(text: &str) -> (Option<&str>, &str) {
    let is_urn = text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        return (None, text);
    }
    // The attribute part may contain '.' (sub-attribute) but never ':'.
    match text.rfind(':') {
        Some(idx) => (text.get(..idx), text.get(idx + 1..).unwrap_or_default()),
        None => (None, text),
    }
}

/// RFC 7643 §2.1 ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA; plus `$ref`.
pub fn is_attr_name(name: &str) -> bool {
    if name == "$ref" {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_sub_attribute_paths() {
        assert_eq!(AttrPath::parse("userName").unwrap(), AttrPath::new("userName"));
        assert_eq!(
            AttrPath::parse("name.givenName").unwrap(),
            AttrPath::new("name").with_sub("givenName")
        );
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap(),
            AttrPath::new("members").with_sub("$ref")
        );
    }

    #[test]
    fn urn_path_does_not_split_on_the_dot_in_2_0() {
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .unwrap();
        assert_eq!(
            p.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.name, "employeeNumber");
        assert_eq!(p.sub, None);
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub.as_deref(), Some("value"));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "userName",
            "name.familyName",
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        ] {
            assert_eq!(AttrPath::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "",
            "1abc",
            "a..b",
            "a.b.c",
            "a b",
            "urn::x",
            "name.",
            "emails[type eq \"work\"]",
        ] {
            assert!(AttrPath::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
