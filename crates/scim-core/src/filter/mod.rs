//! RFC 7644 §3.4.2.2 filters: parse text into an AST, print it back, resolve it against the schema
//! registry, and evaluate it in memory. `storage` compiles the resolved form to SQL.
//!
//! The pipeline is *parse, then resolve, then evaluate/compile* (STYLE.md §2.1 item 2):
//! - [`parse`] (`parse.rs`) turns text into a [`Filter`] whose names keep the client's casing. It knows the
//!   grammar only, so it never needs a schema. Hostile input is bounded by [`MAX_FILTER_LEN`],
//!   [`MAX_FILTER_DEPTH`] and [`MAX_FILTER_NODES`], so it cannot exhaust the stack.
//! - `Display` (`print.rs`) prints the canonical RFC form; `parse(&f.to_string()) == Ok(f)`.
//! - [`resolve`] (`resolve.rs`) checks every path and literal against a [`crate::schema::SchemaRegistry`] and
//!   produces a [`ResolvedFilter`] carrying canonical names, types and caseExact.
//! - [`matches()`] (`eval.rs`) evaluates a [`ResolvedFilter`] against a resource's JSON.
//! - For PATCH value paths (RFC 7644 §3.5.2), [`parse_value_filter`], [`resolve_value_filter`] and
//!   [`matches_element`] do the same for the `valFilter` between `[` and `]`, one element at a time.
//!
//! Semantics chosen where RFC 7644 is silent (details in `eval.rs`): `ne` is exactly `not eq`, so it
//! matches an absent attribute; `eq null` matches an absent attribute and `ne null` a present one.
//!
//! Every refusal is [`crate::ScimError::InvalidFilter`] (400, scimType `invalidFilter`).

mod eval;
mod parse;
mod print;
mod resolve;
#[cfg(test)]
mod test_support;

pub use eval::{matches, matches_element};
pub use parse::{parse, parse_value_filter};
pub use resolve::{resolve, resolve_value_filter};

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

/// Longest filter text accepted, in bytes. Filters arrive in a URL query or a small POST `/.search` body;
/// real ones are well under 1 KiB, and 64 KiB leaves room for long `or` lists of ids.
pub const MAX_FILTER_LEN: usize = 64 * 1024;

/// Deepest nesting of `(`, `not (` and `attr[` accepted. Each level is one recursion of the parser, so this is
/// what keeps `((((...` from overflowing the stack.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Most expression nodes (comparisons, `pr`, `not`, `and`, `or`, value paths) accepted by both the parser
/// and the resolver. `and`/`or` chains are left-nested trees, so this also bounds the recursion depth of
/// everything that walks a filter (printing, resolving, evaluating, dropping).
pub const MAX_FILTER_NODES: usize = 512;

impl CompareOp {
    /// Every comparison operator, in RFC 7644 Table 3 order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator as RFC 7644 spells it (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator named `name`, compared case-insensitively (RFC 7644 §3.4.2.2: "case insensitive").
    pub fn from_name(name: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// True for `gt`, `ge`, `lt`, `le`, which need an ordered type.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// True for `co`, `sw`, `ew`, which need a string type.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl std::str::FromStr for Filter {
    type Err = crate::ScimError;

    /// Same as [`parse`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}
