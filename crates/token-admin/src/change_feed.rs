//! The change feed as the vendor's product sees it (docs/events.md): the event object, and the opaque
//! cursor of the events API. Webhook deliveries send the same event object.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::SecondsFormat;
use scim_core::ResourceKind;
use serde_json::{Value, json};
use storage::Storage;
use storage::feed::FeedEvent;

use crate::error::AdminError;

/// Every event type, in the order docs/events.md lists them.
pub const EVENT_TYPES: [&str; 8] = [
    "user.created",
    "user.updated",
    "user.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member_added",
    "group.member_removed",
];

/// Prefix of every cursor; a version, so the encoding can change without breaking stored cursors.
const CURSOR_PREFIX: &str = "f1.";

/// How often retention looks for events to delete.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);
/// Pause between two deleting batches, so SQLite writers get their turn.
const RETENTION_PAUSE: Duration = Duration::from_millis(50);

/// Deletes events older than `retention_days`, forever (`token-admin serve` runs it; 0 days: never).
pub async fn run_retention(storage: Storage, clock: service::Clock, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let retention = chrono::Duration::days(i64::from(retention_days));
    let mut interval = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        interval.tick().await;
        let cutoff = clock.now() - retention;
        loop {
            let storage = storage.clone();
            match service::blocking(move || storage.prune_events(cutoff)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(pruned)) => tracing::debug!(pruned, "pruned change-feed events"),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err.full_message(), "cannot prune change-feed events; will retry");
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "change-feed retention task failed; will retry");
                    break;
                }
            }
            tokio::time::sleep(RETENTION_PAUSE).await;
        }
    }
}

/// The event object: what the events API lists and what a webhook delivery carries.
pub fn event_json(event: &FeedEvent, public_base: &str) -> Value {
    let mut data = event.data.clone();
    // A created/updated resource shows its location, as SCIM GET would.
    if let Some(meta) = data.get_mut("meta").and_then(Value::as_object_mut) {
        let endpoint = match event.resource_type.as_str() {
            "Group" => ResourceKind::Group.endpoint(),
            _ => ResourceKind::User.endpoint(),
        };
        let base = service::tenant_base_url(public_base, &event.tenant);
        meta.insert(
            "location".to_owned(),
            json!(format!("{base}/{endpoint}/{}", event.resource_id)),
        );
    }
    json!({
        "id": event.event_id,
        "type": event.event_type,
        "tenant": event.tenant.as_str(),
        "sequence": event.sequence,
        "occurredAt": event.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "resourceType": event.resource_type,
        "resourceId": event.resource_id,
        "requestId": event.request_id,
        "data": data,
    })
}

/// The cursor that continues after feed position `position`.
pub fn encode_cursor(position: i64) -> String {
    format!(
        "{CURSOR_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(position.to_be_bytes())
    )
}

/// The feed position a cursor continues after; a 400 for anything this server did not hand out.
pub fn decode_cursor(cursor: &str) -> Result<i64, AdminError> {
    let invalid = || {
        AdminError::BadRequest(format!(
            "invalid cursor {cursor:?}: pass a nextCursor exactly as a previous answer gave it, or omit \
             `after` to start at the oldest retained event"
        ))
    };
    let bytes = cursor
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|encoded| URL_SAFE_NO_PAD.decode(encoded).ok())
        .ok_or_else(invalid)?;
    let bytes: [u8; 8] = bytes.try_into().map_err(|_| invalid())?;
    let position = i64::from_be_bytes(bytes);
    if position < 0 {
        return Err(invalid());
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        for position in [0, 1, 255, i64::MAX] {
            assert_eq!(decode_cursor(&encode_cursor(position)).unwrap(), position);
        }
        for bad in [
            "",
            "f1.",
            "f1.!!",
            "42",
            "f2.AAAAAAAAAAE",
            "f1.AAAAAAAAAA",
            "f1.gAAAAAAAAAA",
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
