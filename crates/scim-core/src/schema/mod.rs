//! Schemas are data (RFC 7643 §7): a registry of attribute definitions that validation, projection,
//! filtering and PATCH all read. Nothing elsewhere is hard-coded per attribute.
//!
//! The registry holds the core `User`, `Group` and `EnterpriseUser` schemas (see [`core`]) plus any
//! extension a tenant declares at run time (loaded from JSON in the RFC 7643 §7 format).

pub mod core;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ScimError;
use crate::ids::ResourceKind;
use crate::path::AttrPath;

pub const USER_SCHEMA: &str = ResourceKind::User.core_schema();
pub const GROUP_SCHEMA: &str = ResourceKind::Group.core_schema();
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Entra's older examples declare the enterprise extension without the colon before `User`.
pub const ENTERPRISE_URN_WITHOUT_COLON: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User";

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// RFC 7643 §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7). Serializes to the `/Schemas` shape with no null values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub attr_type: AttributeType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// The sub-attribute named `name`, compared case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether two values of this attribute are equal as its `caseExact` defines it (RFC 7643 §2.2):
    /// strings of a `caseExact: false` attribute compare case-insensitively, everything else exactly.
    pub(crate) fn same_value(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::String(a), Value::String(b)) if !self.case_exact => a.to_lowercase() == b.to_lowercase(),
            _ => a == b,
        }
    }
}

/// A schema (RFC 7643 §7): its URN id, name, description and attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// The top-level attribute named `name`, compared case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Loads a schema from its RFC 7643 §7 JSON form (the body `/Schemas/{id}` serves; `schemas` and
    /// `meta` are ignored). Optional characteristics default as §7 says (`multiValued`, `required`,
    /// `caseExact` false; `mutability` readWrite; `returned` default; `uniqueness` none).
    ///
    /// Rejected with `invalidValue`: an `id` that is not a URN; an attribute name that is not an RFC 7643
    /// §2.1 ATTRNAME; two attributes (or two sub-attributes of one attribute) whose names differ only in
    /// case; sub-attributes on a non-complex attribute; a complex attribute without sub-attributes; a
    /// complex sub-attribute (§2.3.8: sub-attributes of sub-attributes are not allowed).
    pub fn from_json(value: &serde_json::Value) -> Result<Schema, ScimError> {
        let schema: Schema = serde_json::from_value(value.clone())
            .map_err(|e| ScimError::InvalidValue(format!("schema definition is malformed: {e}")))?;
        let urn_body = schema.id.get(4..).unwrap_or_default();
        if !is_urn(&schema.id) || urn_body.is_empty() || schema.id.chars().any(char::is_whitespace) {
            return Err(ScimError::InvalidValue(format!(
                "schema id {:?} must be a URN",
                schema.id
            )));
        }
        check_attribute_list(&schema.id, &schema.attributes, false)?;
        Ok(schema)
    }
}

/// Whether `text` starts with `urn:` (case-insensitive).
pub(crate) fn is_urn(text: &str) -> bool {
    text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// The §7 structural rules for one list of attributes (top level when `nested` is false).
fn check_attribute_list(owner: &str, attrs: &[AttributeDef], nested: bool) -> Result<(), ScimError> {
    let invalid = |msg: String| Err(ScimError::InvalidValue(msg));
    for (index, attr) in attrs.iter().enumerate() {
        let path = format!("{owner}:{}", attr.name);
        if !crate::path::is_attr_name(&attr.name) {
            return invalid(format!(
                "attribute name {:?} in {owner} is not a valid ATTRNAME",
                attr.name
            ));
        }
        let earlier = attrs.iter().take(index);
        if earlier
            .into_iter()
            .any(|a| a.name.eq_ignore_ascii_case(&attr.name))
        {
            return invalid(format!(
                "attribute {path} is defined twice (names are case-insensitive)"
            ));
        }
        match (attr.attr_type, nested) {
            (AttributeType::Complex, true) => {
                return invalid(format!(
                    "sub-attribute {path} is complex; sub-attributes cannot have sub-attributes"
                ));
            }
            (AttributeType::Complex, false) if attr.sub_attributes.is_empty() => {
                return invalid(format!("complex attribute {path} has no subAttributes"));
            }
            (AttributeType::Complex, false) => check_attribute_list(&path, &attr.sub_attributes, true)?,
            _ if !attr.sub_attributes.is_empty() => {
                return invalid(format!("attribute {path} has subAttributes but is not complex"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An extension schema attached to a resource type (`schemaExtensions` in RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// What an attribute path resolves to in the registry.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'a> {
    /// The schema that defines the top-level attribute.
    pub schema: &'a Schema,
    /// Whether `schema` is the resource type's core schema (its attributes sit at the top of the JSON).
    pub is_core: bool,
    /// The top-level attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a AttributeDef>,
}

impl ResolvedAttr<'_> {
    /// The definition the path ends at: the sub-attribute if named, otherwise the attribute.
    pub fn target(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// All schemas known for one tenant, and which ones each resource type uses.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRegistry {
    /// `id`, `externalId` and `meta`: part of every resource, listed in no schema's `attributes`.
    common: Schema,
    schemas: Vec<Schema>,
    user_extensions: Vec<SchemaExtension>,
    group_extensions: Vec<SchemaExtension>,
}

impl Default for SchemaRegistry {
    fn default() -> Self {
        Self::core()
    }
}

impl SchemaRegistry {
    /// The RFC 7643 schemas: core User (with the EnterpriseUser extension) and core Group.
    pub fn core() -> Self {
        Self {
            common: core::common_attributes(),
            schemas: vec![
                core::user_schema(),
                core::group_schema(),
                core::enterprise_user_schema(),
            ],
            user_extensions: vec![SchemaExtension {
                schema: ENTERPRISE_USER_SCHEMA.to_owned(),
                required: false,
            }],
            group_extensions: Vec::new(),
        }
    }

    /// Adds an extension schema to a resource type. The schema's id must be a URN not already registered.
    pub fn add_extension(
        &mut self,
        kind: ResourceKind,
        schema: Schema,
        required: bool,
    ) -> Result<(), ScimError> {
        if !is_urn(&schema.id) {
            return Err(ScimError::InvalidValue(format!(
                "extension schema id {:?} must be a URN",
                schema.id
            )));
        }
        if self.schema(&schema.id).is_some() {
            return Err(ScimError::Uniqueness(format!(
                "schema {:?} is already registered",
                schema.id
            )));
        }
        let extension = SchemaExtension {
            schema: schema.id.clone(),
            required,
        };
        match kind {
            ResourceKind::User => self.user_extensions.push(extension),
            ResourceKind::Group => self.group_extensions.push(extension),
        }
        self.schemas.push(schema);
        Ok(())
    }

    /// Every registered schema, core ones first.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// The schema with this URN, compared case-insensitively.
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extensions attached to a resource type.
    pub fn extensions(&self, kind: ResourceKind) -> &[SchemaExtension] {
        match kind {
            ResourceKind::User => &self.user_extensions,
            ResourceKind::Group => &self.group_extensions,
        }
    }

    /// The core schema of a resource type.
    pub fn core_schema(&self, kind: ResourceKind) -> Option<&Schema> {
        self.schema(kind.core_schema())
    }

    /// The extension schema with this URN if it is attached to `kind`.
    pub fn extension_schema(&self, kind: ResourceKind, urn: &str) -> Option<&Schema> {
        self.extensions(kind)
            .iter()
            .find(|e| e.schema.eq_ignore_ascii_case(urn))
            .and_then(|e| self.schema(&e.schema))
    }

    /// Resolves a path against a resource type: a URN prefix picks the core or an extension schema; without
    /// one the core schema is searched, then the common attributes (`id`, `externalId`, `meta`, RFC 7643
    /// §3.1). Names compare case-insensitively. `None` if anything is unknown.
    pub fn resolve(&self, kind: ResourceKind, path: &AttrPath) -> Option<ResolvedAttr<'_>> {
        let core = self.core_schema(kind)?;
        let (schema, is_core) = match &path.urn {
            None => (core, true),
            Some(urn) if urn.eq_ignore_ascii_case(&core.id) => (core, true),
            Some(urn) => (self.extension_schema(kind, urn)?, false),
        };
        let attr = match schema.attribute(&path.name) {
            Some(attr) => attr,
            None if is_core => self.common.attribute(&path.name)?,
            None => return None,
        };
        let sub = match &path.sub {
            None => None,
            Some(sub) => Some(attr.sub_attribute(sub)?),
        };
        Some(ResolvedAttr {
            schema,
            is_core,
            attr,
            sub,
        })
    }

    /// Like [`Self::resolve`], but an unknown attribute is an error of the given flavour.
    pub fn resolve_or(
        &self,
        kind: ResourceKind,
        path: &AttrPath,
        err: fn(String) -> ScimError,
    ) -> Result<ResolvedAttr<'_>, ScimError> {
        self.resolve(kind, path)
            .ok_or_else(|| err(format!("attribute {path} is not defined for {}", kind.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LUCID: &str = include_str!("../../tests/fixtures/lucid-user-extension.json");
    const LUCID_URN: &str = "urn:ietf:params:scim:schemas:extension:lucid:2.0:User";

    fn lucid_json() -> serde_json::Value {
        serde_json::from_str(LUCID).unwrap()
    }

    #[test]
    fn lucid_extension_loads_with_boolean_product_licenses() {
        let schema = Schema::from_json(&lucid_json()).unwrap();
        assert_eq!(schema.id, LUCID_URN);
        assert_eq!(
            schema.attribute("BILLINGCODE").unwrap().attr_type,
            AttributeType::String
        );
        let licenses = schema.attribute("productLicenses").unwrap();
        assert_eq!(licenses.attr_type, AttributeType::Complex);
        let subs: Vec<(&str, AttributeType)> = licenses
            .sub_attributes
            .iter()
            .map(|s| (s.name.as_str(), s.attr_type))
            .collect();
        assert_eq!(
            subs,
            [
                ("Lucidchart", AttributeType::Boolean),
                ("Lucidspark", AttributeType::Boolean),
                ("LucidscaleExplorer", AttributeType::Boolean),
                ("LucidscaleCreator", AttributeType::Boolean),
            ]
        );
        // Omitted characteristics take the RFC 7643 §7 defaults.
        let chart = licenses.sub_attribute("lucidchart").unwrap();
        assert_eq!(chart.mutability, Mutability::ReadWrite);
        assert_eq!(chart.returned, Returned::Default);
        assert!(!chart.multi_valued && !chart.required && !chart.case_exact);
    }

    #[test]
    fn lucid_extension_resolves_by_urn_once_registered() {
        let mut reg = SchemaRegistry::core();
        reg.add_extension(
            ResourceKind::User,
            Schema::from_json(&lucid_json()).unwrap(),
            false,
        )
        .unwrap();
        let path = AttrPath::parse(&format!("{LUCID_URN}:productLicenses.lucidscalecreator")).unwrap();
        let r = reg.resolve(ResourceKind::User, &path).unwrap();
        assert_eq!(r.target().name, "LucidscaleCreator");
        assert!(!r.is_core);
    }

    #[test]
    fn schema_json_round_trips_through_from_json() {
        for schema in SchemaRegistry::core().schemas() {
            let json = serde_json::to_value(schema).unwrap();
            assert_eq!(&Schema::from_json(&json).unwrap(), schema);
        }
    }

    #[test]
    fn from_json_tolerates_missing_optional_keys() {
        let schema = Schema::from_json(&json!({
            "id": "urn:example:ext",
            "attributes": [{"name": "shoeSize", "type": "integer"}]
        }))
        .unwrap();
        assert_eq!(schema.name, "");
        assert_eq!(schema.attributes.len(), 1);
    }

    #[test]
    fn from_json_rejects_non_urn_ids() {
        for id in ["lucid", "http://example.com/schema", "urn:", "urn:has space"] {
            let err = Schema::from_json(&json!({"id": id, "attributes": []})).unwrap_err();
            assert!(matches!(err, ScimError::InvalidValue(_)), "{id}: {err:?}");
        }
    }

    #[test]
    fn from_json_rejects_case_insensitive_duplicate_names() {
        let err = Schema::from_json(&json!({
            "id": "urn:example:ext",
            "attributes": [{"name": "code", "type": "string"}, {"name": "Code", "type": "string"}]
        }))
        .unwrap_err();
        assert!(err.detail().contains("defined twice"), "{err:?}");
        let err = Schema::from_json(&json!({
            "id": "urn:example:ext",
            "attributes": [{"name": "c", "type": "complex", "subAttributes": [
                {"name": "a", "type": "string"}, {"name": "A", "type": "string"}]}]
        }))
        .unwrap_err();
        assert!(err.detail().contains("urn:example:ext:c:A"), "{err:?}");
    }

    #[test]
    fn from_json_rejects_sub_attributes_of_sub_attributes() {
        let err = Schema::from_json(&json!({
            "id": "urn:example:ext",
            "attributes": [{"name": "outer", "type": "complex", "subAttributes": [
                {"name": "inner", "type": "complex", "subAttributes": [{"name": "x", "type": "string"}]}]}]
        }))
        .unwrap_err();
        assert!(err.detail().contains("cannot have sub-attributes"), "{err:?}");
    }

    #[test]
    fn from_json_rejects_malformed_definitions() {
        for attrs in [
            json!([{"name": "x"}]),
            json!([{"name": "x", "type": "text"}]),
            json!([{"name": "1x", "type": "string"}]),
            json!([{"name": "x", "type": "string", "subAttributes": [{"name": "y", "type": "string"}]}]),
            json!([{"name": "x", "type": "complex"}]),
        ] {
            let result = Schema::from_json(&json!({"id": "urn:example:ext", "attributes": attrs}));
            assert!(matches!(result, Err(ScimError::InvalidValue(_))), "{attrs}");
        }
    }

    #[test]
    fn resolves_names_case_insensitively_and_by_urn() {
        let reg = SchemaRegistry::core();
        let r = reg
            .resolve(ResourceKind::User, &AttrPath::parse("NAME.FamilyName").unwrap())
            .unwrap();
        assert_eq!(r.attr.name, "name");
        assert_eq!(r.target().name, "familyName");
        assert!(r.is_core);
        let r = reg
            .resolve(
                ResourceKind::User,
                &AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
                    .unwrap(),
            )
            .unwrap();
        assert!(!r.is_core);
        assert_eq!(r.attr.name, "employeeNumber");
        assert!(
            reg.resolve(ResourceKind::Group, &AttrPath::parse("userName").unwrap())
                .is_none()
        );
    }
}
