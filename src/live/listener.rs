//! The one LISTEN connection of a process; it reconnects with backoff when
//! PostgreSQL goes away, hands every level-up to the hub and every ended session to
//! the token keys' `Revocations` (reloading all ended sessions on each connect, so
//! none missed while disconnected stays valid).

use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{AWARDS_CHANNEL, AwardEvent, CHANNEL, LevelUpEvent, LiveHub};
use crate::auth::revocations::{self, Revocations, SessionEvent};
use crate::metrics::Metrics;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until the hub shuts down; each retry counts in `metrics`.
pub async fn listen(database_url: String, hub: LiveHub, sessions: Revocations, metrics: Metrics) {
    let mut backoff = FIRST_BACKOFF;
    while !hub.is_shutting_down() {
        tokio::select! {
            result = listen_once(&database_url, &hub, &sessions) => match result {
                Ok(()) => {
                    tracing::warn!("level-up listener lost its connection; reconnecting");
                    metrics.count_listener_reconnect();
                    backoff = FIRST_BACKOFF;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "level-up listener cannot connect");
                    metrics.count_listener_reconnect();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = hub.stopped() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
            _ = hub.stopped() => return,
        }
    }
}

/// Listens until the connection ends (Ok) or cannot be set up (Err).
async fn listen_once(
    database_url: &str,
    hub: &LiveHub,
    sessions: &Revocations,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(database_url, NoTls).await?;
    let (sender, mut messages) = futures_channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(message) => {
                    if sender.unbounded_send(message).is_err() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "level-up listener connection failed");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!(
            "LISTEN {CHANNEL}; LISTEN {AWARDS_CHANNEL}; LISTEN {}",
            revocations::CHANNEL
        ))
        .await?;
    // Listening first, then loading: a session ended in between arrives both ways.
    for event in crate::domain::accounts::sessions::ended_sessions(&client).await? {
        sessions.apply(event, crate::auth::token::now());
    }
    hub.mark_listening();
    tracing::info!("listening for level-ups");
    while let Some(message) = messages.next().await {
        let AsyncMessage::Notification(notification) = message else {
            continue;
        };
        if notification.channel() == revocations::CHANNEL {
            let applied = serde_json::from_str::<SessionEvent>(notification.payload())
                .is_ok_and(|event| sessions.apply(event, crate::auth::token::now()));
            if !applied {
                tracing::error!(payload = notification.payload(), "unreadable ended session");
            }
            continue;
        }
        if notification.channel() == AWARDS_CHANNEL {
            match serde_json::from_str::<AwardEvent>(notification.payload()) {
                Ok(event) => hub.publish_award(event),
                Err(error) => {
                    tracing::error!(%error, payload = notification.payload(), "unreadable award")
                }
            }
            continue;
        }
        {
            match serde_json::from_str::<LevelUpEvent>(notification.payload()) {
                Ok(event) => hub.publish(event),
                Err(error) => {
                    tracing::error!(%error, payload = notification.payload(), "unreadable level-up")
                }
            }
        }
    }
    driver.abort();
    Ok(())
}
