//! The stored rows of flows beside runs: deployed versions, forms, custom
//! events, the outbox and the run log.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::form::{FormSpec, Values};
use super::model::{Flow, Side};
use super::run::ActionRequest;
use crate::clock::Timestamp;
use crate::ids::{ConversationId, CustomEventId, FlowId, FlowRunId, FormId, OutboxId, WorkspaceId};

/// One deployed version of a flow: the source as written and what it parsed to.
#[derive(Debug, Clone)]
pub struct DeployedFlow {
    pub id: FlowId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub version: i64,
    pub source: String,
    pub flow: Arc<Flow>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormState {
    Open,
    Submitted,
    Cancelled,
}

impl FormState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Submitted => "submitted",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Submitted, Self::Cancelled].into_iter().find(|v| v.as_str() == s)
    }
}

/// A form sent into a conversation, and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FormRecord {
    pub id: FormId,
    pub conversation_id: ConversationId,
    /// The run waiting for it, if a flow sent it.
    pub run_id: Option<FlowRunId>,
    pub to: Side,
    pub spec: FormSpec,
    pub state: FormState,
    pub values: Option<Values>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A published custom event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomEvent {
    pub id: CustomEventId,
    pub workspace_id: WorkspaceId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub key: String,
    pub data: Values,
    /// The conversation it was published from (a flow, a form), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<ConversationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<FlowRunId>,
    /// Increasing in publication order within the store; set when stored
    /// (0 before). Subscribers resume after a replay id.
    pub replay_id: i64,
    pub published_at: Timestamp,
}

/// Work done outside the writer, stored with the change that asked for it
/// and executed at least once; its result comes back as a command.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: OutboxId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: Option<ConversationId>,
    /// Items of one lane are done one at a time, oldest first (a webhook's
    /// deliveries, in order); `None`: no order with others.
    pub lane: Option<String>,
    /// Order within the lane: the commit's time and the item's place in it.
    pub ord: i64,
    pub work: Work,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// An action a run waits for; its outcome resumes wait `wait_seq`.
    Action { run_id: FlowRunId, wait_seq: u32, request: ActionRequest },
    /// Hand waiting runs (and event-triggered flows) a custom event.
    Dispatch { event_id: CustomEventId },
    /// Start flow `flow` (its latest version) as run `run_id`, launched by
    /// run `by` (whose launcher it inherits).
    Launch { by: FlowRunId, flow: String, run_id: FlowRunId, params: Values },
    /// Route a chat whose customer-side flow failed, by the workflow.
    Handoff { run_id: FlowRunId },
    /// Tell a webhook about an event. `event_id` is stable across retries;
    /// `run_id` is the run a flow target starts (chosen here, so a retried
    /// delivery starts it once).
    Deliver {
        webhook: crate::ids::WebhookId,
        event_id: String,
        kind: String,
        payload: serde_json::Value,
        run_id: Option<FlowRunId>,
    },
    /// Ask the scan hook about an attachment; its verdict is recorded with
    /// `Command::Scanned`.
    Scan { attachment: crate::ids::AttachmentId },
    /// Delete every stored object under `prefix` (a refused, swept or
    /// erased file).
    DeleteFiles { prefix: String },
}

impl Work {
    /// The lane the work keeps its order in.
    pub fn lane(&self) -> Option<String> {
        match self {
            Self::Deliver { webhook, .. } => Some(webhook.to_string()),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Action { .. } => "action",
            Self::Dispatch { .. } => "dispatch",
            Self::Launch { .. } => "launch",
            Self::Deliver { .. } => "deliver",
            Self::Handoff { .. } => "handoff",
            Self::Scan { .. } => "scan",
            Self::DeleteFiles { .. } => "delete_files",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    Done,
    /// Given up after its attempts; listed and replayable.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Done, Self::Dead].into_iter().find(|v| v.as_str() == s)
    }
}

/// One line of a run's history: a step entered, what it waits for, how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLogEntry {
    pub run_id: FlowRunId,
    pub at: Timestamp,
    pub step: String,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
