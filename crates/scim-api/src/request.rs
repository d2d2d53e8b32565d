//! Reading SCIM requests: JSON bodies (media type, size and nesting checked before parsing), query
//! parameters (names matched case-insensitively, unknown ones such as Entra's `aadOptscim062020` ignored,
//! `+` decoded as a space), and `If-Match` / `If-None-Match` version preconditions.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use scim_core::ScimError;
use serde_json::Value;

use crate::cursor::Cursor;
use crate::error::{ApiError, ApiResult};
use crate::state::ApiConfig;

/// Reads and parses a request body within the configured size and depth limits.
pub async fn json_body(req: &HttpRequest, payload: web::Payload, config: &ApiConfig) -> ApiResult<Value> {
    json_body_limited(req, payload, config.max_body_bytes, config.max_json_depth).await
}

/// Reads and parses a JSON body. Accepts `application/scim+json`, `application/json` (any parameters) or no
/// content type at all; anything else is 415.
pub async fn json_body_limited(
    req: &HttpRequest,
    payload: web::Payload,
    max_bytes: usize,
    max_depth: usize,
) -> ApiResult<Value> {
    check_media_type(req)?;
    let bytes = payload
        .to_bytes_limited(max_bytes)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(max_bytes))?
        .map_err(|e| ScimError::InvalidSyntax(format!("could not read the request body: {e}")))?;
    parse_json(&bytes, max_depth)
}

fn check_media_type(req: &HttpRequest) -> ApiResult<()> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    let json = essence.eq_ignore_ascii_case("application/scim+json")
        || essence.eq_ignore_ascii_case("application/json");
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(essence.to_owned()))
    }
}

/// Parses JSON after checking its nesting depth without recursion, so a 10,000-deep body is a 400, not a
/// stack overflow.
///
/// Stricter than `serde_json::from_slice::<Value>` in two ways. A duplicate member name is
/// `invalidSyntax`: RFC 8259 §4 leaves its meaning undefined, and a proxy or auditor reading the first
/// value while we store the last would disagree about what was written. A NUL character (U+0000) in any
/// string or name is `invalidValue`: PostgreSQL text cannot hold it, so the same body must not succeed on
/// SQLite and fail (or be truncated) on PostgreSQL.
pub fn parse_json(bytes: &[u8], max_depth: usize) -> ApiResult<Value> {
    if json_depth(bytes) > max_depth {
        return Err(ScimError::InvalidSyntax(format!("JSON nesting deeper than {max_depth} levels")).into());
    }
    let StrictJson(value) =
        serde_json::from_slice(bytes).map_err(|e| ScimError::InvalidSyntax(format!("invalid JSON: {e}")))?;
    if contains_nul(&value) {
        return Err(
            ScimError::InvalidValue("strings must not contain NUL (U+0000) characters".to_owned()).into(),
        );
    }
    Ok(value)
}

/// True when any string or member name in the value holds U+0000.
fn contains_nul(value: &Value) -> bool {
    let mut pending = vec![value];
    while let Some(next) = pending.pop() {
        match next {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => {
                if members.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                pending.extend(members.values());
            }
            _ => {}
        }
    }
    false
}

/// A JSON value deserialized with duplicate member names refused.
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = StrictJson;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::Null))
    }

    fn visit_bool<E>(self, v: bool) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<StrictJson, E> {
        // serde_json never yields a non-finite float (1e400 is already a parse error).
        Ok(StrictJson(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, v: &str) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<StrictJson, E> {
        Ok(StrictJson(Value::String(v)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<StrictJson, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(StrictJson(Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<StrictJson, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let StrictJson(value) = map.next_value()?;
            if members.contains_key(&name) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate member name {name:?}"
                )));
            }
            members.insert(name, value);
        }
        Ok(StrictJson(Value::Object(members)))
    }
}

/// Maximum nesting of arrays/objects, ignoring brackets inside strings.
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Query parameters a SCIM list or get understands.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryParams {
    pub filter: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    /// RFC 9865; `Some("")` starts a cursor listing. Checked by [`Cursor::decode`], which refuses
    /// anything (NUL included) this server did not issue.
    pub cursor: Option<String>,
}

impl QueryParams {
    /// Form-decodes the query string and picks the known parameters, case-insensitively.
    pub fn from_request(req: &HttpRequest) -> ApiResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ScimError::BadRequest(format!("malformed query string: {e}")))?;
        let mut params = Self::default();
        for (name, value) in pairs {
            let slot = match name.to_ascii_lowercase().as_str() {
                "filter" => &mut params.filter,
                "attributes" => &mut params.attributes,
                "excludedattributes" => &mut params.excluded_attributes,
                "sortby" => &mut params.sort_by,
                "sortorder" => &mut params.sort_order,
                "startindex" => &mut params.start_index,
                "count" => &mut params.count,
                "cursor" => &mut params.cursor,
                _ => continue,
            };
            *slot = Some(value);
        }
        params.refuse_nul()?;
        Ok(params)
    }

    /// A NUL character can match nothing, and PostgreSQL refuses it in query parameters: a 400, not a
    /// database error.
    fn refuse_nul(&self) -> ApiResult<()> {
        if self.filter.as_deref().is_some_and(|f| f.contains('\0')) {
            return Err(ScimError::InvalidFilter(
                "a filter must not contain NUL (U+0000) characters".to_owned(),
            )
            .into());
        }
        let others = [
            &self.attributes,
            &self.excluded_attributes,
            &self.sort_by,
            &self.sort_order,
            &self.start_index,
            &self.count,
        ];
        if others
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| v.contains('\0')))
        {
            return Err(ScimError::InvalidValue(
                "query parameters must not contain NUL (U+0000) characters".to_owned(),
            )
            .into());
        }
        Ok(())
    }

    /// The same parameters from a `.search` body (RFC 7644 §3.4.3), where lists are JSON arrays.
    pub fn from_search_body(body: &Value) -> ApiResult<Self> {
        let Some(object) = body.as_object() else {
            return Err(ScimError::InvalidSyntax("a SearchRequest must be a JSON object".to_owned()).into());
        };
        let mut params = Self::default();
        for (name, value) in object {
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => return Err(ScimError::InvalidValue(format!("{name} has an unexpected type")).into()),
            };
            let slot = match name.to_ascii_lowercase().as_str() {
                "filter" => &mut params.filter,
                "attributes" => &mut params.attributes,
                "excludedattributes" => &mut params.excluded_attributes,
                "sortby" => &mut params.sort_by,
                "sortorder" => &mut params.sort_order,
                "startindex" => &mut params.start_index,
                "count" => &mut params.count,
                "cursor" => &mut params.cursor,
                _ => continue,
            };
            *slot = Some(text);
        }
        params.refuse_nul()?;
        Ok(params)
    }
}

/// How a list request pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// RFC 7644 `startIndex` (1-based).
    Index(u64),
    /// RFC 9865 `cursor`: `None` (an empty `cursor`) starts a cursor listing.
    Cursor(Option<Cursor>),
}

impl Page {
    /// The ListResponse `startIndex`: index pages only, cursor pages have none (RFC 9865 §2).
    pub fn start_index(&self) -> Option<u64> {
        match self {
            Self::Index(start_index) => Some(*start_index),
            Self::Cursor(_) => None,
        }
    }
}

/// A page request after applying defaults and limits (RFC 7644 §3.4.2.4): `startIndex` below 1 counts as
/// 1, a negative `count` as 0, and `count` above the maximum is capped (in cursor listings too, rather than
/// RFC 9865's `invalidCount`, so one `count` works with either method). A `cursor` selects cursor
/// pagination; with `startIndex` as well the request is ambiguous, a 400.
pub fn page(params: &QueryParams, default_count: u64, max_count: u64) -> ApiResult<(Page, u64)> {
    let number = |name: &str, value: &Option<String>| -> ApiResult<Option<i64>> {
        value
            .as_deref()
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::from(ScimError::InvalidValue(format!(
                        "{name} must be an integer, got {v:?}"
                    )))
                })
            })
            .transpose()
    };
    let start = number("startIndex", &params.start_index)?.unwrap_or(1).max(1);
    let count = number("count", &params.count)?.map_or(default_count, |c| u64::try_from(c).unwrap_or(0));
    let page = match params.cursor.as_deref() {
        None => Page::Index(u64::try_from(start).unwrap_or(1)),
        Some(_) if params.start_index.is_some() => {
            return Err(ScimError::InvalidValue(
                "cursor and startIndex cannot be combined: use cursor (RFC 9865) or startIndex (RFC 7644), \
                 not both"
                    .to_owned(),
            )
            .into());
        }
        Some("") => Page::Cursor(None),
        Some(value) => Page::Cursor(Some(Cursor::decode(value)?)),
    };
    Ok((page, count.min(max_count)))
}

/// The version named by a weak or strong ETag (`W/"3"` or `"3"`); `*` means any version (`None`).
pub fn etag_version(value: &str) -> Option<i64> {
    let trimmed = value.trim();
    let unweak = trimmed.strip_prefix("W/").unwrap_or(trimmed);
    unweak.trim_matches('"').parse().ok()
}

/// The version `If-Match` requires, if any. A value that is not one of our ETags can never match: 412.
pub fn if_match(req: &HttpRequest) -> ApiResult<Option<i64>> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    etag_version(text).map(Some).ok_or_else(|| {
        ScimError::PreconditionFailed(format!("If-Match {text:?} does not match the resource")).into()
    })
}

/// True when `If-None-Match` names the current version (or `*`), i.e. a GET may answer 304.
pub fn if_none_match_hits(req: &HttpRequest, version: i64) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(',')
        .any(|tag| tag.trim() == "*" || etag_version(tag) == Some(version))
}

pub use scim_core::weak_etag as etag;

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a":"[[[[{{{{"}"#), 1);
        assert_eq!(json_depth(br#"{"a":[{"b":"\"]"}]}"#), 3);
        assert!(parse_json(&"[".repeat(10_000).into_bytes(), 64).is_err());
    }

    #[test]
    fn query_names_are_case_insensitive_plus_is_space_and_unknown_ignored() {
        let req = TestRequest::with_uri(
            "/Users?aadOptscim062020&FILTER=userName+eq+%22dale.mohr%40romaguera.uk%22&startIndex=2&Count=5",
        )
        .to_http_request();
        let params = QueryParams::from_request(&req).unwrap();
        assert_eq!(
            params.filter.as_deref(),
            Some("userName eq \"dale.mohr@romaguera.uk\"")
        );
        assert_eq!(page(&params, 100, 1000).unwrap(), (Page::Index(2), 5));
    }

    #[test]
    fn page_bounds_follow_rfc() {
        let params = QueryParams {
            start_index: Some("0".into()),
            count: Some("-3".into()),
            ..Default::default()
        };
        assert_eq!(page(&params, 100, 1000).unwrap(), (Page::Index(1), 0));
        let params = QueryParams {
            count: Some("5000".into()),
            ..Default::default()
        };
        assert_eq!(page(&params, 100, 1000).unwrap(), (Page::Index(1), 1000));
        let params = QueryParams {
            count: Some("x".into()),
            ..Default::default()
        };
        assert!(page(&params, 100, 1000).is_err());
    }

    #[test]
    fn a_cursor_selects_cursor_pagination() {
        let params =
            |uri: &str| QueryParams::from_request(&TestRequest::with_uri(uri).to_http_request()).unwrap();
        assert_eq!(
            page(&params("/Users?cursor"), 100, 1000).unwrap(),
            (Page::Cursor(None), 100)
        );
        assert_eq!(
            page(&params("/Users?Cursor=&count=5000"), 100, 1000).unwrap(),
            (Page::Cursor(None), 1000)
        );
        let next = Cursor {
            kind: scim_core::ResourceKind::User,
            after: None,
        };
        let uri = format!("/Users?cursor={}&count=2", next.encode());
        assert_eq!(
            page(&params(&uri), 100, 1000).unwrap(),
            (Page::Cursor(Some(next)), 2)
        );
        let both = page(&params("/Users?cursor=&startIndex=1"), 100, 1000).unwrap_err();
        assert!(
            matches!(both, ApiError::Scim(ScimError::InvalidValue(_))),
            "{both:?}"
        );
        let garbage = page(&params("/Users?cursor=%00"), 100, 1000).unwrap_err();
        assert!(
            matches!(garbage, ApiError::Scim(ScimError::InvalidCursor(_))),
            "{garbage:?}"
        );
    }

    #[test]
    fn duplicate_names_and_nul_characters_are_refused() {
        let duplicate = parse_json(br#"{"a":{"b":1,"b":2}}"#, 64).unwrap_err();
        assert!(
            matches!(duplicate, ApiError::Scim(ScimError::InvalidSyntax(_))),
            "{duplicate:?}"
        );
        let nul = parse_json(br#"{"a":["x\u0000"]}"#, 64).unwrap_err();
        assert!(
            matches!(nul, ApiError::Scim(ScimError::InvalidValue(_))),
            "{nul:?}"
        );
        let nul_name = parse_json(br#"{"a\u0000":1}"#, 64).unwrap_err();
        assert!(
            matches!(nul_name, ApiError::Scim(ScimError::InvalidValue(_))),
            "{nul_name:?}"
        );
        let value = parse_json(br#"{"a":[1,-2,2.5,true,null,"s",{"b":{}}],"A":1}"#, 64).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a":[1,-2,2.5,true,null,"s",{"b":{}}],"A":1})
        );
        let req = TestRequest::with_uri("/Users?filter=userName%20eq%20%22a%00%22").to_http_request();
        let err = QueryParams::from_request(&req).unwrap_err();
        assert!(
            matches!(err, ApiError::Scim(ScimError::InvalidFilter(_))),
            "{err:?}"
        );
    }

    #[test]
    fn etags_parse_weak_and_strong() {
        assert_eq!(etag_version("W/\"3\""), Some(3));
        assert_eq!(etag_version("\"7\""), Some(7));
        assert_eq!(etag_version("W/\"abc\""), None);
        assert_eq!(etag(4), "W/\"4\"");
    }
}
