//! The read loaders of the API: nested reads (a page of stories and their authors) in
//! one query each, and the same reads of concurrent requests (the `me`s of many
//! clients) together, through `batching::Batcher`. Reads only: writes are the domain's.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use crate::batching::shared_error;
use crate::batching::{BatchLoad, Batcher};
use crate::db::DbPool;
use crate::domain::accounts::{self, UserRecord};
use crate::domain::characters::{self, CharacterRecord};
use crate::domain::shop::{self, ShopProfile};
use crate::domain::stories;
use crate::domain::stories::comments::{self, CommentRecord};
use crate::error::AppError;
use crate::xp::AchievementKey;
use crate::xp::ledger;

pub struct UserLoader(pub DbPool);
pub struct LikeCountLoader(pub DbPool);
pub struct CommentsLoader(pub DbPool);
pub struct AchievementsLoader(pub DbPool);
pub struct CharactersLoader(pub DbPool);
pub struct ShopProfileLoader(pub DbPool);
/// Rows grouped by key, every key present (an empty list when it has no rows).
fn group<V>(keys: &[i64], rows: impl IntoIterator<Item = (i64, V)>) -> HashMap<i64, Vec<V>> {
    let mut grouped: HashMap<i64, Vec<V>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for (key, value) in rows {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

impl BatchLoad for CommentsLoader {
    type Key = i64;
    type Value = Vec<CommentRecord>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, AppError> {
        let mut connection = self.0.get().await?;
        let rows = comments::for_stories(&mut connection, keys).await?;
        Ok(group(keys, rows.into_iter().map(|row| (row.story_id, row))))
    }
}

impl BatchLoad for AchievementsLoader {
    type Key = i64;
    type Value = Vec<(AchievementKey, DateTime<Utc>)>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, AppError> {
        let mut connection = self.0.get().await?;
        let rows = ledger::earned_achievements(&mut connection, keys).await?;
        Ok(group(
            keys,
            rows.into_iter().map(|(user, key, at)| (user, (key, at))),
        ))
    }
}

impl BatchLoad for CharactersLoader {
    type Key = i64;
    type Value = Vec<CharacterRecord>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, AppError> {
        let mut connection = self.0.get().await?;
        let rows = characters::for_owners(&mut connection, keys).await?;
        Ok(group(keys, rows.into_iter().map(|row| (row.owner_id, row))))
    }
}

impl BatchLoad for ShopProfileLoader {
    type Key = i64;
    type Value = ShopProfile;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, ShopProfile>, AppError> {
        let mut connection = self.0.get().await?;
        Ok(shop::profiles(&mut connection, keys)
            .await?
            .into_iter()
            .collect())
    }
}

impl BatchLoad for UserLoader {
    type Key = i64;
    type Value = UserRecord;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, UserRecord>, AppError> {
        let mut connection = self.0.get().await?;
        let users = accounts::find_many(&mut connection, keys).await?;
        Ok(users.into_iter().map(|user| (user.id, user)).collect())
    }
}

impl BatchLoad for LikeCountLoader {
    type Key = i64;
    type Value = i64;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, AppError> {
        let mut connection = self.0.get().await?;
        let counts = stories::like_counts(&mut connection, keys).await?;
        let mut by_story: HashMap<i64, i64> = keys.iter().map(|key| (*key, 0)).collect();
        by_story.extend(counts);
        Ok(by_story)
    }
}

/// The server's loaders, one batcher per kind of read, shared by every request: a
/// batch gathers the keys that the fields of one pass ask for, and those of other
/// requests running meanwhile (many `me`s, one query). A batch is sent only after its
/// keys joined it, so a request never takes an answer read before it arrived.
#[derive(Clone)]
pub struct Loaders(Arc<ServerLoaders>);

struct ServerLoaders {
    users: Batcher<UserLoader>,
    like_counts: Batcher<LikeCountLoader>,
    comments: Batcher<CommentsLoader>,
    achievements: Batcher<AchievementsLoader>,
    characters: Batcher<CharactersLoader>,
    shop_profiles: Batcher<ShopProfileLoader>,
}

impl Loaders {
    pub fn new(pool: &DbPool) -> Self {
        Self(Arc::new(ServerLoaders {
            users: Batcher::new(UserLoader(pool.clone())),
            like_counts: Batcher::new(LikeCountLoader(pool.clone())),
            comments: Batcher::new(CommentsLoader(pool.clone())),
            achievements: Batcher::new(AchievementsLoader(pool.clone())),
            characters: Batcher::new(CharactersLoader(pool.clone())),
            shop_profiles: Batcher::new(ShopProfileLoader(pool.clone())),
        }))
    }

    pub fn users(&self) -> &Batcher<UserLoader> {
        &self.0.users
    }

    pub fn like_counts(&self) -> &Batcher<LikeCountLoader> {
        &self.0.like_counts
    }

    pub fn comments(&self) -> &Batcher<CommentsLoader> {
        &self.0.comments
    }

    pub fn achievements(&self) -> &Batcher<AchievementsLoader> {
        &self.0.achievements
    }

    pub fn characters(&self) -> &Batcher<CharactersLoader> {
        &self.0.characters
    }

    /// Balances and equipped items (User.xpBalance, frame, title).
    pub fn shop_profiles(&self) -> &Batcher<ShopProfileLoader> {
        &self.0.shop_profiles
    }
}

/// The server's loaders, from the GraphQL context.
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| AppError::Internal("no loaders in the request".into()))
}
