//! Flows: deploying and checking definitions, launching and following
//! runs, forms, custom events and the outbox.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_core::Error;
use switchboard_core::engine::flows::LaunchTarget;
use switchboard_core::engine::webhooks::WebhookSpec;
use switchboard_core::flows::graph;
use switchboard_core::flows::records::OutboxState;
use switchboard_core::flows::run::RunState;
use switchboard_core::flows::webhooks::{self, Target};
use switchboard_core::ids::{ConversationId, FlowRunId, FormId, OutboxId, WebhookId};
use switchboard_core::store::{OutboxQuery, RunQuery};
use utoipa::IntoParams;

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, Query};
use crate::state::AppState;
use crate::wire::EventDoc;
use crate::wire_flows::{
    CustomEventView, EventTypeRequest, FlowView, FormSubmission, LaunchRequest, OutboxView, PublishRequest, RunLogView,
    RunView, ValidatedFlow, WebhookPatch, WebhookRequest, WebhookSecret, WebhookView,
};

fn text(body: &axum::body::Bytes) -> ApiResult<String> {
    Ok(std::str::from_utf8(body).map_err(|e| Error::malformed(format!("the flow is not UTF-8 text: {e}")))?.to_owned())
}

/// Names of other flows deployed in the same call (`?with=a,b`), which the
/// file may launch before they exist.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeployQuery {
    /// Comma-separated flow names deployed together with this one.
    with: Option<String>,
}

impl DeployQuery {
    fn names(&self) -> Vec<String> {
        self.with
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// POST /api/v1/flows/validate — checks a flow file (YAML or JSON) without
/// deploying it. A 422 lists every problem, each with its field and line.
#[utoipa::path(post, path = "/api/v1/flows/validate", tag = "flows", security(("bearer" = [])), params(DeployQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, body = ValidatedFlow), (status = 422, body = ErrorResponse)))]
pub async fn validate(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<DeployQuery>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<ValidatedFlow>> {
    let flow = s.engine.validate_flow(&caller, &text(&body)?, &q.names()).await?;
    Ok(axum::Json(ValidatedFlow { name: flow.name.clone(), steps: flow.steps.len(), graph: graph::mermaid(&flow) }))
}

/// POST /api/v1/flows — deploys a flow file as the next version of its
/// name. Runs already going stay on the version they started with.
#[utoipa::path(post, path = "/api/v1/flows", tag = "flows", security(("bearer" = [])), params(DeployQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 201, body = FlowView), (status = 422, body = ErrorResponse)))]
pub async fn deploy(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<DeployQuery>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<FlowView>)> {
    let deployed = s.engine.deploy_flow(&caller, &text(&body)?, &q.names()).await?;
    Ok((StatusCode::CREATED, axum::Json(deployed.into())))
}

/// GET /api/v1/flows — the latest version of each flow.
#[utoipa::path(get, path = "/api/v1/flows", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = Vec<FlowView>)))]
pub async fn list(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<FlowView>>> {
    Ok(axum::Json(s.engine.flows(&caller).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/flows/{name} — every version of a flow, newest first.
#[utoipa::path(get, path = "/api/v1/flows/{name}", tag = "flows", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = Vec<FlowView>), (status = 404, body = ErrorResponse)))]
pub async fn versions(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Vec<FlowView>>> {
    Ok(axum::Json(s.engine.flow_versions(&caller, &name).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/flows/{name}/graph — the latest version as a Mermaid diagram.
#[utoipa::path(get, path = "/api/v1/flows/{name}/graph", tag = "flows", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 404, body = ErrorResponse)))]
pub async fn graph_of(State(s): State<AppState>, Auth(caller): Auth, Path(name): Path<String>) -> ApiResult<String> {
    let latest =
        s.engine.flow_versions(&caller, &name).await?.into_iter().next().ok_or_else(|| Error::not_found("flow"))?;
    Ok(graph::mermaid(&latest.flow))
}

/// POST /api/v1/flows/{name}/runs — launches the latest version in a
/// conversation, or in the open conversation linked to a record id.
#[utoipa::path(post, path = "/api/v1/flows/{name}/runs", tag = "flows", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = LaunchRequest,
    responses((status = 201, body = RunView), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
pub async fn launch(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    Json(req): Json<LaunchRequest>,
) -> ApiResult<(StatusCode, axum::Json<RunView>)> {
    let target = match (req.conversation_id, req.record_id) {
        (Some(c), None) => LaunchTarget::Conversation(
            ConversationId::parse(&c).map_err(|e| Error::invalid("conversation_id", e.to_string()))?,
        ),
        (None, Some(r)) => LaunchTarget::Record(r),
        _ => return Err(Error::invalid("conversation_id", "give exactly one of conversation_id and record_id").into()),
    };
    let run = s.engine.launch_flow(&caller, &name, target, req.params).await?;
    Ok((StatusCode::CREATED, axum::Json(run.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RunsQuery {
    flow: Option<String>,
    conversation_id: Option<String>,
    /// `waiting`, `completed`, `failed` or `cancelled`.
    state: Option<String>,
    /// A run id: those started before it (the next page).
    before: Option<String>,
    limit: Option<u32>,
}

/// GET /api/v1/flow-runs — runs, newest first.
#[utoipa::path(get, path = "/api/v1/flow-runs", tag = "flows", security(("bearer" = [])), params(RunsQuery),
    responses((status = 200, body = Vec<RunView>)))]
pub async fn runs(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<RunsQuery>,
) -> ApiResult<axum::Json<Vec<RunView>>> {
    let query = RunQuery {
        flow: q.flow,
        conversation: q
            .conversation_id
            .as_deref()
            .map(ConversationId::parse)
            .transpose()
            .map_err(|e| Error::invalid("conversation_id", e.to_string()))?,
        state: q
            .state
            .as_deref()
            .map(|v| {
                RunState::parse(v).ok_or_else(|| Error::invalid("state", "waiting, completed, failed or cancelled"))
            })
            .transpose()?,
        before: q
            .before
            .as_deref()
            .map(FlowRunId::parse)
            .transpose()
            .map_err(|e| Error::invalid("before", e.to_string()))?,
        limit: q.limit.unwrap_or(50),
    };
    Ok(axum::Json(s.engine.runs(&caller, query).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/flow-runs/{id}
#[utoipa::path(get, path = "/api/v1/flow-runs/{id}", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorResponse)))]
pub async fn run(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RunView>> {
    Ok(axum::Json(s.engine.run(&caller, FlowRunId::parse(&id)?).await?.into()))
}

/// GET /api/v1/flow-runs/{id}/log — the steps a run took.
#[utoipa::path(get, path = "/api/v1/flow-runs/{id}/log", tag = "flows", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<RunLogView>), (status = 404, body = ErrorResponse)))]
pub async fn run_log(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<RunLogView>>> {
    Ok(axum::Json(s.engine.run_log(&caller, FlowRunId::parse(&id)?).await?.into_iter().map(Into::into).collect()))
}

/// POST /api/v1/flow-runs/{id}/cancel
#[utoipa::path(post, path = "/api/v1/flow-runs/{id}/cancel", tag = "flows", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<RunView>> {
    Ok(axum::Json(s.engine.cancel_run(&caller, FlowRunId::parse(&id)?).await?.into()))
}

/// POST /api/v1/conversations/{id}/forms/{form_id}/submit — answers a form.
/// Values are checked against the form: a wrong type or a missing required
/// field is a 422 naming the field; a second submission is a 409.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/forms/{form_id}/submit", tag = "flows", security(("bearer" = [])),
    params(("id" = String, Path), ("form_id" = String, Path)), request_body = FormSubmission,
    responses((status = 201, body = EventDoc), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
pub async fn submit_form(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, form)): Path<(String, String)>,
    Json(req): Json<FormSubmission>,
) -> ApiResult<(StatusCode, axum::Json<switchboard_core::event::Event>)> {
    let (id, form) = (ConversationId::parse(&id)?, FormId::parse(&form)?);
    let event = s.engine.submit_form(&caller, id, form, req.values).await?;
    Ok((StatusCode::CREATED, axum::Json(event)))
}

/// PUT /api/v1/event-types/{name} — declares (or changes) a custom event type.
#[utoipa::path(put, path = "/api/v1/event-types/{name}", tag = "flows", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = EventTypeRequest,
    responses((status = 200, body = Object), (status = 422, body = ErrorResponse)))]
pub async fn put_event_type(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    Json(req): Json<EventTypeRequest>,
) -> ApiResult<axum::Json<switchboard_core::flows::events::EventType>> {
    Ok(axum::Json(s.engine.put_event_type(&caller, req.into_type(name)).await?))
}

/// GET /api/v1/event-types
#[utoipa::path(get, path = "/api/v1/event-types", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = Vec<Object>)))]
pub async fn event_types(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<axum::Json<Vec<switchboard_core::flows::events::EventType>>> {
    Ok(axum::Json(s.engine.event_types(&caller).await?))
}

/// POST /api/v1/custom-events — publishes an event of a declared type.
#[utoipa::path(post, path = "/api/v1/custom-events", tag = "flows", security(("bearer" = [])), request_body = PublishRequest,
    responses((status = 201, body = CustomEventView), (status = 422, body = ErrorResponse)))]
pub async fn publish(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<PublishRequest>,
) -> ApiResult<(StatusCode, axum::Json<CustomEventView>)> {
    let event = s.engine.publish_event(&caller, &req.event_type, req.key, req.data).await?;
    Ok((StatusCode::CREATED, axum::Json(event.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// A replay id: events published after it (default: from the oldest kept).
    after: Option<i64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    key: Option<String>,
    limit: Option<u32>,
}

/// GET /api/v1/custom-events — published events after a replay id, oldest first.
#[utoipa::path(get, path = "/api/v1/custom-events", tag = "flows", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = Vec<CustomEventView>)))]
pub async fn custom_events(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<EventsQuery>,
) -> ApiResult<axum::Json<Vec<CustomEventView>>> {
    let events = s
        .engine
        .event_feed(&caller, q.after.unwrap_or(0), q.event_type.as_deref(), q.key.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(axum::Json(events.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OutboxListQuery {
    /// `pending`, `done` or `dead`.
    state: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
}

/// GET /api/v1/outbox — work done outside the message path, newest first;
/// `?state=dead` lists what was given up.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "flows", security(("bearer" = [])), params(OutboxListQuery),
    responses((status = 200, body = Vec<OutboxView>)))]
pub async fn outbox(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<OutboxListQuery>,
) -> ApiResult<axum::Json<Vec<OutboxView>>> {
    let query = outbox_query(q)?;
    Ok(axum::Json(s.engine.outbox(&caller, query).await?.into_iter().map(Into::into).collect()))
}

fn outbox_query(q: OutboxListQuery) -> ApiResult<OutboxQuery> {
    Ok(OutboxQuery {
        state: q
            .state
            .as_deref()
            .map(|v| OutboxState::parse(v).ok_or_else(|| Error::invalid("state", "pending, done or dead")))
            .transpose()?,
        lane: None,
        before: q
            .before
            .as_deref()
            .map(OutboxId::parse)
            .transpose()
            .map_err(|e| Error::invalid("before", e.to_string()))?,
        limit: q.limit.unwrap_or(50),
    })
}

/// POST /api/v1/outbox/{id}/replay — puts a dead item back in line.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/replay", tag = "flows", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorResponse)))]
pub async fn replay(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.engine.replay_outbox(&caller, OutboxId::parse(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// POST /api/v1/webhooks — adds a webhook: workspace-wide, or scoped to one
/// conversation with `conversation_id`. Its deliveries are signed (see
/// `GET /api/v1/webhook-secret`) and retried; each carries a stable event id.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "flows", security(("bearer" = [])), request_body = WebhookRequest,
    responses((status = 201, body = WebhookView), (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn create_webhook(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Json(req): Json<WebhookRequest>,
) -> ApiResult<(StatusCode, axum::Json<WebhookView>)> {
    let target = match (req.url, req.flow) {
        (Some(url), None) => Target::Url(url),
        (None, Some(flow)) => Target::Flow(flow),
        _ => return Err(Error::invalid("url", "give exactly one of url and flow").into()),
    };
    let conversation = req
        .conversation_id
        .as_deref()
        .map(ConversationId::parse)
        .transpose()
        .map_err(|e| Error::invalid("conversation_id", e.to_string()))?;
    let spec = WebhookSpec { target, kinds: req.events, conversation };
    Ok((StatusCode::CREATED, axum::Json(s.engine.create_webhook(&caller, spec).await?.into())))
}

/// GET /api/v1/webhooks
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>)))]
pub async fn webhooks(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<Vec<WebhookView>>> {
    Ok(axum::Json(s.engine.webhooks(&caller).await?.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/webhooks/{id}
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = ErrorResponse)))]
pub async fn webhook(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<WebhookView>> {
    Ok(axum::Json(s.engine.webhook(&caller, WebhookId::parse(&id)?).await?.into()))
}

/// PATCH /api/v1/webhooks/{id} — `{"enabled": false}` switches it off,
/// `true` back on (after a receiver's 410).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = WebhookPatch, responses((status = 200, body = WebhookView), (status = 404, body = ErrorResponse)))]
pub async fn update_webhook(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<WebhookPatch>,
) -> ApiResult<axum::Json<WebhookView>> {
    Ok(axum::Json(s.engine.set_webhook_enabled(&caller, WebhookId::parse(&id)?, req.enabled).await?.into()))
}

/// DELETE /api/v1/webhooks/{id}
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorResponse)))]
pub async fn delete_webhook(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_webhook(&caller, WebhookId::parse(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// GET /api/v1/webhooks/{id}/deliveries — newest first; `?state=dead`
/// lists what was given up (replay with `POST /api/v1/outbox/{id}/replay`).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "flows", security(("bearer" = [])),
    params(("id" = String, Path), OutboxListQuery), responses((status = 200, body = Vec<OutboxView>)))]
pub async fn deliveries(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<OutboxListQuery>,
) -> ApiResult<axum::Json<Vec<OutboxView>>> {
    let found = s.engine.webhook_deliveries(&caller, WebhookId::parse(&id)?, outbox_query(q)?).await?;
    Ok(axum::Json(found.into_iter().map(Into::into).collect()))
}

/// GET /api/v1/webhook-secret — the secret deliveries are signed with.
#[utoipa::path(get, path = "/api/v1/webhook-secret", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = WebhookSecret)))]
pub async fn webhook_secret(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<axum::Json<WebhookSecret>> {
    let secret = s.engine.webhook_secret(&caller).await?;
    Ok(axum::Json(WebhookSecret { secret, header: webhooks::SIGNATURE_HEADER }))
}

/// POST /api/v1/webhook-secret/rotate — a new secret from now on.
#[utoipa::path(post, path = "/api/v1/webhook-secret/rotate", tag = "flows", security(("bearer" = [])),
    responses((status = 200, body = WebhookSecret)))]
pub async fn rotate_webhook_secret(
    State(s): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<axum::Json<WebhookSecret>> {
    let secret = s.engine.rotate_webhook_secret(&caller).await?;
    Ok(axum::Json(WebhookSecret { secret, header: webhooks::SIGNATURE_HEADER }))
}
