//! `GET /api/v1/custom-events/stream`: a WebSocket of a workspace's custom
//! events as they are published, optionally of one type and key, starting
//! after a replay id. A client that reconnects passes the last replay id it
//! got and misses nothing that is still kept. For workspace keys (API
//! clients) and agent tokens (an agent console following its flows).

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::bus::Topic;
use switchboard_core::engine::Caller;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::extract::{Query, socket_caller};
use crate::state::AppState;
use crate::wire_flows::CustomEventView;

/// Events read from the store at a time.
const PAGE: u32 = 200;

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventStreamQuery {
    /// A workspace key or agent token (or send it as a bearer header).
    token: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only events with this key.
    key: Option<String>,
    /// Start after this replay id (default: only what comes next).
    after: Option<i64>,
}

/// GET /api/v1/custom-events/stream
#[utoipa::path(get, path = "/api/v1/custom-events/stream", tag = "flows", params(EventStreamQuery),
    description = "Upgrades to a WebSocket of custom events: `{\"type\":\"hello\",\"after\":N}`, then \
        `{\"type\":\"custom_event\",\"event\":{…}}` per event, oldest first, from the store after `after` and then as \
        they are published.",
    responses((status = 101, description = "switching protocols"), (status = 401, body = crate::error::ErrorResponse)))]
pub async fn stream(
    State(s): State<AppState>,
    Query(q): Query<EventStreamQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match open(s, q, &headers, upgrade).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn open(
    s: AppState,
    q: EventStreamQuery,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let caller = socket_caller(&s, q.token.as_deref(), headers, "a workspace key or agent token").await?;
    s.engine.event_reader(&caller)?;
    if q.after.is_some_and(|n| n < 0) {
        return Err(Error::invalid("after", "must not be negative").into());
    }
    // Without `after`, start at the newest event kept: only what comes next.
    let after = match q.after {
        Some(n) => n,
        None => newest(&s, &caller, &q).await?,
    };
    crate::stream::serve_socket(s, upgrade, move |s, socket| session(s, socket, caller, q, after))
}

async fn newest(s: &AppState, caller: &Caller, q: &EventStreamQuery) -> Result<i64, ApiError> {
    let mut after = 0;
    loop {
        let page = s.engine.event_feed(caller, after, q.event_type.as_deref(), q.key.as_deref(), PAGE).await?;
        match page.last() {
            Some(e) => after = e.replay_id,
            None => return Ok(after),
        }
        if (page.len() as u32) < PAGE {
            return Ok(after);
        }
    }
}

async fn session(s: AppState, mut socket: WebSocket, caller: Caller, q: EventStreamQuery, mut cursor: i64) {
    let Ok(workspace) = s.engine.event_reader(&caller) else { return };
    // Subscribe before reading, so an event published in between is not missed.
    let mut published = s.engine.bus_subscribe(Topic::Events(workspace));
    let hello = serde_json::json!({ "type": "hello", "after": cursor }).to_string();
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        loop {
            let page = match s.engine.event_feed(&caller, cursor, q.event_type.as_deref(), q.key.as_deref(), PAGE).await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream could not read the store");
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            };
            for e in &page {
                cursor = e.replay_id;
                let frame = serde_json::json!({ "type": "custom_event", "event": CustomEventView::from(e.clone()) });
                if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                    return;
                }
            }
            if (page.len() as u32) < PAGE {
                break;
            }
        }
        tokio::select! {
            notice = published.recv() => match notice {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            message = socket.recv() => match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
