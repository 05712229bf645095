//! Hours of operation: schedules, and an entry point's availability.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use switchboard_core::engine::Caller;
use switchboard_core::ids::{EntryPointId, ScheduleId};
use switchboard_core::model::EntryPoint;
use switchboard_core::routing::hours::{self, ScheduleDoc};
use switchboard_core::routing::model::Queue;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::Auth;
use crate::state::AppState;
use crate::wire::EntryPointView;
use crate::wire_hours::{AvailabilityView, ScheduleRequestDoc, ScheduleView};
use crate::wire_routing::QueueView;

/// The body as a schedule: YAML when its content type says so, else JSON.
fn document(headers: &HeaderMap, body: &[u8]) -> ApiResult<ScheduleDoc> {
    let text = std::str::from_utf8(body)
        .map_err(|e| switchboard_core::Error::malformed(format!("the body is not UTF-8 text: {e}")))?;
    let yaml = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.contains("yaml"));
    Ok(if yaml { hours::parse_yaml(text)? } else { hours::from_json_text(text)? })
}

/// The names of the schedules `ids` name, read only when there are any.
async fn schedule_names(
    s: &AppState,
    caller: &Caller,
    mut ids: impl Iterator<Item = Option<ScheduleId>>,
) -> ApiResult<HashMap<ScheduleId, String>> {
    if !ids.any(|id| id.is_some()) {
        return Ok(HashMap::new());
    }
    Ok(s.engine.schedules(caller).await?.into_iter().map(|s| (s.id, s.name)).collect())
}

/// Queues as shown, with their schedule's name.
pub(crate) async fn queue_views(s: &AppState, caller: &Caller, queues: Vec<Queue>) -> ApiResult<Vec<QueueView>> {
    let names = schedule_names(s, caller, queues.iter().map(|q| q.schedule_id)).await?;
    Ok(queues
        .into_iter()
        .map(|q| {
            let schedule = q.schedule_id.and_then(|id| names.get(&id).cloned());
            QueueView { schedule, ..q.into() }
        })
        .collect())
}

/// Entry points as shown, with their schedule's name.
pub(crate) async fn entry_point_views(
    s: &AppState,
    caller: &Caller,
    eps: Vec<EntryPoint>,
) -> ApiResult<Vec<EntryPointView>> {
    let names = schedule_names(s, caller, eps.iter().map(|e| e.schedule_id)).await?;
    Ok(eps
        .into_iter()
        .map(|e| {
            let schedule = e.schedule_id.and_then(|id| names.get(&id).cloned());
            EntryPointView { schedule, ..e.into() }
        })
        .collect())
}

/// One of either, as shown.
pub(crate) fn one<V>(mut views: Vec<V>) -> ApiResult<V> {
    Ok(views.pop().ok_or_else(|| switchboard_core::Error::internal("no view"))?)
}

/// POST /api/v1/schedules — creates a schedule (JSON, or YAML with a YAML content type).
#[utoipa::path(post, path = "/api/v1/schedules", tag = "routing",
    request_body(content((ScheduleRequestDoc = "application/json"), (String = "application/yaml"))),
    security(("bearer" = [])),
    responses((status = 201, body = ScheduleView), (status = 409, description = "the name is taken", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<ScheduleView>)> {
    let schedule = s.engine.create_schedule(&caller, document(&headers, &body)?).await?;
    Ok((StatusCode::CREATED, axum::Json(schedule.into())))
}

/// GET /api/v1/schedules — the workspace's schedules, by name.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleView>)))]
pub async fn list(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<ScheduleView>>> {
    Ok(axum::Json(s.engine.schedules(&caller).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/schedules/{id}
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ScheduleView), (status = 404, body = ErrorResponse)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ScheduleView>> {
    Ok(axum::Json(s.engine.schedule(&caller, ScheduleId::parse(&id)?).await?.into()))
}

/// PUT /api/v1/schedules/{id} — replaces the schedule's name and hours;
/// queues that follow it open or close at once.
#[utoipa::path(put, path = "/api/v1/schedules/{id}", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content((ScheduleRequestDoc = "application/json"), (String = "application/yaml"))),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorResponse),
        (status = 409, description = "the name is taken, or a rename of a schedule the workflow's conditions use",
            body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn put(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<ScheduleView>> {
    let id = ScheduleId::parse(&id)?;
    Ok(axum::Json(s.engine.put_schedule(&caller, id, document(&headers, &body)?).await?.into()))
}

/// DELETE /api/v1/schedules/{id} — deletes a schedule no queue or entry point follows.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorResponse),
        (status = 409, description = "queues, entry points or the workflow's conditions use it; the message names them",
            body = ErrorResponse)))]
pub async fn delete(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.engine.delete_schedule(&caller, ScheduleId::parse(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/entry-points/{id}/availability — whether a chat started here
/// now would be answered: `open`, `closed` (with `next_open_at`) or
/// `no_agent_available`. Public, like starting a chat: no credentials; a
/// browser's `Origin` must be one the entry point allows.
#[utoipa::path(get, path = "/api/v1/entry-points/{id}/availability", tag = "chats", params(("id" = String, Path)),
    responses((status = 200, body = AvailabilityView),
        (status = 403, description = "an origin the entry point does not allow", body = ErrorResponse),
        (status = 404, description = "no such enabled entry point", body = ErrorResponse)))]
pub async fn availability(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<AvailabilityView>> {
    let origin = crate::extract::foreign_origin(&headers);
    Ok(axum::Json(s.engine.availability(EntryPointId::parse(&id)?, origin).await?.into()))
}
