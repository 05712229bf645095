//! Conversations: list, create, read, update, end; and who is calling.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_core::command::AttributePatch;
use switchboard_core::engine::Caller;
use switchboard_core::ids::ConversationId;
use switchboard_core::model::ConversationState;
use switchboard_core::store::ConversationQuery;
use switchboard_core::{Error, event::Event};

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, Query};
use crate::state::AppState;
use crate::wire::{
    ContinueFromRequest, ConversationList, ConversationView, CreateConversationRequest, EventDoc, Me,
    UpdateConversationRequest,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `open` or `ended`.
    state: Option<String>,
    /// A conversation id: return those created before it (the next page).
    before: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
}

/// GET /api/v1/conversations — the workspace's conversations, newest first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = ConversationList), (status = 403, body = ErrorResponse)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<axum::Json<ConversationList>> {
    let state = match q.state.as_deref() {
        None => None,
        Some(v) => {
            Some(ConversationState::parse(v).ok_or_else(|| Error::invalid("state", "must be `open` or `ended`"))?)
        }
    };
    let before = q
        .before
        .as_deref()
        .map(ConversationId::parse)
        .transpose()
        .map_err(|e| Error::invalid("before", e.to_string()))?;
    let limit = q.limit.unwrap_or(50);
    let found = s
        .engine
        .conversations(&caller, ConversationQuery { state, before, limit, ..ConversationQuery::default() })
        .await?;
    let next_before = (found.len() as u32 >= limit.clamp(1, s.engine.limits().page_max))
        .then(|| found.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(axum::Json(ConversationList { conversations: found.into_iter().map(Into::into).collect(), next_before }))
}

/// POST /api/v1/conversations — opens a conversation with no participants
/// (add them next); with `continue_from`, as the continuation of an ended
/// chat of the workspace (persistent chat).
#[utoipa::path(post, path = "/api/v1/conversations", tag = "conversations", security(("bearer" = [])),
    request_body = CreateConversationRequest, responses((status = 201, body = ConversationView),
        (status = 404, description = "continue_from names no conversation of the workspace", body = ErrorResponse),
        (status = 409, description = "the chat continued has not ended, or another chat continues it already", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<CreateConversationRequest>,
) -> ApiResult<(StatusCode, axum::Json<ConversationView>)> {
    let continue_from = req.continue_from.as_ref().map(ContinueFromRequest::parse).transpose()?;
    let c =
        s.engine.create_conversation(&caller, req.attributes, req.record_id, req.idle.into(), continue_from).await?;
    Ok((StatusCode::CREATED, axum::Json(c.into())))
}

/// GET /api/v1/conversations/{id}
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationView), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ConversationView>> {
    let c = s.engine.conversation(&caller, ConversationId::parse(&id)?).await?;
    Ok(axum::Json(c.into()))
}

/// PATCH /api/v1/conversations/{id} — sets attributes (merged; `null`
/// removes a key) and the linked record id. Logged as `conversation.updated`.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateConversationRequest,
    responses((status = 200, body = EventDoc), (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateConversationRequest>,
) -> ApiResult<axum::Json<Event>> {
    let patch = AttributePatch { attributes: req.attributes, record_id: req.record_id };
    let e = s.engine.update_conversation(&caller, ConversationId::parse(&id)?, patch).await?;
    Ok(axum::Json(e))
}

/// POST /api/v1/conversations/{id}/end — ends the conversation.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/end", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EventDoc), (status = 409, description = "already ended", body = ErrorResponse)))]
pub async fn end(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Event>> {
    let e = s.engine.end_conversation(&caller, ConversationId::parse(&id)?).await?;
    Ok(axum::Json(e))
}

/// GET /api/v1/me — who these credentials belong to (a widget uses it to
/// find its conversation again after a page refresh).
#[utoipa::path(get, path = "/api/v1/me", tag = "conversations", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorResponse)))]
pub async fn me(Auth(caller): Auth) -> axum::Json<Me> {
    axum::Json(match caller {
        Caller::Admin { workspace } => {
            Me { kind: "workspace".into(), workspace_id: Some(workspace.to_string()), participant: None }
        }
        Caller::Participant(p) => Me { kind: "participant".into(), workspace_id: None, participant: Some(p.into()) },
        Caller::Agent(a) => {
            Me { kind: "agent".into(), workspace_id: Some(a.workspace_id.to_string()), participant: None }
        }
    })
}
