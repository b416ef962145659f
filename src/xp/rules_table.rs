//! The rules in the database: the SQL award functions read amounts, recipients and the
//! own-story rule from `xp_rules` and levels from `xp_level()`; both are written here
//! from `xp/rules.rs` and `xp/level.rs` at every migrate (`db::setup::migrate`).

use diesel::sql_types::{Array, Bool, Integer, Nullable, Text};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::level::XP_PER_LEVEL;
use super::rules::{XpAction, rules};
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
    diesel::sql_query(
        "INSERT INTO xp_rules (action, default_xp, recipient, pays_on_own_story) \
         SELECT * FROM unnest($1::TEXT[], $2::INTEGER[], $3::TEXT[], $4::BOOLEAN[]) \
         ON CONFLICT (action) DO UPDATE \
            SET default_xp = EXCLUDED.default_xp, recipient = EXCLUDED.recipient, \
                pays_on_own_story = EXCLUDED.pays_on_own_story \
          WHERE (xp_rules.default_xp, xp_rules.recipient, xp_rules.pays_on_own_story) \
                IS DISTINCT FROM (EXCLUDED.default_xp, EXCLUDED.recipient, EXCLUDED.pays_on_own_story)",
    )
    .bind::<Array<Text>, _>(actions)
    .bind::<Array<Nullable<Integer>>, _>(amounts)
    .bind::<Array<Text>, _>(recipients)
    .bind::<Array<Bool>, _>(own_story)
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
