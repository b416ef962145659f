//! The daily loop in the API: timezones (updateProfile), streaks and daily quests.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;

use super::context::{caller, connection, count_awards};
use super::user::{User, load_user};
use super::xp::XpAward;
use crate::domain::daily::{self, quests, streaks};
use crate::error::AppError;
use crate::xp::Award;
use crate::xp::rules::QuestKey;

/// A writer's streak of active days, each day their local date.
#[derive(SimpleObject)]
pub struct Streak {
    /// Consecutive active local dates, freezes bridging gaps; 0 once the streak can no
    /// longer continue (a gap longer than the freezes held).
    current: i32,
    /// The highest `current` ever.
    longest: i32,
    /// The last local date with an activity, `YYYY-MM-DD`; null before the first.
    last_active_date: Option<String>,
    /// Whether the user has been active on their local date today.
    active_today: bool,
    /// Streak freezes held (0 to 2): one earned each time `current` reaches a multiple
    /// of 7; a gap of k missed days spends k of them and keeps the streak.
    freezes: i32,
}

impl From<streaks::Streak> for Streak {
    fn from(streak: streaks::Streak) -> Self {
        Self {
            current: streak.current,
            longest: streak.longest,
            last_active_date: streak.last_active_date.map(|date| date.to_string()),
            active_today: streak.active_today,
            freezes: streak.freezes,
        }
    }
}

pub struct Quest(pub quests::Quest);

/// One of a writer's three daily quests of a local date.
#[Object]
impl Quest {
    /// Which quest of the catalog.
    async fn key(&self) -> QuestKey {
        self.0.key
    }
    /// What to do, ready to show, such as "Like 3 stories by other writers".
    async fn description(&self) -> &'static str {
        self.0.key.quest().description
    }
    /// How many actions complete it.
    async fn target(&self) -> i32 {
        self.0.target
    }
    /// Actions counted so far on the quest's date (at most target).
    async fn progress(&self) -> i32 {
        self.0.progress
    }
    /// progress >= target: claimQuestReward pays it.
    async fn completed(&self) -> bool {
        self.0.completed()
    }
    /// Whether its reward was claimed.
    async fn claimed(&self) -> bool {
        self.0.claimed_at.is_some()
    }
    /// What claiming it pays (QUEST_COMPLETED).
    async fn xp(&self) -> i32 {
        self.0.xp
    }
    /// The local date it belongs to, `YYYY-MM-DD`.
    async fn date(&self) -> String {
        self.0.date.to_string()
    }
}

/// The daily-loop fields of a user (see `User` in user.rs).
pub async fn streak_of(ctx: &Context<'_>, user: i64) -> Result<Streak, AppError> {
    let mut connection = connection(ctx).await?;
    streaks::streak(&mut connection, user)
        .await?
        .map(Streak::from)
        .ok_or_else(|| AppError::not_found("user"))
}

pub async fn timezone_of(ctx: &Context<'_>, user: i64) -> Result<String, AppError> {
    let mut connection = connection(ctx).await?;
    daily::timezone(&mut connection, user).await
}

pub async fn daily_quests_of(ctx: &Context<'_>, user: i64) -> Result<Option<Vec<Quest>>, AppError> {
    if caller(ctx).user_id() != Some(user) {
        return Ok(None);
    }
    let mut connection = connection(ctx).await?;
    let quests = quests::for_date(&mut connection, user, None).await?;
    Ok(Some(quests.into_iter().map(Quest).collect()))
}

/// The profile settings updateProfile changes.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// An IANA timezone name such as `Europe/Berlin` or `America/New_York` (default of
    /// every account: `UTC`). Every date rule (streaks, quests, caps) uses the local date
    /// in it. It changes at most once per 24 hours; an unknown zone, or a second change
    /// inside 24 hours, is BAD_USER_INPUT.
    timezone: String,
}

/// The result of updateProfile.
#[derive(SimpleObject)]
pub struct UpdateProfilePayload {
    /// The caller, as updated.
    user: User,
}

/// The result of claimQuestReward.
#[derive(SimpleObject)]
pub struct ClaimQuestRewardPayload {
    /// The quest, now claimed.
    quest: Quest,
    /// What the claim earned: QUEST_COMPLETED (the quest's xp), plus DAILY_QUESTS_CLEARED
    /// (50) for the date's third claim and any achievement (QUEST_CHAMPION).
    xp_earned: XpAward,
}

/// A date argument: `YYYY-MM-DD`.
fn parse_date(date: &str) -> Result<NaiveDate, AppError> {
    NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::BadUserInput(format!(
            "`{}` is not a date: give YYYY-MM-DD, such as 2026-12-02",
            date.chars().take(32).collect::<String>()
        ))
    })
}

#[derive(Default)]
pub struct DailyMutation;

#[Object]
impl DailyMutation {
    /// Changes the caller's profile: their timezone. Signed in only (UNAUTHENTICATED).
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new settings.")] input: UpdateProfileInput,
    ) -> Result<UpdateProfilePayload, AppError> {
        let user = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        daily::set_timezone(&mut connection, user, &input.timezone).await?;
        drop(connection);
        let user = load_user(ctx, user)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        Ok(UpdateProfilePayload { user })
    }

    /// Claims the reward of one of the caller's completed daily quests, once:
    /// QUEST_COMPLETED pays the quest's xp, and claiming the last of a date's three also
    /// pays DAILY_QUESTS_CLEARED (50). A quest that is not the caller's on that date, not
    /// completed, or already claimed: BAD_USER_INPUT, nothing paid.
    async fn claim_quest_reward(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The quest to claim.")] key: QuestKey,
        #[graphql(desc = "Its local date, `YYYY-MM-DD`; null: the caller's current local date.")]
        date: Option<String>,
    ) -> Result<ClaimQuestRewardPayload, AppError> {
        let user = caller(ctx).require_user()?;
        let date = date.as_deref().map(parse_date).transpose()?;
        let mut connection = connection(ctx).await?;
        let claimed = quests::claim(&mut connection, user, key, date).await?;
        count_awards(ctx, &claimed.awards);
        let award = claimed
            .awards
            .into_iter()
            .reduce(Award::then)
            .ok_or_else(|| AppError::Internal("a quest claim paid nothing".into()))?;
        Ok(ClaimQuestRewardPayload {
            quest: Quest(claimed.quest),
            xp_earned: XpAward(award),
        })
    }
}
