//! Stored timers: what fires when, so nothing waits in memory only.
//!
//! A timer is keyed by conversation, participant (or none) and kind; setting
//! the same key again moves it. The store keeps them in one table ordered by
//! `due_at`; a worker claims due timers and turns each into a command.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AgentId, AttachmentId, ConversationId, FlowRunId, OfferId, ParticipantId, TaskId};

/// The two steps of the customer inactivity timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InactivityStage {
    /// Next: mark the customer idle.
    Idle,
    /// Next: disconnect the customer.
    Disconnect,
}

/// What a timer does when it fires, with the state it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimerKind {
    /// The customer has been silent since `since`.
    Inactivity { since: Timestamp, stage: InactivityStage },
    /// An offer lapses unless the agent answers first.
    OfferExpiry { offer: OfferId, task: TaskId, agent: AgentId },
    /// A task has waited in route step `step` as long as the step allows.
    TaskStep { task: TaskId, step: u32 },
    /// An agent's wrap-up after a chat ends; its slot frees when this fires.
    WrapUp { task: TaskId, agent: AgentId },
    /// The assigned agent's reply is due: its first message after accepting
    /// (`first`), or its answer to the customer.
    ReplyDue { task: TaskId, agent: AgentId, member: ParticipantId, first: bool },
    /// A flow run's wait times out (or its `wait` step is over).
    FlowWait { run: FlowRunId, wait_seq: u32 },
    /// An upload not complete by now is swept: its row and its bytes go.
    /// It outlives the conversation's end (the other timers do not).
    UploadExpiry { attachment: AttachmentId },
    /// The chat has lasted as long as it may: it ends (reason `expired`).
    ChatDeadline,
}

/// The stored kind of the reply timer (one per conversation).
pub const REPLY: &str = "reply";

/// The stored kind of upload timers begins with this; a conversation's end
/// clears its timers but these.
pub const UPLOAD_PREFIX: &str = "upload:";

impl TimerKind {
    /// The stored kind: with the conversation and participant, the timer's
    /// key. Each flow run has a timer of its own.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Self::Inactivity { .. } => "inactivity".into(),
            Self::OfferExpiry { .. } => "offer".into(),
            Self::TaskStep { .. } => "task_step".into(),
            Self::WrapUp { .. } => "wrap_up".into(),
            Self::ReplyDue { .. } => REPLY.into(),
            Self::FlowWait { run, .. } => format!("flow:{run}").into(),
            Self::UploadExpiry { attachment } => format!("{UPLOAD_PREFIX}{attachment}").into(),
            Self::ChatDeadline => "deadline".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub conversation_id: ConversationId,
    pub participant_id: Option<ParticipantId>,
    pub kind: TimerKind,
    pub due_at: Timestamp,
}

/// What identifies a timer; setting a timer with the same key replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimerKey {
    pub conversation_id: ConversationId,
    pub participant_id: Option<ParticipantId>,
    pub kind: Cow<'static, str>,
}

impl Timer {
    pub fn key(&self) -> TimerKey {
        TimerKey { conversation_id: self.conversation_id, participant_id: self.participant_id, kind: self.kind.name() }
    }

    /// The stored form of `kind`: its name and a JSON object of its data.
    pub fn data(&self) -> String {
        serde_json::to_string(&self.kind).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_stored(
        conversation_id: ConversationId,
        participant_id: Option<ParticipantId>,
        data: &str,
        due_at: Timestamp,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self { conversation_id, participant_id, kind: serde_json::from_str(data)?, due_at })
    }
}

impl TimerKey {
    /// The participant column's stored form ("" for none), so the key can be a primary key.
    pub fn participant_text(&self) -> String {
        self.participant_id.map(|p| p.to_string()).unwrap_or_default()
    }
}
