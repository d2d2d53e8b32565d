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
//! matches an absent attribute; `eq null` matches an absent attribute and `ne null` a present one. The
//! resolver writes the null rule once, as `not (attr pr)` and `attr pr`, so no [`ResolvedFilter`] holds a
//! null; and it types every comparison by its attribute ([`Comparison`]), so the evaluator and the SQL
//! compiler only ever see operator/literal pairs that fit.
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

use chrono::{DateTime, FixedOffset};
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

/// A filter whose paths are all known to the schema and whose comparisons fit their attribute types.
/// Inside `ValuePath`, inner paths are absolute (`attr` = the multi-valued attribute, `sub` = the element's
/// sub-attribute) and refer to the same element.
///
/// There is no null: the resolver turns `attr eq null` into `Not(Present(attr))` and `attr ne null` into
/// `Present(attr)`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedFilter {
    /// `path op value`, with operator and literal typed by the attribute `path` ends at.
    Compare {
        path: ResolvedPath,
        comparison: Comparison,
    },
    /// `path pr`: present and not null, `""`, `[]` or `{}` (RFC 7643 §2.5).
    Present(ResolvedPath),
    Not(Box<ResolvedFilter>),
    And(Box<ResolvedFilter>, Box<ResolvedFilter>),
    Or(Box<ResolvedFilter>, Box<ResolvedFilter>),
    ValuePath {
        path: ResolvedPath,
        filter: Box<ResolvedFilter>,
    },
}

/// An operator and literal that fit the type of the attribute compared (RFC 7644 §3.4.2.2 Table 3, RFC 7643
/// §2.3). Only the resolver builds these from client input, so there is no boolean `gt`, no number `co`
/// and no null to handle downstream.
///
/// `ne` is exactly `not eq` ([`Comparison::is_ne`]): it holds when no value of the attribute equals the
/// literal, including when the attribute is absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// A string or reference attribute (any operator), or a binary one (`eq`/`ne` only). Case folding
    /// follows the path's `case_exact`.
    Text { op: TextOp, value: String },
    /// An integer or decimal attribute. An integer attribute's literal is an integer.
    Number { op: OrderingOp, value: Number },
    /// A boolean attribute. Entra's `"True"`/`"False"` literals arrive here as booleans.
    Boolean { op: EqualityOp, value: bool },
    /// A dateTime attribute.
    DateTime { op: OrderingOp, value: DateTimeLiteral },
}

/// How a text comparison compares: by code-point order (`eq`, `ne`, `gt`, `ge`, `lt`, `le`) or by
/// substring (`co`, `sw`, `ew`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextOp {
    Ordering(OrderingOp),
    Substring(SubstringOp),
}

/// `eq`, `ne`, `gt`, `ge`, `lt`, `le`: the operators of ordered types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderingOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// `eq`, `ne`: the operators of booleans and binary values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EqualityOp {
    Eq,
    Ne,
}

/// `co`, `sw`, `ew`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubstringOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// A dateTime literal: the instant it denotes, and its text as the client wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTimeLiteral {
    /// What the evaluator and indexed timestamp columns compare.
    pub instant: DateTime<FixedOffset>,
    /// What dateTimes stored as JSON text compare with in SQL (see `storage`'s filter compiler).
    pub text: String,
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

    /// The operator as a text operator: text takes every operator.
    fn text_op(self) -> TextOp {
        match self {
            CompareOp::Eq => TextOp::Ordering(OrderingOp::Eq),
            CompareOp::Ne => TextOp::Ordering(OrderingOp::Ne),
            CompareOp::Gt => TextOp::Ordering(OrderingOp::Gt),
            CompareOp::Ge => TextOp::Ordering(OrderingOp::Ge),
            CompareOp::Lt => TextOp::Ordering(OrderingOp::Lt),
            CompareOp::Le => TextOp::Ordering(OrderingOp::Le),
            CompareOp::Co => TextOp::Substring(SubstringOp::Contains),
            CompareOp::Sw => TextOp::Substring(SubstringOp::StartsWith),
            CompareOp::Ew => TextOp::Substring(SubstringOp::EndsWith),
        }
    }

    /// The operator if an ordered type takes it (all but `co`, `sw`, `ew`).
    fn ordering_op(self) -> Option<OrderingOp> {
        match self.text_op() {
            TextOp::Ordering(op) => Some(op),
            TextOp::Substring(_) => None,
        }
    }

    /// The operator if a boolean or binary value takes it (`eq`, `ne`).
    fn equality_op(self) -> Option<EqualityOp> {
        match self.ordering_op()? {
            OrderingOp::Eq => Some(EqualityOp::Eq),
            OrderingOp::Ne => Some(EqualityOp::Ne),
            OrderingOp::Gt | OrderingOp::Ge | OrderingOp::Lt | OrderingOp::Le => None,
        }
    }
}

impl Comparison {
    /// True for `ne`, which is exactly `not eq`: the evaluator and the SQL compiler test each value for
    /// equality and negate the result over all of them, so `ne` holds when no value equals the literal,
    /// including when the attribute is absent or has no values.
    pub fn is_ne(&self) -> bool {
        match self {
            Comparison::Text { op, .. } => *op == TextOp::Ordering(OrderingOp::Ne),
            Comparison::Number { op, .. } | Comparison::DateTime { op, .. } => *op == OrderingOp::Ne,
            Comparison::Boolean { op, .. } => *op == EqualityOp::Ne,
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = crate::ScimError;

    /// Same as [`parse`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text)
    }
}
