//! Amazon Connect chat, spoken by Switchboard.
//!
//! A thin translation at the edge: `StartChatContact` (the Connect control
//! plane, signed with AWS Signature V4 by a workspace access key), the
//! Participant Service (`/participant/*`, authenticated by `X-Amz-Bearer`)
//! and the WebSocket protocol ChatJS speaks. Every request becomes one
//! engine operation; the log, routing, receipts and files are the engine's
//! own. No core type carries a vendor field name: the vendor's names live
//! in this crate's wire types only. What is supported and what is not is in
//! `docs/dialects/amazon-connect.md`.

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{get, post, put};
use switchboard_core::engine::Engine;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::cors::{Any, CorsLayer};

pub mod auth;
pub mod contact;
pub mod error;
pub mod items;
pub mod participant;
pub mod sigv4;
pub mod transcript;
pub mod views;
pub mod ws;

/// What the dialect's handlers are given.
#[derive(Clone)]
pub struct ConnectState {
    pub engine: Arc<Engine>,
    /// The base URL clients reach this server at; the WebSocket URL handed
    /// out by `CreateParticipantConnection` is built on it.
    pub public_url: Arc<str>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// The WebSocket tasks, so shutdown waits for their close frames.
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for ConnectState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectState").field("public_url", &self.public_url).finish()
    }
}

/// The dialect's routes: merge them into the server's router.
pub fn router(state: ConnectState) -> Router {
    let participant = Router::new()
        .route("/participant/connection", post(participant::create_connection))
        .route("/participant/message", post(participant::send_message))
        .route("/participant/event", post(participant::send_event))
        .route("/participant/transcript", post(transcript::get_transcript))
        .route("/participant/disconnect", post(participant::disconnect))
        .route("/participant/start-attachment-upload", post(participant::start_attachment_upload))
        .route("/participant/complete-attachment-upload", post(participant::complete_attachment_upload))
        .route("/participant/attachment", post(participant::get_attachment))
        .route("/participant/views/{view_token}", get(participant::describe_view))
        .route("/connect/ws", get(ws::socket))
        .layer(cors());
    let control = Router::new().route("/contact/chat", put(contact::start_chat_contact));
    participant
        .merge(control)
        .layer(axum::extract::DefaultBodyLimit::max(state.max_body_bytes))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            // The path only: the socket URL's query carries a ticket.
            tracing::debug_span!("connect", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}

/// ChatJS runs in browsers on any site: the bearer token is the whole of the
/// authority (no cookies), so any origin may call. The SDK's own headers
/// must be allowed, and the error headers exposed, or its typed errors
/// degrade to "Unknown".
fn cors() -> CorsLayer {
    let allowed = [
        "x-amz-bearer",
        "x-amz-user-agent",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
    ];
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers(
            allowed
                .into_iter()
                .map(HeaderName::from_static)
                .chain([header::AUTHORIZATION, header::CONTENT_TYPE])
                .collect::<Vec<_>>(),
        )
        .expose_headers([HeaderName::from_static("x-amzn-requestid"), HeaderName::from_static("x-amzn-errortype")])
        .max_age(Duration::from_secs(3600))
}

/// `x-amzn-requestid`: one per answer, as the service sends it.
pub(crate) fn request_id() -> HeaderValue {
    HeaderValue::from_str(&ulid::Ulid::new().to_string().to_lowercase()).expect("a ULID is a valid header value")
}
