//! RFC 7644 §3.4.2.2 filters: parse text into an AST, print it back, resolve it against the schema
//! registry, and evaluate it in memory. `storage` compiles the resolved form to SQL.

use serde_json::Number;

use crate::path::AttrPath;
use crate::schema::AttributeType;

/// `compareOp` of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `compValue`: a JSON literal. Whether a string is a dateTime is decided by the attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

/// A parsed filter. Paths inside [`Filter::ValuePath`] are relative to one element of the multi-valued
/// attribute (their `name` is the sub-attribute).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A filter path after resolution: canonical (schema-cased) names and the facts needed to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// URN of the schema that defines `attr`.
    pub schema: String,
    /// True when `attr` sits at the top of the resource JSON (core schema or common attribute); false when it
    /// sits under the extension's URN key.
    pub is_core: bool,
    /// Canonical name of the top-level attribute.
    pub attr: String,
    /// Canonical name of the sub-attribute, if any.
    pub sub: Option<String>,
    /// Type of the attribute the path ends at.
    pub attr_type: AttributeType,
    /// caseExact of the attribute the path ends at.
    pub case_exact: bool,
    /// Whether the top-level attribute is multi-valued.
    pub multi_valued: bool,
}

/// A filter whose paths are all known to the schema and whose literals fit their attribute types.
/// Inside `ValuePath`, inner paths are absolute (`attr` = the multi-valued attribute, `sub` = the element's
/// sub-attribute) and refer to the same element.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedFilter {
    Compare {
        path: ResolvedPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(ResolvedPath),
    Not(Box<ResolvedFilter>),
    And(Box<ResolvedFilter>, Box<ResolvedFilter>),
    Or(Box<ResolvedFilter>, Box<ResolvedFilter>),
    ValuePath {
        path: ResolvedPath,
        filter: Box<ResolvedFilter>,
    },
}
