//! GET /metrics: the server's metrics (`crate::metrics`) in Prometheus' text format.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::{self, Snapshot};

pub async fn render(State(state): State<AppState>) -> Response {
    let snapshot = Snapshot {
        pool: state.pool.status(),
        subscriptions: state.live.open_subscriptions(),
    };
    match state.metrics.render(&snapshot) {
        Ok(text) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "the metrics could not be rendered");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
