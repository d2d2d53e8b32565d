//! Per-tenant policy: the vendor-specific rules a tenant adds on top of RFC 7643 (custom extension schemas,
//! attribute length limits such as Pulumi's 40-character team names, extra required attributes such as a
//! work email, `userName` fixed after creation, and what DELETE means).
//!
//! Stored as JSON with the tenant; `token-admin` validates it on write, `scim-api` enforces it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::filter::{self, Filter};
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::resource::get_ci;
use crate::schema::{Schema, SchemaRegistry};
use crate::{ScimError, patch::PatchOptions};

/// What `DELETE /Users/{id}` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeleteMode {
    /// Remove the resource and its memberships.
    #[default]
    Hard,
    /// Keep the user and set `active` to false (groups are still removed).
    Deactivate,
}

/// A limit on one attribute's values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeLimit {
    /// Longest allowed string, in characters.
    pub max_length: Option<usize>,
}

/// An extension schema and the resource type it extends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtensionDecl {
    pub resource_type: ResourceKind,
    #[serde(default)]
    pub required: bool,
    /// The schema in RFC 7643 §7 form (as `/Schemas` serves it), checked by [`Schema::from_json`].
    pub schema: Value,
}

/// A tenant's policy. Every field is optional in JSON; the default is plain RFC behaviour.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TenantPolicy {
    pub extensions: Vec<ExtensionDecl>,
    /// Keyed by `User.<path>` or `Group.<path>`, e.g. `Group.displayName`.
    pub attribute_limits: BTreeMap<String, AttributeLimit>,
    /// Extra required attributes per resource type, as filter-style paths such as
    /// `emails[type eq "work"].value` or `title`.
    pub required_attributes: BTreeMap<ResourceKind, Vec<String>>,
    pub user_name_immutable: bool,
    pub delete_mode: DeleteMode,
    pub members_replace_is_additive: bool,
}

/// The policy compiled against its registry, ready to check documents.
#[derive(Debug, Clone, Default)]
pub struct CompiledPolicy {
    pub policy: TenantPolicy,
    pub registry: SchemaRegistry,
    limits: Vec<(ResourceKind, AttrPath, AttributeLimit)>,
    required: Vec<(ResourceKind, String, Filter)>,
}

impl TenantPolicy {
    /// Parses and checks a policy: extensions must register, limit and required paths must resolve.
    pub fn from_json(value: &Value) -> Result<CompiledPolicy, ScimError> {
        let policy: TenantPolicy = serde_json::from_value(value.clone())
            .map_err(|e| ScimError::InvalidValue(format!("tenant policy: {e}")))?;
        policy.compile()
    }

    /// Builds the registry and the checks.
    pub fn compile(self) -> Result<CompiledPolicy, ScimError> {
        let mut registry = SchemaRegistry::core();
        for ext in &self.extensions {
            registry.add_extension(ext.resource_type, Schema::from_json(&ext.schema)?, ext.required)?;
        }
        let mut limits = Vec::new();
        for (key, limit) in &self.attribute_limits {
            let (kind, path) = split_kind(key)?;
            let attr_path = AttrPath::parse(path)?;
            registry.resolve_or(kind, &attr_path, ScimError::InvalidPath)?;
            limits.push((kind, attr_path, limit.clone()));
        }
        let mut required = Vec::new();
        for (kind, paths) in &self.required_attributes {
            for path in paths {
                // A required path is checked with the filter `<path> pr`, so it may use a value filter.
                let check = filter::parse(&format!("{path} pr")).map_err(|e| {
                    ScimError::InvalidPath(format!("required attribute {path:?}: {}", e.detail()))
                })?;
                filter::resolve(&check, &registry, *kind)?;
                required.push((*kind, path.clone(), check));
            }
        }
        Ok(CompiledPolicy {
            policy: self,
            registry,
            limits,
            required,
        })
    }
}

fn split_kind(key: &str) -> Result<(ResourceKind, &str), ScimError> {
    let (kind, path) = key.split_once('.').ok_or_else(|| {
        ScimError::InvalidPath(format!(
            "attribute limit key {key:?} must be User.<attr> or Group.<attr>"
        ))
    })?;
    let kind = match kind {
        "User" => ResourceKind::User,
        "Group" => ResourceKind::Group,
        other => {
            return Err(ScimError::InvalidPath(format!(
                "unknown resource type {other:?} in {key:?}"
            )));
        }
    };
    Ok((kind, path))
}

impl CompiledPolicy {
    /// PATCH options that follow from the policy.
    pub fn patch_options(&self) -> PatchOptions {
        PatchOptions {
            members_replace_is_additive: self.policy.members_replace_is_additive,
        }
    }

    /// Checks a validated document against the limits and extra required attributes.
    pub fn check(&self, kind: ResourceKind, doc: &Value) -> Result<(), ScimError> {
        for (limit_kind, path, limit) in &self.limits {
            if *limit_kind != kind {
                continue;
            }
            let Some(max) = limit.max_length else { continue };
            for value in string_values(&self.registry, kind, doc, path) {
                let length = value.chars().count();
                if length > max {
                    return Err(ScimError::InvalidValue(format!(
                        "{} is {length} characters long; this tenant allows at most {max}",
                        path
                    )));
                }
            }
        }
        for (required_kind, text, check) in &self.required {
            if *required_kind != kind {
                continue;
            }
            let resolved = filter::resolve(check, &self.registry, kind)?;
            if !filter::matches(&resolved, doc) {
                return Err(ScimError::InvalidValue(format!(
                    "{text} is required by this tenant"
                )));
            }
        }
        Ok(())
    }
}

/// The string values at `path` in `doc` (every element for multi-valued attributes).
fn string_values<'a>(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    doc: &'a Value,
    path: &AttrPath,
) -> Vec<&'a str> {
    let Some(resolved) = registry.resolve(kind, path) else {
        return Vec::new();
    };
    let container = if resolved.is_core {
        Some(doc)
    } else {
        get_ci(doc, &resolved.schema.id)
    };
    let Some(top) = container.and_then(|c| get_ci(c, &resolved.attr.name)) else {
        return Vec::new();
    };
    let elements: Vec<&Value> = match top {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    elements
        .into_iter()
        .filter_map(|e| match resolved.sub {
            Some(sub) => get_ci(e, &sub.name),
            None => Some(e),
        })
        .filter_map(Value::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn group_display_name_limit_names_attribute_and_limit() {
        let policy =
            TenantPolicy::from_json(&json!({"attributeLimits": {"Group.displayName": {"maxLength": 40}}}))
                .unwrap();
        assert!(
            policy
                .check(ResourceKind::Group, &json!({"displayName": "a".repeat(40)}))
                .is_ok()
        );
        let err = policy
            .check(ResourceKind::Group, &json!({"displayName": "a".repeat(41)}))
            .unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(
            err.detail().contains("displayName") && err.detail().contains("40"),
            "{}",
            err.detail()
        );
    }

    #[test]
    fn required_work_email_is_enforced() {
        let policy = TenantPolicy::from_json(
            &json!({"requiredAttributes": {"User": ["emails[type eq \"work\"].value"]}}),
        )
        .unwrap();
        let without = json!({"userName": "a", "emails": [{"type": "home", "value": "a@home"}]});
        let with = json!({"userName": "a", "emails": [{"type": "work", "value": "a@work"}]});
        assert!(policy.check(ResourceKind::User, &without).is_err());
        assert!(policy.check(ResourceKind::User, &with).is_ok());
    }

    #[test]
    fn lucid_example_policy_registers_its_extension() {
        let policy: Value =
            serde_json::from_str(include_str!("../../../docs/examples/lucid-policy.json")).unwrap();
        let compiled = TenantPolicy::from_json(&policy).unwrap();
        let urn = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";
        assert!(
            compiled
                .registry
                .extension_schema(ResourceKind::User, urn)
                .is_some()
        );
        assert!(TenantPolicy::from_json(&json!({"extensions": [{"resourceType": "User", "schema": {"id": "not-a-urn", "attributes": []}}]})).is_err());
    }

    #[test]
    fn unknown_policy_keys_and_paths_are_rejected() {
        assert!(TenantPolicy::from_json(&json!({"deleteMod": "hard"})).is_err());
        assert!(
            TenantPolicy::from_json(&json!({"attributeLimits": {"Group.nope": {"maxLength": 1}}})).is_err()
        );
        assert!(
            TenantPolicy::from_json(&json!({"attributeLimits": {"Team.displayName": {"maxLength": 1}}}))
                .is_err()
        );
    }
}
