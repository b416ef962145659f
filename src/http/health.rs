//! GET /healthz: 200 when the database answers, 503 when it does not.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use diesel_async::RunQueryDsl;

use super::AppState;

pub async fn check(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ping = async {
        let mut connection = state.pool.get().await.ok()?;
        diesel::sql_query("SELECT 1")
            .execute(&mut connection)
            .await
            .ok()
    };
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Some(_)) => (StatusCode::OK, "ok\n"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n"),
    }
}
