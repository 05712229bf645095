//! Wire shapes of routing: agents, activities, queues, the workflow, tasks
//! and offers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_core::engine::routing::MessageRequest;
use switchboard_core::engine::supervisor::{LiveChat, QueueStats};
use switchboard_core::model::{ConversationState, FileRequest};
use switchboard_core::routing::model::{Activity, Agent, Offer, Queue, ReplyTimeout, RouteStep, Task, TaskHistory};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    #[schema(example = "agt_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub login: Option<String>,
    /// Skills, level, languages, …: what queue expressions see as `agent`.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Concurrent chats.
    pub capacity: u32,
    pub enabled: bool,
    pub activity: String,
    /// Whether the current activity receives chats.
    pub available: bool,
    /// Slots held: pending offers, assigned chats, chats in wrap-up.
    pub load: u32,
    pub idle_since: String,
    pub created_at: String,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id.to_string(),
            workspace_id: a.workspace_id.to_string(),
            name: a.name,
            login: a.login,
            attributes: a.attributes,
            capacity: a.capacity,
            enabled: a.enabled,
            activity: a.activity,
            available: a.available,
            load: a.load,
            idle_since: a.idle_since.to_rfc3339(),
            created_at: a.created_at.to_rfc3339(),
        }
    }
}

/// A new agent, or the fields to change (PATCH).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    pub name: Option<String>,
    /// Console login, unique in the workspace (cannot be changed later).
    pub login: Option<String>,
    /// Console password (8 characters or more); stored as an argon2 hash.
    pub password: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Concurrent chats, 1 to 1000 (default 1).
    pub capacity: Option<i64>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTokenRequest {
    /// A label for the token (default `api`).
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTokenResponse {
    pub agent: AgentView,
    /// `sba_…`, shown once.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityRequest {
    /// An activity name: `available`, `away`, `offline` or one of the workspace's own.
    pub activity: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityView {
    pub name: String,
    /// Whether agents in it receive chats.
    pub available: bool,
}

impl From<Activity> for ActivityView {
    fn from(a: Activity) -> Self {
        Self { name: a.name, available: a.available }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    #[schema(example = "que_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub name: String,
    /// Which agents serve it: a CEL expression over `agent`, e.g.
    /// `"billing" in agent.skills && agent.level >= 2`. None: every agent.
    pub expression: Option<String>,
    /// `longest_idle` or `least_busy`.
    pub ordering: String,
    pub offer_timeout_secs: u32,
    pub wrap_up_secs: u32,
    /// A chat that continues an earlier one is offered first, for this many
    /// seconds, only to the agent who had the earlier one, if that agent is
    /// present and serves the queue; then as any other. None: off.
    pub prefer_previous_agent_secs: Option<u32>,
    /// An agent who accepts a chat must send a first message within this
    /// many seconds. None: no limit.
    pub first_reply_secs: Option<u32>,
    /// While assigned, the agent must answer each customer message within
    /// this many seconds (from the oldest unanswered one). None: no limit.
    pub reply_secs: Option<u32>,
    /// What a missed reply does: `next_agent` (the agent leaves the chat,
    /// which waits for another), `queue` (moved to `reply_timeout_queue_id`)
    /// or `alert` (supervisors are told; the agent keeps the chat).
    pub on_reply_timeout: String,
    pub reply_timeout_queue_id: Option<String>,
    /// The schedule (by name) whose hours it keeps: while they are closed it
    /// offers nothing. None: always open.
    pub schedule: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Queue> for QueueView {
    fn from(q: Queue) -> Self {
        Self {
            id: q.id.to_string(),
            name: q.name,
            expression: q.expression,
            ordering: q.ordering.as_str().into(),
            offer_timeout_secs: q.offer_timeout_secs,
            wrap_up_secs: q.wrap_up_secs,
            prefer_previous_agent_secs: q.prefer_previous_agent_secs,
            first_reply_secs: q.first_reply_secs,
            reply_secs: q.reply_secs,
            on_reply_timeout: q.on_reply_timeout.as_str().into(),
            reply_timeout_queue_id: match q.on_reply_timeout {
                ReplyTimeout::Queue(id) => Some(id.to_string()),
                ReplyTimeout::NextAgent | ReplyTimeout::Alert => None,
            },
            schedule: None,
            created_at: q.created_at.to_rfc3339(),
            updated_at: q.updated_at.to_rfc3339(),
        }
    }
}

/// A new queue, or the fields to change. `"expression": null` removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<String>)]
    pub expression: Option<Option<String>>,
    pub ordering: Option<String>,
    /// 1 to 86400 (default 30).
    pub offer_timeout_secs: Option<i64>,
    /// 0 to 86400 (default 0).
    pub wrap_up_secs: Option<i64>,
    /// 1 to 86400, or `null` (the default) for no preference: how long a
    /// continued chat waits for the agent who had the chat it continues.
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<i64>)]
    pub prefer_previous_agent_secs: Option<Option<i64>>,
    /// 1 to 86400, or `null` (the default) for none: the time an agent who
    /// accepts a chat has to send its first message.
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<i64>)]
    pub first_reply_secs: Option<Option<i64>>,
    /// 1 to 86400, or `null` (the default) for none: the time the assigned
    /// agent has to answer a customer message.
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<i64>)]
    pub reply_secs: Option<Option<i64>>,
    /// `next_agent` (the default), `queue` or `alert`.
    pub on_reply_timeout: Option<String>,
    /// With `"on_reply_timeout": "queue"`: the queue (name or id).
    pub reply_timeout_queue: Option<String>,
    /// A schedule's name: the queue offers nothing while it is closed.
    /// `null` takes it off.
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<String>)]
    pub schedule: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub version: i64,
    /// The document as written.
    pub source: String,
    /// The parsed document.
    #[schema(value_type = Object)]
    pub workflow: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteStepView {
    pub queue_id: String,
    pub agents: Option<String>,
    pub timeout_secs: Option<u32>,
    pub skip_if_nobody_available: bool,
    pub agent_id: Option<String>,
    /// The step that offers a continued chat first to the agent who had the
    /// chat it continues (`agent_id`).
    pub preferred: bool,
    /// A message step: the chat becomes a "message us" request and the
    /// customer is told this text.
    pub message: Option<String>,
    /// The ring policy: after this many agents passed on the chat in this
    /// step, it moves on to the next step.
    pub ring: Option<u32>,
    /// While the queue's hours are closed: `wait` (keeps its place) or
    /// `next` (moves on to the next step at once).
    pub when_closed: String,
}

impl From<RouteStep> for RouteStepView {
    fn from(s: RouteStep) -> Self {
        Self {
            queue_id: s.queue.to_string(),
            agents: s.agents,
            timeout_secs: s.timeout_secs,
            skip_if_nobody_available: s.skip_if_nobody_available,
            agent_id: s.agent.map(|a| a.to_string()),
            preferred: s.preferred,
            message: s.message,
            ring: s.ring,
            when_closed: s.when_closed.as_str().into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub at: String,
    pub what: String,
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    /// On `offered` lines: why this agent. `won` (`reason`: `longest_idle`
    /// with `since`, `least_busy` with `load` and `capacity`,
    /// `named_agent`, `preferred_agent` or `only_one_eligible`), `eligible`
    /// (how many could take it), `runners_up` (the next three with their
    /// ranking keys), `skipped` (agents the router read, by reason) and
    /// `considered` (the workspace's present agents the router read).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
}

impl From<TaskHistory> for HistoryView {
    fn from(h: TaskHistory) -> Self {
        Self {
            at: h.at.to_rfc3339(),
            what: h.what,
            agent_id: h.agent_id.map(|a| a.to_string()),
            queue_id: h.queue_id.map(|q| q.to_string()),
            detail: h.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    #[schema(example = "tsk_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub conversation_id: String,
    /// `waiting`, `offered`, `assigned`, `wrap_up`, `completed` or `canceled`.
    pub state: String,
    pub queue_id: Option<String>,
    pub step: u32,
    pub route: Vec<RouteStepView>,
    pub priority: i32,
    pub enqueued_at: String,
    pub agent_id: Option<String>,
    pub offer_id: Option<String>,
    /// When the assigned agent's reply is due, while the queue's response
    /// timer runs.
    pub reply_due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryView>>,
}

impl TaskView {
    pub fn new(t: Task, history: Option<Vec<TaskHistory>>) -> Self {
        Self {
            id: t.id.to_string(),
            conversation_id: t.conversation_id.to_string(),
            state: t.state.as_str().into(),
            queue_id: t.queue().map(|q| q.to_string()),
            step: t.step,
            route: t.route.into_iter().map(Into::into).collect(),
            priority: t.priority,
            enqueued_at: t.enqueued_at.to_rfc3339(),
            agent_id: t.agent_id.map(|a| a.to_string()),
            offer_id: t.offer_id.map(|o| o.to_string()),
            reply_due_at: t.reply_due_at.map(|d| d.to_rfc3339()),
            history: history.map(|h| h.into_iter().map(Into::into).collect()),
        }
    }
}

/// A "message us" request: a chat nobody could take, waiting for an agent
/// to pick it up.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageRequestView {
    pub conversation_id: String,
    pub task_id: String,
    /// The queue it is listed in: agents who serve it may pick it up.
    pub queue_id: Option<String>,
    /// `message` while it waits; `assigned` (the agent joined the chat) or
    /// `completed` (the customer had gone) once picked up.
    pub state: String,
    /// Since when it waits as a request.
    pub since: String,
    /// What the customer was told.
    pub text: Option<String>,
    /// What the customer left in the contact form (`name`, `email`,
    /// `phone`), once filled in.
    #[schema(value_type = Option<Object>)]
    pub contact: Option<Value>,
    /// The chat is still open (the customer may still be there): picking
    /// it up joins the agent to it.
    pub open: bool,
    /// Who picked it up.
    pub agent_id: Option<String>,
}

impl From<MessageRequest> for MessageRequestView {
    fn from(r: MessageRequest) -> Self {
        let MessageRequest { task, conversation } = r;
        Self {
            conversation_id: task.conversation_id.to_string(),
            task_id: task.id.to_string(),
            queue_id: task.queue().map(|q| q.to_string()),
            state: task.state.as_str().into(),
            since: task.step_at.to_rfc3339(),
            text: task.current().and_then(|s| s.message.clone()),
            contact: conversation.attributes.get("contact").cloned(),
            open: conversation.state == ConversationState::Open,
            agent_id: task.agent_id.map(|a| a.to_string()),
        }
    }
}

/// Who picks a request up: with a workspace key, the agent (`agent_id`);
/// with an agent token, nothing (the agent itself).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickUpRequest {
    pub agent_id: Option<String>,
}

/// A picked-up request, and the events it logged (the agent's join, when
/// the chat was still open).
#[derive(Debug, Serialize, ToSchema)]
pub struct PickedUpView {
    pub request: MessageRequestView,
    /// The agent joined the chat (the customer's chat was still open).
    pub joined: bool,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<switchboard_core::event::Event>,
}

/// Where to route or transfer a chat: a queue (id or name), an agent, or
/// neither (route: along the workflow).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    pub queue: Option<String>,
    pub agent_id: Option<String>,
    /// -1000 to 1000; higher is served first (default 0).
    pub priority: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfferView {
    #[schema(example = "ofr_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub task_id: String,
    pub conversation_id: String,
    pub agent_id: String,
    pub queue_id: String,
    /// `pending`, `accepted`, `declined`, `expired` or `revoked`.
    pub state: String,
    pub created_at: String,
    pub expires_at: String,
    pub decided_at: Option<String>,
}

impl From<Offer> for OfferView {
    fn from(o: Offer) -> Self {
        Self {
            id: o.id.to_string(),
            task_id: o.task_id.to_string(),
            conversation_id: o.conversation_id.to_string(),
            agent_id: o.agent_id.to_string(),
            queue_id: o.queue_id.to_string(),
            state: o.state.as_str().into(),
            created_at: o.created_at.to_rfc3339(),
            expires_at: o.expires_at.to_rfc3339(),
            decided_at: o.decided_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInputRequest {
    /// Text to prefill the assigned agent's composer with.
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePositionView {
    /// 1: the next chat to be offered.
    pub position: u32,
    /// From how fast chats left the queue in the last ten minutes; absent
    /// until that is known.
    pub estimated_wait_secs: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStatsView {
    pub queue_id: String,
    pub name: String,
    /// Chats in line, not yet offered.
    pub waiting: u32,
    /// Chats offered to an agent who has not answered yet.
    pub offered: u32,
    /// Chats with an agent (assigned or in wrap-up).
    pub assigned: u32,
    /// "Message us" requests waiting to be picked up (`GET /message-requests`).
    pub messages: u32,
    pub longest_wait_secs: u64,
    pub average_wait_secs: u64,
    /// Eligible agents that receive chats and have a free slot.
    pub agents_available: u32,
    /// Eligible agents that receive chats with every slot taken.
    pub agents_busy: u32,
    /// Eligible agents in an activity that does not receive chats (not offline).
    pub agents_away: u32,
}

impl From<QueueStats> for QueueStatsView {
    fn from(s: QueueStats) -> Self {
        Self {
            queue_id: s.queue.id.to_string(),
            name: s.queue.name,
            waiting: s.waiting,
            offered: s.offered,
            assigned: s.assigned,
            messages: s.messages,
            longest_wait_secs: s.longest_wait_secs,
            average_wait_secs: s.average_wait_secs,
            agents_available: s.agents_available,
            agents_busy: s.agents_busy,
            agents_away: s.agents_away,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveChatView {
    pub conversation_id: String,
    pub task_id: String,
    /// `waiting`, `offered`, `assigned` or `wrap_up`.
    pub state: String,
    pub queue_id: Option<String>,
    pub priority: i32,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    /// Since the chat got in line.
    pub waiting_secs: u64,
}

impl From<LiveChat> for LiveChatView {
    fn from(c: LiveChat) -> Self {
        Self {
            conversation_id: c.conversation_id.to_string(),
            task_id: c.task_id.to_string(),
            state: c.state.as_str().into(),
            queue_id: c.queue_id.map(|q| q.to_string()),
            priority: c.priority,
            agent_id: c.agent_id.map(|a| a.to_string()),
            agent_name: c.agent_name,
            waiting_secs: c.waiting_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileRequestView {
    #[schema(example = "frq_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub conversation_id: String,
    pub requested_by: Option<String>,
    pub record_id: Option<String>,
    /// `requested`, `canceled`, `fulfilled` or `failed`.
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<FileRequest> for FileRequestView {
    fn from(f: FileRequest) -> Self {
        Self {
            id: f.id.to_string(),
            conversation_id: f.conversation_id.to_string(),
            requested_by: f.requested_by.map(|p| p.to_string()),
            record_id: f.record_id,
            state: f.state.as_str().into(),
            created_at: f.created_at.to_rfc3339(),
            updated_at: f.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRequestRequest {
    /// The record the file is to be attached to once uploaded.
    pub record_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileRequestCreated {
    pub request: FileRequestView,
    /// The `file.requested` event, as the customer receives it.
    #[schema(value_type = crate::wire::EventDoc)]
    pub event: switchboard_core::event::Event,
}
