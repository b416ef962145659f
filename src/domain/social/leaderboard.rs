//! Leaderboards: users by XP (then username), ties sharing a rank (1, 2, 2, 4).

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::accounts::UserRecord;
use crate::error::AppError;

/// Whom a leaderboard ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum LeaderboardScope {
    /// Everyone.
    Global,
    /// The caller and their mutual friends.
    Friends,
}

#[derive(QueryableByName)]
pub struct LeaderboardRow {
    #[diesel(sql_type = BigInt)]
    pub rank: i64,
    #[diesel(embed)]
    pub user: UserRecord,
}

const COLUMNS: &str = "id, username, email, experience_points, level, is_admin, created_at";

/// The top `limit` users. The global board walks `users_leaderboard_idx` (XP, then
/// username: the board's whole order) and stops after `limit` rows, however many users
/// there are and however many share an XP total; the friends board fetches the caller's
/// and their mutual friends' rows by key and sorts those.
///
/// The ranks are computed over the `limit` rows alone, and are the global ones: a user's
/// rank is one more than the number of users with more XP, and all of those come before
/// them in the board's order, so they are among the rows taken. (A window over the whole
/// table instead made PostgreSQL read up to the end of the first page's last XP total:
/// 1.4 s on a million users of whom 80,000 shared the top total.)
pub async fn top(
    connection: &mut AsyncPgConnection,
    scope: LeaderboardScope,
    caller: Option<i64>,
    limit: i64,
) -> Result<Vec<LeaderboardRow>, AppError> {
    let members = match scope {
        LeaderboardScope::Global => "",
        LeaderboardScope::Friends => {
            "WHERE id IN (SELECT $2 UNION ALL SELECT mine.addressee_id FROM friend_requests mine \
             JOIN friend_requests theirs ON theirs.requester_id = mine.addressee_id \
             AND theirs.addressee_id = mine.requester_id WHERE mine.requester_id = $2)"
        }
    };
    let query = format!(
        "SELECT {COLUMNS}, rank() OVER (ORDER BY experience_points DESC) AS rank \
         FROM (SELECT {COLUMNS} FROM users {members} \
               ORDER BY experience_points DESC, username LIMIT $1) page \
         ORDER BY experience_points DESC, username"
    );
    Ok(diesel::sql_query(query)
        .bind::<BigInt, _>(limit)
        .bind::<Nullable<BigInt>, _>(caller)
        .load(connection)
        .await?)
}
