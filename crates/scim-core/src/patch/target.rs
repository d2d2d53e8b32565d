//! Resolving a PATCH path to what it writes: the attribute (core or extension), its value filter and its
//! sub-attribute. Besides RFC 7644 §3.5.2's forms it accepts what Entra sends: extension attributes without
//! their URN, the enterprise URN without its colon, and a whole extension URN as the path.

use super::PatchPath;
use crate::ScimError;
use crate::filter::Filter;
use crate::ids::ResourceKind;
use crate::path::AttrPath;
use crate::schema::{
    AttributeDef, AttributeType, ENTERPRISE_URN_WITHOUT_COLON, ENTERPRISE_USER_SCHEMA, ResolvedAttr,
    SchemaRegistry,
};

/// Where one operation writes: a top-level attribute, optionally filtered, optionally a sub-attribute.
pub(super) struct Target<'r, 'p> {
    pub(super) attr: ResolvedAttr<'r>,
    pub(super) filter: Option<&'p Filter>,
    pub(super) sub: Option<&'r AttributeDef>,
}

/// Resolves the paths of one resource type's PATCH operations against the tenant's schemas.
pub(super) struct PathResolver<'r> {
    pub(super) registry: &'r SchemaRegistry,
    pub(super) kind: ResourceKind,
}

impl<'r> PathResolver<'r> {
    /// Resolves a path to the definitions it names; unknown attributes are `invalidPath`.
    pub(super) fn target<'p>(&self, path: &'p PatchPath) -> Result<Target<'r, 'p>, ScimError> {
        let unknown = || {
            ScimError::InvalidPath(format!(
                "attribute {} is not defined for {}",
                path.attr,
                self.kind.as_str()
            ))
        };
        let attr = self.resolve(&path.attr).ok_or_else(unknown)?;
        let sub = match (&path.filter, &path.sub_after_filter) {
            (_, Some(_)) if attr.sub.is_some() => {
                return Err(ScimError::InvalidPath(format!(
                    "{} names a sub-attribute twice",
                    path.attr
                )));
            }
            (_, Some(name)) => Some(attr.attr.sub_attribute(name).ok_or_else(|| {
                ScimError::InvalidPath(format!("{} has no sub-attribute {name:?}", path.attr))
            })?),
            (_, None) => attr.sub,
        };
        if path.filter.is_some() && !(attr.attr.multi_valued && attr.attr.attr_type == AttributeType::Complex)
        {
            return Err(ScimError::InvalidPath(format!(
                "a value filter needs a multi-valued complex attribute, and {} is not one",
                path.attr
            )));
        }
        Ok(Target {
            attr,
            filter: path.filter.as_ref(),
            sub,
        })
    }

    /// Resolves an attribute path. A name without URN that the core schema lacks is looked up in the
    /// resource type's extensions, first match wins: Entra sends `"path":"manager"` for the enterprise
    /// manager (entra-requests.md §1, "Manager update"), as the filter resolver also allows.
    pub(super) fn resolve(&self, path: &AttrPath) -> Option<ResolvedAttr<'r>> {
        if let Some(attr) = self.registry.resolve(self.kind, path) {
            return Some(attr);
        }
        if let Some(urn) = &path.urn {
            // Entra's older enterprise URN without the colon before `User`, read as create reads it.
            if !urn.eq_ignore_ascii_case(ENTERPRISE_URN_WITHOUT_COLON) {
                return None;
            }
            let fixed = AttrPath {
                urn: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
                ..path.clone()
            };
            return self.registry.resolve(self.kind, &fixed);
        }
        self.registry.extensions(self.kind).iter().find_map(|extension| {
            let qualified = AttrPath {
                urn: Some(extension.schema.clone()),
                ..path.clone()
            };
            self.registry.resolve(self.kind, &qualified)
        })
    }

    /// The extension URN when the path names a whole extension block (`"path": "urn:...:enterprise:2.0:User"`,
    /// RFC 7644 §3.10 allows a schema URN as the attribute path); the URN parser sees it as `urn:...:2.0`
    /// plus an attribute `User`.
    pub(super) fn whole_extension(&self, path: &PatchPath) -> Option<&'r str> {
        if path.filter.is_some() || path.sub_after_filter.is_some() || path.attr.sub.is_some() {
            return None;
        }
        let full = format!("{}:{}", path.attr.urn.as_deref()?, path.attr.name);
        self.registry
            .extension_schema(self.kind, &full)
            .map(|schema| schema.id.as_str())
    }

    /// The canonical URN if `key` names the core schema or an extension of this resource type.
    pub(super) fn schema_for_urn_key(&self, key: &str) -> Option<&'r str> {
        let core = self.registry.core_schema(self.kind)?;
        if core.id.eq_ignore_ascii_case(key) {
            return Some(core.id.as_str());
        }
        let key = if key.eq_ignore_ascii_case(ENTERPRISE_URN_WITHOUT_COLON) {
            ENTERPRISE_USER_SCHEMA
        } else {
            key
        };
        self.registry
            .extension_schema(self.kind, key)
            .map(|schema| schema.id.as_str())
    }

    /// A Group's `members` live in storage's member table, never in the document.
    pub(super) fn is_members(&self, attr: &ResolvedAttr<'_>) -> bool {
        self.kind == ResourceKind::Group
            && attr.is_core
            && attr.attr.multi_valued
            && attr.attr.name.eq_ignore_ascii_case("members")
    }
}
