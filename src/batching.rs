//! Gathering concurrent calls into one: the loads of one pass of async-graphql (a page
//! of stories and their authors) and of concurrent requests (the `me`s of many
//! clients, the likes of many writers) go to the database as one batch.
//!
//! `Batcher` replaces async-graphql's DataLoader, which waits on tokio's timer before
//! each batch even with a zero delay: tokio's timer ticks in milliseconds, so nearly
//! every request with a nested read waited up to a millisecond doing nothing. Here the
//! first load of a batch yields once instead: async-graphql polls sibling fields (the
//! items of a list, the operations of a batch) in the same pass, so their keys join the
//! batch before it runs. The GraphQL layer's read loaders (`graphql::loaders`) and the
//! domain's like writer (`domain::stories::likes`) are both batchers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::error::AppError;

/// A batched read (or write) by key: every key asked for is in the answer (absent: no
/// such row). Keys are sorted and each is loaded once.
pub trait BatchLoad: Send + Sync + 'static {
    type Key: Copy + Eq + Ord + std::hash::Hash + Send + Sync + 'static;
    type Value: Clone + Send + Sync + 'static;
    fn load(
        &self,
        keys: &[Self::Key],
    ) -> impl Future<Output = Result<HashMap<Self::Key, Self::Value>, AppError>> + Send;
}

type Answer<K, V> = Result<Arc<HashMap<K, V>>, Arc<AppError>>;

struct Batch<K, V> {
    keys: Vec<K>,
    waiters: Vec<oneshot::Sender<Answer<K, V>>>,
}

type Pending<L> = Mutex<Option<Batch<<L as BatchLoad>::Key, <L as BatchLoad>::Value>>>;

/// Collects the keys loaded in one pass and loads them in one query.
pub struct Batcher<L: BatchLoad> {
    loader: Arc<L>,
    pending: Arc<Pending<L>>,
}

/// Sends the pending batch when dropped, whether its leader takes it after its yield or
/// is dropped before (its request cancelled): the batch's other loads still get their
/// answers.
struct Leader<L: BatchLoad> {
    loader: Arc<L>,
    pending: Arc<Pending<L>>,
}

impl<L: BatchLoad> Drop for Leader<L> {
    fn drop(&mut self) {
        let batch = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(batch) = batch {
            send(self.loader.clone(), batch);
        }
    }
}

/// Loads a batch in a task of its own, so that it completes and answers every load in
/// it even if the request that started it is cancelled meanwhile (a like committed in
/// it is then reported to its request, not loaded again). With no runtime to run it
/// (never in the server), the waiters see their senders gone and load alone.
fn send<L: BatchLoad>(loader: Arc<L>, batch: Batch<L::Key, L::Value>) {
    let Batch { mut keys, waiters } = batch;
    keys.sort_unstable();
    keys.dedup();
    let load = async move {
        let answer: Answer<L::Key, L::Value> =
            loader.load(&keys).await.map(Arc::new).map_err(Arc::new);
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(load);
    }
}

impl<L: BatchLoad> Batcher<L> {
    pub fn new(loader: L) -> Self {
        Self {
            loader: Arc::new(loader),
            pending: Arc::new(Mutex::new(None)),
        }
    }

    /// The value for `key`, loaded together with the keys other fields ask for meanwhile.
    pub async fn load_one(&self, key: L::Key) -> Result<Option<L::Value>, Arc<AppError>> {
        let (sender, receiver) = oneshot::channel();
        let leads = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let batch = pending.get_or_insert_with(|| Batch {
                keys: Vec::new(),
                waiters: Vec::new(),
            });
            batch.keys.push(key);
            batch.waiters.push(sender);
            batch.waiters.len() == 1
        };
        if leads {
            // This load leads the batch: let the fields polled in this pass join it,
            // then send it (dropping the leader sends it).
            let leader = Leader {
                loader: self.loader.clone(),
                pending: self.pending.clone(),
            };
            tokio::task::yield_now().await;
            drop(leader);
        }
        match receiver.await {
            Ok(answer) => Ok(answer?.get(&key).cloned()),
            // The batch's task could not run or panicked: load this key alone.
            Err(_) => self.load_alone(key).await,
        }
    }

    async fn load_alone(&self, key: L::Key) -> Result<Option<L::Value>, Arc<AppError>> {
        let mut values = self.loader.load(&[key]).await.map_err(Arc::new)?;
        Ok(values.remove(&key))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Squares its keys (none for 0) and counts its calls and the keys it was given.
    #[derive(Default)]
    struct Squares {
        calls: AtomicUsize,
        keys: Mutex<Vec<Vec<i64>>>,
    }

    impl BatchLoad for Arc<Squares> {
        type Key = i64;
        type Value = i64;
        async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, AppError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.keys.lock().unwrap().push(keys.to_vec());
            if keys.contains(&-1) {
                return Err(AppError::Internal("no negative keys".into()));
            }
            Ok(keys
                .iter()
                .filter(|key| **key != 0)
                .map(|key| (*key, key * key))
                .collect())
        }
    }

    #[tokio::test]
    async fn loads_of_one_pass_are_one_batch_with_each_key_once() {
        let squares = Arc::new(Squares::default());
        let batcher = Batcher::new(squares.clone());
        let values =
            futures_util::future::join_all([3, 1, 3, 0, 2].map(|key| batcher.load_one(key))).await;
        let values: Vec<Option<i64>> = values.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, [Some(9), Some(1), Some(9), None, Some(4)]);
        assert_eq!(squares.calls.load(Ordering::SeqCst), 1);
        assert_eq!(*squares.keys.lock().unwrap(), [vec![0, 1, 2, 3]]);
        // The next pass is a batch of its own.
        assert_eq!(batcher.load_one(5).await.unwrap(), Some(25));
        assert_eq!(squares.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn loads_of_concurrent_requests_join_one_batch() {
        // One batcher for the server: each task stands for a request.
        let squares = Arc::new(Squares::default());
        let batcher = Arc::new(Batcher::new(squares.clone()));
        let requests: Vec<_> = [4, 5, 6, 4]
            .map(|key| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.load_one(key).await.unwrap() })
            })
            .into_iter()
            .collect();
        let mut values = Vec::new();
        for request in requests {
            values.push(request.await.unwrap());
        }
        assert_eq!(values, [Some(16), Some(25), Some(36), Some(16)]);
        assert_eq!(*squares.keys.lock().unwrap(), [vec![4, 5, 6]]);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_every_load_in_it() {
        let batcher = Batcher::new(Arc::new(Squares::default()));
        let (bad, good) = tokio::join!(batcher.load_one(-1), batcher.load_one(2));
        assert!(bad.is_err());
        assert!(good.is_err());
        assert_eq!(batcher.load_one(2).await.unwrap(), Some(4));
    }

    #[tokio::test]
    async fn a_batch_is_sent_when_its_leader_is_dropped_before_sending_it() {
        let squares = Arc::new(Squares::default());
        let batcher = Batcher::new(squares.clone());
        let mut leader = Box::pin(batcher.load_one(2));
        // The leader registers the batch and yields; a second load joins it.
        assert!(futures_util::poll!(leader.as_mut()).is_pending());
        let mut follower = Box::pin(batcher.load_one(3));
        assert!(futures_util::poll!(follower.as_mut()).is_pending());
        drop(leader);
        assert_eq!(follower.await.unwrap(), Some(9));
        assert_eq!(*squares.keys.lock().unwrap(), [vec![2, 3]]);
    }

    /// Waits for a permit before each load (so a test can cancel a request while its
    /// batch runs), and records the keys of each load that got through.
    struct Gated {
        gate: tokio::sync::Semaphore,
        loads: Mutex<Vec<Vec<i64>>>,
    }

    impl BatchLoad for Arc<Gated> {
        type Key = i64;
        type Value = i64;
        async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, i64>, AppError> {
            let _permit = self.gate.acquire().await;
            self.loads.lock().unwrap().push(keys.to_vec());
            Ok(keys.iter().map(|key| (*key, -key)).collect())
        }
    }

    #[tokio::test]
    async fn a_running_batch_completes_and_answers_when_its_leader_is_cancelled() {
        let gated = Arc::new(Gated {
            gate: tokio::sync::Semaphore::new(0),
            loads: Mutex::default(),
        });
        let batcher = Arc::new(Batcher::new(gated.clone()));
        let leader = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.load_one(1).await }
        });
        let follower = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.load_one(2).await }
        });
        // Both joined the batch, which now waits at the gate: cancel the leader's request.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled());
        gated.gate.add_permits(10);
        assert_eq!(follower.await.unwrap().unwrap(), Some(-2));
        // One load, the whole batch: the follower was answered by it, not loaded again.
        assert_eq!(*gated.loads.lock().unwrap(), [vec![1, 2]]);
    }
}
