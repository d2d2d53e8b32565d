//! RFC 9865 cursors: what `nextCursor` carries and `cursor` brings back.
//!
//! A cursor is the base64url (unpadded, so only RFC 3986 unreserved characters) of a short versioned text,
//! `1:<type>:<created, µs since the epoch>:<id>`, naming the last resource of the previous page, or
//! `1:<type>` for the start of a type (a root `/.search` walk moving from Users to Groups). Storage continues
//! from that position with a keyset query ([`storage::PageStart::After`]), so cursors hold no server state:
//! any replica can serve the next page, and a cursor never expires.
//!
//! Cursors are opaque to clients but not secret or signed: one only names a position in its bearer's own
//! tenant, so editing it gains nothing. Anything that does not decode to a sane position (wrong version,
//! unknown type, a time outside what the databases store, a NUL in the id, overlong text) is a 400
//! `invalidCursor`, never a database error.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike as _};
use scim_core::{ResourceId, ResourceKind, ScimError};
use storage::ListPosition;

/// The format written; a change of format gets a new number, and old cursors are refused by it.
const VERSION: &str = "1";
/// Longer than any cursor this server issues (ids are UUIDs): refused before decoding.
const MAX_CURSOR_CHARS: usize = 512;

/// Where a cursor listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub kind: ResourceKind,
    /// `None`: from the first resource of `kind`.
    pub after: Option<ListPosition>,
}

impl Cursor {
    /// The `nextCursor` value.
    pub fn encode(&self) -> String {
        let text = match &self.after {
            Some(position) => format!(
                "{VERSION}:{}:{}:{}",
                self.kind.as_str(),
                position.created.timestamp_micros(),
                position.id
            ),
            None => format!("{VERSION}:{}", self.kind.as_str()),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    /// The cursor a client sent back; `invalidCursor` if this server did not issue it.
    pub fn decode(value: &str) -> Result<Self, ScimError> {
        Self::parse(value).ok_or_else(|| {
            ScimError::InvalidCursor(
                "cursor is not a value this server issued; send the nextCursor of the previous page, or an \
                 empty cursor to start again"
                    .to_owned(),
            )
        })
    }

    fn parse(value: &str) -> Option<Self> {
        if value.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut fields = text.splitn(4, ':');
        if fields.next()? != VERSION {
            return None;
        }
        let kind = match fields.next()? {
            "User" => ResourceKind::User,
            "Group" => ResourceKind::Group,
            _ => return None,
        };
        let after = match (fields.next(), fields.next()) {
            (None, None) => None,
            (Some(micros), Some(id)) => {
                let created = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
                // Both databases store years 1 to 9999 alike (PostgreSQL refuses some outside them), and
                // PostgreSQL refuses NUL in text; ids are never empty.
                if !(1..=9999).contains(&created.year()) || id.is_empty() || id.contains('\0') {
                    return None;
                }
                Some(ListPosition {
                    created,
                    id: ResourceId::new(id),
                })
            }
            _ => return None,
        };
        Some(Self { kind, after })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    fn position() -> ListPosition {
        ListPosition {
            created: Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap() + chrono::Duration::microseconds(7),
            id: ResourceId::new("2f1c6b1e-8d0a-4c55-9a43-0b7e8f3a9c21"),
        }
    }

    #[test]
    fn cursors_round_trip_in_unreserved_characters() {
        for cursor in [
            Cursor {
                kind: ResourceKind::User,
                after: Some(position()),
            },
            Cursor {
                kind: ResourceKind::Group,
                after: None,
            },
        ] {
            let encoded = cursor.encode();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{encoded}"
            );
            assert_eq!(Cursor::decode(&encoded).unwrap(), cursor);
        }
    }

    #[test]
    fn anything_else_is_invalid_cursor() {
        let encode = |text: &str| URL_SAFE_NO_PAD.encode(text);
        let bad = [
            "not base64!".to_owned(),
            "x".repeat(MAX_CURSOR_CHARS + 1),
            encode(""),
            encode("2:User:0:abc"),
            encode("1:Device:0:abc"),
            encode("1:User:soon:abc"),
            encode("1:User:0"),
            encode("1:User:0:"),
            encode("1:User:0:a\0b"),
            encode(&format!("1:User:{}:abc", i64::MAX)),
            encode(&format!("1:User:{}:abc", i64::MIN)),
            // Year 10000: chrono has it, the databases do not store it alike.
            encode("1:User:253402300800000000:abc"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b':']),
        ];
        for value in bad {
            let err = Cursor::decode(&value).unwrap_err();
            assert_eq!(
                err.scim_type().map(|t| t.as_str()),
                Some("invalidCursor"),
                "{value}"
            );
            assert_eq!(err.status(), 400);
        }
    }
}
