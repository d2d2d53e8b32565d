//! Discovery bodies: the `/Schemas` (RFC 7644 §4, RFC 7643 §7) and `/ResourceTypes` (RFC 7643 §6) resources,
//! built from the tenant's [`SchemaRegistry`] so a custom extension shows up as soon as it is registered.
//!
//! Strategy: schemas are serialized from the same [`Schema`] values validation reads (their serde form is
//! the §7 shape, camelCase, with empty optional lists and strings omitted), then wrapped with `schemas`
//! and `meta`. No value is ever `null`. The common-attribute pseudo-schema (`id`, `externalId`, `meta`) is
//! not in [`SchemaRegistry::schemas`], so it is never listed. The HTTP layer wraps these in a ListResponse.
//!
//! `base_url` is the tenant's public SCIM base (e.g. `https://host/scim/v2/acme`); a trailing `/` is
//! ignored. `meta.location` is `{base_url}/Schemas/{urn}` and `{base_url}/ResourceTypes/{name}`.

use serde_json::{Map, Value, json};

use crate::ids::ResourceKind;
use crate::schema::{Schema, SchemaRegistry};

/// The URN of the Schema resource's own schema (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The URN of the ResourceType resource's schema (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// The resource types this server serves, in the order `/ResourceTypes` lists them.
const KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

fn trim_base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

/// Every registered schema (core ones first, then extensions in registration order) in `/Schemas` form.
pub fn schema_resources(registry: &SchemaRegistry, base_url: &str) -> Vec<Value> {
    registry
        .schemas()
        .iter()
        .map(|schema| render_schema(schema, base_url))
        .collect()
}

/// One schema in `/Schemas/{urn}` form; the URN compares case-insensitively. `None` if not registered.
pub fn schema_resource(registry: &SchemaRegistry, urn: &str, base_url: &str) -> Option<Value> {
    registry.schema(urn).map(|schema| render_schema(schema, base_url))
}

fn render_schema(schema: &Schema, base_url: &str) -> Value {
    // Serializing plain data structs into a Value cannot fail; fall back to an empty object regardless.
    let mut body = match serde_json::to_value(schema) {
        Ok(Value::Object(map)) => map,
        Ok(_) | Err(_) => Map::new(),
    };
    body.insert("schemas".to_owned(), json!([SCHEMA_SCHEMA]));
    body.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trim_base(base_url), schema.id),
        }),
    );
    Value::Object(body)
}

/// The `User` and `Group` resource types in `/ResourceTypes` form.
pub fn resource_type_resources(registry: &SchemaRegistry, base_url: &str) -> Vec<Value> {
    KINDS
        .iter()
        .map(|kind| render_resource_type(registry, *kind, base_url))
        .collect()
}

/// One resource type by name (`User` or `Group`, case-insensitive). `None` for any other name.
pub fn resource_type_resource(registry: &SchemaRegistry, name: &str, base_url: &str) -> Option<Value> {
    KINDS
        .iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
        .map(|kind| render_resource_type(registry, *kind, base_url))
}

fn render_resource_type(registry: &SchemaRegistry, kind: ResourceKind, base_url: &str) -> Value {
    let description = registry
        .core_schema(kind)
        .map(|s| s.description.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| kind.as_str().to_owned());
    let mut body = Map::new();
    body.insert("schemas".to_owned(), json!([RESOURCE_TYPE_SCHEMA]));
    body.insert("id".to_owned(), json!(kind.as_str()));
    body.insert("name".to_owned(), json!(kind.as_str()));
    body.insert("endpoint".to_owned(), json!(format!("/{}", kind.endpoint())));
    body.insert("description".to_owned(), json!(description));
    body.insert("schema".to_owned(), json!(kind.core_schema()));
    let extensions: Vec<Value> = registry
        .extensions(kind)
        .iter()
        .map(|e| json!({"schema": e.schema, "required": e.required}))
        .collect();
    if !extensions.is_empty() {
        body.insert("schemaExtensions".to_owned(), Value::Array(extensions));
    }
    body.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", trim_base(base_url), kind.as_str()),
        }),
    );
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    const BASE: &str = "https://scim.example.com/scim/v2/acme";

    fn lucid() -> Schema {
        let json: Value =
            serde_json::from_str(include_str!("../tests/fixtures/lucid-user-extension.json")).unwrap();
        Schema::from_json(&json).unwrap()
    }

    fn has_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(has_null),
            Value::Object(map) => map.values().any(has_null),
            Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
        }
    }

    #[test]
    fn group_schema_body_snapshot() {
        let body = schema_resource(&SchemaRegistry::core(), GROUP_SCHEMA, BASE).unwrap();
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!("group_schema", body);
        });
    }

    #[test]
    fn resource_types_body_snapshot() {
        let body = resource_type_resources(&SchemaRegistry::core(), BASE);
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!("resource_types", body);
        });
    }

    #[test]
    fn schemas_lists_core_schemas_and_never_the_common_pseudo_schema() {
        let bodies = schema_resources(&SchemaRegistry::core(), BASE);
        let ids: Vec<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        for body in &bodies {
            assert!(!has_null(body), "{body}");
            assert_eq!(body["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(body["meta"]["resourceType"], "Schema");
            assert_eq!(
                body["meta"]["location"],
                format!("{BASE}/Schemas/{}", body["id"].as_str().unwrap())
            );
        }
    }

    #[test]
    fn schema_attributes_are_camel_case_with_every_characteristic() {
        let user = schema_resource(&SchemaRegistry::core(), USER_SCHEMA, BASE).unwrap();
        let user_name = &user["attributes"][0];
        for key in [
            "name",
            "type",
            "multiValued",
            "description",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(user_name.get(key).is_some(), "userName lacks {key}");
        }
        assert_eq!(user_name["uniqueness"], "server");
        let password = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
    }

    #[test]
    fn schema_lookup_is_case_insensitive_and_trims_trailing_slash() {
        let reg = SchemaRegistry::core();
        let body = schema_resource(&reg, &GROUP_SCHEMA.to_uppercase(), &format!("{BASE}/")).unwrap();
        assert_eq!(body["id"], GROUP_SCHEMA);
        assert_eq!(body["meta"]["location"], format!("{BASE}/Schemas/{GROUP_SCHEMA}"));
        assert!(schema_resource(&reg, "urn:ietf:params:scim:schemas:common", BASE).is_none());
    }

    #[test]
    fn registered_extension_is_listed_in_schemas_and_resource_type() {
        let mut reg = SchemaRegistry::core();
        reg.add_extension(ResourceKind::User, lucid(), true).unwrap();
        let urn = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";
        assert!(schema_resource(&reg, urn, BASE).is_some());
        assert_eq!(schema_resources(&reg, BASE).len(), 4);
        let user = resource_type_resource(&reg, "user", BASE).unwrap();
        assert_eq!(
            user["schemaExtensions"],
            json!([
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": urn, "required": true},
            ])
        );
    }

    #[test]
    fn group_resource_type_omits_empty_schema_extensions() {
        let group = resource_type_resource(&SchemaRegistry::core(), "Group", BASE).unwrap();
        assert_eq!(group["endpoint"], "/Groups");
        assert!(group.get("schemaExtensions").is_none());
        assert!(resource_type_resource(&SchemaRegistry::core(), "Device", BASE).is_none());
    }
}
