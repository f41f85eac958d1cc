//! `GET /healthz`: the process is alive. `GET /readyz`: it can do its job (the database
//! answers and its schema is current), for load balancers and orchestrators. Both stay on the
//! public listener; `/metrics` lives in [`crate::metrics`].

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let readiness = state.store.readiness().await.map_err(|err| {
        tracing::warn!(error = %err, "readiness check failed");
        ApiError::NotReady("the database does not answer".to_owned())
    })?;
    if readiness.pending_migrations > 0 {
        return Err(ApiError::NotReady(format!(
            "{} database migration(s) pending: run `freshtoken migrate`",
            readiness.pending_migrations
        )));
    }
    Ok(Json(json!({ "status": "ready", "database": "ok" })))
}
