//! `GET /api/v1/instance`: what this instance offers (its version, demo mode, the platforms it
//! connects, whether anyone may sign up), for the dashboard before anyone signs in.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use freshtoken_core::AccountKind;
use freshtoken_core::api::InstanceView;

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/instance", get(instance))
}

/// What this instance offers, for the dashboard before anyone signs in.
#[utoipa::path(get, path = "/api/v1/instance", tag = "instance", responses((status = 200, description = "what this instance offers", body = InstanceView)))]
async fn instance(State(state): State<AppState>) -> Result<axum::Json<InstanceView>, ApiError> {
    Ok(axum::Json(InstanceView {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo: state.config.demo,
        instagram_connect: state.connector.offers(AccountKind::Instagram),
        connect_kinds: state.connector.offered(),
        signup: state.config.signup_mode,
        first_user: state.store.users().none_yet().await?,
    }))
}
