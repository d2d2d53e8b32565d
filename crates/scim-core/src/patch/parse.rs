//! Parsing a PatchOp body (RFC 7644 §3.5.2) into a [`PatchRequest`].
//!
//! Strategy: accept every structural variation real clients send and reject only what has no sensible
//! meaning.
//! - Keys of the message and of each operation match case-insensitively and in any order (Entra sends
//!   `Operations` before `schemas`; some clients send `operations`). Unknown keys are ignored (the reference
//!   test suite sends `"name":"addMember"` inside operations and `"id"` at the top).
//! - `schemas`, when present, must list the PatchOp URN; when absent it is tolerated.
//! - `op` matches case-insensitively (Entra sends `Add`, `Replace`, `Remove`).
//! - An empty `Operations` list is a successful no-op: RFC 7644 asks for at least one operation, but the
//!   SCIM Validator expects success (entra-requests.md §5).
//!
//! Error keywords (RFC 7644 §3.12, Table 9):
//! - body not an object, `Operations` missing or not an array, an operation not an object, `op` missing
//!   or unknown, `schemas` without the PatchOp URN: `invalidSyntax` (the message does not conform to the
//!   request schema);
//! - `path` that is not a string or does not match the grammar: `invalidPath`; a malformed bracketed value
//!   filter: `invalidFilter` (from the filter parser);
//! - `add`/`replace` without `value`: `invalidValue` ("a required value was missing");
//! - `remove` without `path`: `noTarget` (RFC 7644 §3.5.2.2 names this case explicitly).

use std::fmt;

use serde_json::{Map, Value};

use super::{PATCH_OP_SCHEMA, PatchOpKind, PatchOperation, PatchPath, PatchRequest, selector};
use crate::ScimError;
use crate::path::{AttrPath, is_attr_name};

impl PatchOpKind {
    /// Parses an `op` value case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Add, Self::Replace, Self::Remove]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// The keyword as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PatchPath {
    /// A path naming an attribute (and maybe a sub-attribute) without a value filter.
    pub fn attribute(attr: AttrPath) -> Self {
        Self {
            attr,
            filter: None,
            sub_after_filter: None,
        }
    }

    /// Parses `PATH = attrPath / valuePath [subAttr]` (RFC 7644 §3.5.2, ABNF in §3.4.2.2 and Figure 1),
    /// where `valuePath = attrPath "[" valFilter "]"`. The bracket contents go to the filter parser; the
    /// closing bracket is found outside quoted strings, so `emails[value eq "a]b"]` works. A URN prefix is
    /// split at its last `:` ([`crate::path::split_urn`]), so the `.` in `2.0` is not a separator.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let text = text.trim();
        let invalid = || ScimError::InvalidPath(format!("{text:?} is not a valid PATCH path"));
        let Some((attr_text, rest)) = text.split_once('[') else {
            return Ok(Self::attribute(AttrPath::parse(text)?));
        };
        let attr = AttrPath::parse(attr_text).map_err(|_| invalid())?;
        if attr.sub.is_some() {
            // `name.sub[filter]` is not in the grammar: the filter selects elements of the attribute.
            return Err(invalid());
        }
        let close = closing_bracket(rest).ok_or_else(invalid)?;
        let filter_text = rest.get(..close).ok_or_else(invalid)?;
        let after = rest.get(close + 1..).ok_or_else(invalid)?;
        let sub_after_filter = if after.is_empty() {
            None
        } else {
            match after.strip_prefix('.') {
                Some(sub) if is_attr_name(sub) => Some(sub.to_owned()),
                _ => return Err(invalid()),
            }
        };
        let filter = selector::parse_value_filter(filter_text)?;
        Ok(Self {
            attr,
            filter: Some(filter),
            sub_after_filter,
        })
    }
}

impl fmt::Display for PatchPath {
    /// The canonical RFC form: `attr[filter].sub`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_after_filter {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The byte offset of the `]` closing a value filter whose `[` was just consumed, skipping quoted strings
/// (with JSON escapes) and nested brackets.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' if depth == 0 => return Some(offset),
            ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl PatchRequest {
    /// Parses a PatchOp body; see the module docs for what is tolerated and which errors are returned.
    pub fn from_json(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(message) = body else {
            return Err(ScimError::InvalidSyntax(
                "a PATCH body must be a JSON object with an \"Operations\" array".to_owned(),
            ));
        };
        check_schemas(message)?;
        let operations = match field(message, "Operations")? {
            Some(Value::Array(operations)) => operations,
            Some(_) => {
                return Err(ScimError::InvalidSyntax(
                    "\"Operations\" must be an array".to_owned(),
                ));
            }
            None => {
                return Err(ScimError::InvalidSyntax(
                    "a PATCH body needs an \"Operations\" array".to_owned(),
                ));
            }
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(index, op)| parse_operation(op).map_err(|e| e.with_context(&format!("operation {index}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { operations })
    }
}

/// `schemas` must name the PatchOp message if it is there at all; Entra always sends it, other clients
/// sometimes forget it, and nothing else could be meant by a body with `Operations`.
fn check_schemas(message: &Map<String, Value>) -> Result<(), ScimError> {
    let is_patch_op = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    };
    let listed = match field(message, "schemas")? {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(uris)) => uris.iter().any(is_patch_op),
        Some(single) => is_patch_op(single),
    };
    if listed {
        Ok(())
    } else {
        Err(ScimError::InvalidSyntax(format!(
            "\"schemas\" must contain {PATCH_OP_SCHEMA:?}"
        )))
    }
}

/// A member of a JSON object by case-insensitive key. Two keys differing only in case are ambiguous.
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a Value>, ScimError> {
    let mut found = object.iter().filter(|(key, _)| key.eq_ignore_ascii_case(name));
    let first = found.next();
    if let Some((second, _)) = found.next() {
        return Err(ScimError::InvalidSyntax(format!(
            "the key {name:?} appears twice (as {:?} and {second:?})",
            first.map(|(k, _)| k.as_str()).unwrap_or_default()
        )));
    }
    Ok(first.map(|(_, value)| value))
}

fn parse_operation(op: &Value) -> Result<PatchOperation, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::InvalidSyntax(
            "each operation must be a JSON object".to_owned(),
        ));
    };
    let kind = match field(op, "op")? {
        Some(Value::String(text)) => PatchOpKind::parse(text).ok_or_else(|| {
            ScimError::InvalidSyntax(format!(
                "\"op\" must be \"add\", \"replace\" or \"remove\", not {text:?}"
            ))
        })?,
        Some(other) => {
            return Err(ScimError::InvalidSyntax(format!(
                "\"op\" must be a string, not {other}"
            )));
        }
        None => {
            return Err(ScimError::InvalidSyntax(
                "an operation needs an \"op\"".to_owned(),
            ));
        }
    };
    let path = match field(op, "path")? {
        None | Some(Value::Null) => None,
        // Some clients send `"path": ""` for a path-less operation.
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(Value::String(text)) => Some(PatchPath::parse(text)?),
        Some(other) => {
            return Err(ScimError::InvalidPath(format!(
                "\"path\" must be a string, not {other}"
            )));
        }
    };
    let value = field(op, "value")?.cloned();
    match kind {
        PatchOpKind::Remove if path.is_none() => Err(ScimError::NoTarget(
            "a \"remove\" operation needs a \"path\" (RFC 7644 §3.5.2.2)".to_owned(),
        )),
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(ScimError::InvalidValue(format!(
            "an \"{kind}\" operation needs a \"value\""
        ))),
        _ => Ok(PatchOperation {
            op: kind,
            path,
            value,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ScimType;

    fn scim_type(body: Value) -> Option<ScimType> {
        PatchRequest::from_json(&body).err().and_then(|e| e.scim_type())
    }

    #[test]
    fn op_names_match_in_any_case() {
        for (text, kind) in [
            ("add", PatchOpKind::Add),
            ("Add", PatchOpKind::Add),
            ("REPLACE", PatchOpKind::Replace),
            ("Remove", PatchOpKind::Remove),
        ] {
            assert_eq!(PatchOpKind::parse(text), Some(kind), "{text}");
        }
        assert_eq!(PatchOpKind::parse("move"), None);
        assert_eq!(PatchOpKind::parse(""), None);
    }

    #[test]
    fn plain_sub_and_urn_paths() {
        let p = PatchPath::parse("name.givenName").unwrap();
        assert_eq!(
            p,
            PatchPath::attribute(AttrPath::new("name").with_sub("givenName"))
        );
        let p = PatchPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .unwrap();
        assert_eq!(
            p.attr.urn.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(p.attr.name, "employeeNumber");
        assert!(p.filter.is_none());
    }

    #[test]
    fn value_paths_parse_and_print_back() {
        for text in [
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "addresses[type eq \"work\" and primary eq true].streetAddress",
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
            "urn:ietf:params:scim:schemas:extension:lucid:2.0:User:productLicenses[value eq \"a]b\"].x",
        ] {
            let path = PatchPath::parse(text).unwrap();
            assert!(path.filter.is_some(), "{text}");
            assert_eq!(path.to_string(), text);
            assert_eq!(PatchPath::parse(&path.to_string()).unwrap(), path);
        }
        let path = PatchPath::parse("emails[type eq \"work\"].value").unwrap();
        assert_eq!(path.attr, AttrPath::new("emails"));
        assert_eq!(path.sub_after_filter.as_deref(), Some("value"));
    }

    #[test]
    fn malformed_value_filters_are_invalid_filter() {
        for bad in ["emails[]", "emails[type eq]", "emails[type zz \"x\"]"] {
            let err = PatchPath::parse(bad).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidFilter), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn closing_bracket_skips_quoted_strings() {
        assert_eq!(closing_bracket("type eq \"work\"]"), Some(14));
        assert_eq!(closing_bracket("value eq \"a]b\"].x"), Some(14));
        assert_eq!(closing_bracket(r#"value eq "a\"]"]"#), Some(15));
        assert_eq!(closing_bracket("value eq \"a]"), None);
        assert_eq!(closing_bracket("a [b] c]"), Some(7));
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "1abc",
            "name.given.name",
            "name.givenName[type eq \"x\"]",
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]value",
            "emails[type eq \"work\"].",
            "emails[type eq \"work\"].a.b",
            "[type eq \"work\"]",
        ] {
            let err = PatchPath::parse(bad).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidPath), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn structural_errors_have_rfc_keywords() {
        assert_eq!(scim_type(json!([])), Some(ScimType::InvalidSyntax));
        assert_eq!(
            scim_type(json!({"schemas": [PATCH_OP_SCHEMA]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": {"op": "add"}})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": ["add"]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"path": "nickName", "value": "x"}]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"op": "move", "path": "nickName"}]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"op": 1, "path": "nickName"}]})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": [], "operations": []})),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"op": "add", "path": 3, "value": 1}]})),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"op": "add", "path": "nickName"}]})),
            Some(ScimType::InvalidValue)
        );
        assert_eq!(
            scim_type(json!({"Operations": [{"op": "replace"}]})),
            Some(ScimType::InvalidValue)
        );
    }

    #[test]
    fn remove_without_path_is_no_target() {
        assert_eq!(
            scim_type(json!({"Operations": [{"op": "remove", "value": {"nickName": "x"}}]})),
            Some(ScimType::NoTarget)
        );
    }

    #[test]
    fn errors_name_the_failing_operation() {
        let err = PatchRequest::from_json(&json!({"Operations": [
            {"op": "add", "path": "nickName", "value": "x"},
            {"op": "jump"}
        ]}))
        .unwrap_err();
        assert!(err.detail().starts_with("operation 1: "), "{err:?}");
    }

    #[test]
    fn schemas_may_be_missing_or_a_single_string() {
        let ops = json!([{"op": "add", "path": "nickName", "value": "x"}]);
        assert!(PatchRequest::from_json(&json!({"Operations": ops})).is_ok());
        assert!(PatchRequest::from_json(&json!({"schemas": PATCH_OP_SCHEMA, "Operations": ops})).is_ok());
        assert!(PatchRequest::from_json(&json!({"schemas": null, "Operations": ops})).is_ok());
    }

    #[test]
    fn empty_path_string_means_no_path() {
        let request = PatchRequest::from_json(&json!({"Operations": [
            {"op": "replace", "path": " ", "value": {"nickName": "x"}}
        ]}))
        .unwrap();
        assert_eq!(request.operations.first().unwrap().path, None);
    }
}
