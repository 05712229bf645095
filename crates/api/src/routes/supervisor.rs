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

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct StatsHistoryQuery {
    /// How far back, 1 to 60 minutes (default 60).
    minutes: Option<u32>,
}

/// The last hour of each queue's size and wait, for a chart.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StatsHistoryView {
    /// Seconds between samples.
    pub step_secs: u64,
    /// Each queue sampled, with its samples oldest first.
    pub queues: Vec<QueueStatsHistoryView>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct QueueStatsHistoryView {
    pub queue_id: String,
    pub name: String,
    pub samples: Vec<QueueStatsSampleView>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct QueueStatsSampleView {
    pub at: String,
    pub waiting: u32,
    pub longest_wait_secs: u64,
    pub average_wait_secs: u64,
}

/// GET /api/v1/supervisor/history — each queue's waiting count and wait,
/// sampled every 10 seconds over the last hour (kept in memory by the node
/// that answers, since it started).
#[utoipa::path(get, path = "/api/v1/supervisor/history", tag = "supervisor", security(("bearer" = [])),
    params(StatsHistoryQuery), responses((status = 200, body = StatsHistoryView)))]
pub async fn history(
    State(s): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Query(q): axum::extract::Query<StatsHistoryQuery>,
) -> ApiResult<axum::Json<StatsHistoryView>> {
    let samples = s.engine.stats_history(&caller, q.minutes.unwrap_or(60)).await?;
    let mut queues: Vec<QueueStatsHistoryView> = Vec::new();
    for sample in samples {
        let at = sample.at.to_rfc3339();
        for q in sample.queues {
            let point = QueueStatsSampleView {
                at: at.clone(),
                waiting: q.waiting,
                longest_wait_secs: q.longest_wait_secs,
                average_wait_secs: q.average_wait_secs,
            };
            let id = q.queue_id.to_string();
            match queues.iter_mut().find(|h| h.queue_id == id) {
                Some(h) => {
                    h.name = q.name;
                    h.samples.push(point);
                }
                None => queues.push(QueueStatsHistoryView { queue_id: id, name: q.name, samples: vec![point] }),
            }
        }
    }
    let step_secs = switchboard_core::engine::stats_history::SAMPLE_EVERY.as_secs();
    Ok(axum::Json(StatsHistoryView { step_secs, queues }))
}
