//! The daily loop's side of every action: the actor's streak and daily quests, moved in
//! the action's transaction by one call of the SQL function `xp_activity`
//! (migrations/), which reads the rules from `xp_settings` and `xp_quests`.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::award::{AchievementCandidates, Award, AwardRow, AwardSql, award_from_row};
use super::rules::{Activity, XpAction};
use crate::error::AppError;

struct ActivityCall {
    user: i64,
    quest: Option<&'static str>,
    subject: Option<String>,
    own_story: bool,
    candidates: AchievementCandidates,
}

impl QueryId for ActivityCall {
    type QueryId = ActivityCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for ActivityCall {
    type SqlType = AwardSql;
}

impl QueryFragment<Pg> for ActivityCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, entries FROM xp_activity(",
        );
        out.push_bind_param::<BigInt, _>(&self.user)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.quest)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.own_story)?;
        out.push_sql(", ");
        self.candidates.push_bind(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The candidates every streak bonus passes (WEEK_STREAK, MONTH_STREAK, levels).
pub(crate) fn streak_candidates() -> AchievementCandidates {
    AchievementCandidates::for_action(XpAction::StreakBonus)
}

/// Records `activity` by `user` inside the action's transaction: the date's first
/// activity makes its quests and moves the streak (paying STREAK_BONUS from day 2), and
/// the activity's quest advances. Returns the streak bonus, if this call paid one.
/// Lock order: it locks the user's row only on the date's first activity; callers that
/// also award other users lock every row involved first, in id order (`lock_users`).
pub async fn record(
    connection: &mut AsyncPgConnection,
    user: i64,
    activity: Activity,
) -> Result<Option<Award>, AppError> {
    let story = activity.story();
    let call = ActivityCall {
        user,
        quest: activity.quest().map(|quest| quest.as_str()),
        subject: story.map(|(story, _)| story.to_string()),
        own_story: story.is_some_and(|(_, own)| own),
        candidates: streak_candidates(),
    };
    let row: Option<AwardRow> = call.get_result(connection).await.optional()?;
    Ok(row.map(|row| award_from_row(user, XpAction::StreakBonus, row)))
}

/// Locks the rows of `users` in ascending id order (FOR NO KEY UPDATE, the lock an
/// award takes), so a transaction that moves the actor's streak and awards others
/// cannot deadlock with another doing the same the other way round.
pub async fn lock_users(connection: &mut AsyncPgConnection, users: &[i64]) -> Result<(), AppError> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    diesel::sql_query("SELECT 1 FROM users WHERE id = ANY ($1) ORDER BY id FOR NO KEY UPDATE")
        .bind::<Array<BigInt>, _>(users)
        .execute(connection)
        .await?;
    Ok(())
}
