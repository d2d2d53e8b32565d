//! The one hand-written, portable diesel schema for both backends.
//!
//! Only types that `MultiBackend` can carry are used (Text, BigInt, Bool, Timestamp): ids are UUID strings
//! or tenant slugs, times are UTC `Timestamp`s, JSON is `Text`. Never regenerate this file with
//! `diesel print-schema` (it emits backend-specific types); the drift test in `tests/` loads every column
//! of every table on both backends instead.

diesel::table! {
    tenants (id) {
        id -> Text,
        display_name -> Text,
        policy -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        tenant_id -> Text,
        token_hash -> Text,
        prefix -> Text,
        label -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        scope -> Text,
    }
}

diesel::table! {
    resources (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        resource_type -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        last_modified -> Timestamp,
        document -> Text,
        user_name -> Nullable<Text>,
        user_name_lower -> Nullable<Text>,
        display_name -> Nullable<Text>,
        display_name_lower -> Nullable<Text>,
        group_name_lower -> Nullable<Text>,
        external_id -> Nullable<Text>,
        active -> Nullable<Bool>,
    }
}

diesel::table! {
    resource_emails (tenant_id, resource_id, position) {
        tenant_id -> Text,
        resource_id -> Text,
        position -> Integer,
        email_type -> Nullable<Text>,
        value_lower -> Text,
    }
}

diesel::table! {
    group_members (tenant_id, group_id, member_id) {
        tenant_id -> Text,
        group_id -> Text,
        member_id -> Text,
        member_type -> Text,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        event_id -> Text,
        tenant_id -> Text,
        feed_position -> Nullable<BigInt>,
        tenant_sequence -> Nullable<BigInt>,
        event_type -> Text,
        resource_type -> Text,
        resource_id -> Text,
        version -> Nullable<BigInt>,
        occurred_at -> Timestamp,
        resource_created_at -> Nullable<Timestamp>,
        request_id -> Nullable<Text>,
        actor_token_id -> Nullable<Text>,
        member_id -> Nullable<Text>,
        member_type -> Nullable<Text>,
        data -> Nullable<Text>,
    }
}

diesel::table! {
    event_sequences (tenant_id) {
        tenant_id -> Text,
        last_sequence -> BigInt,
    }
}

diesel::table! {
    event_feed (id) {
        id -> Integer,
        last_position -> BigInt,
        pruned_through -> BigInt,
    }
}

diesel::table! {
    oauth_clients (client_id) {
        client_id -> Text,
        tenant_id -> Text,
        secret_hash -> Text,
        secret_prefix -> Text,
        label -> Nullable<Text>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    admin_audit (id) {
        id -> BigInt,
        operator -> Text,
        action -> Text,
        tenant_id -> Nullable<Text>,
        detail -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        all_tenants -> Bool,
        all_event_types -> Bool,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoint_tenants (endpoint_id, tenant_id) {
        endpoint_id -> Text,
        tenant_id -> Text,
    }
}

diesel::table! {
    webhook_endpoint_event_types (endpoint_id, event_type) {
        endpoint_id -> Text,
        event_type -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> Text,
        event_row_id -> BigInt,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status -> Nullable<BigInt>,
        last_latency_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> events (event_row_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, webhook_endpoints, events);

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    scim_tokens,
    resources,
    resource_emails,
    group_members,
    events
);

diesel::table! {
    portal_links (code_hash) {
        code_hash -> Text,
        scope -> Text,
        tenant_id -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    portal_sessions (id_hash) {
        id_hash -> Text,
        scope -> Text,
        tenant_id -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    scim_request_log (id) {
        id -> BigInt,
        tenant_id -> Text,
        occurred_at -> Timestamp,
        request_id -> Nullable<Text>,
        method -> Text,
        path -> Text,
        status -> BigInt,
        scim_type -> Nullable<Text>,
        detail -> Nullable<Text>,
        probe -> Bool,
    }
}
