//! Friendships: a request each way makes friends; both earn FRIEND_ADDED once per pair, ever.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::friend_requests;
use crate::domain::accounts::{self, UserRecord};
use crate::error::AppError;
use crate::xp::activity::lock_users;
use crate::xp::rules::{Activity, Subject};
use crate::xp::{Award, AwardRequest, XpAction, award, record_activity};

/// Where a friendship stands after addFriend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum FriendshipStatus {
    /// The caller asked; the other user has not asked back yet.
    Pending,
    /// Both asked: friends.
    Friends,
}

pub struct FriendOutcome {
    pub user: UserRecord,
    pub status: FriendshipStatus,
    /// The caller's award.
    pub award: Option<Award>,
    /// The other user's award (the same action, made in the same transaction).
    pub friend_award: Option<Award>,
}

/// Serialises everything that changes the friendship of one pair.
async fn lock_pair(connection: &mut AsyncPgConnection, a: i64, b: i64) -> Result<(), AppError> {
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended('friends:' || $1 || ':' || $2, 0))",
    )
    .bind::<BigInt, _>(a.min(b))
    .bind::<BigInt, _>(a.max(b))
    .execute(connection)
    .await?;
    Ok(())
}

async fn target(
    connection: &mut AsyncPgConnection,
    caller: i64,
    other: i64,
) -> Result<UserRecord, AppError> {
    if caller == other {
        return Err(AppError::BadUserInput(
            "you cannot add yourself as a friend".into(),
        ));
    }
    accounts::find(connection, other)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

pub async fn add(
    connection: &mut AsyncPgConnection,
    caller: i64,
    other: i64,
) -> Result<FriendOutcome, AppError> {
    connection
        .transaction(async move |connection| {
            let user = target(connection, caller, other).await?;
            lock_pair(connection, caller, other).await?;
            diesel::insert_into(friend_requests::table)
                .values((
                    friend_requests::requester_id.eq(caller),
                    friend_requests::addressee_id.eq(other),
                ))
                .on_conflict_do_nothing()
                .execute(connection)
                .await?;
            let asked_back: bool = diesel::select(diesel::dsl::exists(
                friend_requests::table.find((other, caller)),
            ))
            .get_result(connection)
            .await?;
            lock_users(connection, &[caller, other]).await?;
            let bonus = record_activity(connection, caller, Activity::AddFriend).await?;
            if !asked_back {
                return Ok(FriendOutcome {
                    user,
                    status: FriendshipStatus::Pending,
                    award: bonus,
                    friend_award: None,
                });
            }
            // Both earn once per pair, ever; lock user rows in id order against deadlocks.
            let (mut caller_award, mut friend_award) = (None, None);
            let mut pair = [caller, other];
            pair.sort_unstable();
            for recipient in pair {
                let friend = if recipient == caller { other } else { caller };
                let earned = award(
                    connection,
                    AwardRequest::new(recipient, XpAction::FriendAdded, Subject::User(friend)),
                )
                .await?;
                if recipient == caller {
                    caller_award = earned;
                } else {
                    friend_award = earned;
                }
            }
            Ok(FriendOutcome {
                user,
                status: FriendshipStatus::Friends,
                award: Award::combine(bonus, caller_award),
                friend_award,
            })
        })
        .await
}

/// Ends the friendship (or the request) for both; XP earned stays.
pub async fn remove(
    connection: &mut AsyncPgConnection,
    caller: i64,
    other: i64,
) -> Result<UserRecord, AppError> {
    connection
        .transaction(async move |connection| {
            let user = target(connection, caller, other).await?;
            lock_pair(connection, caller, other).await?;
            diesel::delete(
                friend_requests::table.filter(
                    (friend_requests::requester_id
                        .eq(caller)
                        .and(friend_requests::addressee_id.eq(other)))
                    .or(friend_requests::requester_id
                        .eq(other)
                        .and(friend_requests::addressee_id.eq(caller))),
                ),
            )
            .execute(connection)
            .await?;
            Ok(user)
        })
        .await
}

/// The ids of the user's mutual friends.
pub async fn friend_ids(
    connection: &mut AsyncPgConnection,
    user: i64,
) -> Result<Vec<i64>, AppError> {
    let (mine, theirs) = diesel::alias!(friend_requests as mine, friend_requests as theirs);
    Ok(mine
        .inner_join(
            theirs.on(theirs
                .field(friend_requests::requester_id)
                .eq(mine.field(friend_requests::addressee_id))
                .and(
                    theirs
                        .field(friend_requests::addressee_id)
                        .eq(mine.field(friend_requests::requester_id)),
                )),
        )
        .filter(mine.field(friend_requests::requester_id).eq(user))
        .select(mine.field(friend_requests::addressee_id))
        .load(connection)
        .await?)
}

/// Those of `users` who are a mutual friend of another of `users`, in ascending order.
pub async fn friends_among(
    connection: &mut AsyncPgConnection,
    users: &[i64],
) -> Result<Vec<i64>, AppError> {
    let (mine, theirs) = diesel::alias!(friend_requests as mine, friend_requests as theirs);
    let mut ids: Vec<i64> = mine
        .inner_join(
            theirs.on(theirs
                .field(friend_requests::requester_id)
                .eq(mine.field(friend_requests::addressee_id))
                .and(
                    theirs
                        .field(friend_requests::addressee_id)
                        .eq(mine.field(friend_requests::requester_id)),
                )),
        )
        .filter(mine.field(friend_requests::requester_id).eq_any(users))
        .filter(mine.field(friend_requests::addressee_id).eq_any(users))
        .select(mine.field(friend_requests::requester_id))
        .distinct()
        .load(connection)
        .await?;
    ids.sort_unstable();
    Ok(ids)
}
