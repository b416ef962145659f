//! Users in the API: profiles with XP and level, signing up and logging in.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::character::Character;
use super::context::{caller, connection, parse_id, throttle_auth, token_keys};
use super::loaders::{loaders, shared_error};
use super::pagination::{IdCursor, PageRequest};
use super::xp::{Achievement, XpEvent};
use crate::accounts::{self, SignUp, UserRecord};
use crate::error::AppError;
use crate::sessions;
use crate::xp::{ledger, level};

pub struct User(pub UserRecord);

impl User {
    fn is_viewed_by_owner(&self, ctx: &Context<'_>) -> bool {
        caller(ctx).user_id() == Some(self.0.id)
    }
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Visible to the user themself only.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.is_viewed_by_owner(ctx)
            .then_some(self.0.email.as_str())
    }
    /// Total XP ever earned; never decreases.
    async fn experience_points(&self) -> i32 {
        self.0.experience_points
    }
    /// experiencePoints / 500 + 1.
    async fn level(&self) -> i32 {
        self.0.level
    }
    /// The total at which the next level starts.
    async fn xp_for_next_level(&self) -> i32 {
        level::xp_for_next_level(self.0.level)
    }
    /// XP earned inside the current level.
    async fn xp_progress(&self) -> i32 {
        level::xp_progress(self.0.experience_points)
    }
    /// Progress through the current level, in percent.
    async fn xp_progress_percentage(&self) -> f64 {
        level::xp_progress_percentage(self.0.experience_points)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Earned achievements, oldest first.
    async fn achievements(&self, ctx: &Context<'_>) -> Result<Vec<Achievement>, AppError> {
        let earned = loaders(ctx)?
            .achievements()
            .load_one(self.0.id)
            .await
            .map_err(shared_error)?;
        Ok(earned
            .unwrap_or_default()
            .into_iter()
            .map(|(key, earned_at)| Achievement::earned(key, earned_at))
            .collect())
    }
    /// Characters the user created, oldest first.
    async fn characters(&self, ctx: &Context<'_>) -> Result<Vec<Character>, AppError> {
        let characters = loaders(ctx)?
            .characters()
            .load_one(self.0.id)
            .await
            .map_err(shared_error)?;
        Ok(characters
            .unwrap_or_default()
            .into_iter()
            .map(Character)
            .collect())
    }
    /// The XP ledger, newest first. Visible to the user themself only.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn xp_history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<Connection<IdCursor, XpEvent>>, AppError> {
        if !self.is_viewed_by_owner(ctx) {
            return Ok(None);
        }
        let page = PageRequest::parse(first, after)?;
        let mut connection = connection(ctx).await?;
        let rows =
            ledger::history(&mut connection, self.0.id, page.after, page.fetch_limit()).await?;
        Ok(Some(page.connection(rows, |row| row.id, XpEvent)))
    }
}

/// Loads a user through the request's DataLoader.
pub async fn load_user(ctx: &Context<'_>, id: i64) -> Result<Option<User>, AppError> {
    let user = loaders(ctx)?
        .users()
        .load_one(id)
        .await
        .map_err(shared_error)?;
    Ok(user.map(User))
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The signed-in user; null for an anonymous caller.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match caller(ctx).user_id() {
            Some(id) => load_user(ctx, id).await,
            None => Ok(None),
        }
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>, AppError> {
        load_user(ctx, parse_id(&id, "user")?).await
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    /// 3 to 32 letters, digits or _; unique regardless of case.
    username: String,
    email: String,
    /// At least 8 characters.
    password: String,
}

#[derive(InputObject)]
pub struct LogInInput {
    /// Username or email.
    login: String,
    password: String,
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A bearer token for the Authorization header.
    pub token: String,
    pub user: User,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> Result<AuthPayload, AppError> {
        throttle_auth(ctx)?;
        let mut connection = connection(ctx).await?;
        let user = accounts::sign_up(
            &mut connection,
            SignUp {
                username: input.username,
                email: input.email,
                password: input.password,
            },
        )
        .await?;
        // A new account's sessions start at generation 0.
        let token = token_keys(ctx)?.issue(user.id, 0)?;
        Ok(AuthPayload {
            token,
            user: User(user),
        })
    }

    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload, AppError> {
        throttle_auth(ctx)?;
        let mut connection = connection(ctx).await?;
        let signed_in =
            sessions::log_in(&mut connection, &input.login, input.password, Utc::now()).await?;
        let user = signed_in.user;
        let token = token_keys(ctx)?.issue(user.id, signed_in.generation)?;
        Ok(AuthPayload {
            token,
            user: User(user),
        })
    }
}
