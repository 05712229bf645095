//! Participants of a conversation and their tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchboard_core::Error;
use switchboard_core::event::Event;
use switchboard_core::ids::{ConversationId, ParticipantId};
use switchboard_core::model::Role;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json};
use crate::state::AppState;
use crate::wire::{
    AddParticipantRequest, AddParticipantResponse, EventDoc, ParticipantView, RevokedResponse, TokenResponse,
};

fn ids(cid: &str, pid: &str) -> Result<(ConversationId, ParticipantId), Error> {
    Ok((ConversationId::parse(cid)?, ParticipantId::parse(pid)?))
}

/// GET /api/v1/conversations/{id}/participants — everyone who has joined, in order.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/participants", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<ParticipantView>), (status = 403, body = ErrorResponse)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<ParticipantView>>> {
    let ps = s.engine.participants(&caller, ConversationId::parse(&id)?).await?;
    Ok(axum::Json(ps.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/conversations/{id}/participants — adds a participant and
/// returns its token (shown once).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/participants", tag = "participants", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = AddParticipantRequest,
    responses((status = 201, body = AddParticipantResponse), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn add(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<AddParticipantRequest>,
) -> ApiResult<(StatusCode, axum::Json<AddParticipantResponse>)> {
    let role = Role::parse(&req.role)
        .ok_or_else(|| Error::invalid("role", "must be customer, agent, system or supervisor"))?;
    let (p, token, _) = s.engine.add_participant(&caller, ConversationId::parse(&id)?, role, req.display_name).await?;
    let body = AddParticipantResponse { participant: p.into(), token: token.expose().to_owned() };
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// DELETE /api/v1/conversations/{id}/participants/{participant_id} — removes a
/// participant (a participant may remove itself: it leaves). The conversation
/// ends when nobody is left. Returns the events it logged.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/participants/{participant_id}", tag = "participants",
    security(("bearer" = [])), params(("id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = Vec<EventDoc>), (status = 409, body = ErrorResponse)))]
pub async fn remove(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<axum::Json<Vec<Event>>> {
    let (cid, pid) = ids(&cid, &pid)?;
    Ok(axum::Json(s.engine.remove_participant(&caller, cid, pid).await?))
}

/// POST /api/v1/conversations/{id}/participants/{participant_id}/tokens —
/// issues another token for the participant.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/participants/{participant_id}/tokens", tag = "participants",
    security(("bearer" = [])), params(("id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 201, body = TokenResponse), (status = 404, body = ErrorResponse)))]
pub async fn issue_token(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<(StatusCode, axum::Json<TokenResponse>)> {
    let (cid, pid) = ids(&cid, &pid)?;
    let token = s.engine.issue_token(&caller, cid, pid).await?;
    Ok((StatusCode::CREATED, axum::Json(TokenResponse { token: token.expose().to_owned() })))
}

/// DELETE /api/v1/conversations/{id}/participants/{participant_id}/tokens —
/// revokes every token of the participant.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/participants/{participant_id}/tokens", tag = "participants",
    security(("bearer" = [])), params(("id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = RevokedResponse), (status = 404, body = ErrorResponse)))]
pub async fn revoke_tokens(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((cid, pid)): Path<(String, String)>,
) -> ApiResult<axum::Json<RevokedResponse>> {
    let (cid, pid) = ids(&cid, &pid)?;
    let revoked = s.engine.revoke_tokens(&caller, cid, pid).await?;
    Ok(axum::Json(RevokedResponse { revoked }))
}
