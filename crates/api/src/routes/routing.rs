//! Queues, the workflow, putting chats in line, offers, transfers and the
//! agent toolkit's pushes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::engine::routing::{QueueSpec, Target};
use switchboard_core::ids::{AgentId, ConversationId, FileRequestId, OfferId, QueueId};

use super::hours;
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, JsonOrEmpty, Query};
use crate::state::AppState;
use crate::wire::EventDoc;
use crate::wire_explain::ExplainView;
use crate::wire_routing::{
    AgentInputRequest, FileRequestCreated, FileRequestRequest, FileRequestView, MessageRequestView, OfferView,
    PickUpRequest, PickedUpView, QueuePositionView, QueueRequest, QueueView, RouteRequest, TaskView, WorkflowView,
};

fn queue_spec(req: QueueRequest) -> QueueSpec {
    QueueSpec {
        name: req.name,
        expression: req.expression,
        ordering: req.ordering,
        offer_timeout_secs: req.offer_timeout_secs,
        wrap_up_secs: req.wrap_up_secs,
        prefer_previous_agent_secs: req.prefer_previous_agent_secs,
        first_reply_secs: req.first_reply_secs,
        reply_secs: req.reply_secs,
        on_reply_timeout: req.on_reply_timeout,
        reply_timeout_queue: req.reply_timeout_queue,
        schedule: req.schedule,
    }
}

/// An optional `agent_id` of a request body.
fn agent_id(id: Option<&str>) -> ApiResult<Option<AgentId>> {
    Ok(id.map(AgentId::parse).transpose().map_err(|e| Error::invalid("agent_id", e.to_string()))?)
}

fn target(req: &RouteRequest) -> ApiResult<Target> {
    Ok(Target { queue: req.queue.clone(), agent: agent_id(req.agent_id.as_deref())? })
}

/// POST /api/v1/queues — creates a queue.
#[utoipa::path(post, path = "/api/v1/queues", tag = "routing", request_body = QueueRequest, security(("bearer" = [])),
    responses((status = 201, body = QueueView), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn create_queue(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<QueueRequest>,
) -> ApiResult<(StatusCode, axum::Json<QueueView>)> {
    let q = s.engine.create_queue(&caller, queue_spec(req)).await?;
    Ok((StatusCode::CREATED, axum::Json(hours::one(hours::queue_views(&s, &caller, vec![q]).await?)?)))
}

/// GET /api/v1/queues — lists the workspace's queues.
#[utoipa::path(get, path = "/api/v1/queues", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<QueueView>)))]
pub async fn list_queues(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<QueueView>>> {
    let queues = s.engine.queues(&caller).await?;
    Ok(axum::Json(hours::queue_views(&s, &caller, queues).await?))
}

/// GET /api/v1/queues/{id}
#[utoipa::path(get, path = "/api/v1/queues/{id}", tag = "routing", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = QueueView), (status = 404, body = ErrorResponse)))]
pub async fn get_queue(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<QueueView>> {
    let q = s.engine.queue(&caller, QueueId::parse(&id)?).await?;
    Ok(axum::Json(hours::one(hours::queue_views(&s, &caller, vec![q]).await?)?))
}

/// PATCH /api/v1/queues/{id} — changes the given fields.
#[utoipa::path(patch, path = "/api/v1/queues/{id}", tag = "routing", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = QueueRequest,
    responses((status = 200, body = QueueView), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn update_queue(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<QueueRequest>,
) -> ApiResult<axum::Json<QueueView>> {
    let q = s.engine.update_queue(&caller, QueueId::parse(&id)?, queue_spec(req)).await?;
    Ok(axum::Json(hours::one(hours::queue_views(&s, &caller, vec![q]).await?)?))
}

/// PUT /api/v1/workflow — replaces the workflow with a YAML (or JSON)
/// document; new chats follow it at once. Errors name the line and field.
#[utoipa::path(put, path = "/api/v1/workflow", tag = "routing", security(("bearer" = [])),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, body = WorkflowView), (status = 422, body = ErrorResponse)))]
pub async fn put_workflow(
    State(s): State<AppState>,
    Auth(caller): Auth,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<WorkflowView>> {
    let body = std::str::from_utf8(&body)
        .map_err(|e| Error::malformed(format!("the workflow is not UTF-8 text: {e}")))?
        .to_owned();
    let applied = s.engine.apply_workflow(&caller, &body).await?;
    let workflow = serde_json::to_value(&applied.workflow).map_err(Error::internal)?;
    Ok(axum::Json(WorkflowView { version: applied.version, source: body, workflow }))
}

/// GET /api/v1/workflow — the workflow in force.
#[utoipa::path(get, path = "/api/v1/workflow", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorResponse)))]
pub async fn get_workflow(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<WorkflowView>> {
    let stored = s.engine.workflow(&caller).await?.ok_or_else(|| Error::not_found("workflow"))?;
    let workflow = serde_json::from_str(&stored.document).map_err(Error::internal)?;
    Ok(axum::Json(WorkflowView { version: stored.version, source: stored.source, workflow }))
}

/// POST /api/v1/conversations/{id}/route — puts the chat in line for an
/// agent: in a queue, for a named agent, or (neither) along the workflow.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/route", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RouteRequest,
    responses((status = 201, body = TaskView), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn route(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<RouteRequest>,
) -> ApiResult<(StatusCode, axum::Json<TaskView>)> {
    let task = s.engine.route_conversation(&caller, ConversationId::parse(&id)?, target(&req)?, req.priority).await?;
    Ok((StatusCode::CREATED, axum::Json(TaskView::new(task, None))))
}

/// GET /api/v1/conversations/{id}/task — the chat's routing task and its history.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/task", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TaskView), (status = 404, body = ErrorResponse)))]
pub async fn task(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TaskView>> {
    let (task, history) = s.engine.conversation_task(&caller, ConversationId::parse(&id)?).await?;
    Ok(axum::Json(TaskView::new(task, Some(history))))
}

/// GET /api/v1/conversations/{id}/task/explain — why the chat is, or is
/// not, offered to each agent (workspace keys only).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/task/explain", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    description = "Why the chat is, or is not, offered to each agent. For a waiting chat, `now` classifies every \
        agent of the workspace, read now, by the rules the router follows; each agent has one reason, the first \
        that holds: `disabled`, `not_present` (its activity does not receive chats), `outside_hours`, \
        `not_the_named_agent`, `expression_false` (the queue's expression or the step's `agents` condition), \
        `at_capacity`, `declined_before` (it passed on the chat and others can take it), `eligible`. The eligible \
        are ranked by the queue's ordering (top five listed, with why the first would win); ten skipped agents \
        are listed, nearest to eligible first; `counts` covers everyone. For an offered, assigned or ended chat, \
        the history tells it: each `offered` line's `detail` says why that agent. Workspace keys only.",
    responses((status = 200, body = ExplainView), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn explain(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ExplainView>> {
    Ok(axum::Json(ExplainView::new(s.engine.explain_task(&caller, ConversationId::parse(&id)?).await?)))
}

/// GET /api/v1/conversations/{id}/queue-position — where the waiting chat
/// stands in its queue (the customer may ask with its own token).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/queue-position", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = QueuePositionView), (status = 404, body = ErrorResponse)))]
pub async fn queue_position(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<QueuePositionView>> {
    let q = s.engine.queue_position(&caller, ConversationId::parse(&id)?).await?;
    let q = q.ok_or_else(|| Error::not_found("a waiting chat"))?;
    Ok(axum::Json(QueuePositionView { position: q.position, estimated_wait_secs: q.estimated_wait_secs }))
}

/// POST /api/v1/conversations/{id}/transfer — moves the chat to a queue or
/// a named agent; the agent who had it leaves and its slot frees.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/transfer", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RouteRequest,
    responses((status = 200, body = TaskView), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn transfer(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<RouteRequest>,
) -> ApiResult<axum::Json<TaskView>> {
    if req.priority.is_some() {
        return Err(Error::invalid("priority", "a transfer keeps the chat's priority").into());
    }
    let task = s.engine.transfer(&caller, ConversationId::parse(&id)?, target(&req)?).await?;
    Ok(axum::Json(TaskView::new(task, None)))
}

/// POST /api/v1/conversations/{id}/agent-input — prefills the assigned
/// agent's composer (`setAgentInput`); delivered to that agent's console
/// only, never logged.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/agent-input", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = AgentInputRequest,
    responses((status = 202), (status = 409, body = ErrorResponse)))]
pub async fn agent_input(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<AgentInputRequest>,
) -> ApiResult<StatusCode> {
    s.engine.set_agent_input(&caller, ConversationId::parse(&id)?, req.text).await?;
    Ok(StatusCode::ACCEPTED)
}

/// POST /api/v1/conversations/{id}/file-requests — asks the customer for a
/// file (`initFileTransfer`): a `file.requested` event in the log, naming
/// the record the file is for. Agents in the chat, supervisors or a
/// workspace key.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/file-requests", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = FileRequestRequest,
    responses((status = 201, body = FileRequestCreated), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn request_file(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<FileRequestRequest>,
) -> ApiResult<(StatusCode, axum::Json<FileRequestCreated>)> {
    let (request, event) = s.engine.request_file(&caller, ConversationId::parse(&id)?, req.record_id).await?;
    Ok((StatusCode::CREATED, axum::Json(FileRequestCreated { request: request.into(), event })))
}

/// GET /api/v1/conversations/{id}/file-requests — the chat's file requests and their states.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/file-requests", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<FileRequestView>)))]
pub async fn file_requests(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<FileRequestView>>> {
    let list = s.engine.file_requests(&caller, ConversationId::parse(&id)?).await?;
    Ok(axum::Json(list.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/conversations/{id}/file-requests/{request_id}/cancel — withdraws a pending request.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/file-requests/{request_id}/cancel", tag = "routing",
    security(("bearer" = [])), params(("id" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = EventDoc), (status = 409, body = ErrorResponse)))]
pub async fn cancel_file_request(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, request)): Path<(String, String)>,
) -> ApiResult<axum::Json<switchboard_core::event::Event>> {
    let request = FileRequestId::parse(&request)?;
    Ok(axum::Json(s.engine.cancel_file_request(&caller, ConversationId::parse(&id)?, request).await?))
}

/// GET /api/v1/offers — the calling agent's pending offers.
#[utoipa::path(get, path = "/api/v1/offers", tag = "routing", security(("bearer" = [])),
    responses((status = 200, body = Vec<OfferView>)))]
pub async fn offers(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<OfferView>>> {
    Ok(axum::Json(s.engine.pending_offers(&caller).await?.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/offers/{id}/accept — takes the chat; answers with the
/// events committed (the agent's `participant.joined`).
#[utoipa::path(post, path = "/api/v1/offers/{id}/accept", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<EventDoc>), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn accept(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<switchboard_core::event::Event>>> {
    let (_, events) = s.engine.accept_offer(&caller, OfferId::parse(&id)?).await?;
    Ok(axum::Json(events))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageRequestQuery {
    /// Only this queue's requests (its id).
    queue: Option<String>,
}

/// GET /api/v1/message-requests — the "message us" requests waiting for an
/// agent, oldest first: for an agent token, those of the queues it serves.
#[utoipa::path(get, path = "/api/v1/message-requests", tag = "routing", security(("bearer" = [])),
    params(MessageRequestQuery),
    responses((status = 200, body = Vec<MessageRequestView>), (status = 403, body = ErrorResponse)))]
pub async fn message_requests(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<MessageRequestQuery>,
) -> ApiResult<axum::Json<Vec<MessageRequestView>>> {
    let queue =
        q.queue.as_deref().map(QueueId::parse).transpose().map_err(|e| Error::invalid("queue", e.to_string()))?;
    let requests = s.engine.message_requests(&caller, queue).await?;
    Ok(axum::Json(requests.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/message-requests/{conversation_id}/pick-up — an agent takes
/// a request: it joins the chat when the customer's chat is still open.
#[utoipa::path(post, path = "/api/v1/message-requests/{conversation_id}/pick-up", tag = "routing",
    security(("bearer" = [])), params(("conversation_id" = String, Path)), request_body = PickUpRequest,
    responses((status = 200, body = PickedUpView), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn pick_up(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonOrEmpty(req): JsonOrEmpty<PickUpRequest>,
) -> ApiResult<axum::Json<PickedUpView>> {
    let agent = agent_id(req.agent_id.as_deref())?;
    let (request, events) = s.engine.pick_up(&caller, ConversationId::parse(&id)?, agent).await?;
    let joined = !events.is_empty();
    Ok(axum::Json(PickedUpView { request: request.into(), joined, events }))
}

/// POST /api/v1/offers/{id}/decline — passes; the chat goes to the next agent.
#[utoipa::path(post, path = "/api/v1/offers/{id}/decline", tag = "routing", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OfferView), (status = 403, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn decline(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OfferView>> {
    Ok(axum::Json(s.engine.decline_offer(&caller, OfferId::parse(&id)?).await?.into()))
}
