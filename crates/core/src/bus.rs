//! The bus port: "conversation X has events up to seq N" and passing notices.
//!
//! Readers subscribe per topic: a conversation, an agent (its offers,
//! assignments and presence) or routing as a whole (for routers and
//! supervisors). A notice of committed events carries
//! the events themselves when the publisher has them (in-process), so a
//! reader that is up to date needs no store read; a reader that finds a gap
//! (it lagged, or the notice came from another node without events) reads
//! the missing range from the store. Typing is a notice only: it is never
//! stored. A NATS implementation can stand behind the same trait.

use std::any::Any;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::broadcast;

use crate::event::Event;
use crate::ids::{AgentId, ConversationId, ParticipantId, WorkspaceId};
use crate::routing::model::{Offer, OfferState};

/// What a subscriber listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Conversation(ConversationId),
    Agent(AgentId),
    /// Routing changes in every workspace (routers, supervisors).
    Routing,
    /// Outbox work was queued (the outbox loop).
    Work,
    /// Custom events were published in a workspace (event streams).
    Events(WorkspaceId),
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Events up to `last_seq` are committed; `events` holds the newest of
    /// them, in order, when the publisher has them (possibly none).
    Committed { conversation: ConversationId, last_seq: i64, events: CommittedEvents },
    /// A participant is typing (ephemeral).
    /// A customer's typing may carry what it has typed so far (`preview`),
    /// which only agents are shown.
    Typing { conversation: ConversationId, participant: ParticipantId, preview: Option<Arc<str>> },
    /// Something changed for one agent.
    Agent { agent: AgentId, change: AgentChange },
    /// A waiting chat's place in line changed (derived, not logged).
    QueuePosition { conversation: ConversationId, position: u32, estimated_wait_secs: Option<u32> },
    /// Routing in a workspace changed (a task waits, an agent freed a slot):
    /// routers look again, supervisors refresh.
    Routing { workspace: WorkspaceId },
    /// An assigned agent did not reply in time: supervisors are alerted.
    Breach { workspace: WorkspaceId, breach: Box<Breach> },
    /// Outbox work was queued: the outbox loop looks now rather than at its
    /// next poll.
    Work { workspace: WorkspaceId },
    /// Custom events were published in a workspace: event streams read what
    /// came after their cursor.
    Events { workspace: WorkspaceId },
    /// The conversation was erased: its readers stop (its log is gone).
    Erased { conversation: ConversationId },
}

/// The events a notice of committed events carries, shared by every reader
/// of the notice, with room for the bytes the readers send them as: the
/// first reader that needs those encodes the events, and the others of the
/// same kind reuse its work (a chat's two sockets serialize each event once).
#[derive(Clone, Default)]
pub struct CommittedEvents(Arc<Shared>);

#[derive(Default)]
struct Shared {
    events: Vec<Event>,
    encoded: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl CommittedEvents {
    /// These events as `E`, made by `encode` unless a reader made them
    /// already. `None` when a reader of another kind stored its own encoding
    /// first: the caller then encodes for itself.
    pub fn encoded<E: Any + Send + Sync>(&self, encode: impl FnOnce(&[Event]) -> E) -> Option<&E> {
        self.0.encoded.get_or_init(|| Box::new(encode(&self.0.events))).downcast_ref()
    }
}

impl Deref for CommittedEvents {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.0.events
    }
}

impl From<Vec<Event>> for CommittedEvents {
    fn from(events: Vec<Event>) -> Self {
        Self(Arc::new(Shared { events, encoded: OnceLock::new() }))
    }
}

impl std::fmt::Debug for CommittedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A missed reply, as supervisors are told of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Breach {
    pub conversation: ConversationId,
    pub task: crate::ids::TaskId,
    pub agent: AgentId,
    pub queue: Option<crate::ids::QueueId>,
    pub timer: crate::event::ReplyTimer,
    pub after_secs: u32,
    pub action: String,
}

/// What an agent's socket hears about, beside its conversations' events.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AgentChange {
    Offered(Box<Offer>),
    /// An offer stopped being pending (accepted, declined, expired, revoked).
    OfferClosed {
        offer: Box<Offer>,
        state: OfferState,
    },
    /// A conversation is now the agent's.
    Assigned {
        conversation: ConversationId,
    },
    /// A conversation is no longer the agent's (transferred, left).
    Released {
        conversation: ConversationId,
    },
    Presence {
        activity: String,
        available: bool,
    },
    /// Text to prefill the agent's composer (not logged).
    Input {
        conversation: ConversationId,
        text: String,
    },
    /// An agent-side flow run the agent launched moved on (its screen).
    /// Boxed: every notice is as large as its largest kind, and sockets
    /// hold one while they wait.
    Flow(Box<FlowProgress>),
    /// The agent was disabled or its tokens revoked: its sockets close.
    SignedOut,
}

/// Where an agent-side run stands, for the agent who launched it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FlowProgress {
    pub run: crate::ids::FlowRunId,
    pub conversation: ConversationId,
    pub flow: String,
    pub state: String,
    pub step: String,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl Notice {
    pub fn topic(&self) -> Topic {
        match self {
            Self::Committed { conversation, .. }
            | Self::Typing { conversation, .. }
            | Self::QueuePosition { conversation, .. }
            | Self::Erased { conversation } => Topic::Conversation(*conversation),
            Self::Agent { agent, .. } => Topic::Agent(*agent),
            Self::Routing { .. } | Self::Breach { .. } => Topic::Routing,
            Self::Work { .. } => Topic::Work,
            Self::Events { workspace } => Topic::Events(*workspace),
        }
    }
}

pub type Subscription = broadcast::Receiver<Notice>;

pub trait Bus: Send + Sync + 'static {
    fn publish(&self, notice: Notice);
    /// Notices on one topic from now on.
    fn subscribe(&self, topic: Topic) -> Subscription;
}

/// A bus within one process: one broadcast channel per watched conversation.
#[derive(Debug)]
pub struct LocalBus {
    channels: Mutex<Channels>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Channels {
    by_topic: HashMap<Topic, broadcast::Sender<Notice>>,
    /// Size after the last sweep of unwatched channels; the next sweep runs
    /// when the map has doubled, so sweeping stays amortized O(1).
    swept_at: usize,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self { channels: Mutex::new(Channels::default()), capacity: capacity.max(1) }
    }

    /// How many topics have at least one subscriber.
    pub fn watched(&self) -> usize {
        self.channels.lock().map(|c| c.by_topic.values().filter(|tx| tx.receiver_count() > 0).count()).unwrap_or(0)
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(256)
    }
}

impl Bus for LocalBus {
    fn publish(&self, notice: Notice) {
        let id = notice.topic();
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        if let Some(tx) = channels.by_topic.get(&id)
            && tx.send(notice).is_err()
        {
            // Everyone unsubscribed: forget the channel.
            channels.by_topic.remove(&id);
        }
    }

    fn subscribe(&self, topic: Topic) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if channels.by_topic.len() > 2 * channels.swept_at.max(512) {
            channels.by_topic.retain(|_, tx| tx.receiver_count() > 0);
            channels.swept_at = channels.by_topic.len();
        }
        match channels.by_topic.get(&topic) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(self.capacity);
                channels.by_topic.insert(topic, tx);
                rx
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reader_encodes_and_readers_of_its_kind_share_it() {
        let events = CommittedEvents::from(Vec::new());
        let copy = events.clone();
        let calls = std::cell::Cell::new(0);
        let encode = |_: &[Event]| {
            calls.set(calls.get() + 1);
            String::from("made once")
        };
        assert_eq!(events.encoded(encode).map(String::as_str), Some("made once"));
        assert_eq!(copy.encoded(encode).map(String::as_str), Some("made once"), "a clone shares the slot");
        assert_eq!(calls.get(), 1);
        assert_eq!(copy.encoded(|_| 7u32), None, "another kind of reader encodes for itself");
    }
}
