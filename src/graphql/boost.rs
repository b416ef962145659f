//! XP boosts in the API: the public list, and admins' create and end.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, parse_id, request_now};
use crate::domain::boosts::{self, BoostRecord, NewBoost};
use crate::error::AppError;
use crate::xp::XpAction;

/// A boost as the API shows it.
pub struct XpBoost(pub BoostRecord);

/// A time-boxed XP multiplier for an event. Awards of its actions made at an instant
/// inside [startsAt, endsAt) pay round-half-up(base x multiplier); when boosts overlap,
/// the highest multiplier applies (they do not stack).
#[Object]
impl XpBoost {
    /// The boost's stable id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the event is called, such as "Writing Week".
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Above 1, at most 5, at most 2 decimals.
    async fn multiplier(&self) -> f64 {
        self.0.multiplier()
    }
    /// The actions it multiplies (every boostable action when created with none).
    async fn actions(&self) -> Vec<XpAction> {
        self.0.actions()
    }
    /// When it starts applying (included).
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    /// When it stops applying (excluded); endXpBoost moves it to the moment of ending.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }
    /// Whether it applies now.
    async fn active(&self, ctx: &Context<'_>) -> bool {
        self.0.active_at(request_now(ctx).unwrap_or_else(Utc::now))
    }
}

/// A new boost.
#[derive(InputObject)]
pub struct CreateXpBoostInput {
    /// 1 to 100 characters, trimmed.
    name: String,
    /// Above 1, at most 5, with at most 2 decimals (1.5, 2, 2.25).
    multiplier: f64,
    /// The boosted actions, each one of the first eight of xpRewards (STORY_CREATED to
    /// STORY_READ); empty: all eight.
    #[graphql(default)]
    actions: Vec<XpAction>,
    /// When it starts applying.
    starts_at: DateTime<Utc>,
    /// Later than startsAt, at most 31 days after it.
    ends_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct BoostQuery;

#[Object]
impl BoostQuery {
    /// The XP boosts, newest start first (at most 500); public. activeOnly: only those
    /// that apply now.
    async fn xp_boosts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false, desc = "Only the boosts that apply now.")] active_only: bool,
    ) -> Result<Vec<XpBoost>, AppError> {
        let mut connection = connection(ctx).await?;
        Ok(boosts::list(&mut connection, active_only)
            .await?
            .into_iter()
            .map(XpBoost)
            .collect())
    }
}

#[derive(Default)]
pub struct BoostMutation;

#[Object]
impl BoostMutation {
    /// Creates a boost; admins only (anyone else: FORBIDDEN). Every instance applies it
    /// from its start on. A multiplier out of range or with more than 2 decimals, a
    /// window reversed or longer than 31 days, an action that cannot be boosted:
    /// BAD_USER_INPUT, nothing stored.
    async fn create_xp_boost(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The boost's name, multiplier, actions and window.")]
        input: CreateXpBoostInput,
    ) -> Result<XpBoost, AppError> {
        let admin = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        let boost = boosts::create(
            &mut connection,
            admin,
            NewBoost {
                name: input.name,
                multiplier: input.multiplier,
                actions: input.actions,
                starts_at: input.starts_at,
                ends_at: input.ends_at,
            },
        )
        .await?;
        Ok(XpBoost(boost))
    }

    /// Ends a boost now: awards from now on pay without it (one that has not started
    /// never applies; one already over is returned as it is). Admins only (FORBIDDEN);
    /// an unknown id: NOT_FOUND.
    async fn end_xp_boost(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The boost's id.")] id: ID,
    ) -> Result<XpBoost, AppError> {
        let admin = caller(ctx).require_user()?;
        let id = parse_id(&id, "boost")?;
        let mut connection = connection(ctx).await?;
        Ok(XpBoost(boosts::end(&mut connection, admin, id).await?))
    }
}
