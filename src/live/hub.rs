//! Routes level-up events to the subscribers of their user, and ends every
//! subscription on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::BroadcastStream;

/// Events one user may have queued before a slow subscriber starts missing them.
const PER_USER_BUFFER: usize = 16;

/// One level-up, as `award_xp` announces it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct LevelUpEvent {
    pub user_id: i64,
    pub notification_id: i64,
    pub level: i32,
    pub previous_level: i32,
    pub total_xp: i32,
}

/// Cheap to clone; all clones share the same routes.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Mutex<HashMap<i64, broadcast::Sender<LevelUpEvent>>>,
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
    fn default() -> Self {
        let (sockets, sockets_closed) = mpsc::channel(1);
        Self {
            inner: Arc::new(Inner {
                routes: Mutex::new(HashMap::new()),
                shutdown: watch::channel(false).0,
                listening: watch::channel(0).0,
                subscriptions: watch::channel(0).0,
                sockets: Mutex::new(Some(sockets)),
                sockets_closed: tokio::sync::Mutex::new(sockets_closed),
            }),
        }
    }
}

/// Held by a subscription; removes the user's route when their last subscriber leaves.
struct RouteGuard {
    hub: LiveHub,
    user: i64,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        self.hub
            .inner
            .subscriptions
            .send_modify(|count| *count -= 1);
        let mut routes = self.hub.routes();
        if routes
            .get(&self.user)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            routes.remove(&self.user);
        }
    }
}

impl LiveHub {
    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<LevelUpEvent>>> {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user's level-ups from now on; ends when the server shuts down.
    pub fn subscribe(&self, user: i64) -> impl Stream<Item = LevelUpEvent> + Send + 'static {
        let receiver = self
            .routes()
            .entry(user)
            .or_insert_with(|| broadcast::channel(PER_USER_BUFFER).0)
            .subscribe();
        self.inner.subscriptions.send_modify(|count| *count += 1);
        let guard = RouteGuard {
            hub: self.clone(),
            user,
        };
        let stopped = self.stopped();
        BroadcastStream::new(receiver)
            .filter_map(|event| async move { event.ok() })
            .take_until(stopped)
            .map(move |event| {
                let _ = &guard;
                event
            })
    }

    /// Delivers an event to its user's subscribers (none: nothing to do).
    pub fn publish(&self, event: LevelUpEvent) {
        let sender = self.routes().get(&event.user_id).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(event);
        }
    }

    /// The number of open subscriptions, to wait on.
    pub fn subscriptions(&self) -> watch::Receiver<usize> {
        self.inner.subscriptions.subscribe()
    }

    /// The number of open subscriptions now.
    pub fn open_subscriptions(&self) -> usize {
        *self.inner.subscriptions.borrow()
    }

    /// Users with at least one subscriber.
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
