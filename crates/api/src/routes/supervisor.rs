//! Supervisors: queue statistics and the live list of chats. (Their stream
//! is the WebSocket at /api/v1/stream opened with a workspace key.)

use axum::extract::State;

use crate::error::ApiResult;
use crate::extract::Auth;
use crate::state::AppState;
use crate::wire_routing::{LiveChatView, QueueStatsView};

/// GET /api/v1/supervisor/queues — per queue: chats waiting, offered and
/// assigned, the longest and average wait, and eligible agents available,
/// busy and away.
#[utoipa::path(get, path = "/api/v1/supervisor/queues", tag = "supervisor", security(("bearer" = [])),
    responses((status = 200, body = Vec<QueueStatsView>)))]
pub async fn queues(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<QueueStatsView>>> {
    Ok(axum::Json(s.engine.queue_stats(&caller).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/supervisor/conversations — every chat waiting for or with an
/// agent, longest waiting first.
#[utoipa::path(get, path = "/api/v1/supervisor/conversations", tag = "supervisor", security(("bearer" = [])),
    responses((status = 200, body = Vec<LiveChatView>)))]
pub async fn conversations(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<LiveChatView>>> {
    Ok(axum::Json(s.engine.live_chats(&caller).await?.into_iter().map(Into::into).collect()))
}
