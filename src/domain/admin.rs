//! What admins may do: award XP by hand, and who is an admin.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::users;
use crate::domain::accounts;
use crate::error::AppError;
use crate::xp::rules::Subject;
use crate::xp::{Award, AwardRequest, XpAction, award};

pub const AMOUNT_RANGE: std::ops::RangeInclusive<i32> = 1..=10_000;
pub const REASON_MAX_CHARS: usize = 500;

pub struct ManualAward {
    pub user: i64,
    pub action: XpAction,
    pub amount: Option<i32>,
    pub reason: Option<String>,
    pub notify: bool,
}

pub async fn require_admin(
    connection: &mut AsyncPgConnection,
    caller: i64,
) -> Result<(), AppError> {
    match accounts::find(connection, caller).await? {
        Some(user) if user.is_admin => Ok(()),
        _ => Err(AppError::Forbidden("only admins can do this".into())),
    }
}

/// An admin's award: never deduplicated, every call counts.
pub async fn award_manually(
    connection: &mut AsyncPgConnection,
    admin: i64,
    request: ManualAward,
) -> Result<Award, AppError> {
    require_admin(connection, admin).await?;
    if request.amount.is_none() && request.action.xp().is_none() {
        return Err(AppError::BadUserInput(format!(
            "an amount is required for {} awards",
            request.action.as_str()
        )));
    }
    // Without an amount, award_xp pays what xp_rules says the action pays now.
    if request
        .amount
        .is_some_and(|amount| !AMOUNT_RANGE.contains(&amount))
    {
        return Err(AppError::BadUserInput(format!(
            "amount must be between {} and {}",
            AMOUNT_RANGE.start(),
            AMOUNT_RANGE.end()
        )));
    }
    let reason = request
        .reason
        .map(|reason| reason.trim().to_string())
        .filter(|reason| !reason.is_empty());
    if reason
        .as_ref()
        .is_some_and(|reason| reason.chars().count() > REASON_MAX_CHARS)
    {
        return Err(AppError::BadUserInput(format!(
            "reason is at most {REASON_MAX_CHARS} characters"
        )));
    }
    connection
        .transaction(async move |connection| {
            accounts::find(connection, request.user)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
            let award_request = AwardRequest {
                recipient: request.user,
                action: request.action,
                subject: Subject::Unique,
                amount: request.amount,
                reason,
                notify: request.notify,
                // An admin's award is never capped (nor deduplicated).
                caps: false,
            };
            award(connection, award_request).await?.ok_or_else(|| {
                AppError::Internal("an undeduplicated award was refused as a repeat".into())
            })
        })
        .await
}

/// Grants (or revokes) admin rights; an error names an unknown username.
pub async fn set_admin(
    connection: &mut AsyncPgConnection,
    username: &str,
    is_admin: bool,
) -> Result<(), AppError> {
    let changed = diesel::update(users::table)
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(username) = lower(")
                .bind::<diesel::sql_types::Text, _>(username)
                .sql(")"),
        )
        .set(users::is_admin.eq(is_admin))
        .execute(connection)
        .await?;
    if changed == 0 {
        return Err(AppError::NotFound(format!(
            "there is no user named {username}"
        )));
    }
    Ok(())
}
