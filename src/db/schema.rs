//! Diesel's view of the tables created by migrations/ (kept in step by hand).

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        experience_points -> Int4,
        level -> Int4,
        is_admin -> Bool,
        created_at -> Timestamptz,
        django_id -> Nullable<Int8>,
        session_generation -> Int4,
    }
}

diesel::table! {
    revoked_tokens (token_hash) {
        token_hash -> Bytea,
        user_id -> Int8,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        account -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    xp_ledger (id) {
        id -> Int8,
        recipient_id -> Int8,
        action -> Text,
        subject -> Nullable<Text>,
        amount -> Int4,
        reason -> Nullable<Text>,
        created_at -> Timestamptz,
        base_amount -> Nullable<Int4>,
        multiplier_hundredths -> Int4,
        boost_id -> Nullable<Int8>,
    }
}

diesel::table! {
    stories (id) {
        id -> Int8,
        author_id -> Int8,
        title -> Text,
        content -> Text,
        published -> Bool,
        created_at -> Timestamptz,
        collaboration_completed_at -> Nullable<Timestamptz>,
        django_id -> Nullable<Int8>,
    }
}

diesel::table! {
    story_likes (story_id, user_id) {
        story_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Kept by story_likes' triggers: one row per story with likes.
    story_like_counts (story_id) {
        story_id -> Int8,
        likes -> Int8,
    }
}

diesel::table! {
    user_achievements (id) {
        id -> Int8,
        user_id -> Int8,
        achievement -> Text,
        earned_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        user_id -> Int8,
        kind -> Text,
        message -> Text,
        level -> Nullable<Int4>,
        achievement -> Nullable<Text>,
        read -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(stories -> users (author_id));
diesel::joinable!(story_likes -> stories (story_id));
diesel::joinable!(xp_ledger -> users (recipient_id));

diesel::table! {
    admin_actions (id) {
        id -> Int8,
        admin_id -> Nullable<Int8>,
        kind -> Text,
        target_id -> Nullable<Int8>,
        detail -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    xp_reward_changes (id) {
        id -> Int8,
        action -> Text,
        previous_xp -> Int4,
        xp -> Int4,
        changed_by -> Int8,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    xp_boosts (id) {
        id -> Int8,
        name -> Text,
        multiplier_hundredths -> Int4,
        actions -> Array<Text>,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        ended_by -> Nullable<Int8>,
    }
}

diesel::table! {
    comments (id) {
        id -> Int8,
        story_id -> Int8,
        author_id -> Int8,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    story_reads (story_id, user_id) {
        story_id -> Int8,
        user_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    characters (id) {
        id -> Int8,
        owner_id -> Int8,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    friend_requests (requester_id, addressee_id) {
        requester_id -> Int8,
        addressee_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    collaborators (story_id, user_id) {
        story_id -> Int8,
        user_id -> Int8,
        accepted_at -> Nullable<Timestamptz>,
        invited_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    xp_ledger,
    xp_boosts,
    admin_actions,
    xp_reward_changes,
    stories,
    story_likes,
    story_like_counts,
    user_achievements,
    notifications,
    comments,
    story_reads,
    characters,
    friend_requests,
    collaborators,
);
