//! Health, readiness, the OpenAPI document and its docs page.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use serde_json::json;

use crate::state::AppState;

/// GET /healthz — the process is up.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// GET /readyz — the database answers; 503 otherwise (or while shutting down).
pub async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "shutting down"})));
    }
    match tokio::time::timeout(Duration::from_secs(2), s.engine.store().ping()).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(json!({"status": "ready", "store": s.engine.store().backend()}))),
        _ => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "database unavailable"}))),
    }
}

/// GET /api/openapi.json
pub async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document())
}

/// GET /api/docs — a self-contained page that renders the OpenAPI document
/// (no assets from elsewhere, so it works offline).
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
