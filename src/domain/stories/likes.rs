//! How likes are written: the likes of concurrent requests are gathered
//! (`batching::Batcher`) into one `like_many` call, one transaction, so one commit (one
//! WAL flush) makes them all durable.

use std::collections::HashMap;

use super::{LikeRequest, LikeResult, like_many};
use crate::batching::{BatchLoad, Batcher, shared_error};
use crate::clock::Clock;
use crate::db::DbPool;
use crate::error::AppError;
use crate::metrics::Metrics;

/// The server's like writer, shared by every request; cheap to clone.
#[derive(Clone)]
pub struct Likes(std::sync::Arc<Batcher<LikeBatch>>);

impl Likes {
    pub fn new(pool: &DbPool, metrics: &Metrics, clock: Clock) -> Self {
        Self(std::sync::Arc::new(Batcher::new(LikeBatch {
            pool: pool.clone(),
            metrics: metrics.clone(),
            clock,
        })))
    }

    /// Writes one like, in the batch of the likes arriving meanwhile; its own outcome
    /// (one like's error does not fail the others).
    pub async fn like(&self, like: LikeRequest) -> LikeResult {
        self.0
            .load_one(like)
            .await
            .map_err(shared_error)?
            .ok_or_else(|| AppError::not_found("story"))?
    }
}

/// Their awards are counted here, once per batch's like (two requests for the same
/// like share its one outcome).
pub struct LikeBatch {
    pool: DbPool,
    metrics: Metrics,
    clock: Clock,
}

impl BatchLoad for LikeBatch {
    type Key = LikeRequest;
    /// Each like's own result: one like's error does not fail the others.
    type Value = LikeResult;

    async fn load(
        &self,
        likes: &[LikeRequest],
    ) -> Result<HashMap<LikeRequest, LikeResult>, AppError> {
        let mut connection = self.pool.get().await?;
        let outcomes = like_many(&mut connection, likes, self.clock).await;
        self.metrics.count_awards(
            outcomes
                .values()
                .filter_map(|outcome| outcome.as_ref().ok())
                .flat_map(|outcome| outcome.award.iter().chain(&outcome.caller_award)),
        );
        Ok(outcomes)
    }
}
