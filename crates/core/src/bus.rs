//! The bus port: "conversation X has events up to seq N" and passing notices.
//!
//! Readers subscribe per conversation. A notice of committed events carries
//! the events themselves when the publisher has them (in-process), so a
//! reader that is up to date needs no store read; a reader that finds a gap
//! (it lagged, or the notice came from another node without events) reads
//! the missing range from the store. Typing is a notice only: it is never
//! stored. A NATS implementation can stand behind the same trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::event::Event;
use crate::ids::{ConversationId, ParticipantId};

/// Something that happened to a conversation.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Events up to `last_seq` are committed; `events` holds the newest of
    /// them, in order, when the publisher has them (possibly none).
    Committed { conversation: ConversationId, last_seq: i64, events: Arc<[Event]> },
    /// A participant is typing (ephemeral).
    Typing { conversation: ConversationId, participant: ParticipantId },
}

pub type Subscription = broadcast::Receiver<Notice>;

pub trait Bus: Send + Sync + 'static {
    fn publish(&self, notice: Notice);
    /// Notices about one conversation from now on.
    fn subscribe(&self, conversation: ConversationId) -> Subscription;
}

/// A bus within one process: one broadcast channel per watched conversation.
#[derive(Debug)]
pub struct LocalBus {
    channels: Mutex<Channels>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Channels {
    by_conversation: HashMap<ConversationId, broadcast::Sender<Notice>>,
    /// Size after the last sweep of unwatched channels; the next sweep runs
    /// when the map has doubled, so sweeping stays amortized O(1).
    swept_at: usize,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self { channels: Mutex::new(Channels::default()), capacity: capacity.max(1) }
    }

    /// How many conversations have at least one subscriber.
    pub fn watched(&self) -> usize {
        self.channels
            .lock()
            .map(|c| c.by_conversation.values().filter(|tx| tx.receiver_count() > 0).count())
            .unwrap_or(0)
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(256)
    }
}

fn conversation_of(n: &Notice) -> ConversationId {
    match n {
        Notice::Committed { conversation, .. } | Notice::Typing { conversation, .. } => *conversation,
    }
}

impl Bus for LocalBus {
    fn publish(&self, notice: Notice) {
        let id = conversation_of(&notice);
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        if let Some(tx) = channels.by_conversation.get(&id)
            && tx.send(notice).is_err()
        {
            // Everyone unsubscribed: forget the channel.
            channels.by_conversation.remove(&id);
        }
    }

    fn subscribe(&self, conversation: ConversationId) -> Subscription {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if channels.by_conversation.len() > 2 * channels.swept_at.max(512) {
            channels.by_conversation.retain(|_, tx| tx.receiver_count() > 0);
            channels.swept_at = channels.by_conversation.len();
        }
        match channels.by_conversation.get(&conversation) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(self.capacity);
                channels.by_conversation.insert(conversation, tx);
                rx
            }
        }
    }
}
