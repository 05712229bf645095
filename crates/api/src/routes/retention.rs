//! Erasure: deleting a conversation with everything derived from it (right
//! to erasure), and the audit rows erasures and retention leave.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::engine::Caller;
use switchboard_core::engine::retention::EraseConversation;
use switchboard_core::ids::{ConversationId, ErasureId};
use switchboard_core::store::ErasureQuery;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Query, bearer};
use crate::state::AppState;
use crate::wire_retention::{ErasureList, ErasureView};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EraseQuery {
    /// End the conversation first if it is still open (default: an open
    /// conversation is a 409).
    end: Option<bool>,
    /// Why, kept in the audit row: 1 to 200 characters. Say why, not what was said.
    reason: Option<String>,
}

/// DELETE /api/v1/conversations/{id} — erases the conversation with its
/// events, participants and their tokens, files and every derived row, and
/// returns the audit row (which holds no content). Asking again returns the
/// same row. Workspace keys only.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path), EraseQuery),
    responses((status = 200, body = ErasureView),
        (status = 403, description = "not a workspace key", body = ErrorResponse),
        (status = 404, description = "no such conversation in the workspace", body = ErrorResponse),
        (status = 409, description = "the conversation is open and `end` was not set", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
pub async fn erase(
    State(s): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EraseQuery>,
) -> ApiResult<axum::Json<ErasureView>> {
    let key = match (&caller, bearer(&headers)) {
        (Caller::Admin { .. }, Some(secret)) => s.engine.api_key_id(secret).await?,
        _ => None,
    };
    let req = EraseConversation { reason: q.reason, end: q.end.unwrap_or(false), key };
    let erasure = s.engine.erase_conversation(&caller, ConversationId::parse(&id)?, req).await?;
    Ok(axum::Json(erasure.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ErasureListQuery {
    /// An erasure id: return those made before it (the next page).
    before: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<u32>,
}

/// GET /api/v1/erasures — the workspace's erasures (on request and by
/// retention), newest first.
#[utoipa::path(get, path = "/api/v1/erasures", tag = "conversations", security(("bearer" = [])),
    params(ErasureListQuery), responses((status = 200, body = ErasureList), (status = 403, body = ErrorResponse)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<ErasureListQuery>,
) -> ApiResult<axum::Json<ErasureList>> {
    let before =
        q.before.as_deref().map(ErasureId::parse).transpose().map_err(|e| Error::invalid("before", e.to_string()))?;
    let limit = q.limit.unwrap_or(50);
    let found = s.engine.erasures(&caller, ErasureQuery { before, limit }).await?;
    let next_before = (found.len() as u32 >= limit.clamp(1, s.engine.limits().page_max))
        .then(|| found.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(axum::Json(ErasureList { erasures: found.into_iter().map(Into::into).collect(), next_before }))
}
