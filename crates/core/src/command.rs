//! The writes to conversation logs, as a closed set of commands.
//!
//! Every change to a conversation goes through one of these. The store's
//! group-commit writer collects commands from many callers, loads the rows they
//! touch ([`Snapshot`]), asks [`crate::plan::plan`] what to write, writes it in
//! one transaction and only then answers each caller. Planning is pure: no IO,
//! the clock passed in.

use std::collections::HashMap;

use crate::event::{Event, EventKind, LeaveReason};
use crate::ids::{ConversationId, EntryPointId, ParticipantId, WorkspaceId};
use crate::model::{Attributes, Conversation, IdleSettings, Participant, Role};
use crate::timer::{Timer, TimerKey};
use crate::token::SecretHash;

/// Who causes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Participant(ParticipantId),
    /// The API with a workspace key, or the server itself (timers).
    System,
}

impl Author {
    pub fn participant(self) -> Option<ParticipantId> {
        match self {
            Self::Participant(p) => Some(p),
            Self::System => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub entry_point_id: Option<EntryPointId>,
    pub attributes: Attributes,
    pub record_id: Option<String>,
    pub previous_conversation_id: Option<ConversationId>,
    pub idle: IdleSettings,
}

#[derive(Debug, Clone)]
pub struct NewParticipant {
    pub id: ParticipantId,
    pub role: Role,
    pub display_name: String,
    /// The digest of the participant's first token, if one is issued.
    pub token: Option<SecretHash>,
}

/// An idempotency token chosen by the sender: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientToken(String);

impl ClientToken {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, crate::Error> {
        let ok = !s.is_empty() && s.len() <= Self::MAX_LEN && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::Error::invalid(
                "client_token",
                "must be 1 to 128 visible ASCII characters (a UUID is a good choice)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an attribute update applies.
#[derive(Debug, Clone, Default)]
pub struct AttributePatch {
    /// Keys to set; a `null` value removes the key.
    pub attributes: Option<Attributes>,
    /// `Some(None)` clears the record id.
    pub record_id: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Opens a conversation with its first participants.
    Create {
        conversation: NewConversation,
        participants: Vec<NewParticipant>,
    },
    /// Appends a message or receipt.
    Append {
        conversation: ConversationId,
        author: Author,
        kind: EventKind,
        client_token: Option<ClientToken>,
    },
    Join {
        conversation: ConversationId,
        participant: NewParticipant,
    },
    Leave {
        conversation: ConversationId,
        participant: ParticipantId,
        reason: LeaveReason,
    },
    Update {
        conversation: ConversationId,
        patch: AttributePatch,
    },
    End {
        conversation: ConversationId,
        by: Author,
    },
    /// A stored timer came due.
    Fire {
        timer: Timer,
    },
}

impl Command {
    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Self::Create { conversation, .. } => conversation.id,
            Self::Append { conversation, .. }
            | Self::Join { conversation, .. }
            | Self::Leave { conversation, .. }
            | Self::Update { conversation, .. }
            | Self::End { conversation, .. } => *conversation,
            Self::Fire { timer } => timer.conversation_id,
        }
    }
}

/// The rows a batch of commands reads, as they stand at the start of its transaction.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub conversations: HashMap<ConversationId, Conversation>,
    pub participants: HashMap<ParticipantId, Participant>,
    /// Events already stored under a client token, by (conversation, token).
    pub sent: HashMap<(ConversationId, String), Event>,
    pub timers: HashMap<TimerKey, Timer>,
}

/// What a batch needs loaded before it can be planned.
#[derive(Debug, Default)]
pub struct SnapshotKeys {
    pub conversations: Vec<ConversationId>,
    pub participants: Vec<ParticipantId>,
    pub client_tokens: Vec<(ConversationId, String)>,
    pub timers: Vec<TimerKey>,
}

impl SnapshotKeys {
    pub fn of(commands: &[Command]) -> Self {
        let mut keys = Self::default();
        for c in commands {
            if !matches!(c, Command::Create { .. }) {
                keys.conversations.push(c.conversation_id());
            }
            match c {
                Command::Append { conversation, author, client_token, .. } => {
                    keys.participants.extend(author.participant());
                    if let Some(t) = client_token {
                        keys.client_tokens.push((*conversation, t.as_str().to_owned()));
                    }
                }
                Command::Leave { participant, .. } => keys.participants.push(*participant),
                Command::End { by, .. } => keys.participants.extend(by.participant()),
                Command::Fire { timer } => {
                    keys.participants.extend(timer.participant_id);
                    keys.timers.push(timer.key());
                }
                Command::Create { .. } | Command::Join { .. } | Command::Update { .. } => {}
            }
        }
        keys.conversations.sort_unstable();
        keys.conversations.dedup();
        keys.participants.sort_unstable();
        keys.participants.dedup();
        keys.client_tokens.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        keys.client_tokens.dedup();
        keys
    }
}

/// Everything one transaction writes.
#[derive(Debug, Default)]
pub struct Plan {
    pub new_conversations: Vec<Conversation>,
    /// Existing conversations whose row changed (written whole).
    pub conversations: Vec<Conversation>,
    pub new_participants: Vec<Participant>,
    /// Existing participants whose row changed (written whole).
    pub participants: Vec<Participant>,
    pub tokens: Vec<(SecretHash, ParticipantId)>,
    pub events: Vec<Event>,
    pub set_timers: Vec<Timer>,
    pub delete_timers: Vec<TimerKey>,
    /// Conversations whose timers all go (ended).
    pub clear_timers: Vec<ConversationId>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.new_conversations.is_empty()
            && self.conversations.is_empty()
            && self.new_participants.is_empty()
            && self.participants.is_empty()
            && self.tokens.is_empty()
            && self.events.is_empty()
            && self.set_timers.is_empty()
            && self.delete_timers.is_empty()
            && self.clear_timers.is_empty()
    }
}

/// What one command committed: the events it appended, in order (for a
/// repeated client token, the event stored the first time).
pub type Committed = Vec<Event>;
