//! Users in the API: profiles with XP and level, signing up and logging in.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::character::Character;
use super::context::{caller, connection, parse_id, throttle_auth, token_keys};
use super::loaders::{loaders, shared_error};
use super::pagination::{IdCursor, PageRequest};
use super::shop::{OwnedItem, Purchase, ShopItem};
use super::xp::{Achievement, XpEvent};
use crate::domain::accounts::sessions;
use crate::domain::accounts::{self, SignUp, UserRecord};
use crate::domain::shop;
use crate::error::AppError;
use crate::xp::{ledger, level};

pub struct User(pub UserRecord);

impl User {
    fn is_viewed_by_owner(&self, ctx: &Context<'_>) -> bool {
        caller(ctx).user_id() == Some(self.0.id)
    }

    /// The user's balance and equipped items, through the request's loader (a page of
    /// users asking for frames and titles reads them in one query).
    async fn shop_profile(&self, ctx: &Context<'_>) -> Result<shop::ShopProfile, AppError> {
        loaders(ctx)?
            .shop_profiles()
            .load_one(self.0.id)
            .await
            .map_err(shared_error)?
            .ok_or_else(|| AppError::not_found("user"))
    }
}

/// A writer: their profile, XP and level. Anyone may read a user, signed in or not;
/// `email` and `xpHistory` are the user's own (null for anyone else).
#[Object]
impl User {
    /// The user's stable id: the `id` of `user(id)`, `stories(authorId)`,
    /// `addFriend(userId)` and `inviteCollaborator(userId)`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 3 to 32 letters, digits or _, unique regardless of case; spelled as at sign-up.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// The account's email address. Visible to the user themself only: null for anyone
    /// else, and for an anonymous caller.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.is_viewed_by_owner(ctx)
            .then_some(self.0.email.as_str())
    }
    /// Total XP ever earned: the sum of the user's ledger entries. Never decreases, not
    /// even when stories, likes or friendships are removed.
    async fn experience_points(&self) -> i32 {
        self.0.experience_points
    }
    /// experiencePoints / 500 + 1 (integer division): 0 to 499 XP is level 1, 500 to 999
    /// level 2, and so on.
    async fn level(&self) -> i32 {
        self.0.level
    }
    /// The experiencePoints total at which the next level starts: level * 500.
    async fn xp_for_next_level(&self) -> i32 {
        level::xp_for_next_level(self.0.level)
    }
    /// XP earned inside the current level, 0 to 499: experiencePoints - (level - 1) * 500.
    async fn xp_progress(&self) -> i32 {
        level::xp_progress(self.0.experience_points)
    }
    /// Progress through the current level in percent, xpProgress / 500 * 100: from 0.0
    /// up to (not including) 100.0; 650 XP gives 30.0.
    async fn xp_progress_percentage(&self) -> f64 {
        level::xp_progress_percentage(self.0.experience_points)
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The IANA timezone whose local dates the daily loop uses (default `UTC`; change
    /// it with updateProfile, at most once per 24 hours). Public.
    async fn timezone(&self, ctx: &Context<'_>) -> Result<String, AppError> {
        super::daily::timezone_of(ctx, self.0.id).await
    }
    /// The user's streak of active days, as of their local date now. Public.
    async fn streak(&self, ctx: &Context<'_>) -> Result<super::daily::Streak, AppError> {
        super::daily::streak_of(ctx, self.0.id).await
    }
    /// The user's three daily quests of their current local date, in catalog order.
    /// Visible to the user themself only: null for anyone else.
    async fn daily_quests(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<super::daily::Quest>>, AppError> {
        super::daily::daily_quests_of(ctx, self.0.id).await
    }
    /// The achievements the user has earned, oldest first, each with its earnedAt.
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
    /// The user's XP ledger, newest first: one entry per award, each achievement bonus an
    /// entry of its own. Visible to the user themself only: null for anyone else.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn xp_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many entries, 0 to 100 (null: 20); otherwise BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (`pageInfo.endCursor` of the previous page); null: \
                    from the newest. A string that is no cursor of ours: BAD_USER_INPUT."
        )]
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
    /// XP to spend in the shop: experiencePoints minus everything spent; never negative,
    /// and spending never lowers experiencePoints or level. The user's own: null for
    /// anyone else.
    async fn xp_balance(&self, ctx: &Context<'_>) -> Result<Option<i32>, AppError> {
        if !self.is_viewed_by_owner(ctx) {
            return Ok(None);
        }
        Ok(Some(self.shop_profile(ctx).await?.balance))
    }
    /// The frames and titles the user owns, oldest first. The user's own: null for
    /// anyone else.
    async fn inventory(&self, ctx: &Context<'_>) -> Result<Option<Vec<OwnedItem>>, AppError> {
        if !self.is_viewed_by_owner(ctx) {
            return Ok(None);
        }
        let mut connection = connection(ctx).await?;
        Ok(Some(
            shop::inventory(&mut connection, self.0.id)
                .await?
                .into_iter()
                .map(OwnedItem)
                .collect(),
        ))
    }
    /// The user's purchases, newest first. The user's own: null for anyone else.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn purchases(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many purchases, 0 to 100 (null: 20); otherwise BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (`pageInfo.endCursor` of the previous page); null: \
                    from the newest. A string that is no cursor of ours: BAD_USER_INPUT."
        )]
        after: Option<String>,
    ) -> Result<Option<Connection<IdCursor, Purchase>>, AppError> {
        if !self.is_viewed_by_owner(ctx) {
            return Ok(None);
        }
        let page = PageRequest::parse(first, after)?;
        let mut connection = connection(ctx).await?;
        let rows =
            shop::purchases(&mut connection, self.0.id, page.after, page.fetch_limit()).await?;
        Ok(Some(page.connection(rows, |row| row.id, Purchase)))
    }
    /// The frame the user has equipped; null when none. Public.
    async fn frame(&self, ctx: &Context<'_>) -> Result<Option<ShopItem>, AppError> {
        Ok(self.shop_profile(ctx).await?.frame().map(ShopItem))
    }
    /// The title the user has equipped, such as "Wordsmith"; null when none. Public.
    async fn title(&self, ctx: &Context<'_>) -> Result<Option<&'static str>, AppError> {
        Ok(self.shop_profile(ctx).await?.title().map(|item| item.name))
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

    /// A user by id, for anyone; null when there is no such user.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's id; one that is not a positive integer is BAD_USER_INPUT.")]
        id: ID,
    ) -> Result<Option<User>, AppError> {
        load_user(ctx, parse_id(&id, "user")?).await
    }
}

/// A new account. The username and email are trimmed of surrounding whitespace; a field
/// that breaks its rule, or a username or email already taken, is BAD_USER_INPUT.
#[derive(InputObject)]
pub struct SignUpInput {
    /// 3 to 32 letters, digits or _; unique regardless of case.
    username: String,
    /// An address like name@example.com, at most 254 characters; unique regardless of
    /// case. Only its owner ever sees it.
    email: String,
    /// 8 to 256 characters.
    password: String,
}

/// The credentials of logIn.
#[derive(InputObject)]
pub struct LogInInput {
    /// Username or email, either regardless of case.
    login: String,
    /// The account's password.
    password: String,
}

/// A session: the token to send from now on, and whose it is.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A bearer token for the `Authorization: Bearer <token>` header (on WebSocket, the
    /// connection_init payload `{"authorization": "Bearer <token>"}`). Valid for 7 days,
    /// unless logOut ends it first or changePassword ends every earlier session.
    pub token: String,
    /// The signed-in user.
    pub user: User,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in; no XP. signUp, logIn and changePassword
    /// attempts are limited per client address (20 a minute by default, over HTTP and
    /// WebSocket alike): past that, FORBIDDEN with `extensions.reason` TOO_MANY_ATTEMPTS,
    /// `throttledBy` ADDRESS and `retryAfterSeconds`.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account's username, email and password.")] input: SignUpInput,
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

    /// Signs in with a username or email and the password. A wrong password and an unknown
    /// login give the same UNAUTHENTICATED error. Limited per client address like signUp;
    /// and after 10 wrong passwords for one login within 15 minutes (from any address),
    /// FORBIDDEN with `extensions.throttledBy` ACCOUNT and `retryAfterSeconds`.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Username or email, and password.")] input: LogInInput,
    ) -> Result<AuthPayload, AppError> {
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
