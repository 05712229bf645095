//! Agents: the people who answer chats, their credentials and presence.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use switchboard_core::engine::Caller;
use switchboard_core::engine::routing::AgentSpec;
use switchboard_core::ids::AgentId;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json};
use crate::state::AppState;
use crate::wire::RevokedResponse;
use crate::wire_routing::{
    ActivityRequest, ActivityView, AgentRequest, AgentTokenRequest, AgentTokenResponse, AgentView, LoginRequest,
};

fn spec(req: AgentRequest) -> AgentSpec {
    AgentSpec {
        name: req.name,
        login: req.login,
        password: req.password,
        attributes: req.attributes,
        capacity: req.capacity,
        enabled: req.enabled,
    }
}

/// `me` stands for the agent the token belongs to.
fn agent_id(caller: &Caller, id: &str) -> ApiResult<AgentId> {
    match (id, caller) {
        ("me", Caller::Agent(a)) => Ok(a.id),
        _ => Ok(AgentId::parse(id)?),
    }
}

/// POST /api/v1/agents — creates an agent (offline until it says otherwise).
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = AgentRequest, security(("bearer" = [])),
    responses((status = 201, body = AgentView), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<AgentRequest>,
) -> ApiResult<(StatusCode, axum::Json<AgentView>)> {
    let agent = s.engine.create_agent(&caller, spec(req)).await?;
    Ok((StatusCode::CREATED, axum::Json(agent.into())))
}

/// GET /api/v1/agents — lists the workspace's agents.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = Vec<AgentView>)))]
pub async fn list(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<AgentView>>> {
    Ok(axum::Json(s.engine.agents(&caller).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/agents/{id} — an agent (`me` with an agent token).
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = AgentView), (status = 404, body = ErrorResponse)))]
pub async fn get(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AgentView>> {
    let id = agent_id(&caller, &id)?;
    Ok(axum::Json(s.engine.agent(&caller, id).await?.into()))
}

/// PATCH /api/v1/agents/{id} — changes the given fields; `enabled: false`
/// also revokes the agent's tokens and withdraws its offers.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = AgentRequest,
    responses((status = 200, body = AgentView), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<AgentRequest>,
) -> ApiResult<axum::Json<AgentView>> {
    let agent = s.engine.update_agent(&caller, AgentId::parse(&id)?, spec(req)).await?;
    Ok(axum::Json(agent.into()))
}

/// POST /api/v1/agents/{id}/tokens — issues an agent API token.
#[utoipa::path(post, path = "/api/v1/agents/{id}/tokens", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = AgentTokenRequest,
    responses((status = 201, body = AgentTokenResponse), (status = 404, body = ErrorResponse)))]
pub async fn issue_token(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<AgentTokenRequest>,
) -> ApiResult<(StatusCode, axum::Json<AgentTokenResponse>)> {
    let id = AgentId::parse(&id)?;
    let token = s.engine.issue_agent_token(&caller, id, req.name).await?;
    let agent = s.engine.agent(&caller, id).await?;
    Ok((StatusCode::CREATED, axum::Json(AgentTokenResponse { agent: agent.into(), token: token.expose().to_owned() })))
}

/// DELETE /api/v1/agents/{id}/tokens — revokes every token of the agent.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/tokens", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = RevokedResponse)))]
pub async fn revoke_tokens(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RevokedResponse>> {
    let revoked = s.engine.revoke_agent_tokens(&caller, AgentId::parse(&id)?).await?;
    Ok(axum::Json(RevokedResponse { revoked }))
}

/// POST /api/v1/agents/login — a console login: login and password for an agent token.
#[utoipa::path(post, path = "/api/v1/agents/login", tag = "agents", request_body = LoginRequest,
    responses((status = 200, body = AgentTokenResponse), (status = 401, body = ErrorResponse)))]
pub async fn login(
    State(s): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> ApiResult<axum::Json<AgentTokenResponse>> {
    let (agent, token) = s.engine.agent_login(&req.login, &req.password).await?;
    Ok(axum::Json(AgentTokenResponse { agent: agent.into(), token: token.expose().to_owned() }))
}

/// PUT /api/v1/agents/{id}/activity — sets presence (`me` with an agent token).
/// Leaving an activity that receives chats withdraws the agent's pending offers.
#[utoipa::path(put, path = "/api/v1/agents/{id}/activity", tag = "agents", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ActivityRequest,
    responses((status = 200, body = AgentView), (status = 422, body = ErrorResponse)))]
pub async fn set_activity(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<ActivityRequest>,
) -> ApiResult<axum::Json<AgentView>> {
    let id = agent_id(&caller, &id)?;
    Ok(axum::Json(s.engine.set_activity(&caller, id, &req.activity).await?.into()))
}

/// GET /api/v1/activities — the presence states agents can be in.
#[utoipa::path(get, path = "/api/v1/activities", tag = "agents", security(("bearer" = [])),
    responses((status = 200, body = Vec<ActivityView>)))]
pub async fn activities(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<ActivityView>>> {
    Ok(axum::Json(s.engine.activities(&caller).await?.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/activities — adds an activity of the workspace's own.
#[utoipa::path(post, path = "/api/v1/activities", tag = "agents", security(("bearer" = [])), request_body = ActivityView,
    responses((status = 201, body = ActivityView), (status = 409, body = ErrorResponse)))]
pub async fn create_activity(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<ActivityView>,
) -> ApiResult<(StatusCode, axum::Json<ActivityView>)> {
    let a = s.engine.create_activity(&caller, &req.name, req.available).await?;
    Ok((StatusCode::CREATED, axum::Json(a.into())))
}

/// DELETE /api/v1/activities/{name} — removes an activity no agent is in.
#[utoipa::path(delete, path = "/api/v1/activities/{name}", tag = "agents", security(("bearer" = [])),
    params(("name" = String, Path)), responses((status = 204), (status = 409, body = ErrorResponse)))]
pub async fn delete_activity(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_activity(&caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
