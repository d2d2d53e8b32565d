//! Attribute projection: the `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5,
//! §3.9) combined with each attribute's `returned` characteristic (RFC 7643 §7).
//!
//! Strategy: [`Projection::parse`] only splits and parses the two comma-separated lists (no registry is
//! needed, so the HTTP layer can reject a malformed list before touching storage). [`Projection::apply`]
//! and [`Projection::includes`] resolve those paths against the tenant's registry and decide, for every
//! top-level attribute, whether it is dropped, kept whole, or kept with some sub-attributes only:
//!
//! - `returned: never` (and anything `writeOnly`, i.e. `password`) is never returned, even when asked for.
//! - `returned: always` (`id`) is always returned and cannot be excluded. `schemas` is always returned too.
//! - With `attributes`, only the named attributes (plus `always` ones) are returned; naming a sub-attribute
//!   (`name.givenName`) returns just that sub-attribute; naming an extension URN
//!   (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`) returns its whole block.
//! - Without `attributes`, `default` attributes are returned and `request` ones are not.
//! - `excludedAttributes` then removes attributes, sub-attributes or whole extension blocks.
//!   RFC 7644 does not say what both lists together mean; here `attributes` selects and
//!   `excludedAttributes` removes from that selection.
//!
//! Paths compare case-insensitively and may be URN-qualified. Paths that name nothing in the schema are
//! ignored (a client may ask for an attribute this tenant does not define). A malformed list is
//! `invalidValue` naming the parameter (RFC 7644 has no dedicated `scimType`; `invalidPath` is about
//! PATCH paths).

use serde_json::{Map, Value};

use crate::ScimError;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{AttributeDef, AttributeType, Mutability, Returned, SchemaRegistry};

/// Parsed `attributes` / `excludedAttributes` lists. The default (both empty) returns every `default` and
/// `always` attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

/// A list entry resolved against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    /// A whole schema; `None` is the core schema (attributes at the top level), `Some(urn)` an extension.
    Schema(Option<String>),
    /// An attribute of a section (as in [`Selector::Schema`]) and optionally one sub-attribute, all canonical.
    Attr {
        section: Option<String>,
        name: String,
        sub: Option<String>,
    },
}

impl Selector {
    fn selects_schema(&self, section: Option<&str>) -> bool {
        matches!(self, Selector::Schema(s) if same_section(s.as_deref(), section))
    }

    fn names_whole(&self, section: Option<&str>, attr: &str) -> bool {
        matches!(self, Selector::Attr { section: s, name, sub: None }
            if same_section(s.as_deref(), section) && name.eq_ignore_ascii_case(attr))
    }

    fn sub_of(&self, section: Option<&str>, attr: &str) -> Option<&str> {
        match self {
            Selector::Attr {
                section: s,
                name,
                sub: Some(sub),
            } if same_section(s.as_deref(), section) && name.eq_ignore_ascii_case(attr) => Some(sub),
            Selector::Attr { .. } | Selector::Schema(_) => None,
        }
    }
}

fn same_section(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, Some(_)) | (Some(_), None) => false,
    }
}

/// What happens to one top-level attribute.
#[derive(Debug, PartialEq, Eq)]
enum Pick {
    Skip,
    Keep {
        /// Keep only these sub-attributes; `None` keeps every sub-attribute returned by default.
        only: Option<Vec<String>>,
        /// Sub-attributes explicitly asked for (so `returned: request` ones are kept).
        requested: Vec<String>,
        /// Sub-attributes excluded.
        except: Vec<String>,
    },
}

impl Pick {
    fn whole() -> Self {
        Pick::Keep {
            only: None,
            requested: Vec::new(),
            except: Vec::new(),
        }
    }

    /// Whether a sub-attribute survives this pick.
    fn keeps_sub(&self, sub: &AttributeDef) -> bool {
        let Pick::Keep {
            only,
            requested,
            except,
        } = self
        else {
            return false;
        };
        let named = |list: &[String]| list.iter().any(|n| n.eq_ignore_ascii_case(&sub.name));
        if sub.returned == Returned::Never || sub.mutability == Mutability::WriteOnly {
            return false;
        }
        if sub.returned == Returned::Always {
            return true;
        }
        if named(except) {
            return false;
        }
        match only {
            Some(only) => named(only),
            None => sub.returned != Returned::Request || named(requested),
        }
    }
}

impl Projection {
    /// Parses the two query parameters: comma-separated attribute paths, whitespace around entries
    /// ignored, empty entries skipped. A malformed entry is `invalidValue` naming the parameter.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
        Ok(Projection {
            attributes: parse_list("attributes", attributes)?,
            excluded: parse_list("excludedAttributes", excluded)?,
        })
    }

    /// The `attributes` list as parsed.
    pub fn attributes(&self) -> &[AttrPath] {
        &self.attributes
    }

    /// The `excludedAttributes` list as parsed.
    pub fn excluded(&self) -> &[AttrPath] {
        &self.excluded
    }

    /// Whether neither list was given.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Returns `resource` with only the attributes this projection and the `returned` rules allow.
    pub fn apply(&self, registry: &SchemaRegistry, kind: ResourceKind, resource: &Value) -> Value {
        let Value::Object(object) = resource else {
            return resource.clone();
        };
        let (selected, excluded) = self.resolve(registry, kind);
        let lists = (
            !self.attributes.is_empty(),
            selected.as_slice(),
            excluded.as_slice(),
        );
        let mut out = Map::new();
        for (key, value) in object {
            if key.eq_ignore_ascii_case("schemas") {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = registry.extension_schema(kind, key) {
                let Value::Object(block) = value else { continue };
                let section = Some(ext.id.as_str());
                let mut kept = Map::new();
                for (name, value) in block {
                    let projected = match ext.attribute(name) {
                        Some(def) => project_value(def, &pick(lists, section, def), value),
                        None => self.unknown_kept(&excluded, section).then(|| value.clone()),
                    };
                    if let Some(projected) = projected {
                        kept.insert(name.clone(), projected);
                    }
                }
                if !kept.is_empty() {
                    out.insert(key.clone(), Value::Object(kept));
                }
                continue;
            }
            let projected = match registry.resolve(kind, &AttrPath::new(key.as_str())) {
                Some(resolved) => project_value(resolved.attr, &pick(lists, None, resolved.attr), value),
                None => self.unknown_kept(&excluded, None).then(|| value.clone()),
            };
            if let Some(projected) = projected {
                out.insert(key.clone(), projected);
            }
        }
        Value::Object(out)
    }

    /// Whether the attribute at `path` (or, for a sub-attribute path, that sub-attribute) would be part of
    /// the projected resource if the resource had it. Lets storage skip loading `members` or `groups`
    /// when `excludedAttributes=members`. A path naming a whole extension asks whether any of its
    /// attributes would be returned. Unknown paths are never included.
    pub fn includes(&self, registry: &SchemaRegistry, kind: ResourceKind, path: &AttrPath) -> bool {
        let (selected, excluded) = self.resolve(registry, kind);
        let lists = (
            !self.attributes.is_empty(),
            selected.as_slice(),
            excluded.as_slice(),
        );
        if path.sub.is_none() {
            if let Some(ext) = registry.extension_schema(kind, &path.to_string()) {
                let section = Some(ext.id.as_str());
                return ext
                    .attributes
                    .iter()
                    .any(|def| pick(lists, section, def) != Pick::Skip);
            }
        }
        let Some(resolved) = registry.resolve(kind, path) else {
            return false;
        };
        let section = (!resolved.is_core).then_some(resolved.schema.id.as_str());
        let decision = pick(lists, section, resolved.attr);
        match resolved.sub {
            None => decision != Pick::Skip,
            Some(sub) => decision.keeps_sub(sub),
        }
    }

    /// Keys the schema does not define are kept only when no `attributes` list narrows the result and
    /// their section is not excluded.
    fn unknown_kept(&self, excluded: &[Selector], section: Option<&str>) -> bool {
        self.attributes.is_empty() && !excluded.iter().any(|s| s.selects_schema(section))
    }

    fn resolve(&self, registry: &SchemaRegistry, kind: ResourceKind) -> (Vec<Selector>, Vec<Selector>) {
        let resolve_all = |paths: &[AttrPath]| -> Vec<Selector> {
            paths
                .iter()
                .filter_map(|p| resolve_selector(registry, kind, p))
                .collect()
        };
        (resolve_all(&self.attributes), resolve_all(&self.excluded))
    }
}

fn parse_list(param: &str, text: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            AttrPath::parse(entry).map_err(|_| {
                ScimError::InvalidValue(format!("{param}: {entry:?} is not a valid attribute path"))
            })
        })
        .collect()
}

fn resolve_selector(registry: &SchemaRegistry, kind: ResourceKind, path: &AttrPath) -> Option<Selector> {
    if path.sub.is_none() {
        let whole = path.to_string();
        if let Some(ext) = registry.extension_schema(kind, &whole) {
            return Some(Selector::Schema(Some(ext.id.clone())));
        }
        if whole.eq_ignore_ascii_case(kind.core_schema()) {
            return Some(Selector::Schema(None));
        }
    }
    let resolved = registry.resolve(kind, path)?;
    Some(Selector::Attr {
        section: (!resolved.is_core).then(|| resolved.schema.id.clone()),
        name: resolved.attr.name.clone(),
        sub: resolved.sub.map(|s| s.name.clone()),
    })
}

/// Decides one top-level attribute of `section` (`None`: top level; `Some(urn)`: that extension block).
///
/// `selected` holds the resolvable entries of `attributes`; `narrowed` says whether `attributes` was given
/// at all (a list naming only unknown attributes still narrows the result to the `always` ones).
fn pick(
    (narrowed, selected, excluded): (bool, &[Selector], &[Selector]),
    section: Option<&str>,
    def: &AttributeDef,
) -> Pick {
    if def.returned == Returned::Never || def.mutability == Mutability::WriteOnly {
        return Pick::Skip;
    }
    if def.returned == Returned::Always {
        return Pick::whole();
    }
    let named_whole = selected.iter().any(|s| s.names_whole(section, &def.name));
    let requested: Vec<String> = selected
        .iter()
        .filter_map(|s| s.sub_of(section, &def.name))
        .map(str::to_owned)
        .collect();
    let only = if !narrowed {
        if def.returned == Returned::Request {
            return Pick::Skip;
        }
        None
    } else if named_whole
        || (def.returned != Returned::Request && selected.iter().any(|s| s.selects_schema(section)))
    {
        None
    } else if !requested.is_empty() {
        Some(requested.clone())
    } else {
        return Pick::Skip;
    };
    if excluded
        .iter()
        .any(|s| s.names_whole(section, &def.name) || s.selects_schema(section))
    {
        return Pick::Skip;
    }
    let except = excluded
        .iter()
        .filter_map(|s| s.sub_of(section, &def.name))
        .map(str::to_owned)
        .collect();
    Pick::Keep {
        only,
        requested,
        except,
    }
}

/// Applies a pick to an attribute's value; `None` drops it.
fn project_value(def: &AttributeDef, pick: &Pick, value: &Value) -> Option<Value> {
    if *pick == Pick::Skip {
        return None;
    }
    if def.attr_type != AttributeType::Complex {
        return Some(value.clone());
    }
    let project_object = |object: &Map<String, Value>| -> Option<Value> {
        let only_listed = matches!(pick, Pick::Keep { only: Some(_), .. });
        let kept: Map<String, Value> = object
            .iter()
            .filter(|(key, _)| match def.sub_attribute(key) {
                Some(sub) => pick.keeps_sub(sub),
                None => !only_listed,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Object(object) => project_object(object),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(object) => project_object(object),
                    other => Some(other.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Schema, USER_SCHEMA};

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "2819c223",
            "externalId": "ext-1",
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
            "userName": "bjensen",
            "password": "t1meMa$heen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "b@work.example", "type": "work", "primary": true},
                {"type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Admins"}],
            ENTERPRISE_USER_SCHEMA: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915", "displayName": "John Smith"}
            }
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "display": "Babs Jensen", "type": "User"}]
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>, resource: &Value) -> Value {
        Projection::parse(attributes, excluded).unwrap().apply(
            &SchemaRegistry::core(),
            ResourceKind::User,
            resource,
        )
    }

    fn includes(attributes: Option<&str>, excluded: Option<&str>, kind: ResourceKind, path: &str) -> bool {
        Projection::parse(attributes, excluded).unwrap().includes(
            &SchemaRegistry::core(),
            kind,
            &AttrPath::parse(path).unwrap(),
        )
    }

    #[test]
    fn default_projection_returns_everything_but_the_password() {
        let mut expected = user();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(project(None, None, &user()), expected);
    }

    #[test]
    fn password_is_never_projected_even_when_asked_for() {
        for attributes in [
            "password",
            "PASSWORD",
            "urn:ietf:params:scim:schemas:core:2.0:User:password",
        ] {
            let out = project(Some(attributes), None, &user());
            assert_eq!(
                out,
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "2819c223"})
            );
        }
        let out = project(Some("urn:ietf:params:scim:schemas:core:2.0:User"), None, &user());
        assert!(out.get("password").is_none());
        assert!(!includes(None, None, ResourceKind::User, "password"));
    }

    #[test]
    fn attributes_id_returns_only_id_and_schemas() {
        // Entra's manager check: `attributes=id`.
        assert_eq!(
            project(Some("id"), None, &user()),
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "2819c223"})
        );
    }

    #[test]
    fn attributes_list_narrows_case_insensitively_and_keeps_id() {
        let out = project(Some(" USERNAME , name.GIVENNAME "), None, &user());
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "2819c223",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"}
            })
        );
    }

    #[test]
    fn attributes_naming_only_unknown_attributes_returns_only_always_attributes() {
        assert_eq!(
            project(Some("shoeSize"), None, &user()),
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "2819c223"})
        );
    }

    #[test]
    fn sub_attribute_selection_drops_elements_left_empty() {
        let out = project(Some("emails.value"), None, &user());
        assert_eq!(out["emails"], json!([{"value": "b@work.example"}]));
    }

    #[test]
    fn excluded_sub_attribute_is_removed_and_the_rest_kept() {
        let out = project(None, Some("name.givenName,emails.type"), &user());
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            out["emails"],
            json!([{"value": "b@work.example", "primary": true}])
        );
        assert_eq!(out["userName"], "bjensen");
    }

    #[test]
    fn id_cannot_be_excluded() {
        let out = project(None, Some("id,userName"), &user());
        assert_eq!(out["id"], "2819c223");
        assert!(out.get("userName").is_none());
    }

    #[test]
    fn extension_urn_selects_the_whole_block() {
        let out = project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            None,
            &user(),
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
                "id": "2819c223",
                ENTERPRISE_USER_SCHEMA: {
                    "employeeNumber": "701984",
                    "manager": {"value": "26118915", "displayName": "John Smith"}
                }
            })
        );
    }

    #[test]
    fn urn_qualified_paths_select_and_exclude_extension_attributes() {
        let out = project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value,userName"),
            None,
            &user(),
        );
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "26118915"}})
        );
        let out = project(
            None,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            &user(),
        );
        assert_eq!(
            out[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "26118915", "displayName": "John Smith"}})
        );
        let out = project(
            None,
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            &user(),
        );
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
    }

    #[test]
    fn meta_is_returned_by_default_and_narrowed_away() {
        assert!(project(None, None, &user()).get("meta").is_some());
        assert!(project(Some("userName"), None, &user()).get("meta").is_none());
        let out = project(Some("meta.created"), None, &user());
        assert_eq!(out["meta"], json!({"created": "2024-01-01T00:00:00Z"}));
    }

    #[test]
    fn excluded_members_are_dropped_and_never_need_loading() {
        let projection = Projection::parse(None, Some("members")).unwrap();
        let out = projection.apply(&SchemaRegistry::core(), ResourceKind::Group, &group());
        assert_eq!(
            out,
            json!({"schemas": [GROUP_SCHEMA], "id": "e9e30dba", "displayName": "Tour Guides"})
        );
        assert!(!includes(None, Some("members"), ResourceKind::Group, "members"));
        assert!(!includes(
            None,
            Some("Members"),
            ResourceKind::Group,
            "members.value"
        ));
        assert!(includes(None, None, ResourceKind::Group, "members"));
        assert!(!includes(
            Some("displayName"),
            None,
            ResourceKind::Group,
            "members"
        ));
        assert!(includes(
            Some("members.value"),
            None,
            ResourceKind::Group,
            "members"
        ));
        assert!(includes(None, None, ResourceKind::User, "groups"));
        assert!(!includes(Some("id"), None, ResourceKind::User, "groups"));
        assert!(includes(Some("userName"), Some("id"), ResourceKind::User, "id"));
        assert!(!includes(None, None, ResourceKind::User, "shoeSize"));
    }

    #[test]
    fn includes_answers_for_whole_extensions() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert!(includes(None, None, ResourceKind::User, urn));
        assert!(!includes(Some("userName"), None, ResourceKind::User, urn));
        assert!(includes(
            Some(&format!("{urn}:department")),
            None,
            ResourceKind::User,
            urn
        ));
        assert!(!includes(None, Some(urn), ResourceKind::User, urn));
    }

    #[test]
    fn request_attributes_are_returned_only_when_named() {
        let schema = Schema::from_json(&json!({
            "id": "urn:example:audit",
            "attributes": [
                {"name": "lastLogin", "type": "dateTime", "returned": "request"},
                {"name": "badge", "type": "string"}
            ]
        }))
        .unwrap();
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, schema, false).unwrap();
        let doc = json!({
            "schemas": [USER_SCHEMA, "urn:example:audit"], "id": "1", "userName": "a",
            "urn:example:audit": {"lastLogin": "2024-01-01T00:00:00Z", "badge": "B1"}
        });
        let apply = |attributes: Option<&str>| {
            Projection::parse(attributes, None)
                .unwrap()
                .apply(&reg, ResourceKind::User, &doc)
        };
        assert_eq!(apply(None)["urn:example:audit"], json!({"badge": "B1"}));
        assert_eq!(
            apply(Some("urn:example:audit"))["urn:example:audit"],
            json!({"badge": "B1"})
        );
        assert_eq!(
            apply(Some("urn:example:audit:lastLogin"))["urn:example:audit"],
            json!({"lastLogin": "2024-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn malformed_lists_are_invalid_value_naming_the_parameter() {
        let err = Projection::parse(Some("emails[type eq \"work\"]"), None).unwrap_err();
        assert!(
            matches!(&err, ScimError::InvalidValue(d) if d.starts_with("attributes:")),
            "{err:?}"
        );
        let err = Projection::parse(None, Some("name.given.name")).unwrap_err();
        assert!(
            matches!(&err, ScimError::InvalidValue(d) if d.starts_with("excludedAttributes:")),
            "{err:?}"
        );
        assert!(Projection::parse(Some(" , "), Some("")).unwrap().is_default());
    }
}
