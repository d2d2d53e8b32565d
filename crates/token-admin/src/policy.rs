//! Per-tenant policy: the JSON document stored with a tenant and read by `scim-api`.
//!
//! ```json
//! { "extensions": [<RFC 7643 §7 schema>...],
//!   "attributeLimits": {"Group.displayName": {"maxLength": 40}},
//!   "requiredAttributes": {"User": ["emails[type eq \"work\"].value"]},
//!   "userNameImmutable": true, "deleteMode": "hard" | "deactivate", "membersReplaceIsAdditive": false }
//! ```
//!
//! Strategy: parse into a typed struct with `deny_unknown_fields` (a misspelt key is a 400 naming it, never
//! a silently ignored setting), then check every attribute reference against a `scim_core` schema
//! registry built from the core schemas plus the policy's own extensions, so a limit on an attribute that
//! does not exist is refused when it is written rather than ignored at provisioning time. An extension
//! attaches to `User` or `Group` by the last segment of its URN (`...:2.0:User`), the RFC 7643 naming
//! convention. The stored form is the re-serialised struct: canonical, with defaults filled in.

use std::collections::BTreeMap;

use scim_core::ResourceKind;
use scim_core::path::AttrPath;
use scim_core::schema::{AttributeType, Schema, SchemaRegistry};
use serde::{Deserialize, Serialize};

/// What `DELETE /Users/{id}` does for the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteMode {
    /// Remove the resource.
    #[default]
    Hard,
    /// Keep it with `active: false`.
    Deactivate,
}

/// A limit on one attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeLimit {
    pub max_length: u32,
}

/// The tenant policy document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantPolicy {
    #[serde(default)]
    pub extensions: Vec<Schema>,
    /// `"<ResourceType>.<attribute path>"` → limit.
    #[serde(default)]
    pub attribute_limits: BTreeMap<String, AttributeLimit>,
    /// `"User"` / `"Group"` → attribute paths (value filters allowed) that must be present.
    #[serde(default)]
    pub required_attributes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub user_name_immutable: bool,
    #[serde(default)]
    pub delete_mode: DeleteMode,
    #[serde(default)]
    pub members_replace_is_additive: bool,
}

/// Parses a resource type name as used in policy keys.
fn resource_kind(name: &str) -> Result<ResourceKind, String> {
    match name {
        "User" => Ok(ResourceKind::User),
        "Group" => Ok(ResourceKind::Group),
        other => Err(format!(
            "unknown resource type {other:?}; expected \"User\" or \"Group\""
        )),
    }
}

/// `emails[type eq "work"].value` → `emails.value`: the attribute a value-path filter selects within.
fn strip_value_filter(path: &str) -> Result<String, String> {
    match path.split_once('[') {
        None => Ok(path.to_owned()),
        Some((base, rest)) => {
            let (_, after) = rest
                .rsplit_once(']')
                .ok_or_else(|| format!("unbalanced '[' in attribute path {path:?}"))?;
            Ok(format!("{base}{after}"))
        }
    }
}

impl TenantPolicy {
    /// Parses and validates a policy document; the error is a message for the operator.
    pub fn parse(value: serde_json::Value) -> Result<Self, String> {
        let policy: Self = serde_json::from_value(value).map_err(|e| format!("invalid policy: {e}"))?;
        policy.validate().map_err(|e| format!("invalid policy: {e}"))?;
        Ok(policy)
    }

    /// The canonical JSON form to store.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The registry the policy's attribute references are checked against.
    fn registry(&self) -> Result<SchemaRegistry, String> {
        let mut registry = SchemaRegistry::core();
        for schema in &self.extensions {
            let kind_name = schema.id.rsplit(':').next().unwrap_or_default();
            let kind = resource_kind(kind_name).map_err(|_| {
                format!(
                    "extension {:?} must end in \":User\" or \":Group\" to name its resource type",
                    schema.id
                )
            })?;
            check_attribute_names(&schema.id, &schema.attributes)?;
            registry
                .add_extension(kind, schema.clone(), false)
                .map_err(|e| e.detail().to_owned())?;
        }
        Ok(registry)
    }

    fn validate(&self) -> Result<(), String> {
        let registry = self.registry()?;
        for (key, limit) in &self.attribute_limits {
            let (kind_name, path) = key.split_once('.').ok_or_else(|| {
                format!("attributeLimits key {key:?} must be \"<ResourceType>.<attribute>\"")
            })?;
            let kind = resource_kind(kind_name)?;
            let parsed = AttrPath::parse(path).map_err(|e| e.detail().to_owned())?;
            let resolved = registry
                .resolve(kind, &parsed)
                .ok_or_else(|| format!("attributeLimits: {key:?} is not a defined attribute"))?;
            if resolved.target().attr_type != AttributeType::String {
                return Err(format!(
                    "attributeLimits: maxLength applies to string attributes, not {key:?}"
                ));
            }
            if limit.max_length == 0 {
                return Err(format!(
                    "attributeLimits: maxLength of {key:?} must be at least 1"
                ));
            }
        }
        for (kind_name, paths) in &self.required_attributes {
            let kind = resource_kind(kind_name)?;
            for path in paths {
                let parsed =
                    AttrPath::parse(&strip_value_filter(path)?).map_err(|e| e.detail().to_owned())?;
                if registry.resolve(kind, &parsed).is_none() {
                    return Err(format!(
                        "requiredAttributes: {path:?} is not a defined {kind_name} attribute"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn check_attribute_names(schema: &str, attributes: &[scim_core::schema::AttributeDef]) -> Result<(), String> {
    for attr in attributes {
        if !scim_core::path::is_attr_name(&attr.name) {
            return Err(format!(
                "extension {schema:?}: {:?} is not a valid attribute name",
                attr.name
            ));
        }
        check_attribute_names(schema, &attr.sub_attributes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lucid_extension() -> serde_json::Value {
        json!({
            "id": "urn:ietf:params:scim:schemas:extension:lucid:2.0:User",
            "name": "LucidUser",
            "attributes": [
                {"name": "billingCode", "type": "string"},
                {"name": "productLicenses", "type": "complex", "subAttributes": [
                    {"name": "Lucidchart", "type": "boolean"}
                ]}
            ]
        })
    }

    #[test]
    fn full_policy_round_trips_canonically() {
        let policy = TenantPolicy::parse(json!({
            "extensions": [lucid_extension()],
            "attributeLimits": {
                "Group.displayName": {"maxLength": 40},
                "User.urn:ietf:params:scim:schemas:extension:lucid:2.0:User:billingCode": {"maxLength": 12}
            },
            "requiredAttributes": {"User": ["emails[type eq \"work\"].value", "name.givenName"]},
            "userNameImmutable": true,
            "deleteMode": "deactivate",
            "membersReplaceIsAdditive": true
        }))
        .unwrap();
        assert_eq!(policy.delete_mode, DeleteMode::Deactivate);
        assert_eq!(TenantPolicy::parse(policy.to_value()).unwrap(), policy);
    }

    #[test]
    fn empty_object_is_the_default_policy() {
        assert_eq!(TenantPolicy::parse(json!({})).unwrap(), TenantPolicy::default());
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = TenantPolicy::parse(json!({"userNameImutable": true})).unwrap_err();
        assert!(err.contains("userNameImutable"), "{err}");
        let err =
            TenantPolicy::parse(json!({"attributeLimits": {"Group.displayName": {"max": 4}}})).unwrap_err();
        assert!(err.contains("max"), "{err}");
    }

    #[test]
    fn references_to_undefined_attributes_are_rejected() {
        for bad in [
            json!({"attributeLimits": {"Group.nickName": {"maxLength": 4}}}),
            json!({"attributeLimits": {"Device.name": {"maxLength": 4}}}),
            json!({"attributeLimits": {"User.active": {"maxLength": 4}}}),
            json!({"attributeLimits": {"Group.displayName": {"maxLength": 0}}}),
            json!({"requiredAttributes": {"User": ["emails[type eq \"work\"].nope"]}}),
            json!({"requiredAttributes": {"User": ["emails[type eq \"work\".value"]}}),
            json!({"deleteMode": "soft"}),
        ] {
            assert!(TenantPolicy::parse(bad.clone()).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn extensions_must_name_their_resource_type_and_be_urns() {
        let mut ext = lucid_extension();
        ext["id"] = json!("urn:example:lucid:Thing");
        assert!(TenantPolicy::parse(json!({"extensions": [ext]})).is_err());
        let mut ext = lucid_extension();
        ext["id"] = json!("lucid:User");
        assert!(TenantPolicy::parse(json!({"extensions": [ext]})).is_err());
        let mut ext = lucid_extension();
        ext["attributes"][0]["name"] = json!("billing code");
        assert!(TenantPolicy::parse(json!({"extensions": [ext]})).is_err());
        assert!(TenantPolicy::parse(json!({"extensions": [lucid_extension(), lucid_extension()]})).is_err());
    }
}
