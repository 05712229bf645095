//! Entry points: the public ways into chat, and starting a chat through one.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use switchboard_core::engine::StartChat;
use switchboard_core::engine::admin::EntryPointSpec;
use switchboard_core::ids::EntryPointId;

use super::hours;
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, bearer};
use crate::state::AppState;
use crate::wire::{
    ContinueFromRequest, EntryPointRequest, EntryPointView, StartChatRequest, StartChatResponse, WidgetView,
};

fn spec(req: EntryPointRequest) -> EntryPointSpec {
    EntryPointSpec {
        name: req.name,
        allowed_origins: req.allowed_origins,
        idle: req.idle.map(Into::into),
        enabled: req.enabled,
        schedule: req.schedule,
        widget: req.widget,
    }
}

/// POST /api/v1/entry-points — creates an entry point.
#[utoipa::path(post, path = "/api/v1/entry-points", tag = "entry points", request_body = EntryPointRequest,
    security(("bearer" = [])),
    responses((status = 201, body = EntryPointView), (status = 422, body = ErrorResponse)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<EntryPointRequest>,
) -> ApiResult<(StatusCode, axum::Json<EntryPointView>)> {
    let ep = s.engine.create_entry_point(&caller, spec(req)).await?;
    Ok((StatusCode::CREATED, axum::Json(hours::one(hours::entry_point_views(&s, &caller, vec![ep]).await?)?)))
}

/// GET /api/v1/entry-points — lists the workspace's entry points.
#[utoipa::path(get, path = "/api/v1/entry-points", tag = "entry points", security(("bearer" = [])),
    responses((status = 200, body = Vec<EntryPointView>)))]
pub async fn list(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<EntryPointView>>> {
    let eps = s.engine.entry_points(&caller).await?;
    Ok(axum::Json(hours::entry_point_views(&s, &caller, eps).await?))
}

/// GET /api/v1/entry-points/{id}/widget — public: the chat widget's title,
/// colours, logo, greeting and pre-chat form.
#[utoipa::path(get, path = "/api/v1/entry-points/{id}/widget", tag = "entry points",
    params(("id" = String, Path)), responses((status = 200, body = WidgetView), (status = 404, body = ErrorResponse)))]
pub async fn widget(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<axum::Json<WidgetView>> {
    Ok(axum::Json(s.engine.public_entry_point(EntryPointId::parse(&id)?).await?.into()))
}

/// GET /api/v1/entry-points/{id}
#[utoipa::path(get, path = "/api/v1/entry-points/{id}", tag = "entry points", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = EntryPointView), (status = 404, body = ErrorResponse)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<EntryPointView>> {
    let ep = s.engine.entry_point(&caller, EntryPointId::parse(&id)?).await?;
    Ok(axum::Json(hours::one(hours::entry_point_views(&s, &caller, vec![ep]).await?)?))
}

/// PATCH /api/v1/entry-points/{id} — changes the given fields.
#[utoipa::path(patch, path = "/api/v1/entry-points/{id}", tag = "entry points", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = EntryPointRequest,
    responses((status = 200, body = EntryPointView), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<EntryPointRequest>,
) -> ApiResult<axum::Json<EntryPointView>> {
    let ep = s.engine.update_entry_point(&caller, EntryPointId::parse(&id)?, spec(req)).await?;
    Ok(axum::Json(hours::one(hours::entry_point_views(&s, &caller, vec![ep]).await?)?))
}

/// POST /api/v1/entry-points/{id}/chats — starts a chat as a customer. Public:
/// no credentials; a browser's `Origin` must be one the entry point allows.
/// With `continue_from`, the chat continues an ended one (persistent chat),
/// and the request carries that chat's customer token as its bearer.
#[utoipa::path(post, path = "/api/v1/entry-points/{id}/chats", tag = "chats", params(("id" = String, Path)),
    request_body = StartChatRequest,
    responses((status = 201, body = StartChatResponse),
        (status = 401, description = "continue_from without the customer token of that chat", body = ErrorResponse),
        (status = 403, description = "an origin not allowed, or a token that is not the customer's of the chat continued", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "the chat continued has not ended, or another chat continues it already", body = ErrorResponse)))]
pub async fn start_chat(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<StartChatRequest>,
) -> ApiResult<(StatusCode, axum::Json<StartChatResponse>)> {
    let origin = crate::extract::foreign_origin(&headers);
    let continue_from = req.continue_from.as_ref().map(ContinueFromRequest::parse).transpose()?;
    // Credentials matter only to continue a chat; a plain start ignores them.
    let caller = match (continue_from, bearer(&headers)) {
        (Some(_), Some(secret)) => Some(s.engine.authenticate(secret).await?),
        _ => None,
    };
    let start = StartChat {
        display_name: req.display_name,
        attributes: req.attributes,
        record_id: req.record_id,
        continue_from,
        caller,
        id: None,
        max_duration_secs: None,
    };
    let chat = s.engine.start_chat(EntryPointId::parse(&id)?, origin, start).await?;
    let stream_url = format!("{}/api/v1/stream", s.config.public_url.replacen("http", "ws", 1));
    let body = StartChatResponse {
        conversation: chat.conversation.into(),
        participant: chat.participant.into(),
        token: chat.token.expose().to_owned(),
        stream_url,
    };
    Ok((StatusCode::CREATED, axum::Json(body)))
}
