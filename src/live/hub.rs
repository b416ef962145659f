//! Routes level-up and award events to the subscribers of their user, registers the
//! users with an xpAwarded subscriber in `live_award_subscribers` (award_xp announces
//! awards only to them), and ends every subscription on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use crate::db::DbPool;
use crate::error::AppError;

/// Level-ups one user may have queued before a slow subscriber starts missing them.
const PER_USER_BUFFER: usize = 16;
/// Awards one user may have queued: a burst of likes on a popular story is many awards
/// at once (a lagging subscriber is told in the log which it missed).
const PER_USER_AWARD_BUFFER: usize = 256;

/// One level-up, as `award_xp` announces it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LevelUpEvent {
    pub user_id: i64,
    pub notification_id: i64,
    pub level: i32,
    pub previous_level: i32,
    pub total_xp: i32,
}

/// One award, as `award_xp` announces it on `storyxp_xp_awarded`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AwardEvent {
    pub user_id: i64,
    pub action: String,
    pub xp_gained: i32,
    pub total_xp: i32,
    pub level: i32,
    pub previous_level: i32,
    #[serde(default)]
    pub unlocked: Option<Vec<String>>,
    /// RFC 3339, as PostgreSQL writes a timestamptz in JSON.
    pub awarded_at: String,
    #[serde(default)]
    pub entries: Option<Vec<i64>>,
}

/// An event routed to one user's subscribers.
trait ForUser: Clone + Send + 'static {
    fn user(&self) -> i64;
}

impl ForUser for LevelUpEvent {
    fn user(&self) -> i64 {
        self.user_id
    }
}

impl ForUser for AwardEvent {
    fn user(&self) -> i64 {
        self.user_id
    }
}

type Routes<E> = Mutex<HashMap<i64, broadcast::Sender<E>>>;

/// Where this process records which users have an xpAwarded subscriber here.
struct Registry {
    pool: DbPool,
    /// This process, in `live_award_subscribers.instance` (random per start).
    instance: String,
    /// Registering and unregistering one at a time, so a late unregister never deletes
    /// the row of a subscriber that arrived meanwhile.
    serial: tokio::sync::Mutex<()>,
}

/// Cheap to clone; all clones share the same routes.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Routes<LevelUpEvent>,
    awards: Routes<AwardEvent>,
    registry: Option<Registry>,
    shutdown: watch::Sender<bool>,
    /// Open subscriptions in this process.
    subscriptions: watch::Sender<usize>,
    /// Bumped each time the listener (re)starts listening; tests wait on it.
    listening: watch::Sender<u64>,
    /// Every open WebSocket holds a clone; shutdown waits until all are dropped.
    sockets: Mutex<Option<mpsc::Sender<()>>>,
    sockets_closed: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Default for LiveHub {
    /// A hub that registers nothing in the database (award subscribers get only what
    /// is published to them directly).
    fn default() -> Self {
        Self::with_registry(None)
    }
}

impl LiveHub {
    /// A hub whose xpAwarded subscribers are registered through `pool`.
    pub fn registering(pool: DbPool) -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Self::with_registry(Some(Registry {
            pool,
            instance: hex::encode(bytes),
            serial: tokio::sync::Mutex::new(()),
        }))
    }

    fn with_registry(registry: Option<Registry>) -> Self {
        let (sockets, sockets_closed) = mpsc::channel(1);
        Self {
            inner: Arc::new(Inner {
                routes: Mutex::new(HashMap::new()),
                awards: Mutex::new(HashMap::new()),
                registry,
                shutdown: watch::channel(false).0,
                listening: watch::channel(0).0,
                subscriptions: watch::channel(0).0,
                sockets: Mutex::new(Some(sockets)),
                sockets_closed: tokio::sync::Mutex::new(sockets_closed),
            }),
        }
    }
}

fn lock<E>(routes: &Routes<E>) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<E>>> {
    routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes the user's route when no receiver is left; true if it did.
fn prune<E>(routes: &Routes<E>, user: i64) -> bool {
    let mut routes = lock(routes);
    if routes
        .get(&user)
        .is_some_and(|sender| sender.receiver_count() == 0)
    {
        routes.remove(&user);
        return true;
    }
    false
}

/// Held by a subscription; removes the user's route when their last subscriber leaves
/// (and, for xpAwarded, their row in `live_award_subscribers`).
struct RouteGuard {
    hub: LiveHub,
    user: i64,
    awards: bool,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.hub
            .inner
            .subscriptions
            .send_modify(|count| *count -= 1);
        if !self.awards {
            prune(&self.hub.inner.routes, self.user);
            return;
        }
        if prune(&self.hub.inner.awards, self.user) && self.hub.inner.registry.is_some() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let hub = self.hub.clone();
                let user = self.user;
                runtime.spawn(async move { hub.unregister(user).await });
            }
        }
    }
}

impl LiveHub {
    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<LevelUpEvent>>> {
        lock(&self.inner.routes)
    }

    /// The user's level-ups from now on; ends when the server shuts down.
    pub fn subscribe(&self, user: i64) -> impl Stream<Item = LevelUpEvent> + Send + 'static {
        self.stream(&self.inner.routes, user, false)
    }

    /// The user's awards from now on (registered in the database before this returns,
    /// so every award committed afterwards reaches it); ends on shutdown.
    pub async fn subscribe_awards(
        &self,
        user: i64,
    ) -> Result<impl Stream<Item = AwardEvent> + Send + 'static, AppError> {
        let Some(registry) = &self.inner.registry else {
            return Ok(self.stream(&self.inner.awards, user, true));
        };
        let _serial = registry.serial.lock().await;
        let stream = self.stream(&self.inner.awards, user, true);
        let mut connection = registry.pool.get().await?;
        diesel::sql_query(
            "INSERT INTO live_award_subscribers (user_id, instance) VALUES ($1, $2::uuid) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<BigInt, _>(user)
        .bind::<Text, _>(&registry.instance)
        .execute(&mut connection)
        .await?;
        Ok(stream)
    }

    /// Deletes the user's row of this process unless a subscriber came back meanwhile.
    async fn unregister(&self, user: i64) {
        let Some(registry) = &self.inner.registry else {
            return;
        };
        let _serial = registry.serial.lock().await;
        if lock(&self.inner.awards).contains_key(&user) {
            return;
        }
        let deleted = async {
            let mut connection = registry.pool.get().await?;
            diesel::sql_query(
                "DELETE FROM live_award_subscribers WHERE user_id = $1 AND instance = $2::uuid",
            )
            .bind::<BigInt, _>(user)
            .bind::<Text, _>(&registry.instance)
            .execute(&mut connection)
            .await?;
            Ok::<_, AppError>(())
        };
        if let Err(error) = deleted.await {
            tracing::warn!(%error, user, "could not unregister an xpAwarded subscriber");
        }
    }

    /// Deletes every row of this process (on shutdown).
    pub async fn unregister_all(&self) {
        let Some(registry) = &self.inner.registry else {
            return;
        };
        let deleted = async {
            let mut connection = registry.pool.get().await?;
            diesel::sql_query("DELETE FROM live_award_subscribers WHERE instance = $1::uuid")
                .bind::<Text, _>(&registry.instance)
                .execute(&mut connection)
                .await?;
            Ok::<_, AppError>(())
        };
        if let Err(error) = deleted.await {
            tracing::warn!(%error, "could not unregister this process's xpAwarded subscribers");
        }
    }

    fn stream<E: ForUser>(
        &self,
        routes: &Routes<E>,
        user: i64,
        awards: bool,
    ) -> impl Stream<Item = E> + Send + 'static {
        let receiver = lock(routes)
            .entry(user)
            .or_insert_with(|| {
                let capacity = if awards {
                    PER_USER_AWARD_BUFFER
                } else {
                    PER_USER_BUFFER
                };
                broadcast::channel(capacity).0
            })
            .subscribe();
        self.inner.subscriptions.send_modify(|count| *count += 1);
        let guard = RouteGuard {
            hub: self.clone(),
            user,
            awards,
        };
        let stopped = self.stopped();
        BroadcastStream::new(receiver)
            .filter_map(move |event| async move {
                match event {
                    Ok(event) => Some(event),
                    Err(BroadcastStreamRecvError::Lagged(missed)) => {
                        tracing::warn!(
                            user,
                            missed,
                            awards,
                            "a slow subscriber missed live events"
                        );
                        None
                    }
                }
            })
            .take_until(stopped)
            .map(move |event| {
                let _ = &guard;
                event
            })
    }

    /// Delivers a level-up to its user's subscribers (none: nothing to do).
    pub fn publish(&self, event: LevelUpEvent) {
        deliver(&self.inner.routes, event);
    }

    /// Delivers an award to its user's xpAwarded subscribers.
    pub fn publish_award(&self, event: AwardEvent) {
        deliver(&self.inner.awards, event);
    }

    /// The number of open subscriptions, to wait on.
    pub fn subscriptions(&self) -> watch::Receiver<usize> {
        self.inner.subscriptions.subscribe()
    }

    /// The number of open subscriptions now.
    pub fn open_subscriptions(&self) -> usize {
        *self.inner.subscriptions.borrow()
    }

    /// Users with at least one level-up subscriber.
    pub fn subscribed_users(&self) -> usize {
        self.routes().len()
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Resolves once `shut_down` has been called.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut shutdown = self.inner.shutdown.subscribe();
        async move {
            let _ = shutdown.wait_for(|stopped| *stopped).await;
        }
    }

    /// Ends every subscription (their clients get `complete`) and closes sockets.
    pub fn shut_down(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
    }

    /// A token an open WebSocket holds until it has closed.
    pub fn socket_token(&self) -> Option<mpsc::Sender<()>> {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After `shut_down`: waits until every WebSocket has closed, at most `limit`.
    pub async fn wait_for_sockets(&self, limit: Duration) {
        let mut closed = self.inner.sockets_closed.lock().await;
        let _ = tokio::time::timeout(limit, closed.recv()).await;
    }

    pub(crate) fn mark_listening(&self) {
        self.inner
            .listening
            .send_modify(|generation| *generation += 1);
    }

    /// How many times the listener has started listening (1 after start-up).
    pub fn listening_generation(&self) -> watch::Receiver<u64> {
        self.inner.listening.subscribe()
    }
}

fn deliver<E: ForUser>(routes: &Routes<E>, event: E) {
    let sender = lock(routes).get(&event.user()).cloned();
    if let Some(sender) = sender {
        let _ = sender.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user_id: i64, level: i32) -> LevelUpEvent {
        LevelUpEvent {
            user_id,
            notification_id: 1,
            level,
            previous_level: level - 1,
            total_xp: (level - 1) * 500,
        }
    }

    #[tokio::test]
    async fn events_reach_only_their_users_subscribers() {
        let hub = LiveHub::default();
        let mut alice = Box::pin(hub.subscribe(1));
        let mut bob = Box::pin(hub.subscribe(2));
        hub.publish(event(2, 3));
        hub.publish(event(1, 2));
        assert_eq!(alice.next().await, Some(event(1, 2)));
        assert_eq!(bob.next().await, Some(event(2, 3)));
    }

    #[tokio::test]
    async fn routes_go_when_the_last_subscriber_leaves() {
        let hub = LiveHub::default();
        let first = hub.subscribe(1);
        let second = hub.subscribe(1);
        assert_eq!(hub.subscribed_users(), 1);
        drop(first);
        assert_eq!(hub.subscribed_users(), 1);
        drop(second);
        assert_eq!(hub.subscribed_users(), 0);
    }

    #[tokio::test]
    async fn shutdown_ends_subscriptions() {
        let hub = LiveHub::default();
        let mut stream = Box::pin(hub.subscribe(1));
        hub.shut_down();
        assert_eq!(stream.next().await, None);
    }
}
