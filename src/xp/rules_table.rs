//! The rules in the database: the SQL award functions read amounts, recipients and the
//! own-story rule from `xp_rules` and levels from `xp_level()`; both are written here
//! from `xp/rules.rs` and `xp/level.rs` at every migrate (`db::setup::migrate`).

use diesel::sql_types::{Array, Bool, Integer, Nullable, Text};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::level::XP_PER_LEVEL;
use super::rules::{STREAK, XpAction, quests, rules};
use crate::error::AppError;

/// `xp_level(xp)`, the level a total reaches, as SQL: the CHECK `users_level_matches_xp`,
/// the ledger trigger and `award_xp` use it. IMMUTABLE and a single expression, so
/// PostgreSQL inlines it wherever it is called.
pub fn level_function_sql() -> String {
    format!(
        "CREATE OR REPLACE FUNCTION xp_level(p_xp INTEGER) RETURNS INTEGER \
         LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT p_xp / {XP_PER_LEVEL} + 1 $$"
    )
}

/// (Re)defines `xp_level` from `XP_PER_LEVEL`. It runs before the migrations, since
/// they use it (the CHECK on users). Two processes migrating at once take turns.
pub async fn define_level_function(connection: &mut AsyncPgConnection) -> QueryResult<()> {
    connection
        .transaction(async |connection| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('storyxp xp_level'))")
                .execute(connection)
                .await?;
            diesel::sql_query(level_function_sql())
                .execute(connection)
                .await?;
            Ok(())
        })
        .await
}

/// Writes the rules table into `xp_rules`: a new action gets its row, and the default
/// amount, the recipient and the own-story rule of every action are rewritten when they
/// changed; an amount tuned in the database (`tuned_xp`) is never touched, and while an
/// action has none it pays the default, so a changed default takes effect everywhere at
/// the next migrate.
pub async fn seed(connection: &mut AsyncPgConnection) -> QueryResult<()> {
    let actions: Vec<&str> = rules().map(|rule| rule.name).collect();
    let amounts: Vec<Option<i32>> = rules().map(|rule| rule.xp).collect();
    let recipients: Vec<&str> = rules().map(|rule| rule.recipient.as_str()).collect();
    let own_story: Vec<bool> = rules().map(|rule| rule.pays_on_own_story).collect();
    let limits: Vec<Option<i32>> = rules().map(|rule| rule.daily_limit).collect();
    let boostable: Vec<bool> = rules().map(|rule| rule.boostable).collect();
    diesel::sql_query(
        "INSERT INTO xp_rules (action, default_xp, recipient, pays_on_own_story, daily_limit, boostable) \
         SELECT * FROM unnest($1::TEXT[], $2::INTEGER[], $3::TEXT[], $4::BOOLEAN[], $5::INTEGER[], $6::BOOLEAN[]) \
         ON CONFLICT (action) DO UPDATE \
            SET default_xp = EXCLUDED.default_xp, recipient = EXCLUDED.recipient, \
                pays_on_own_story = EXCLUDED.pays_on_own_story, daily_limit = EXCLUDED.daily_limit, \
                boostable = EXCLUDED.boostable \
          WHERE (xp_rules.default_xp, xp_rules.recipient, xp_rules.pays_on_own_story, xp_rules.daily_limit, xp_rules.boostable) \
                IS DISTINCT FROM (EXCLUDED.default_xp, EXCLUDED.recipient, EXCLUDED.pays_on_own_story, EXCLUDED.daily_limit, EXCLUDED.boostable)",
    )
    .bind::<Array<Text>, _>(actions)
    .bind::<Array<Nullable<Integer>>, _>(amounts)
    .bind::<Array<Text>, _>(recipients)
    .bind::<Array<Bool>, _>(own_story)
    .bind::<Array<Nullable<Integer>>, _>(limits)
    .bind::<Array<Bool>, _>(boostable)
    .execute(connection)
    .await?;

    let (names, values): (Vec<&str>, Vec<i32>) = STREAK.settings().into_iter().unzip();
    diesel::sql_query(
        "INSERT INTO xp_settings (name, value) SELECT * FROM unnest($1::TEXT[], $2::INTEGER[]) \
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value \
          WHERE xp_settings.value <> EXCLUDED.value",
    )
    .bind::<Array<Text>, _>(names)
    .bind::<Array<Integer>, _>(values)
    .execute(connection)
    .await?;

    let keys: Vec<&str> = quests().map(|quest| quest.code).collect();
    let ordinals: Vec<i32> = (0..).take(keys.len()).collect();
    let targets: Vec<i32> = quests().map(|quest| quest.target).collect();
    let xp: Vec<i32> = quests().map(|quest| quest.xp).collect();
    let others_only: Vec<bool> = quests().map(|quest| quest.others_only).collect();
    // Quests no longer in the catalog go; ordinals are unique, so the rows whose ordinal
    // changes are parked out of the way first.
    diesel::sql_query(
        "WITH catalog AS (SELECT * FROM unnest($1::TEXT[], $2::INTEGER[], $3::INTEGER[], $4::INTEGER[], $5::BOOLEAN[]) \
                            AS c (key, ordinal, target, xp, others_only)), \
              removed AS (DELETE FROM xp_quests q WHERE q.key <> ALL ($1::TEXT[])), \
              parked AS (UPDATE xp_quests q SET ordinal = -1 - q.ordinal \
                          WHERE q.key = ANY ($1::TEXT[]) \
                            AND NOT EXISTS (SELECT 1 FROM catalog c WHERE c.key = q.key AND c.ordinal = q.ordinal)) \
         SELECT 1",
    )
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Integer>, _>(&ordinals)
    .bind::<Array<Integer>, _>(&targets)
    .bind::<Array<Integer>, _>(&xp)
    .bind::<Array<Bool>, _>(&others_only)
    .execute(connection)
    .await?;
    diesel::sql_query(
        "INSERT INTO xp_quests (key, ordinal, target, xp, others_only) \
         SELECT * FROM unnest($1::TEXT[], $2::INTEGER[], $3::INTEGER[], $4::INTEGER[], $5::BOOLEAN[]) \
         ON CONFLICT (key) DO UPDATE SET ordinal = EXCLUDED.ordinal, target = EXCLUDED.target, \
                xp = EXCLUDED.xp, others_only = EXCLUDED.others_only \
          WHERE (xp_quests.ordinal, xp_quests.target, xp_quests.xp, xp_quests.others_only) \
                IS DISTINCT FROM (EXCLUDED.ordinal, EXCLUDED.target, EXCLUDED.xp, EXCLUDED.others_only)",
    )
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Integer>, _>(&ordinals)
    .bind::<Array<Integer>, _>(&targets)
    .bind::<Array<Integer>, _>(&xp)
    .bind::<Array<Bool>, _>(&others_only)
    .execute(connection)
    .await?;
    Ok(())
}

/// What an award of `action` pays now (its tuned amount, else the default); None for
/// CUSTOM, whose caller gives the amount.
pub async fn current_xp(
    connection: &mut AsyncPgConnection,
    action: XpAction,
) -> Result<Option<i32>, AppError> {
    #[derive(diesel::QueryableByName)]
    struct Amount {
        #[diesel(sql_type = Nullable<Integer>)]
        xp: Option<i32>,
    }
    let row: Option<Amount> = diesel::sql_query("SELECT xp FROM xp_rules WHERE action = $1")
        .bind::<Text, _>(action.as_str())
        .get_result(connection)
        .await
        .optional()?;
    let row = row.ok_or_else(|| {
        AppError::Internal(format!(
            "xp_rules has no rule for {}; run storyxp migrate",
            action.as_str()
        ))
    })?;
    Ok(row.xp)
}
