//! What admins may do: award XP by hand, and who is an admin.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{admin_actions, users};
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
            let action = award_request.action;
            let earned = award(connection, award_request).await?.ok_or_else(|| {
                AppError::Internal("an undeduplicated award was refused as a repeat".into())
            })?;
            record(
                connection,
                Some(admin),
                AdminActionKind::AwardXp,
                Some(request.user),
                format!("{} +{} XP", action.as_str(), earned.xp_gained),
            )
            .await?;
            Ok(earned)
        })
        .await
}

/// What an admin did (`adminActions.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AdminActionKind {
    /// awardXp.
    AwardXp,
    /// setXpReward.
    SetXpReward,
    /// createXpBoost.
    CreateXpBoost,
    /// endXpBoost (of a boost not yet over).
    EndXpBoost,
    /// repairStreak.
    RepairStreak,
    /// The command line's grant-admin.
    GrantAdmin,
    /// The command line's grant-admin --revoke.
    RevokeAdmin,
}

impl AdminActionKind {
    const ALL: [AdminActionKind; 7] = [
        AdminActionKind::AwardXp,
        AdminActionKind::SetXpReward,
        AdminActionKind::CreateXpBoost,
        AdminActionKind::EndXpBoost,
        AdminActionKind::RepairStreak,
        AdminActionKind::GrantAdmin,
        AdminActionKind::RevokeAdmin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AdminActionKind::AwardXp => "AWARD_XP",
            AdminActionKind::SetXpReward => "SET_XP_REWARD",
            AdminActionKind::CreateXpBoost => "CREATE_XP_BOOST",
            AdminActionKind::EndXpBoost => "END_XP_BOOST",
            AdminActionKind::RepairStreak => "REPAIR_STREAK",
            AdminActionKind::GrantAdmin => "GRANT_ADMIN",
            AdminActionKind::RevokeAdmin => "REVOKE_ADMIN",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == code)
    }
}

/// Records an admin action in the audit trail (`admin`: None for the command line).
/// Call it in the action's own transaction, so the trail never misses nor invents one.
pub async fn record(
    connection: &mut AsyncPgConnection,
    admin: Option<i64>,
    kind: AdminActionKind,
    target: Option<i64>,
    detail: String,
) -> Result<(), AppError> {
    diesel::insert_into(admin_actions::table)
        .values((
            admin_actions::admin_id.eq(admin),
            admin_actions::kind.eq(kind.as_str()),
            admin_actions::target_id.eq(target),
            admin_actions::detail.eq(detail),
        ))
        .execute(connection)
        .await?;
    Ok(())
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_actions, check_for_backend(diesel::pg::Pg))]
pub struct AdminActionRecord {
    pub id: i64,
    pub admin_id: Option<i64>,
    pub kind: String,
    pub target_id: Option<i64>,
    pub detail: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A page of the audit trail, newest first, after the entry `after`; admins only.
pub async fn actions(
    connection: &mut AsyncPgConnection,
    admin: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<AdminActionRecord>, AppError> {
    require_admin(connection, admin).await?;
    let mut query = admin_actions::table
        .select(AdminActionRecord::as_select())
        .order(admin_actions::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(admin_actions::id.lt(after));
    }
    Ok(query.load(connection).await?)
}

/// Grants (or revokes) admin rights; an error names an unknown username.
pub async fn set_admin(
    connection: &mut AsyncPgConnection,
    username: &str,
    is_admin: bool,
) -> Result<(), AppError> {
    let username = username.to_string();
    connection
        .transaction(async move |connection| {
            let changed: Option<i64> = diesel::update(users::table)
                .filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("lower(username) = lower(")
                        .bind::<diesel::sql_types::Text, _>(username.clone())
                        .sql(")"),
                )
                .set(users::is_admin.eq(is_admin))
                .returning(users::id)
                .get_result(connection)
                .await
                .optional()?;
            let Some(user) = changed else {
                return Err(AppError::NotFound(format!(
                    "there is no user named {username}"
                )));
            };
            let kind = if is_admin {
                AdminActionKind::GrantAdmin
            } else {
                AdminActionKind::RevokeAdmin
            };
            record(
                connection,
                None,
                kind,
                Some(user),
                format!("{username} (command line)"),
            )
            .await
        })
        .await
}
