//! DataLoaders: nested reads (a page of stories and their authors) in one query each.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::dataloader::{DataLoader, Loader};

use chrono::{DateTime, Utc};

use crate::accounts::{self, UserRecord};
use crate::characters::{self, CharacterRecord};
use crate::comments::{self, CommentRecord};
use crate::db::DbPool;
use crate::error::AppError;
use crate::stories;
use crate::xp::AchievementKey;
use crate::xp::ledger;

pub struct UserLoader(pub DbPool);
pub struct LikeCountLoader(pub DbPool);
pub struct CommentsLoader(pub DbPool);
pub struct AchievementsLoader(pub DbPool);
pub struct CharactersLoader(pub DbPool);

/// Rows grouped by key, every key present (an empty list when it has no rows).
fn group<V>(keys: &[i64], rows: impl IntoIterator<Item = (i64, V)>) -> HashMap<i64, Vec<V>> {
    let mut grouped: HashMap<i64, Vec<V>> = keys.iter().map(|key| (*key, Vec::new())).collect();
    for (key, value) in rows {
        grouped.entry(key).or_default().push(value);
    }
    grouped
}

impl Loader<i64> for CommentsLoader {
    type Value = Vec<CommentRecord>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut connection = self.0.get().await.map_err(AppError::from)?;
        let rows = comments::for_stories(&mut connection, keys).await?;
        Ok(group(keys, rows.into_iter().map(|row| (row.story_id, row))))
    }
}

impl Loader<i64> for AchievementsLoader {
    type Value = Vec<(AchievementKey, DateTime<Utc>)>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut connection = self.0.get().await.map_err(AppError::from)?;
        let rows = ledger::earned_achievements(&mut connection, keys).await?;
        Ok(group(
            keys,
            rows.into_iter().map(|(user, key, at)| (user, (key, at))),
        ))
    }
}

impl Loader<i64> for CharactersLoader {
    type Value = Vec<CharacterRecord>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let mut connection = self.0.get().await.map_err(AppError::from)?;
        let rows = characters::for_owners(&mut connection, keys).await?;
        Ok(group(keys, rows.into_iter().map(|row| (row.owner_id, row))))
    }
}

impl Loader<i64> for UserLoader {
    type Value = UserRecord;
    type Error = std::sync::Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, UserRecord>, Self::Error> {
        let mut connection = self.0.get().await.map_err(AppError::from)?;
        let users = accounts::find_many(&mut connection, keys).await?;
        Ok(users.into_iter().map(|user| (user.id, user)).collect())
    }
}

impl Loader<i64> for LikeCountLoader {
    type Value = i64;
    type Error = std::sync::Arc<AppError>;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        let mut connection = self.0.get().await.map_err(AppError::from)?;
        let counts = stories::like_counts(&mut connection, keys).await?;
        let mut by_story: HashMap<i64, i64> = keys.iter().map(|key| (*key, 0)).collect();
        by_story.extend(counts);
        Ok(by_story)
    }
}

/// Loads requested while one resolver level runs are batched without waiting: the
/// default 1 ms pause would be added to nearly every request.
const BATCH_DELAY: std::time::Duration = std::time::Duration::ZERO;

/// The loaders of one request (shared by the operations of a batch), each made on
/// first use: most requests need one or none.
#[derive(Clone)]
pub struct Loaders(Arc<RequestLoaders>);

struct RequestLoaders {
    pool: DbPool,
    users: OnceLock<DataLoader<UserLoader>>,
    like_counts: OnceLock<DataLoader<LikeCountLoader>>,
    comments: OnceLock<DataLoader<CommentsLoader>>,
    achievements: OnceLock<DataLoader<AchievementsLoader>>,
    characters: OnceLock<DataLoader<CharactersLoader>>,
}

fn loader<T: Loader<i64>>(inner: T) -> DataLoader<T> {
    DataLoader::new(inner, tokio::spawn).delay(BATCH_DELAY)
}

impl Loaders {
    pub fn new(pool: &DbPool) -> Self {
        Self(Arc::new(RequestLoaders {
            pool: pool.clone(),
            users: OnceLock::new(),
            like_counts: OnceLock::new(),
            comments: OnceLock::new(),
            achievements: OnceLock::new(),
            characters: OnceLock::new(),
        }))
    }

    pub fn users(&self) -> &DataLoader<UserLoader> {
        self.0
            .users
            .get_or_init(|| loader(UserLoader(self.0.pool.clone())))
    }

    pub fn like_counts(&self) -> &DataLoader<LikeCountLoader> {
        self.0
            .like_counts
            .get_or_init(|| loader(LikeCountLoader(self.0.pool.clone())))
    }

    pub fn comments(&self) -> &DataLoader<CommentsLoader> {
        self.0
            .comments
            .get_or_init(|| loader(CommentsLoader(self.0.pool.clone())))
    }

    pub fn achievements(&self) -> &DataLoader<AchievementsLoader> {
        self.0
            .achievements
            .get_or_init(|| loader(AchievementsLoader(self.0.pool.clone())))
    }

    pub fn characters(&self) -> &DataLoader<CharactersLoader> {
        self.0
            .characters
            .get_or_init(|| loader(CharactersLoader(self.0.pool.clone())))
    }
}

/// Loader errors are shared (Arc); turn them back into the domain error for the client.
pub fn shared_error(error: std::sync::Arc<AppError>) -> AppError {
    match std::sync::Arc::try_unwrap(error) {
        Ok(error) => error,
        Err(shared) => match shared.as_ref() {
            AppError::NotFound(message) => AppError::NotFound(message.clone()),
            other => AppError::Internal(other.to_string()),
        },
    }
}

/// The request's loaders, from the GraphQL context.
pub fn loaders<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| AppError::Internal("no loaders in the request".into()))
}
