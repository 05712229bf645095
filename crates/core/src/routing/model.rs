//! The records of routing: agents, queues, tasks and offers.
//!
//! An agent's `load` counts what holds one of its chat slots: pending offers,
//! assigned chats and chats in wrap-up. The planner changes it in the same
//! transaction as the task and offer it belongs to, so `load <= capacity`
//! holds for every committed state and a task has at most one live offer or
//! assignment.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AgentId, ConversationId, OfferId, ParticipantId, QueueId, ScheduleId, TaskId, WorkspaceId};
use crate::model::Attributes;

/// The activities every workspace has. `available` is the only built-in one
/// that receives chats; workspaces may add their own (`lunch`, `training`, …).
pub const AVAILABLE: &str = "available";
pub const AWAY: &str = "away";
pub const OFFLINE: &str = "offline";

/// A presence state an agent can be in, and whether it receives chats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub name: String,
    pub available: bool,
}

impl Activity {
    pub fn builtin() -> [Activity; 3] {
        [
            Activity { name: AVAILABLE.into(), available: true },
            Activity { name: AWAY.into(), available: false },
            Activity { name: OFFLINE.into(), available: false },
        ]
    }
}

/// A pending offer, as the agent's row remembers it (so that going offline
/// can expire the agent's offers without reading them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldOffer {
    pub offer: OfferId,
    pub task: TaskId,
    pub conversation: ConversationId,
}

/// A person who answers chats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: AgentId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// The console login, unique in the workspace.
    pub login: Option<String>,
    /// Skills, level, languages, …: what queue expressions look at.
    pub attributes: Attributes,
    /// Concurrent chats.
    pub capacity: u32,
    pub enabled: bool,
    pub activity: String,
    /// Whether the current activity receives chats.
    pub available: bool,
    pub activity_at: Timestamp,
    /// Slots held: pending offers + assigned chats + chats in wrap-up.
    pub load: u32,
    pub offers: Vec<HeldOffer>,
    /// Since when the agent has waited for work: set when it becomes available
    /// and when it is offered a chat. The longest-idle agent has the oldest.
    pub idle_since: Timestamp,
    /// When the agent's last socket was last known open; presence goes offline
    /// when this is older than the grace period.
    pub last_seen_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Agent {
    /// Whether the router may offer it one more chat.
    pub fn can_take(&self) -> bool {
        self.enabled && self.available && self.load < self.capacity
    }
}

/// Which eligible agent a queue offers to first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// The agent waiting longest since it was last offered a chat (or became available).
    #[default]
    LongestIdle,
    /// The agent with the fewest chats; ties go to the longest idle.
    LeastBusy,
}

impl Ordering {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LongestIdle => "longest_idle",
            Self::LeastBusy => "least_busy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "longest_idle" => Some(Self::LongestIdle),
            "least_busy" => Some(Self::LeastBusy),
            _ => None,
        }
    }
}

/// What happens when an assigned agent does not reply in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "action", content = "queue", rename_all = "snake_case")]
pub enum ReplyTimeout {
    /// The agent leaves the chat, which waits again at its place in line
    /// for another agent (the one who let it wait gets it back only when
    /// nobody else can take it).
    #[default]
    NextAgent,
    /// The chat is transferred to this queue.
    Queue(QueueId),
    /// The agent keeps the chat; supervisors are alerted.
    Alert,
}

impl ReplyTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NextAgent => "next_agent",
            Self::Queue(_) => "queue",
            Self::Alert => "alert",
        }
    }
}

/// Where waiting chats wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// Which agents serve it (CEL over `agent`); none: every agent.
    pub expression: Option<String>,
    pub ordering: Ordering,
    pub offer_timeout_secs: u32,
    /// After a chat ends, how long the agent's slot stays taken.
    pub wrap_up_secs: u32,
    /// A chat that continues an earlier one is offered first, for this long,
    /// only to the agent who had the earlier one, when that agent is present
    /// and serves the queue (persistent chat). None: routed as any other.
    pub prefer_previous_agent_secs: Option<u32>,
    /// An agent who accepts a chat must send its first message within this
    /// many seconds. None: no limit.
    pub first_reply_secs: Option<u32>,
    /// While assigned, the agent must answer the customer's messages within
    /// this many seconds (counted from the oldest unanswered one).
    pub reply_secs: Option<u32>,
    /// What a missed reply does.
    pub on_reply_timeout: ReplyTimeout,
    /// Its hours of operation: while they are closed it offers nothing.
    #[serde(default)]
    pub schedule_id: Option<ScheduleId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Queue {
    /// Whether chats assigned in this queue run a reply clock.
    pub fn times_replies(&self) -> bool {
        self.first_reply_secs.is_some() || self.reply_secs.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// In its queue, waiting for an agent.
    Waiting,
    /// Offered to one agent, who has not answered yet.
    Offered,
    /// An agent has it.
    Assigned,
    /// The chat ended; the agent's slot is held for wrap-up.
    WrapUp,
    /// Done: the agent's slot is free.
    Completed,
    /// The chat ended before an agent took it.
    Canceled,
    /// Nobody could take the chat: it waits as a "message us" request,
    /// with the customer's messages and contact details, until an agent
    /// picks it up from the list.
    Message,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Offered => "offered",
            Self::Assigned => "assigned",
            Self::WrapUp => "wrap_up",
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::Message => "message",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Waiting, Self::Offered, Self::Assigned, Self::WrapUp, Self::Completed, Self::Canceled, Self::Message]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// Waiting or offered: the chat still needs an agent.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Waiting | Self::Offered)
    }

    /// Still holds a place in routing (open, assigned or wrapping up).
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Completed | Self::Canceled)
    }
}

/// What a step does while its queue's hours are closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenClosed {
    /// The chat waits, keeping its place, until the queue opens.
    #[default]
    Wait,
    /// The chat moves on to the next step at once (on the last step: waits).
    Next,
}

impl WhenClosed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Next => "next",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Wait, Self::Next].into_iter().find(|w| w.as_str() == s)
    }

    pub fn is_wait(&self) -> bool {
        *self == Self::Wait
    }
}

/// One step of a task's route: a queue to wait in, for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStep {
    pub queue: QueueId,
    /// An extra condition on agents for this step (CEL over `agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
    #[serde(default)]
    pub skip_if_nobody_available: bool,
    /// Offer only to this agent (a transfer to a named agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// The step that prefers the previous agent of a continued chat: its
    /// agent declining or letting the offer lapse, or leaving the chat,
    /// moves the chat on to the next step at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preferred: bool,
    /// The ring policy: after this many agents have passed on the chat in
    /// this step (declined, let the offer lapse, or not replied in time),
    /// it moves on to the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<u32>,
    /// A message step: the chat that reaches it becomes a "message us"
    /// request in `queue`, and the customer is told this text. The last
    /// step of its route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// While the queue's hours are closed: wait, or move on.
    #[serde(default, skip_serializing_if = "WhenClosed::is_wait")]
    pub when_closed: WhenClosed,
}

impl RouteStep {
    /// A step that waits in `queue` with no other condition (a transfer).
    pub fn to_queue(queue: QueueId) -> Self {
        Self {
            queue,
            agents: None,
            timeout_secs: None,
            skip_if_nobody_available: false,
            agent: None,
            preferred: false,
            ring: None,
            message: None,
            when_closed: WhenClosed::Wait,
        }
    }
}

/// A chat that needs (or has) an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub state: TaskState,
    /// The steps it was routed along, fixed when it was created (a workflow
    /// reloaded later applies to new tasks).
    pub route: Vec<RouteStep>,
    /// Index into `route`.
    pub step: u32,
    /// Higher first; within a priority, the oldest `enqueued_at` first.
    pub priority: i32,
    /// Its place in line. An offer that times out or is declined leaves it unchanged.
    pub enqueued_at: Timestamp,
    /// When the current step began.
    pub step_at: Timestamp,
    /// The agent it is offered or assigned to.
    pub agent_id: Option<AgentId>,
    pub offer_id: Option<OfferId>,
    /// Agents who declined or let an offer of it lapse in the current step;
    /// they are offered it again only when nobody else can take it.
    pub passed: Vec<AgentId>,
    /// The assigned agent's participant in the conversation.
    pub member_id: Option<ParticipantId>,
    /// When the assigned agent's reply is due, while a reply clock runs.
    pub reply_due_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Task {
    /// A task just put in line along `route`.
    pub fn waiting(
        id: TaskId,
        workspace_id: WorkspaceId,
        conversation_id: ConversationId,
        route: Vec<RouteStep>,
        priority: i32,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            workspace_id,
            conversation_id,
            state: TaskState::Waiting,
            route,
            step: 0,
            priority,
            enqueued_at: now,
            step_at: now,
            agent_id: None,
            offer_id: None,
            passed: Vec::new(),
            member_id: None,
            reply_due_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn current(&self) -> Option<&RouteStep> {
        self.route.get(self.step as usize)
    }

    pub fn queue(&self) -> Option<QueueId> {
        self.current().map(|s| s.queue)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferState {
    Pending,
    Accepted,
    Declined,
    Expired,
    /// Withdrawn: the chat ended or moved while the offer was open.
    Revoked,
}

impl OfferState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined, Self::Expired, Self::Revoked]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// A task offered to one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub id: OfferId,
    pub task_id: TaskId,
    pub conversation_id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub agent_id: AgentId,
    pub queue_id: QueueId,
    pub state: OfferState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
}

/// One line of a task's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskHistory {
    pub task_id: TaskId,
    pub at: Timestamp,
    /// `queued`, `preferred` (the previous agent of a continued chat is
    /// offered it first), `offered`, `accepted`, `declined`, `expired`,
    /// `revoked`, `fallback` (the preference is over; normal routing),
    /// `step`, `rung_out` (the step's ring policy ran out of agents),
    /// `sla_breached` (the agent did not reply in time), `transferred`,
    /// `requeued`, `wrap_up`, `completed`, `canceled`.
    pub what: String,
    pub agent_id: Option<AgentId>,
    pub queue_id: Option<QueueId>,
    /// For `offered`: why this agent ([`crate::routing::explain::OfferWhy`]),
    /// kept as the JSON it was written as.
    pub detail: Option<serde_json::Value>,
}
