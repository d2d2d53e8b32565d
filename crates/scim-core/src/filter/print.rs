//! Canonical RFC 7644 §3.4.2.2 text for filters, so `parse(&filter.to_string()) == Ok(filter)`.
//!
//! Strategy: operators and literals in lowercase, one space around every operator, strings as JSON
//! (RFC 8259 §7 escapes), and the fewest parentheses that preserve the tree. The parser builds `and`/`or`
//! chains left-associatively with `and` binding tighter, so a child needs parentheses when it binds more
//! loosely than its parent, or when it is the right operand of the same operator (`a or (b or c)` is a
//! different tree from `a or b or c`). `not` always takes parentheses, as the grammar requires.

use std::fmt;

use super::{CompValue, CompareOp, Filter};

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `text` as a JSON string literal. Serializing a `str` cannot fail, but the error path is kept
/// rather than unwrapped so printing has no panic path.
fn write_json_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let quoted = serde_json::to_string(text).map_err(|_| fmt::Error)?;
    f.write_str(&quoted)
}

/// How tightly an expression binds; a child binding less tightly than required is parenthesised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Binding {
    Or,
    And,
    Atom,
}

impl Filter {
    fn binding(&self) -> Binding {
        match self {
            Filter::Or(..) => Binding::Or,
            Filter::And(..) => Binding::And,
            Filter::Compare { .. } | Filter::Present(_) | Filter::Not(_) | Filter::ValuePath { .. } => {
                Binding::Atom
            }
        }
    }

    /// Writes `self`, in parentheses if it binds less tightly than `required`.
    fn write_operand(&self, f: &mut fmt::Formatter<'_>, required: Binding) -> fmt::Result {
        if self.binding() < required {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::And(left, right) => {
                left.write_operand(f, Binding::And)?;
                f.write_str(" and ")?;
                right.write_operand(f, Binding::Atom)
            }
            Filter::Or(left, right) => {
                left.write_operand(f, Binding::Or)?;
                f.write_str(" or ")?;
                right.write_operand(f, Binding::And)
            }
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Number;

    use super::*;
    use crate::filter::parse;
    use crate::path::AttrPath;

    fn pr(name: &str) -> Filter {
        Filter::Present(AttrPath::new(name))
    }

    #[test]
    fn prints_canonical_rfc_syntax() {
        let cases = [
            (r#"userName Eq "bjensen""#, r#"userName eq "bjensen""#),
            ("title  PR", "title pr"),
            ("externalId eq jyoung", r#"externalId eq "jyoung""#),
            ("a eq TRUE or b ne NULL", "a eq true or b ne null"),
            ("a gt 1.5e3", "a gt 1500.0"),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
            ("(a pr and b pr) or c pr", "a pr and b pr or c pr"),
            ("a pr and (b pr or c pr)", "a pr and (b pr or c pr)"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("not(a pr)", "not (a pr)"),
            (r#"a eq "q\"uote\\ \u0001""#, r#"a eq "q\"uote\\ \u0001""#),
            (
                r#"emails[type eq "work"].value eq "user@contoso.com""#,
                r#"emails[type eq "work" and value eq "user@contoso.com"]"#,
            ),
            (
                r#"emails[type eq "a" or type eq "b"].value pr"#,
                r#"emails[(type eq "a" or type eq "b") and value pr]"#,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            ),
        ];
        for (input, printed) in cases {
            let filter = parse(input).unwrap();
            assert_eq!(filter.to_string(), printed, "{input}");
            assert_eq!(parse(printed), Ok(filter), "{printed}");
        }
    }

    #[test]
    fn right_nested_same_operator_keeps_its_parentheses() {
        let tree = Filter::And(
            Box::new(pr("a")),
            Box::new(Filter::And(Box::new(pr("b")), Box::new(pr("c")))),
        );
        assert_eq!(tree.to_string(), "a pr and (b pr and c pr)");
        assert_eq!(parse(&tree.to_string()), Ok(tree));
    }

    fn attr_name() -> impl Strategy<Value = String> {
        // Includes names that collide with keywords ("not", "and", "pr", "eq") on purpose.
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
            Just("not".to_owned()),
            Just("and".to_owned()),
            Just("or".to_owned()),
            Just("pr".to_owned()),
            Just("eq".to_owned()),
            Just("true".to_owned()),
            Just("$ref".to_owned()),
        ]
    }

    fn urn() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("urn:ietf:params:scim:schemas:core:2.0:User".to_owned()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
            "urn:[a-z]{1,5}(:[a-zA-Z0-9.-]{1,6}){1,4}",
        ]
    }

    fn attr_path(allow_urn: bool, allow_sub: bool) -> impl Strategy<Value = AttrPath> {
        let urn = if allow_urn {
            proptest::option::of(urn()).boxed()
        } else {
            Just(None).boxed()
        };
        let sub = if allow_sub {
            proptest::option::of(attr_name()).boxed()
        } else {
            Just(None).boxed()
        };
        (urn, attr_name(), sub).prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
    }

    fn comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>()
                .prop_filter_map("finite", Number::from_f64)
                .prop_map(CompValue::Number),
            any::<String>().prop_map(CompValue::String),
        ]
    }

    fn compare_op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(CompareOp::ALL.to_vec())
    }

    /// Filters the grammar can express; `element` is true inside `attr[…]`, where paths are bare
    /// sub-attribute names and value paths cannot nest.
    fn filter(element: bool) -> BoxedStrategy<Filter> {
        let path = attr_path(!element, !element).boxed();
        let leaf = prop_oneof![
            (path.clone(), compare_op(), comp_value()).prop_map(|(path, op, value)| Filter::Compare {
                path,
                op,
                value
            }),
            path.prop_map(Filter::Present),
        ];
        let leaf = if element {
            leaf.boxed()
        } else {
            prop_oneof![
                3 => leaf,
                1 => (attr_path(true, false), filter(true))
                    .prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) }),
            ]
            .boxed()
        };
        leaf.prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
            ]
        })
        .boxed()
    }

    proptest! {
        #[test]
        fn parse_of_display_is_identity(f in filter(false)) {
            let printed = f.to_string();
            prop_assert_eq!(parse(&printed), Ok(f), "{}", printed);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parser_never_panics_on_grammar_alphabet(
            text in r#"([a-zA-Z.:$\[\]()" \\0-9-]|eq|pr|and|or|not|urn:|true|null|\\u00){0,60}"#
        ) {
            let _ = parse(&text);
        }

        #[test]
        fn whatever_parses_prints_back_to_the_same_tree(
            text in r#"(a|b\.c|emails|urn:x:y:z|\[|\]|\(|\)|not|and|or|eq|pr|co|gt|"s"|"\\"|1\.5|-2|true|null|jyoung| ){1,24}"#
        ) {
            if let Ok(filter) = parse(&text) {
                let printed = filter.to_string();
                prop_assert_eq!(parse(&printed), Ok(filter), "{:?} printed as {:?}", text, printed);
            }
        }

        #[test]
        fn mutated_filters_never_panic_and_still_round_trip(f in filter(false), cut in any::<prop::sample::Index>(), junk in "[\\[\\]()\" a-z]{0,3}") {
            let printed = f.to_string();
            let mut chars: Vec<char> = printed.chars().collect();
            let at = cut.index(chars.len() + 1);
            chars.splice(at..at, junk.chars());
            let mutated: String = chars.into_iter().collect();
            if let Ok(filter) = parse(&mutated) {
                prop_assert_eq!(parse(&filter.to_string()), Ok(filter));
            }
        }
    }
}
