//! Balancing the economy in the API (admins): tuned rewards, their changes, streak
//! repairs and the audit trail of every admin action.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, parse_id};
use super::pagination::{IdCursor, PageRequest};
use super::user::{User, load_user};
use super::xp::XpReward;
use crate::domain::admin::{self, AdminActionKind, AdminActionRecord};
use crate::domain::balance::{self, RewardChange, StreakRepair};
use crate::error::AppError;
use crate::xp::XpAction;

/// A reward changed by setXpReward.
pub struct XpRewardChange(pub RewardChange);

/// One change of a reward: what the action paid before and after, who changed it, when.
#[Object]
impl XpRewardChange {
    /// The action whose reward changed.
    async fn action(&self) -> Result<XpAction, AppError> {
        XpAction::from_code(&self.0.action)
            .ok_or_else(|| AppError::Internal(format!("unknown action {}", self.0.action)))
    }
    /// What it paid before.
    async fn previous_xp(&self) -> i32 {
        self.0.previous_xp
    }
    /// What it pays from the change on.
    async fn xp(&self) -> i32 {
        self.0.xp
    }
    /// When.
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    /// The admin who changed it.
    async fn changed_by(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        load_user(ctx, self.0.changed_by).await
    }
}

/// One entry of the audit trail.
pub struct AdminAction(pub AdminActionRecord);

/// Something an admin did: awardXp, setXpReward, createXpBoost, endXpBoost,
/// repairStreak, or the command line's grant-admin.
#[Object]
impl AdminAction {
    /// The entry's stable id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The admin; null for the command line (grant-admin).
    async fn admin(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.admin_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What was done.
    async fn kind(&self) -> Result<AdminActionKind, AppError> {
        AdminActionKind::from_code(&self.0.kind)
            .ok_or_else(|| AppError::Internal(format!("unknown admin action {}", self.0.kind)))
    }
    /// The user it was done to; null when none (a reward, a boost).
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.target_id {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What, in words: "STORY_LIKED 5 -> 7", "CUSTOM +100 XP".
    async fn detail(&self) -> &str {
        &self.0.detail
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new reward.
#[derive(InputObject)]
pub struct SetXpRewardInput {
    /// One of the first eight actions of xpRewards (STORY_CREATED to STORY_READ).
    action: XpAction,
    /// 0 to 1000; 0 pays nothing.
    xp: i32,
}

/// An operator's streak repair.
#[derive(InputObject)]
pub struct RepairStreakInput {
    /// The user whose streak is restored.
    user_id: ID,
    /// The streak's days, 0 or more; above 0, lastActiveDate becomes the user's local
    /// date now.
    current: i32,
    /// Freezes held, 0 to 2.
    freezes: i32,
}

#[derive(Default)]
pub struct BalanceQuery;

#[Object]
impl BalanceQuery {
    /// Every setXpReward, newest first (at most 500); admins only (FORBIDDEN).
    async fn xp_reward_changes(&self, ctx: &Context<'_>) -> Result<Vec<XpRewardChange>, AppError> {
        let admin = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        Ok(balance::reward_changes(&mut connection, admin)
            .await?
            .into_iter()
            .map(XpRewardChange)
            .collect())
    }

    /// The audit trail of every admin action, newest first; admins only (FORBIDDEN).
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn admin_actions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries, 0 to 100 (null: 20); otherwise BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (`pageInfo.endCursor` of the previous page); null: \
                    from the newest. A string that is no cursor of ours: BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> Result<Connection<IdCursor, AdminAction>, AppError> {
        let admin_id = caller(ctx).require_user()?;
        let page = PageRequest::parse(first, after)?;
        let mut connection = connection(ctx).await?;
        let rows =
            admin::actions(&mut connection, admin_id, page.after, page.fetch_limit()).await?;
        Ok(page.connection(rows, |row| row.id, AdminAction))
    }
}

#[derive(Default)]
pub struct BalanceMutation;

#[Object]
impl BalanceMutation {
    /// Sets what an action pays from this call on, on every instance (awards read it in
    /// their own transaction); what was paid stays paid. Admins only (FORBIDDEN); an
    /// action that cannot be tuned or xp outside 0..=1000: BAD_USER_INPUT, nothing
    /// written. Recorded in xpRewardChanges and adminActions.
    async fn set_xp_reward(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The action and its new amount.")] input: SetXpRewardInput,
    ) -> Result<XpReward, AppError> {
        let admin = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        balance::set_reward(&mut connection, admin, input.action, input.xp).await?;
        Ok(XpReward::new(input.action.rule(), Some(input.xp)))
    }

    /// Restores a user's streak (broken by an outage or travel). Admins only
    /// (FORBIDDEN); current below 0 or freezes outside 0..=2: BAD_USER_INPUT; an unknown
    /// user: NOT_FOUND. Recorded in adminActions.
    async fn repair_streak(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose streak, and what it becomes.")] input: RepairStreakInput,
    ) -> Result<User, AppError> {
        let admin = caller(ctx).require_user()?;
        let user = parse_id(&input.user_id, "user")?;
        let mut connection = connection(ctx).await?;
        balance::repair_streak(
            &mut connection,
            admin,
            StreakRepair {
                user,
                current: input.current,
                freezes: input.freezes,
            },
        )
        .await?;
        load_user(ctx, user)
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }
}
