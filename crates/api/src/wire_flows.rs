//! Wire shapes of flows, runs, forms, custom events and the outbox.

use serde::{Deserialize, Serialize};
use switchboard_core::flows::events::EventType;
use switchboard_core::flows::records::{CustomEvent, DeployedFlow, OutboxItem, RunLogEntry};
use switchboard_core::flows::run::Run;
use utoipa::ToSchema;

/// A deployed version of a flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    #[schema(example = "flw_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub name: String,
    pub version: i64,
    /// `customer` or `agent`.
    pub side: String,
    /// What starts it besides a launch (`{"chat_started": ["website"]}`), if anything.
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<serde_json::Value>,
    pub description: Option<String>,
    /// The file as deployed.
    pub source: String,
    pub created_at: String,
}

impl From<DeployedFlow> for FlowView {
    fn from(f: DeployedFlow) -> Self {
        Self {
            id: f.id.to_string(),
            name: f.name,
            version: f.version,
            side: serde_json::to_value(f.flow.side)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            trigger: f.flow.trigger.as_ref().and_then(|t| serde_json::to_value(t).ok()),
            description: f.flow.description.clone(),
            source: f.source,
            created_at: f.created_at.to_rfc3339(),
        }
    }
}

/// The result of checking a flow file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidatedFlow {
    pub name: String,
    pub steps: usize,
    /// The flow as a Mermaid diagram.
    pub graph: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// The conversation to run in; or give `record_id`.
    pub conversation_id: Option<String>,
    /// Run in the open conversation linked to this record id.
    pub record_id: Option<String>,
    /// The flow's parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A flow run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    #[schema(example = "run_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub flow: String,
    pub flow_version: i64,
    pub conversation_id: String,
    pub side: String,
    /// `waiting`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The step it is in (or ended in).
    pub step: String,
    /// What it waits for (`{"for": "form", "form_id": …}`), while waiting.
    #[schema(value_type = Option<Object>)]
    pub waiting_for: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Object)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub launched_by: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Run> for RunView {
    fn from(r: Run) -> Self {
        Self {
            id: r.id.to_string(),
            flow: r.flow_name,
            flow_version: r.flow_version,
            conversation_id: r.conversation_id.to_string(),
            side: serde_json::to_value(r.side).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            state: r.state.as_str().to_owned(),
            step: r.step,
            waiting_for: r.wait.as_ref().and_then(|w| serde_json::to_value(w).ok()),
            params: r.params,
            vars: r.vars,
            launched_by: r.launcher.map(|l| l.agent_id.to_string()),
            error: r.error,
            created_at: r.created_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunLogView {
    pub at: String,
    pub step: String,
    /// `started`, `entered`, `waiting`, `completed`, `failed`, `cancelled`, …
    pub what: String,
    pub detail: Option<String>,
}

impl From<RunLogEntry> for RunLogView {
    fn from(e: RunLogEntry) -> Self {
        Self { at: e.at.to_rfc3339(), step: e.step, what: e.what, detail: e.detail }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSubmission {
    /// Field name → value.
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// A declared custom event type (the body of `PUT /api/v1/event-types/{name}`
/// without `name`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeRequest {
    pub description: Option<String>,
    /// Typed fields, as in forms: `{name, type, required, pattern, min, max, choices}`.
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<switchboard_core::flows::form::Field>,
    /// How long published events are kept (default 3, at most 90).
    pub retention_days: Option<u32>,
}

impl EventTypeRequest {
    pub fn into_type(self, name: String) -> EventType {
        EventType {
            name,
            description: self.description,
            fields: self.fields,
            retention_days: self.retention_days.unwrap_or(switchboard_core::flows::events::DEFAULT_RETENTION_DAYS),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[serde(rename = "type")]
    pub event_type: String,
    /// The correlation key subscribers match on (a case id, a generated id).
    pub key: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// A published custom event.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomEventView {
    pub id: String,
    /// Increases in publication order; resume after one with `after`.
    pub replay_id: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub key: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
    pub conversation_id: Option<String>,
    pub run_id: Option<String>,
    pub published_at: String,
}

impl From<CustomEvent> for CustomEventView {
    fn from(e: CustomEvent) -> Self {
        Self {
            id: e.id.to_string(),
            replay_id: e.replay_id,
            event_type: e.event_type,
            key: e.key,
            data: e.data,
            conversation_id: e.conversation_id.map(|c| c.to_string()),
            run_id: e.run_id.map(|r| r.to_string()),
            published_at: e.published_at.to_rfc3339(),
        }
    }
}

/// Work done outside the message path.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: String,
    /// `action`, `dispatch` or `handoff`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub work: serde_json::Value,
    /// `pending`, `done` or `dead`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub conversation_id: Option<String>,
    pub created_at: String,
}

impl From<OutboxItem> for OutboxView {
    fn from(o: OutboxItem) -> Self {
        Self {
            id: o.id.to_string(),
            kind: o.work.kind().to_owned(),
            work: serde_json::to_value(&o.work).unwrap_or_default(),
            state: o.state.as_str().to_owned(),
            attempts: o.attempts,
            next_attempt_at: o.next_attempt_at.to_rfc3339(),
            last_error: o.last_error,
            conversation_id: o.conversation_id.map(|c| c.to_string()),
            created_at: o.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// An http(s) URL deliveries are POSTed to; or give `flow`.
    pub url: Option<String>,
    /// A flow each delivery starts in the event's conversation.
    pub flow: Option<String>,
    /// Kinds of events: `conversation.created`, `conversation.ended`,
    /// `message`, `participant.joined`, `participant.left`,
    /// `conversation.queued`, `conversation.transferred`, `task.sla_breached`, `form`,
    /// `form.submitted`, `file.requested`, `file.request_canceled`,
    /// `file.request_declined`, `file.received`, `attachment`,
    /// `attachment.scanned`, `offer.created`, `offer.accepted`,
    /// `offer.declined`, `offer.expired`, `offer.revoked`, `event:TYPE`, `event:*`.
    pub events: Vec<String>,
    /// Only this conversation's events.
    pub conversation_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = "whk_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub url: Option<String>,
    pub flow: Option<String>,
    pub events: Vec<String>,
    pub conversation_id: Option<String>,
    pub enabled: bool,
    /// Why it is disabled (a receiver answered 410 Gone, an operator).
    pub disabled_reason: Option<String>,
    pub created_at: String,
}

impl From<switchboard_core::flows::webhooks::Webhook> for WebhookView {
    fn from(h: switchboard_core::flows::webhooks::Webhook) -> Self {
        use switchboard_core::flows::webhooks::Target;
        let (url, flow) = match h.target {
            Target::Url(u) => (Some(u), None),
            Target::Flow(f) => (None, Some(f)),
        };
        Self {
            id: h.id.to_string(),
            url,
            flow,
            events: h.kinds,
            conversation_id: h.conversation_id.map(|c| c.to_string()),
            enabled: h.enabled,
            disabled_reason: h.disabled_reason,
            created_at: h.created_at.to_rfc3339(),
        }
    }
}

/// The secret deliveries are signed with.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecret {
    pub secret: String,
    /// The header a delivery carries: `t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, "t.body"))`.
    pub header: &'static str,
}
