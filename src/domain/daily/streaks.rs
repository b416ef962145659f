//! Reading a streak as of the clock's instant.

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Integer, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::AppError;
use crate::xp::rules::STREAK;

/// A user's streak as the contract shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    /// 0 once the streak can no longer continue.
    pub current: i32,
    pub longest: i32,
    pub last_active_date: Option<NaiveDate>,
    pub active_today: bool,
    pub freezes: i32,
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    current: i32,
    #[diesel(sql_type = Integer)]
    longest: i32,
    #[diesel(sql_type = Nullable<Date>)]
    last: Option<NaiveDate>,
    #[diesel(sql_type = Integer)]
    freezes: i32,
    #[diesel(sql_type = Date)]
    today: NaiveDate,
}

/// The user's streak on their local date now; None: no such user.
pub async fn streak(
    connection: &mut AsyncPgConnection,
    user: i64,
) -> Result<Option<Streak>, AppError> {
    use diesel::OptionalExtension;
    let row: Option<Row> = diesel::sql_query(
        "SELECT streak_current AS current, streak_longest AS longest, streak_last_date AS last, \
                streak_freezes AS freezes, xp_local_date(timezone) AS today \
           FROM users WHERE id = $1",
    )
    .bind::<BigInt, _>(user)
    .get_result(connection)
    .await
    .optional()?;
    Ok(row.map(|row| Streak {
        current: STREAK.shown_current(row.current, row.last, row.freezes, row.today),
        longest: row.longest,
        last_active_date: row.last,
        active_today: row.last.is_some_and(|last| last >= row.today),
        freezes: row.freezes,
    }))
}
