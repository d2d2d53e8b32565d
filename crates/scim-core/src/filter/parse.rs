//! The RFC 7644 §3.4.2.2 filter grammar (Figure 1), as a recursive-descent parser over winnow 0.7 tokens.
//!
//! Strategy:
//! - One function per precedence level: `or` < `and` < `not (…)` / `(…)` / attribute expression
//!   (RFC 7644 §3.4.2.2, "Filters MUST be evaluated using the following order of operations"). `and`/`or`
//!   chains are built left-associatively in a loop, so only grouping recurses, and grouping is bounded by
//!   [`MAX_FILTER_DEPTH`](super::MAX_FILTER_DEPTH).
//! - winnow supplies the token parsers (`take_while`, caseless `literal`); the grammar is driven by hand so
//!   every failure is reported once, at the exact character where it happened, with what was expected. No
//!   alternative needs backtracking further than one keyword.
//! - Keywords (`and`, `or`, `not`, operators, `true`/`false`/`null`) are case-insensitive: ABNF quoted
//!   strings are (RFC 5234 §2.3) and RFC 7644 says so for operators. Attribute names keep their casing.
//! - Tolerated beyond the ABNF, because real clients send them (see `shared/reference/entra-requests.md`):
//!   any amount of whitespace; an unquoted value (`externalId eq jyoung`) that is not a literal or a number
//!   is a string; and Entra's `emails[type eq "work"].value eq "x"`, which is normalised to
//!   `emails[type eq "work" and value eq "x"]` so it prints back in RFC form.

use serde_json::Number;
use winnow::Parser;
use winnow::ascii::Caseless;
use winnow::error::ContextError;
use winnow::token::{literal, take_while};

use super::{CompValue, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_NODES};
use crate::ScimError;
use crate::path::AttrPath;

/// Parses a filter (RFC 7644 §3.4.2.2). Every failure is [`ScimError::InvalidFilter`] whose detail names the
/// character position (0-based) and what was expected there.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    parse_with_limits(input, Limits::DEFAULT, Scope::Resource)
}

/// Parses `valFilter`, the text between `[` and `]` of a value path (RFC 7644 §3.4.2.2), e.g. the
/// `type eq "work"` of a PATCH path `emails[type eq "work"].value` (§3.5.2). Paths in the result are
/// relative to one element; value paths cannot nest. Same errors and limits as [`parse`].
pub fn parse_value_filter(input: &str) -> Result<Filter, ScimError> {
    parse_with_limits(input, Limits::DEFAULT, Scope::Element)
}

/// Resource limits of one parse; tests lower or raise them to reach each one in isolation.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_len: usize,
    max_depth: usize,
    max_nodes: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        max_len: MAX_FILTER_LEN,
        max_depth: MAX_FILTER_DEPTH,
        max_nodes: MAX_FILTER_NODES,
    };
}

fn parse_with_limits(input: &str, limits: Limits, scope: Scope) -> Result<Filter, ScimError> {
    if input.len() > limits.max_len {
        return Err(ScimError::InvalidFilter(format!(
            "filter is {} bytes long; at most {} are accepted",
            input.len(),
            limits.max_len
        )));
    }
    let mut parser = FilterParser {
        full: input,
        rest: input,
        nodes: 0,
        limits,
    };
    let filter = parser.or_expr(0, scope)?;
    parser.skip_ws();
    if !parser.rest.is_empty() {
        return Err(parser.fail("\"and\", \"or\" or the end of the filter"));
    }
    Ok(filter)
}

/// Where an expression sits: at the top, or inside `attr[…]` where paths name sub-attributes and value
/// paths cannot nest (`valFilter` in the ABNF has no `valuePath`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Resource,
    Element,
}

#[derive(Debug)]
struct FilterParser<'a> {
    full: &'a str,
    /// The unparsed remainder; a suffix of `full`.
    rest: &'a str,
    /// Expression nodes built so far, checked against `limits.max_nodes`.
    nodes: usize,
    limits: Limits,
}

type Parsed<T> = Result<T, ScimError>;

/// Ends a bare (unquoted) value: whitespace or a character with a grammatical meaning.
fn ends_bare_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Characters of a path that has no URN prefix: RFC 7643 §2.1 nameChar, `.` between attribute and
/// sub-attribute, and `$` for `$ref`. The token is validated as a whole by [`AttrPath::parse`].
fn is_plain_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '$')
}

/// A character that may continue a keyword or name; a keyword must not be followed by one.
fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$')
}

impl<'a> FilterParser<'a> {
    /// `FILTER` minus `not`/grouping: `and_expr *("or" and_expr)`.
    fn or_expr(&mut self, depth: usize, scope: Scope) -> Parsed<Filter> {
        let mut left = self.and_expr(depth, scope)?;
        while self.keyword("or") {
            self.count_node()?;
            let right = self.and_expr(depth, scope)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `unary *("and" unary)`: `and` binds tighter than `or`.
    fn and_expr(&mut self, depth: usize, scope: Scope) -> Parsed<Filter> {
        let mut left = self.unary(depth, scope)?;
        while self.keyword("and") {
            self.count_node()?;
            let right = self.unary(depth, scope)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `"not" "(" FILTER ")"`, `"(" FILTER ")"` or an attribute expression / value path.
    fn unary(&mut self, depth: usize, scope: Scope) -> Parsed<Filter> {
        self.skip_ws();
        if self.eat_char('(') {
            self.enter(depth)?;
            let inner = self.or_expr(depth + 1, scope)?;
            self.close(')')?;
            return Ok(inner);
        }
        if self.not_open_paren() {
            self.count_node()?;
            self.enter(depth)?;
            let inner = self.or_expr(depth + 1, scope)?;
            self.close(')')?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.attr_expr(depth, scope)
    }

    /// `attrPath SP "pr"`, `attrPath SP compareOp SP compValue`, or `attrPath "[" valFilter "]"` optionally
    /// followed by Entra's `"." subAttr SP compareOp SP compValue`.
    fn attr_expr(&mut self, depth: usize, scope: Scope) -> Parsed<Filter> {
        let path_start = self.rest;
        let path = self.attr_path()?;
        if !self.rest.starts_with('[') {
            return self.comparison(path);
        }
        if scope == Scope::Element {
            return Err(self.fail("an operator; value filters cannot be nested"));
        }
        if path.sub.is_some() {
            self.rest = path_start;
            return Err(self.fail("an attribute without a sub-attribute before '['"));
        }
        self.count_node()?;
        self.enter(depth)?;
        self.eat_char('[');
        let mut inner = self.or_expr(depth + 1, Scope::Element)?;
        self.close(']')?;
        if self.eat_char('.') {
            // Entra's `attr[filter].sub op value`: the comparison applies to the same element.
            let sub = self.attr_name()?;
            self.count_node()?;
            let tail = self.comparison(AttrPath::new(sub))?;
            inner = Filter::And(Box::new(inner), Box::new(tail));
        }
        Ok(Filter::ValuePath {
            path,
            filter: Box::new(inner),
        })
    }

    /// After a path: whitespace, then `pr` or an operator and a value.
    fn comparison(&mut self, path: AttrPath) -> Parsed<Filter> {
        self.count_node()?;
        if self.take(1, char::is_whitespace).is_none() {
            return Err(self.fail("whitespace followed by an operator"));
        }
        let op_start = self.rest;
        let Some(word) = self.take(1, |c: char| c.is_ascii_alphabetic()) else {
            return Err(self.fail(EXPECTED_OPERATOR));
        };
        let at_boundary = !self.rest.starts_with(continues_word);
        if at_boundary && word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_name(word).filter(|_| at_boundary) else {
            self.rest = op_start;
            return Err(self.fail(EXPECTED_OPERATOR));
        };
        self.skip_ws();
        let value = self.comp_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `compValue`: a JSON string, `true`/`false`/`null`, a JSON number, or (tolerated) a bare word.
    fn comp_value(&mut self) -> Parsed<CompValue> {
        if self.rest.starts_with('"') {
            return self.json_string().map(CompValue::String);
        }
        let Some(token) = self.take(1, |c| !ends_bare_value(c)) else {
            return Err(self.fail("a value (a quoted string, a number, true, false or null)"));
        };
        Ok(bare_value(token))
    }

    /// A JSON string (RFC 8259 §7) with its escapes decoded.
    fn json_string(&mut self) -> Parsed<String> {
        let start = self.rest;
        let mut escaped = false;
        let mut close = None;
        for (idx, c) in self.rest.char_indices().skip(1) {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    close = Some(idx);
                    break;
                }
                (false, _) => {}
            }
        }
        let Some(literal_text) = close.and_then(|idx| self.rest.get(..=idx)) else {
            return Err(self.fail("a string closed by '\"'"));
        };
        match serde_json::from_str::<String>(literal_text) {
            Ok(text) => {
                self.rest = start.get(literal_text.len()..).unwrap_or_default();
                Ok(text)
            }
            Err(err) => Err(self.fail(&format!("a valid JSON string ({err})"))),
        }
    }

    /// `attrPath = [URI ":"] ATTRNAME *1subAttr`. A URN runs to the next delimiter and is split at its last
    /// `:` by [`AttrPath::parse`], so the `.` in `2.0` is never a sub-attribute separator.
    fn attr_path(&mut self) -> Parsed<AttrPath> {
        let start = self.rest;
        let is_urn = self
            .rest
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:"));
        let token = if is_urn {
            self.take(1, |c| !ends_bare_value(c))
        } else {
            self.take(1, is_plain_path_char)
        };
        let Some(token) = token else {
            return Err(self.fail("an attribute path, '(' or \"not (\""));
        };
        AttrPath::parse(token).map_err(|_| {
            self.rest = start;
            self.fail("an attribute path ([schema URN \":\"] name [\".\" sub-attribute])")
        })
    }

    /// The `subAttr` name after `attr[filter].`.
    fn attr_name(&mut self) -> Parsed<String> {
        let start = self.rest;
        match self.take(1, is_plain_path_char) {
            Some(name) if crate::path::is_attr_name(name) => Ok(name.to_owned()),
            Some(_) | None => {
                self.rest = start;
                Err(self.fail("a sub-attribute name after ']. '"))
            }
        }
    }

    /// Consumes `kw` (any case) if it comes next as a whole word followed by whitespace, `(` or the end (so
    /// a dangling `a pr and` reports the missing operand).
    fn keyword(&mut self, kw: &str) -> bool {
        let saved = self.rest;
        self.skip_ws();
        let found: Result<&str, ContextError> = literal(Caseless(kw)).parse_next(&mut self.rest);
        let followed_ok =
            self.rest.is_empty() || self.rest.starts_with(|c: char| c.is_whitespace() || c == '(');
        if found.is_ok() && followed_ok {
            true
        } else {
            self.rest = saved;
            false
        }
    }

    /// Consumes `not` `(` (any case, whitespace allowed between). `not` not followed by `(` is left alone:
    /// it may be an attribute named "not".
    fn not_open_paren(&mut self) -> bool {
        let saved = self.rest;
        let found: Result<&str, ContextError> = literal(Caseless("not")).parse_next(&mut self.rest);
        if found.is_ok() {
            self.skip_ws();
            if self.eat_char('(') {
                return true;
            }
        }
        self.rest = saved;
        false
    }

    /// Skips whitespace, then requires `closing`.
    fn close(&mut self, closing: char) -> Parsed<()> {
        self.skip_ws();
        if self.eat_char(closing) {
            Ok(())
        } else {
            Err(self.fail(&format!("\"and\", \"or\" or '{closing}'")))
        }
    }

    /// Checks the nesting limit before descending into a group at `depth`.
    fn enter(&self, depth: usize) -> Parsed<()> {
        if depth >= self.limits.max_depth {
            return Err(ScimError::InvalidFilter(format!(
                "invalid filter at position {}: nesting is deeper than {} levels",
                self.position(),
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    /// Counts one expression node against the limit.
    fn count_node(&mut self) -> Parsed<()> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ScimError::InvalidFilter(format!(
                "invalid filter at position {}: more than {} expressions",
                self.position(),
                self.limits.max_nodes
            )));
        }
        Ok(())
    }

    fn skip_ws(&mut self) {
        self.take(0, char::is_whitespace);
    }

    fn eat_char(&mut self, mut expected: char) -> bool {
        let found: Result<char, ContextError> = expected.parse_next(&mut self.rest);
        found.is_ok()
    }

    /// At least `min` characters satisfying `pred`, or `None` (consuming nothing).
    fn take(&mut self, min: usize, pred: impl Fn(char) -> bool) -> Option<&'a str> {
        let taken: Result<&'a str, ContextError> = take_while(min.., pred).parse_next(&mut self.rest);
        taken.ok()
    }

    /// Character (not byte) offset of the parse position.
    fn position(&self) -> usize {
        let consumed = self.full.len().saturating_sub(self.rest.len());
        self.full.get(..consumed).map_or(0, |done| done.chars().count())
    }

    /// The error for "expected `expected` at the current position".
    fn fail(&self, expected: &str) -> ScimError {
        let found = match self.rest.chars().next() {
            Some(c) => format!("{c:?}"),
            None => "the end of the filter".to_owned(),
        };
        ScimError::InvalidFilter(format!(
            "invalid filter at position {}: expected {expected}, found {found}",
            self.position()
        ))
    }
}

const EXPECTED_OPERATOR: &str = "an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr)";

/// Classifies an unquoted value: a literal, a number, or else (tolerated) a string.
fn bare_value(token: &str) -> CompValue {
    if token.eq_ignore_ascii_case("true") {
        return CompValue::Bool(true);
    }
    if token.eq_ignore_ascii_case("false") {
        return CompValue::Bool(false);
    }
    if token.eq_ignore_ascii_case("null") {
        return CompValue::Null;
    }
    match json_number(token) {
        Some(number) => CompValue::Number(number),
        None => CompValue::String(token.to_owned()),
    }
}

/// A JSON number (RFC 8259 §6) as a [`Number`]: integers as `u64`/`i64`, anything with a fraction or
/// exponent as a correctly rounded `f64` (std's parser, so printing and re-parsing gives the same bits).
/// `None` for other text, for integers beyond 64 bits (a long numeric id sent unquoted must not be
/// rounded) and for values outside `f64`'s range.
fn json_number(token: &str) -> Option<Number> {
    let unsigned = token.strip_prefix('-').unwrap_or(token);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(idx) => (unsigned.get(..idx)?, Some(unsigned.get(idx + 1..)?)),
        None => (unsigned, None),
    };
    let (int_part, fraction) = match mantissa.split_once('.') {
        Some((int_part, fraction)) => (int_part, Some(fraction)),
        None => (mantissa, None),
    };
    let all_digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let int_ok = all_digits(int_part) && (int_part == "0" || !int_part.starts_with('0'));
    let fraction_ok = fraction.is_none_or(all_digits);
    let exponent_ok = exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(int_ok && fraction_ok && exponent_ok) {
        return None;
    }
    if fraction.is_none() && exponent.is_none() {
        return if token.starts_with('-') {
            token.parse::<i64>().ok().map(Number::from)
        } else {
            token.parse::<u64>().ok().map(Number::from)
        };
    }
    token.parse::<f64>().ok().and_then(Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> AttrPath {
        AttrPath::parse(text).unwrap()
    }

    fn cmp(p: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare {
            path: path(p),
            op,
            value,
        }
    }

    fn s(text: &str) -> CompValue {
        CompValue::String(text.to_owned())
    }

    fn num(text: &str) -> CompValue {
        CompValue::Number(json_number(text).unwrap())
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }

    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }

    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }

    fn vp(p: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: path(p),
            filter: Box::new(f),
        }
    }

    fn detail(text: &str) -> String {
        match parse(text) {
            Err(ScimError::InvalidFilter(detail)) => detail,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn rfc_7644_figure_2_examples_parse() {
        use CompareOp::*;
        let cases = vec![
            (r#"userName eq "bjensen""#, cmp("userName", Eq, s("bjensen"))),
            (
                r#"name.familyName co "O'Malley""#,
                cmp("name.familyName", Co, s("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp("userName", Sw, s("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                cmp("urn:ietf:params:scim:schemas:core:2.0:User:userName", Sw, s("J")),
            ),
            ("title pr", pr("title")),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(pr("title"), cmp("userType", Eq, s("Employee"))),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(pr("title"), cmp("userType", Eq, s("Intern"))),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                cmp("schemas", Eq, s(ENTERPRISE)),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp("userType", Eq, s("Employee")),
                    or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    ),
                ),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp("userType", Ne, s("Employee")),
                    not(or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    )),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(
                    cmp("userType", Eq, s("Employee")),
                    cmp("emails.type", Eq, s("work")),
                ),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    cmp("userType", Eq, s("Employee")),
                    vp(
                        "emails",
                        and(cmp("type", Eq, s("work")), cmp("value", Co, s("@example.com"))),
                    ),
                ),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    vp(
                        "emails",
                        and(cmp("type", Eq, s("work")), cmp("value", Co, s("@example.com"))),
                    ),
                    vp(
                        "ims",
                        and(cmp("type", Eq, s("xmpp")), cmp("value", Co, s("@foo.com"))),
                    ),
                ),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn entra_filters_parse() {
        use CompareOp::*;
        let cases = vec![
            (
                r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
                cmp(
                    "userName",
                    Eq,
                    s("Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"),
                ),
            ),
            ("externalId eq jyoung", cmp("externalId", Eq, s("jyoung"))),
            (r#"displayName eq "x""#, cmp("displayName", Eq, s("x"))),
            (
                r#"id eq "x" and manager eq "y""#,
                and(cmp("id", Eq, s("x")), cmp("manager", Eq, s("y"))),
            ),
            (
                r#"emails[type eq "work"].value eq "user@contoso.com""#,
                vp(
                    "emails",
                    and(
                        cmp("type", Eq, s("work")),
                        cmp("value", Eq, s("user@contoso.com")),
                    ),
                ),
            ),
            (
                r#"DisplayName eq "BobIsAmazing""#,
                cmp("DisplayName", Eq, s("BobIsAmazing")),
            ),
            (r#"name.FamilyName eq "x""#, cmp("name.FamilyName", Eq, s("x"))),
            (r#"emails.Value eq "x""#, cmp("emails.Value", Eq, s("x"))),
            (
                r#"meta.Created gt "2011-05-13T04:42:34Z""#,
                cmp("meta.Created", Gt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"roles[primary eq "True"].value eq "Admin""#,
                vp(
                    "roles",
                    and(cmp("primary", Eq, s("True")), cmp("value", Eq, s("Admin"))),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                cmp(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    Eq,
                    s("701984"),
                ),
            ),
            (
                r#"emails[type eq "work"].value pr"#,
                vp("emails", and(cmp("type", Eq, s("work")), pr("value"))),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn every_operator_in_any_case() {
        for op in CompareOp::ALL {
            for name in [op.as_str().to_owned(), op.as_str().to_uppercase()] {
                let text = format!("userName {name} \"x\"");
                assert_eq!(parse(&text), Ok(cmp("userName", op, s("x"))), "{text}");
            }
        }
        assert_eq!(parse("title PR"), Ok(pr("title")));
        assert_eq!(parse("title Pr"), Ok(pr("title")));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let expected = and(pr("a"), or(not(pr("b")), pr("c")));
        for text in [
            "a pr and (not (b pr) or c pr)",
            "a pr AND (NOT (b pr) OR c pr)",
            "a pr And (Not(b pr) oR c pr)",
        ] {
            assert_eq!(parse(text), Ok(expected.clone()), "{text}");
        }
    }

    #[test]
    fn literals() {
        use CompareOp::Eq;
        let cases = vec![
            ("a eq true", CompValue::Bool(true)),
            ("a eq false", CompValue::Bool(false)),
            ("a eq TRUE", CompValue::Bool(true)),
            ("a eq False", CompValue::Bool(false)),
            ("a eq null", CompValue::Null),
            ("a eq NULL", CompValue::Null),
            ("a eq 0", num("0")),
            ("a eq 42", num("42")),
            ("a eq -7", num("-7")),
            ("a eq 18446744073709551615", num("18446744073709551615")),
            ("a eq 1.5", num("1.5")),
            ("a eq -0.25", num("-0.25")),
            ("a eq 1e3", num("1e3")),
            ("a eq 2.5E-3", num("2.5E-3")),
            // Integers beyond 64 bits stay text rather than being rounded through f64.
            (
                "a eq 123456789012345678901234567890",
                s("123456789012345678901234567890"),
            ),
            ("a eq 007", s("007")),
            ("a eq 1.", s("1.")),
            ("a eq .5", s(".5")),
            ("a eq 1e", s("1e")),
            ("a eq -", s("-")),
            ("a eq +1", s("+1")),
            ("a eq 1e999", s("1e999")),
            ("a eq 0x10", s("0x10")),
            (r#"a eq """#, s("")),
            (r#"a eq "true""#, s("true")),
            (r#"a eq "say \"hi\"""#, s("say \"hi\"")),
            (r#"a eq "back\\slash""#, s("back\\slash")),
            (r#"a eq "tab\tnew\nline""#, s("tab\tnew\nline")),
            (r#"a eq "\u00e9\u00C9 \ud83d\ude00""#, s("éÉ 😀")),
            (r#"a eq "slash\/""#, s("slash/")),
            (r#"a eq "ünïcödé""#, s("ünïcödé")),
            (r#"a eq "paren ) and [ or ]""#, s("paren ) and [ or ]")),
            ("a eq jyoung", s("jyoung")),
            ("a eq user@example.com", s("user@example.com")),
            ("a eq Test_User-1.2", s("Test_User-1.2")),
        ];
        for (text, value) in cases {
            assert_eq!(parse(text), Ok(cmp("a", Eq, value)), "{text}");
        }
    }

    #[test]
    fn attribute_paths() {
        let cases = vec![
            ("userName pr", path("userName")),
            ("name.givenName pr", path("name.givenName")),
            ("members.$ref pr", path("members.$ref")),
            ("x-y_z9 pr", path("x-y_z9")),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
                AttrPath {
                    urn: Some(ENTERPRISE.to_owned()),
                    name: "manager".to_owned(),
                    sub: Some("value".to_owned()),
                },
            ),
            (
                "URN:ietf:params:scim:schemas:core:2.0:User:userName pr",
                AttrPath {
                    urn: Some("URN:ietf:params:scim:schemas:core:2.0:User".to_owned()),
                    name: "userName".to_owned(),
                    sub: None,
                },
            ),
            // Names that look like keywords are still names where a path is expected.
            ("not pr", path("not")),
            ("and pr", path("and")),
            ("pr pr", path("pr")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(Filter::Present(expected)), "{text}");
        }
    }

    #[test]
    fn precedence_and_grouping() {
        let (a, b, c, d) = (pr("a"), pr("b"), pr("c"), pr("d"));
        let cases = vec![
            ("a pr or b pr and c pr", or(a.clone(), and(b.clone(), c.clone()))),
            ("a pr and b pr or c pr", or(and(a.clone(), b.clone()), c.clone())),
            (
                "a pr and b pr and c pr",
                and(and(a.clone(), b.clone()), c.clone()),
            ),
            ("a pr or b pr or c pr", or(or(a.clone(), b.clone()), c.clone())),
            ("a pr or (b pr or c pr)", or(a.clone(), or(b.clone(), c.clone()))),
            (
                "(a pr or b pr) and c pr",
                and(or(a.clone(), b.clone()), c.clone()),
            ),
            ("not (a pr) and b pr", and(not(a.clone()), b.clone())),
            (
                "not (a pr and b pr) or c pr",
                or(not(and(a.clone(), b.clone())), c.clone()),
            ),
            ("((((a pr))))", a.clone()),
            (
                "a pr and b pr or c pr and d pr",
                or(and(a.clone(), b.clone()), and(c.clone(), d.clone())),
            ),
            ("not(not(a pr))", not(not(a.clone()))),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn value_paths() {
        use CompareOp::*;
        let cases = vec![
            (
                r#"emails[type eq "work"]"#,
                vp("emails", cmp("type", Eq, s("work"))),
            ),
            (
                r#"emails[ type eq "work" ]"#,
                vp("emails", cmp("type", Eq, s("work"))),
            ),
            ("emails[value pr]", vp("emails", pr("value"))),
            (
                "emails[not (primary eq true)]",
                vp("emails", not(cmp("primary", Eq, CompValue::Bool(true)))),
            ),
            (
                r#"emails[type eq "work" or (type eq "home" and primary eq true)]"#,
                vp(
                    "emails",
                    or(
                        cmp("type", Eq, s("work")),
                        and(
                            cmp("type", Eq, s("home")),
                            cmp("primary", Eq, CompValue::Bool(true)),
                        ),
                    ),
                ),
            ),
            (
                r#"emails[type eq "work" or type eq "home"].value co "x""#,
                vp(
                    "emails",
                    and(
                        or(cmp("type", Eq, s("work")), cmp("type", Eq, s("home"))),
                        cmp("value", Co, s("x")),
                    ),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "1"]"#,
                vp(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    cmp("value", Eq, s("1")),
                ),
            ),
            ("emails[type eq work]", vp("emails", cmp("type", Eq, s("work")))),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn extra_whitespace_is_tolerated() {
        use CompareOp::*;
        let expected = and(
            cmp("userName", Eq, s("x")),
            not(vp("emails", cmp("type", Eq, s("work")))),
        );
        for text in [
            r#"userName eq "x" and not (emails[type eq "work"])"#,
            "  userName   eq\t\"x\"\n and  not  ( emails[ type  eq  \"work\" ] )  ",
            r#"userName eq"x" and not(emails[type eq"work"])"#,
        ] {
            assert_eq!(parse(text), Ok(expected.clone()), "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        let cases = [
            ("", "position 0: expected an attribute path"),
            ("   ", "position 3: expected an attribute path"),
            (
                "userName",
                "position 8: expected whitespace followed by an operator",
            ),
            ("userName xx \"a\"", "position 9: expected an operator"),
            ("userName eqx \"a\"", "position 9: expected an operator"),
            ("userName eq", "position 11: expected a value"),
            (
                "userName eq \"abc",
                "position 12: expected a string closed by '\"'",
            ),
            (
                r#"userName eq "bad \q escape""#,
                "position 12: expected a valid JSON string",
            ),
            (
                "userName eq \"a\" xor b pr",
                "position 16: expected \"and\", \"or\" or the end",
            ),
            ("(userName pr", "position 12: expected \"and\", \"or\" or ')'"),
            ("emails[type pr", "position 14: expected \"and\", \"or\" or ']'"),
            ("userName pr)", "position 11: expected \"and\", \"or\" or the end"),
            ("1abc pr", "position 0: expected an attribute path"),
            ("a.b.c pr", "position 0: expected an attribute path ([schema URN"),
            ("userName pr and", "position 15: expected an attribute path"),
            (
                "emails[a[b pr]]",
                "position 8: expected an operator; value filters cannot be nested",
            ),
            (
                "emails.value[type pr]",
                "position 0: expected an attribute without a sub-attribute",
            ),
            ("emails[type pr].", "position 16: expected a sub-attribute name"),
            (
                "emails[type pr].value",
                "position 21: expected whitespace followed by an operator",
            ),
            ("not userName pr", "position 4: expected an operator"),
            ("urn:a: pr", "position 0: expected an attribute path"),
            // Positions count characters, not bytes.
            ("é eq 1", "position 0: expected an attribute path"),
            ("a eq \"é\" é", "position 9: expected \"and\", \"or\" or the end"),
        ];
        for (text, expected) in cases {
            let detail = detail(text);
            assert!(
                detail.contains(expected),
                "{text:?}: {detail:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn value_filters_parse_relative_paths_and_refuse_nesting() {
        use CompareOp::*;
        assert_eq!(
            parse_value_filter(r#"type eq "work" and value co "@example.com""#),
            Ok(and(
                cmp("type", Eq, s("work")),
                cmp("value", Co, s("@example.com"))
            ))
        );
        assert_eq!(
            parse_value_filter(r#"value eq "a]b""#),
            Ok(cmp("value", Eq, s("a]b")))
        );
        assert_eq!(
            parse_value_filter(r#"primary eq "True""#),
            Ok(cmp("primary", Eq, s("True")))
        );
        let err = parse_value_filter(r#"emails[type eq "work"]"#).unwrap_err();
        assert!(
            err.detail()
                .contains("position 6: expected an operator; value filters cannot be nested")
        );
        assert!(parse_value_filter("").is_err());
    }

    #[test]
    fn input_longer_than_the_limit_is_refused() {
        let long = format!("userName eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        assert!(detail(&long).contains("bytes long"));
        let just_fits = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 7));
        assert_eq!(just_fits.len(), MAX_FILTER_LEN);
        assert!(parse(&just_fits).is_ok());
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        let depth = MAX_FILTER_DEPTH;
        let parens = format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(parse(&parens), Ok(pr("a")));
        let nots = format!("{}a pr{}", "not (".repeat(depth), ")".repeat(depth));
        assert!(parse(&nots).is_ok());
        let too_deep = format!("{}a pr{}", "(".repeat(depth + 1), ")".repeat(depth + 1));
        assert!(detail(&too_deep).contains("nesting is deeper than 64 levels"));
    }

    #[test]
    fn hundred_thousand_nested_groups_are_refused_without_overflowing_the_stack() {
        let unlimited_length = Limits {
            max_len: usize::MAX,
            ..Limits::DEFAULT
        };
        for opener in ["(", "not(", "not (", "a["] {
            let text = format!("{}a pr{}", opener.repeat(100_000), ")".repeat(100_000));
            // With the default limits the length check refuses it first...
            assert!(parse(&text).is_err());
            // ...and without a length limit the depth limit still does.
            let err = parse_with_limits(&text, unlimited_length, Scope::Resource).unwrap_err();
            let ScimError::InvalidFilter(detail) = err else {
                panic!("{err:?}");
            };
            assert!(
                detail.contains("deeper than") || detail.contains("cannot be nested"),
                "{opener}: {detail}"
            );
        }
    }

    #[test]
    fn more_nodes_than_the_limit_are_refused() {
        let clauses = |n: usize| vec!["a pr"; n].join(" or ");
        // n clauses make n presence nodes and n - 1 `or` nodes.
        let fits = MAX_FILTER_NODES.div_ceil(2);
        assert!(parse(&clauses(fits)).is_ok());
        assert!(detail(&clauses(fits + 1)).contains("more than 512 expressions"));
        let unlimited_length = Limits {
            max_len: usize::MAX,
            ..Limits::DEFAULT
        };
        assert!(parse_with_limits(&clauses(100_000), unlimited_length, Scope::Resource).is_err());
    }
}
