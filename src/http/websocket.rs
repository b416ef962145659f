//! GraphQL over WebSocket at /graphql (graphql-transport-ws and the legacy graphql-ws).
//!
//! The caller is read from the `connection_init` payload before async-graphql takes
//! over, so a bad token can close the socket with 4403 as the contract says.

use std::time::Duration;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};

use super::AppState;
use crate::auth::Authentication;
use crate::auth::throttle::ClientAddress;

const INIT_TIMEOUT: Duration = Duration::from_secs(10);
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// After shutdown, how long pending messages (the `complete`s) may still be flushed.
const FLUSH_ON_SHUTDOWN: Duration = Duration::from_millis(200);

/// Read and write buffer per socket.
pub const BUFFER_SIZE: usize = 4 * 1024;

pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
pub const CLOSE_GOING_AWAY: u16 = 1001;

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Who a connection_init message names (anonymous without a token), and the token.
fn authenticate_init(state: &AppState, text: &str) -> Result<(Authentication, Option<String>), ()> {
    let message: serde_json::Value = serde_json::from_str(text).map_err(|_| ())?;
    if message["type"] != "connection_init" {
        return Err(());
    }
    let payload = &message["payload"];
    let authorization = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .and_then(|value| value.as_str());
    let authentication = state.keys.authenticate(authorization).map_err(|_| ())?;
    let token = authentication
        .session
        .and(authorization)
        .map(str::to_string);
    Ok((authentication, token))
}

/// Serves one socket. `client` is the peer's address, counted by the auth throttle like
/// an HTTP client's.
pub async fn serve(
    socket: WebSocket,
    protocol: GraphQLProtocol,
    state: AppState,
    client: ClientAddress,
) {
    let Some(_open) = state.live.socket_token() else {
        return; // Shutting down: refuse new sockets.
    };
    let _connected = state.metrics.websocket_opened();
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(INIT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return,
        Err(_) => {
            let _ = sink
                .send(close(
                    CLOSE_INIT_TIMEOUT,
                    "Connection initialisation timeout",
                ))
                .await;
            return;
        }
    };
    let Ok((authentication, authorization)) = authenticate_init(&state, first.as_str()) else {
        let _ = sink.send(close(CLOSE_FORBIDDEN, "Forbidden")).await;
        return;
    };
    let mut data = Data::default();
    authentication.insert_into(&mut data);
    data.insert(client);
    // A session ended while the socket is open (logOut of its token, a password change)
    // closes it with 4403.
    let mut revocations = state.keys.revocations().changes();
    let keys = state.keys.clone();
    let session_ended = move || {
        authorization
            .as_deref()
            .is_some_and(|header| keys.authenticate(Some(header)).is_err())
    };

    // async-graphql writes into a channel; one writer task adds keep-alive pings and
    // closes the socket on shutdown, after the subscriptions' `complete`s are out.
    let (outgoing, mut to_send) = futures_channel::mpsc::channel::<Message>(64);
    let input = futures_util::stream::once(async move { Ok(Message::Text(first)) }).chain(stream);
    let graphql =
        GraphQLWebSocket::new_with_pair(outgoing, input, state.websocket_schema.clone(), protocol)
            .with_data(data)
            .serve();
    let stopped = state.live.stopped();
    let writer = async move {
        futures_util::pin_mut!(stopped);
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            tokio::select! {
                message = to_send.next() => match message {
                    Some(message) => if sink.send(message).await.is_err() { return },
                    None => break,
                },
                _ = ping.tick() => if sink.send(Message::Ping(Vec::new().into())).await.is_err() { return },
                Ok(()) = revocations.changed() => if session_ended() {
                    let _ = sink.send(close(CLOSE_FORBIDDEN, "session ended")).await;
                    return;
                },
                _ = &mut stopped => {
                    while let Ok(Some(message)) = tokio::time::timeout(FLUSH_ON_SHUTDOWN, to_send.next()).await {
                        if sink.send(message).await.is_err() { return }
                    }
                    let _ = sink.send(close(CLOSE_GOING_AWAY, "server shutting down")).await;
                    return;
                }
            }
        }
        let _ = sink.close().await;
    };
    tokio::select! {
        _ = writer => {}
        _ = graphql => {}
    }
}
