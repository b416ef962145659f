//! XP types of the API: awards, the rules table, achievements and ledger entries.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::xp::Award;
use crate::xp::ledger::LedgerEntry;
use crate::xp::rules::{ACHIEVEMENTS, AchievementKey, RULES, XpAction};

/// The result of one award to one user.
pub struct XpAward(pub Award);

#[Object]
impl XpAward {
    async fn action(&self) -> XpAction {
        self.0.action
    }
    /// Everything this call earned the user: the action's amount plus 30 per achievement it unlocked.
    async fn xp_gained(&self) -> i32 {
        self.0.xp_gained
    }
    /// The user's total after the call.
    async fn total_xp(&self) -> i32 {
        self.0.total_xp
    }
    async fn level(&self) -> i32 {
        self.0.level
    }
    /// Whether this call raised the level.
    async fn leveled_up(&self) -> bool {
        self.0.leveled_up()
    }
    /// The achievements this call unlocked.
    async fn achievements(&self) -> Vec<Achievement> {
        self.0
            .achievements
            .iter()
            .map(|key| Achievement::earned(*key, self.0.awarded_at))
            .collect()
    }
}

/// One row of the XP rules table.
#[derive(SimpleObject)]
pub struct XpReward {
    action: XpAction,
    /// XP per award; 0 for CUSTOM, whose amount is set per award.
    xp: i32,
    description: String,
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

#[Object]
impl Achievement {
    async fn key(&self) -> AchievementKey {
        self.key
    }
    async fn name(&self) -> &'static str {
        self.key.achievement().name
    }
    async fn description(&self) -> &'static str {
        self.key.achievement().description
    }
    /// When the user earned it; null in the catalog.
    async fn earned_at(&self) -> Option<DateTime<Utc>> {
        self.earned_at
    }
}

/// One ledger entry: XP a user earned.
pub struct XpEvent(pub LedgerEntry);

#[Object]
impl XpEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn action(&self) -> XpAction {
        XpAction::from_name(&self.0.action).unwrap_or(XpAction::Custom)
    }
    async fn xp_gained(&self) -> i32 {
        self.0.amount
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct XpQuery;

#[Object]
impl XpQuery {
    /// What each action is worth.
    async fn xp_rewards(&self) -> Vec<XpReward> {
        RULES
            .iter()
            .map(|rule| XpReward {
                action: rule.action,
                xp: rule.xp.unwrap_or(0),
                description: rule.description.to_string(),
            })
            .collect()
    }

    /// Every achievement there is.
    async fn achievements(&self, _ctx: &Context<'_>) -> Vec<Achievement> {
        ACHIEVEMENTS
            .iter()
            .map(|achievement| Achievement {
                key: achievement.key,
                earned_at: None,
            })
            .collect()
    }
}
