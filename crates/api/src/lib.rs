//! The HTTP and WebSocket edge of Switchboard: the native API under
//! `/api/v1`, its errors and limits, OpenAPI, health and metrics.
//!
//! Handlers are thin: they parse the request into domain values, call one
//! [`switchboard_core::engine::Engine`] method and shape the answer. Only
//! this crate knows HTTP, WebSocket and JSON wire shapes.

#![forbid(unsafe_code)]

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post, put};
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

pub mod agent_stream;
pub mod error;
mod event_frames;
pub mod event_stream;
pub mod extract;
mod intake;
pub mod markdown;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod stream;
pub mod supervisor_stream;
pub mod web;
pub mod wire;
pub mod wire_explain;
pub mod wire_files;
pub mod wire_flows;
pub mod wire_hours;
pub mod wire_retention;
pub mod wire_routing;

pub use state::{ApiConfig, AppState};

use routes::{
    access_keys, agents, conversations, directory, entry_points, export, files, flows, hours, log, participants,
    retention, routing, supervisor, system,
};

/// Every route of the server, with its layers.
pub fn router(state: AppState) -> Router {
    let conversation = "/api/v1/conversations/{id}";
    let participant = "/api/v1/conversations/{id}/participants/{participant_id}";
    Router::new()
        .route("/api/v1/entry-points", get(entry_points::list).post(entry_points::create))
        .route("/api/v1/entry-points/{id}", get(entry_points::get).patch(entry_points::update))
        .route("/api/v1/entry-points/{id}/chats", post(entry_points::start_chat))
        .route("/api/v1/entry-points/{id}/availability", get(hours::availability))
        .route("/api/v1/entry-points/{id}/widget", get(entry_points::widget))
        .route("/api/v1/conversations", get(conversations::list).post(conversations::create))
        .route(conversation, get(conversations::get).patch(conversations::update).delete(retention::erase))
        .route(&format!("{conversation}/end"), post(conversations::end))
        .route(&format!("{conversation}/participants"), get(participants::list).post(participants::add))
        .route(participant, axum::routing::delete(participants::remove))
        .route(&format!("{participant}/tokens"), post(participants::issue_token).delete(participants::revoke_tokens))
        .route(&format!("{conversation}/messages"), post(log::send_message))
        .route(&format!("{conversation}/events"), post(log::send_event))
        .route(&format!("{conversation}/transcript"), get(log::transcript))
        .route(&format!("{conversation}/transcript/export"), get(export::export))
        .route(&format!("{conversation}/poll"), get(log::poll))
        .route(&format!("{conversation}/route"), post(routing::route))
        .route(&format!("{conversation}/task"), get(routing::task))
        .route(&format!("{conversation}/task/explain"), get(routing::explain))
        .route(&format!("{conversation}/queue-position"), get(routing::queue_position))
        .route(&format!("{conversation}/transfer"), post(routing::transfer))
        .route(&format!("{conversation}/agent-input"), post(routing::agent_input))
        .route(&format!("{conversation}/file-requests"), get(routing::file_requests).post(routing::request_file))
        .route(&format!("{conversation}/file-requests/{{request_id}}/cancel"), post(routing::cancel_file_request))
        .route(&format!("{conversation}/file-requests/{{request_id}}/decline"), post(files::decline_request))
        .route(&format!("{conversation}/attachments"), get(files::list).post(files::start))
        .route(&format!("{conversation}/attachments/{{attachment_id}}"), get(files::get))
        .route(&format!("{conversation}/attachments/{{attachment_id}}/complete"), post(files::complete))
        .route("/api/v1/uploads/{attachment_id}", put(files::upload).layer(files::upload_body_limit()))
        .route("/api/v1/files/{attachment_id}", get(files::download))
        .route("/api/v1/settings", get(files::settings).put(files::put_settings))
        .route("/api/v1/agents", get(agents::list).post(agents::create))
        .route("/api/v1/agents/login", post(agents::login))
        .route("/api/v1/agents/{id}", get(agents::get).patch(agents::update))
        .route("/api/v1/agents/{id}/tokens", post(agents::issue_token).delete(agents::revoke_tokens))
        .route("/api/v1/agents/{id}/activity", put(agents::set_activity))
        .route("/api/v1/directory", get(directory::directory))
        .route("/api/v1/activities", get(agents::activities).post(agents::create_activity))
        .route("/api/v1/activities/{name}", axum::routing::delete(agents::delete_activity))
        .route("/api/v1/queues", get(routing::list_queues).post(routing::create_queue))
        .route("/api/v1/queues/{id}", get(routing::get_queue).patch(routing::update_queue))
        .route("/api/v1/workflow", get(routing::get_workflow).put(routing::put_workflow))
        .route("/api/v1/schedules", get(hours::list).post(hours::create))
        .route("/api/v1/schedules/{id}", get(hours::get).put(hours::put).delete(hours::delete))
        .route("/api/v1/supervisor/queues", get(supervisor::queues))
        .route("/api/v1/supervisor/conversations", get(supervisor::conversations))
        .route("/api/v1/supervisor/history", get(supervisor::history))
        .route("/api/v1/offers", get(routing::offers))
        .route("/api/v1/message-requests", get(routing::message_requests))
        .route("/api/v1/message-requests/{id}/pick-up", post(routing::pick_up))
        .route("/api/v1/offers/{id}/accept", post(routing::accept))
        .route("/api/v1/offers/{id}/decline", post(routing::decline))
        .route(&format!("{conversation}/forms/{{form_id}}/submit"), post(flows::submit_form))
        .route("/api/v1/flows", get(flows::list).post(flows::deploy))
        .route("/api/v1/flows/validate", post(flows::validate))
        .route("/api/v1/flows/{name}", get(flows::versions))
        .route("/api/v1/flows/{name}/graph", get(flows::graph_of))
        .route("/api/v1/flows/{name}/runs", post(flows::launch))
        .route("/api/v1/flow-runs", get(flows::runs))
        .route("/api/v1/flow-runs/{id}", get(flows::run))
        .route("/api/v1/flow-runs/{id}/log", get(flows::run_log))
        .route("/api/v1/flow-runs/{id}/cancel", post(flows::cancel))
        .route("/api/v1/event-types", get(flows::event_types))
        .route("/api/v1/event-types/{name}", put(flows::put_event_type))
        .route("/api/v1/custom-events", get(flows::custom_events).post(flows::publish))
        .route("/api/v1/custom-events/stream", get(event_stream::stream))
        .route("/api/v1/outbox", get(flows::outbox))
        .route("/api/v1/outbox/{id}/replay", post(flows::replay))
        .route("/api/v1/webhooks", get(flows::webhooks).post(flows::create_webhook))
        .route("/api/v1/webhooks/{id}", get(flows::webhook).patch(flows::update_webhook).delete(flows::delete_webhook))
        .route("/api/v1/webhooks/{id}/deliveries", get(flows::deliveries))
        .route("/api/v1/webhook-secret", get(flows::webhook_secret))
        .route("/api/v1/webhook-secret/rotate", post(flows::rotate_webhook_secret))
        .route("/api/v1/access-keys", get(access_keys::list).post(access_keys::create))
        .route("/api/v1/access-keys/{id}", axum::routing::delete(access_keys::revoke))
        .route("/api/v1/erasures", get(retention::list))
        .route("/api/v1/me", get(conversations::me))
        .route("/api/v1/stream", get(stream::stream))
        .route("/api/openapi.json", get(system::openapi))
        .route("/api/docs", get(system::docs))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(metrics::render))
        .merge(web::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(cors())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            // The path only: query strings may carry tokens.
            tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// Any origin may call the API with a bearer token (no cookies are used, so
/// the token is the whole of the authority). Starting a chat checks the
/// entry point's own allowed origins in the handler.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(3600))
}
