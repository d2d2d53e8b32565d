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
        work_email_lower -> Nullable<Text>,
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

diesel::allow_tables_to_appear_in_same_query!(tenants, scim_tokens, resources, group_members, events);
