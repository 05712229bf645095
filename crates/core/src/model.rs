//! The records of the domain: workspaces, API keys, entry points,
//! conversations and participants. Events live in [`crate::event`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::ids::{
    AgentId, ApiKeyId, ConversationId, EntryPointId, FileRequestId, ParticipantId, ScheduleId, TaskId, WorkspaceId,
};

/// Free-form JSON attributes (an object at the top level).
pub type Attributes = Map<String, Value>;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
}

/// A workspace's settings; each part has its defaults until set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSettings {
    #[serde(default)]
    pub files: crate::files::policy::FilePolicy,
    /// How long ended conversations are kept (for ever unless set).
    #[serde(default)]
    pub retention: crate::retention::RetentionSettings,
    /// Saved answers agents pick in the console.
    #[serde(default)]
    pub canned_responses: Vec<crate::engine::directory::CannedResponse>,
}

/// A workspace API key; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A workspace access key: an AWS-style key id and secret that sign
/// server-to-server requests with Signature V4. The secret is not part of
/// the record: it is shown once when the key is made, and read back only
/// to verify a signature ([`crate::store::Store::access_key_secret`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: crate::ids::AccessKeyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// How long a customer may stay silent before the chat notices.
///
/// `idle_after_secs`: the customer is marked idle (`participant.idle`).
/// `disconnect_after_secs`: the customer is removed
/// (`participant.autodisconnection`). Both count from the customer's last
/// activity; either may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IdleSettings {
    pub idle_after_secs: Option<u32>,
    pub disconnect_after_secs: Option<u32>,
}

impl IdleSettings {
    pub fn is_off(&self) -> bool {
        self.idle_after_secs.is_none() && self.disconnect_after_secs.is_none()
    }
}

/// A public way into chat (a widget or button).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryPoint {
    pub id: EntryPointId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// Origins allowed to start chats from a browser; `*` allows any.
    pub allowed_origins: Vec<String>,
    pub idle: IdleSettings,
    pub enabled: bool,
    /// Its hours of operation, which customers are told.
    #[serde(default)]
    pub schedule_id: Option<ScheduleId>,
    /// How its chat widget looks and what it asks before a chat.
    #[serde(default)]
    pub widget: crate::widget::WidgetSettings,
    pub created_at: Timestamp,
}

impl EntryPoint {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Open,
    Ended,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }
}

/// How much of the past a continued chat carries (persistent chat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rehydration {
    /// The whole past session: the chat it continues and, through it, every
    /// segment that one carried.
    EntirePastSession,
    /// Only the chat it continues: the session starts again from that segment.
    FromSegment,
}

impl Rehydration {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntirePastSession => "entire_past_session",
            Self::FromSegment => "from_segment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::EntirePastSession, Self::FromSegment].into_iter().find(|r| r.as_str() == s)
    }
}

/// One chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub entry_point_id: Option<EntryPointId>,
    pub state: ConversationState,
    pub attributes: Attributes,
    /// The id of a record in the customer's own system this chat belongs to.
    pub record_id: Option<String>,
    /// The chat this one continues (persistent chat).
    pub previous_conversation_id: Option<ConversationId>,
    /// With `previous_conversation_id`: how much of the past it carries.
    pub rehydration: Option<Rehydration>,
    /// The chat that continues this one (at most one does).
    pub next_conversation_id: Option<ConversationId>,
    pub idle: IdleSettings,
    /// The seq of the newest event in the log.
    pub last_seq: i64,
    /// Participants who have joined and not left.
    pub active_participants: i64,
    /// Its routing task, once it has asked for an agent (the latest one).
    pub task_id: Option<TaskId>,
    /// Flow runs active in it (loaded with it, so that a message or the end
    /// of the chat reaches them in the same transaction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<crate::ids::FlowRunId>,
    /// Webhooks scoped to this conversation (kept with it, so its events
    /// find them without another query).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::flows::webhooks::Hook>,
    pub created_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
    System,
    Supervisor,
    /// A supervisor watching silently: reads everything, sends nothing, and
    /// is not shown to customers or agents.
    Monitor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::System => "system",
            Self::Supervisor => "supervisor",
            Self::Monitor => "monitor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "customer" => Some(Self::Customer),
            "agent" => Some(Self::Agent),
            "system" => Some(Self::System),
            "supervisor" => Some(Self::Supervisor),
            "monitor" => Some(Self::Monitor),
            _ => None,
        }
    }
}

/// A member of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    pub conversation_id: ConversationId,
    pub role: Role,
    pub display_name: String,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
    /// Marked idle by the inactivity timer and not active since.
    pub idle: bool,
    /// For an agent who joined through routing: which agent.
    pub agent_id: Option<AgentId>,
}

impl Participant {
    pub fn is_active(&self) -> bool {
        self.left_at.is_none()
    }

    /// Whether this participant keeps the conversation going: everyone but a
    /// silent monitor (a chat whose customer and agent have gone ends, even
    /// if a supervisor still watches).
    pub fn counts(&self) -> bool {
        self.role != Role::Monitor
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRequestState {
    /// Waiting for the customer's upload.
    Requested,
    Canceled,
    /// The file arrived and was approved.
    Fulfilled,
    Failed,
    /// The customer will not send it.
    Declined,
}

impl FileRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Canceled => "canceled",
            Self::Fulfilled => "fulfilled",
            Self::Failed => "failed",
            Self::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requested, Self::Canceled, Self::Fulfilled, Self::Failed, Self::Declined]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A request to the customer for a file (the toolkit's `initFileTransfer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRequest {
    pub id: FileRequestId,
    pub conversation_id: ConversationId,
    /// Who asked: an agent's or supervisor's participant; none for the API or a flow.
    pub requested_by: Option<ParticipantId>,
    /// The record the file is to be attached to.
    pub record_id: Option<String>,
    pub state: FileRequestState,
    /// The file that fulfilled it.
    #[serde(default)]
    pub attachment_id: Option<crate::ids::AttachmentId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
