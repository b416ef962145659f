//! XP types of the API: awards, the rules table, achievements and ledger entries.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::AppError;
use crate::xp::Award;
use crate::xp::ledger::LedgerEntry;
use crate::xp::rules::{AchievementKey, XpAction, achievements, rules};

/// The result of one award to one user.
pub struct XpAward(pub Award);

/// What one call earned one user: the action's award plus the bonus of every achievement
/// it unlocked, and where that left the user.
#[Object]
impl XpAward {
    /// The action of the call's own table award; for an award without one (a streak
    /// bonus alone, a quest claim) the action of its first entry.
    async fn action(&self) -> XpAction {
        self.0.action
    }
    /// Everything this call earned the user: the action's amount, the achievements' XP,
    /// and the STREAK_BONUS when the call was the first activity of a local date.
    async fn xp_gained(&self) -> i32 {
        self.0.xp_gained
    }
    /// The user's experiencePoints after the call.
    async fn total_xp(&self) -> i32 {
        self.0.total_xp
    }
    /// The user's level after the call.
    async fn level(&self) -> i32 {
        self.0.level
    }
    /// Whether this call raised the user's level (by one level or several).
    async fn leveled_up(&self) -> bool {
        self.0.leveled_up()
    }
    /// The achievements this call unlocked (each paid its xp, counted in xpGained);
    /// empty when none.
    async fn achievements(&self) -> Vec<Achievement> {
        self.0
            .achievements
            .iter()
            .map(|key| Achievement::earned(*key, self.0.awarded_at))
            .collect()
    }
    /// The ledger entries this call wrote for the user, in the order written (a streak
    /// bonus, the action's award, each achievement's); their xpGained add up to this
    /// award's xpGained.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<XpEvent>, AppError> {
        if self.0.entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = super::context::connection(ctx).await?;
        let entries = crate::xp::ledger::entries(&mut connection, &self.0.entries).await?;
        Ok(entries.into_iter().map(XpEvent).collect())
    }
}

impl XpReward {
    /// `rule`'s row, paying `xp` (what xp_rules says now; None for CUSTOM).
    pub fn new(rule: &crate::xp::rules::XpRule, xp: Option<i32>) -> Self {
        XpReward {
            action: rule.action,
            xp: xp.unwrap_or(0),
            description: rule.description.to_string(),
            daily_limit: rule.daily_limit,
        }
    }
}

/// One row of the XP rules table.
#[derive(SimpleObject)]
pub struct XpReward {
    /// The action this row prices.
    action: XpAction,
    /// XP per award now (admins tune it with setXpReward); 0 for CUSTOM, whose amount
    /// is set per award.
    xp: i32,
    /// What earns it and how often, in English, ready to show.
    description: String,
    /// At most this many awards of the action are paid per user and local date (past
    /// it the action succeeds and earns nothing, then or ever); null: no cap.
    daily_limit: Option<i32>,
}

pub struct Achievement {
    key: AchievementKey,
    earned_at: Option<DateTime<Utc>>,
}

impl Achievement {
    pub fn earned(key: AchievementKey, earned_at: DateTime<Utc>) -> Self {
        Self {
            key,
            earned_at: Some(earned_at),
        }
    }
}

/// An achievement: from the catalog (`achievements`, earnedAt null) or as a user earned it
/// (earnedAt set). Each is earned once per user and pays 30 XP.
#[Object]
impl Achievement {
    /// Which achievement; match on this, not on name.
    async fn key(&self) -> AchievementKey {
        self.key
    }
    /// The display name, such as "First Story".
    async fn name(&self) -> &'static str {
        self.key.achievement().name
    }
    /// How to earn it, ready to show, such as "Create your first story".
    async fn description(&self) -> &'static str {
        self.key.achievement().description
    }
    /// The XP it pays when earned (the first wave's ten: 30, ACHIEVEMENT_EARNED's
    /// amount).
    async fn xp(&self) -> i32 {
        self.key
            .achievement()
            .xp
            .or(XpAction::AchievementEarned.xp())
            .unwrap_or_default()
    }
    /// When the user earned it; null in the catalog.
    async fn earned_at(&self) -> Option<DateTime<Utc>> {
        self.earned_at
    }
}

/// One ledger entry: XP a user earned.
pub struct XpEvent(pub LedgerEntry);

/// One entry of a user's XP ledger: the XP of one award (an achievement's bonus is an entry
/// of its own). Entries are never changed or removed.
#[Object]
impl XpEvent {
    /// The entry's stable id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the XP was for.
    async fn action(&self) -> Result<XpAction, AppError> {
        XpAction::from_name(&self.0.action).ok_or_else(|| {
            AppError::Internal(format!("ledger entry {} has no known action", self.0.id))
        })
    }
    /// The XP this entry added: at least 1 (with a boost, baseXp times the multiplier,
    /// rounded half up).
    async fn xp_gained(&self) -> i32 {
        self.0.amount
    }
    /// What the action paid before any boost (xpGained when there was none).
    async fn base_xp(&self) -> i32 {
        self.0.base_amount.unwrap_or(self.0.amount)
    }
    /// The boost's multiplier; 1.0 when none applied.
    async fn multiplier(&self) -> f64 {
        f64::from(self.0.multiplier_hundredths) / 100.0
    }
    /// The boost that multiplied this entry; null when none did.
    async fn boost(&self, ctx: &Context<'_>) -> Result<Option<super::boost::XpBoost>, AppError> {
        let Some(id) = self.0.boost_id else {
            return Ok(None);
        };
        let mut connection = super::context::connection(ctx).await?;
        Ok(crate::domain::boosts::find_many(&mut connection, &[id])
            .await?
            .into_iter()
            .next()
            .map(super::boost::XpBoost))
    }
    /// Why, when it was recorded: the admin's reason of an awardXp, "Achievement
    /// unlocked: NAME" for ACHIEVEMENT_EARNED; null otherwise.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it was earned.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct XpQuery;

#[Object]
impl XpQuery {
    /// The XP rules table: what each action is worth, one row per XpAction. Public.
    async fn xp_rewards(&self, ctx: &Context<'_>) -> Result<Vec<XpReward>, AppError> {
        let mut connection = super::context::connection(ctx).await?;
        let in_force = crate::domain::balance::amounts_in_force(&mut connection).await?;
        rules()
            .map(|rule| {
                let xp = in_force
                    .iter()
                    .find(|(action, _)| action == rule.name)
                    .map(|(_, xp)| *xp)
                    .ok_or_else(|| {
                        AppError::Internal(format!(
                            "xp_rules has no rule for {}; run storyxp migrate",
                            rule.name
                        ))
                    })?;
                Ok(XpReward::new(rule, xp))
            })
            .collect()
    }

    /// The achievement catalog, every achievement there is, in display order, with
    /// earnedAt null. Public.
    async fn achievements(&self, _ctx: &Context<'_>) -> Vec<Achievement> {
        achievements()
            .map(|achievement| Achievement {
                key: achievement.key,
                earned_at: None,
            })
            .collect()
    }
}
