//! `sortOrder` (RFC 7644 §3.4.2.3): `ascending` (default) or `descending`. Storage orders by the resolved
//! `sortBy` in SQL; the in-memory comparison in this module's tests is not used outside them.

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
    use std::cmp::Ordering;

    use serde_json::{Value, json};

    use super::*;
    use crate::ids::ResourceKind;
    use crate::path::AttrPath;
    use crate::resource::{get_ci, parse_date_time};
    use crate::schema::{AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, Schema, SchemaRegistry};

    /// Orders two resources by `sort_by` in `order`, in memory; only these tests call it.
    ///
    /// It resolves `sortBy` against the registry once per call and compares the two resources' values by
    /// the attribute's type: strings of a `caseExact: false` attribute case-insensitively, numbers
    /// numerically, dateTimes by instant (RFC 7643 §2.3.5; a value that does not parse falls back to text
    /// order), booleans false before true. For a multi-valued attribute the value of the element marked
    /// `primary` is used, else the first element's (§3.4.2.3); for a complex attribute named without a
    /// sub-attribute, its `value` sub-attribute. A resource without a value sorts last in ascending order
    /// and first in descending order (descending is exactly the reverse of ascending). An unknown `sortBy`
    /// compares everything equal, leaving the order to the caller's tie-breaker.
    fn compare(
        registry: &SchemaRegistry,
        kind: ResourceKind,
        sort_by: &AttrPath,
        a: &Value,
        b: &Value,
        order: SortOrder,
    ) -> Ordering {
        let Some(resolved) = registry.resolve(kind, sort_by) else {
            return Ordering::Equal;
        };
        let target = match resolved.sub {
            Some(sub) => Some(sub),
            None if resolved.attr.attr_type == AttributeType::Complex => resolved.attr.sub_attribute("value"),
            None => Some(resolved.attr),
        };
        let Some(target) = target else {
            return Ordering::Equal;
        };
        let extract = |doc: &'_ Value| -> Option<Value> {
            let container = if resolved.is_core {
                doc
            } else {
                get_ci(doc, &resolved.schema.id)?
            };
            let value = get_ci(container, &resolved.attr.name)?;
            let element = match value {
                Value::Array(items) => items
                    .iter()
                    .find(|item| get_ci(item, "primary") == Some(&Value::Bool(true)))
                    .or_else(|| items.first())?,
                other => other,
            };
            let leaf = if std::ptr::eq(target, resolved.attr) {
                element
            } else {
                get_ci(element, &target.name)?
            };
            (!leaf.is_null()).then(|| leaf.clone())
        };
        let ascending = match (extract(a), extract(b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => compare_values(target, &a, &b),
        };
        match order {
            SortOrder::Ascending => ascending,
            SortOrder::Descending => ascending.reverse(),
        }
    }

    fn compare_values(def: &AttributeDef, a: &Value, b: &Value) -> Ordering {
        match (a, b) {
            (Value::String(x), Value::String(y)) => {
                if def.attr_type == AttributeType::DateTime {
                    if let (Some(x), Some(y)) = (parse_date_time(x), parse_date_time(y)) {
                        return x.cmp(&y);
                    }
                }
                if def.case_exact {
                    x.cmp(y)
                } else {
                    x.to_lowercase().cmp(&y.to_lowercase())
                }
            }
            (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => {
                    let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                    x.total_cmp(&y)
                }
            },
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            // Values of mismatched JSON types (only in data stored before a schema change): order by kind.
            _ => rank(a).cmp(&rank(b)),
        }
    }

    fn rank(value: &Value) -> u8 {
        match value {
            Value::Bool(_) => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }

    fn sorted(sort_by: &str, order: SortOrder, docs: &[Value]) -> Vec<String> {
        sorted_with(&SchemaRegistry::core(), sort_by, order, docs)
    }

    fn sorted_with(reg: &SchemaRegistry, sort_by: &str, order: SortOrder, docs: &[Value]) -> Vec<String> {
        let path = AttrPath::parse(sort_by).unwrap();
        let mut docs = docs.to_vec();
        docs.sort_by(|a, b| compare(reg, ResourceKind::User, &path, a, b, order));
        docs.iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    }

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

    #[test]
    fn case_insensitive_strings_ignore_case() {
        let docs = [
            json!({"id": "1", "userName": "bob"}),
            json!({"id": "2", "userName": "Alice"}),
            json!({"id": "3", "userName": "carol"}),
        ];
        assert_eq!(sorted("userName", SortOrder::Ascending, &docs), ["2", "1", "3"]);
        assert_eq!(sorted("USERNAME", SortOrder::Descending, &docs), ["3", "1", "2"]);
    }

    #[test]
    fn case_exact_strings_sort_by_code_point() {
        let docs = [
            json!({"id": "a", "externalId": "b"}),
            json!({"id": "B", "externalId": "B"}),
        ];
        assert_eq!(sorted("externalId", SortOrder::Ascending, &docs), ["B", "a"]);
    }

    #[test]
    fn missing_values_sort_last_ascending_and_first_descending() {
        let docs = [
            json!({"id": "none"}),
            json!({"id": "b", "displayName": "B"}),
            json!({"id": "null", "displayName": null}),
            json!({"id": "a", "displayName": "a"}),
        ];
        assert_eq!(
            sorted("displayName", SortOrder::Ascending, &docs),
            ["a", "b", "none", "null"]
        );
        assert_eq!(
            sorted("displayName", SortOrder::Descending, &docs),
            ["none", "null", "b", "a"]
        );
    }

    #[test]
    fn multi_valued_sorts_by_primary_element_or_first() {
        let docs = [
            json!({"id": "1", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
            json!({"id": "2", "emails": [{"value": "m@x"}, {"value": "b@x"}]}),
            json!({"id": "3", "emails": []}),
        ];
        assert_eq!(sorted("emails", SortOrder::Ascending, &docs), ["1", "2", "3"]);
        assert_eq!(
            sorted("emails.value", SortOrder::Ascending, &docs),
            ["1", "2", "3"]
        );
    }

    #[test]
    fn date_times_sort_by_instant_not_text() {
        let docs = [
            json!({"id": "later", "meta": {"created": "2024-05-01T10:30:00+00:00"}}),
            json!({"id": "earlier", "meta": {"created": "2024-05-01T12:00:00+02:00"}}),
        ];
        assert_eq!(
            sorted("meta.created", SortOrder::Ascending, &docs),
            ["earlier", "later"]
        );
    }

    #[test]
    fn numbers_sort_numerically_and_booleans_false_first() {
        let schema = Schema::from_json(&json!({
            "id": "urn:example:x",
            "attributes": [{"name": "n", "type": "decimal"}]
        }))
        .unwrap();
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, schema, false).unwrap();
        let docs = [
            json!({"id": "ten", "urn:example:x": {"n": 10}}),
            json!({"id": "two", "urn:example:x": {"n": 2.5}}),
            json!({"id": "nine", "urn:example:x": {"n": 9}}),
        ];
        assert_eq!(
            sorted_with(&reg, "urn:example:x:n", SortOrder::Ascending, &docs),
            ["two", "nine", "ten"]
        );
        let docs = [
            json!({"id": "t", "active": true}),
            json!({"id": "f", "active": false}),
        ];
        assert_eq!(sorted("active", SortOrder::Ascending, &docs), ["f", "t"]);
    }

    #[test]
    fn extension_attributes_sort_through_their_urn() {
        let docs = [
            json!({"id": "2", ENTERPRISE_USER_SCHEMA: {"department": "Sales"}}),
            json!({"id": "1", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "eng"}}),
        ];
        let path = format!("{ENTERPRISE_USER_SCHEMA}:department");
        assert_eq!(sorted(&path, SortOrder::Ascending, &docs), ["1", "2"]);
    }

    #[test]
    fn unknown_sort_attribute_compares_equal() {
        let docs = [json!({"id": "b"}), json!({"id": "a"})];
        assert_eq!(sorted("shoeSize", SortOrder::Ascending, &docs), ["b", "a"]);
    }
}
