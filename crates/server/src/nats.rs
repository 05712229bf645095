//! The bus across nodes: every notice is delivered in this process at once
//! and also published on NATS, and notices from other nodes are fed into
//! this process's bus.
//!
//! What crosses nodes is small: "conversation X has events up to seq N"
//! (never the events: a reader that has not got them reads them from the
//! store, as it does after any gap), typing, agent changes (offers,
//! assignments, presence, composer prefills), routing wake-ups and erasures. One
//! subject carries them all, so each node's notices arrive in the order that
//! node published them.

use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use switchboard_core::bus::{AgentChange, Bus, LocalBus, Notice, Subscription, Topic};
use switchboard_core::ids::{AgentId, ConversationId, ParticipantId, WorkspaceId};
use tokio::sync::mpsc;

/// A notice as it travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Wire {
    Committed {
        conversation: ConversationId,
        last_seq: i64,
    },
    Typing {
        conversation: ConversationId,
        participant: ParticipantId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
    },
    Agent {
        agent: AgentId,
        change: AgentChange,
    },
    QueuePosition {
        conversation: ConversationId,
        position: u32,
        estimated_wait_secs: Option<u32>,
    },
    Routing {
        workspace: WorkspaceId,
    },
    Breach {
        workspace: WorkspaceId,
        breach: Box<switchboard_core::bus::Breach>,
    },
    Work {
        workspace: WorkspaceId,
    },
    Events {
        workspace: WorkspaceId,
    },
    Erased {
        conversation: ConversationId,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The publishing node, so a node skips its own notices.
    node: String,
    notice: Wire,
}

impl From<&Notice> for Wire {
    fn from(n: &Notice) -> Self {
        match n {
            Notice::Committed { conversation, last_seq, .. } => {
                Wire::Committed { conversation: *conversation, last_seq: *last_seq }
            }
            Notice::Typing { conversation, participant, preview } => Wire::Typing {
                conversation: *conversation,
                participant: *participant,
                preview: preview.as_deref().map(str::to_owned),
            },
            Notice::Agent { agent, change } => Wire::Agent { agent: *agent, change: change.clone() },
            Notice::QueuePosition { conversation, position, estimated_wait_secs } => Wire::QueuePosition {
                conversation: *conversation,
                position: *position,
                estimated_wait_secs: *estimated_wait_secs,
            },
            Notice::Routing { workspace } => Wire::Routing { workspace: *workspace },
            Notice::Breach { workspace, breach } => Wire::Breach { workspace: *workspace, breach: breach.clone() },
            Notice::Work { workspace } => Wire::Work { workspace: *workspace },
            Notice::Events { workspace } => Wire::Events { workspace: *workspace },
            Notice::Erased { conversation } => Wire::Erased { conversation: *conversation },
        }
    }
}

impl From<Wire> for Notice {
    fn from(w: Wire) -> Self {
        match w {
            Wire::Committed { conversation, last_seq } => {
                Notice::Committed { conversation, last_seq, events: Default::default() }
            }
            Wire::Typing { conversation, participant, preview } => {
                Notice::Typing { conversation, participant, preview: preview.map(Arc::from) }
            }
            Wire::Agent { agent, change } => Notice::Agent { agent, change },
            Wire::QueuePosition { conversation, position, estimated_wait_secs } => {
                Notice::QueuePosition { conversation, position, estimated_wait_secs }
            }
            Wire::Routing { workspace } => Notice::Routing { workspace },
            Wire::Breach { workspace, breach } => Notice::Breach { workspace, breach },
            Wire::Work { workspace } => Notice::Work { workspace },
            Wire::Events { workspace } => Notice::Events { workspace },
            Wire::Erased { conversation } => Notice::Erased { conversation },
        }
    }
}

/// A [`LocalBus`] joined to the other nodes through NATS.
pub struct NatsBus {
    local: Arc<LocalBus>,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    node: String,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").field("node", &self.node).finish()
    }
}

impl NatsBus {
    /// Connects to NATS at `url` and joins the nodes that use `subject`.
    pub async fn connect(url: &str, subject: &str, local: Arc<LocalBus>) -> anyhow::Result<Arc<Self>> {
        let client = async_nats::connect(url).await.with_context(|| format!("connecting to NATS at {url}"))?;
        let node = ulid::Ulid::new().to_string();
        let mut inbox = client.subscribe(subject.to_owned()).await.context("subscribing to the NATS subject")?;
        let (outbox, mut pending) = mpsc::unbounded_channel::<Vec<u8>>();
        let bus = Arc::new(Self { local: local.clone(), outbox, node: node.clone() });
        // One publisher task keeps this node's notices in order.
        let (publisher, subject) = (client.clone(), subject.to_owned());
        tokio::spawn(async move {
            while let Some(payload) = pending.recv().await {
                if let Err(e) = publisher.publish(subject.clone(), payload.into()).await {
                    tracing::warn!(error = %e, "could not publish a notice on NATS");
                }
            }
        });
        tokio::spawn(async move {
            while let Some(msg) = inbox.next().await {
                match serde_json::from_slice::<Envelope>(&msg.payload) {
                    Ok(env) if env.node == node => {}
                    Ok(env) => local.publish(env.notice.into()),
                    Err(e) => tracing::warn!(error = %e, "unreadable notice on NATS"),
                }
            }
            tracing::warn!("the NATS subscription ended; notices from other nodes no longer arrive");
        });
        Ok(bus)
    }
}

impl Bus for NatsBus {
    fn publish(&self, notice: Notice) {
        let envelope = Envelope { node: self.node.clone(), notice: Wire::from(&notice) };
        if let Ok(payload) = serde_json::to_vec(&envelope) {
            let _ = self.outbox.send(payload);
        }
        self.local.publish(notice);
    }

    fn subscribe(&self, topic: Topic) -> Subscription {
        self.local.subscribe(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::clock::Timestamp;
    use switchboard_core::ids::{OfferId, QueueId, TaskId};
    use switchboard_core::routing::model::{Offer, OfferState};

    #[test]
    fn notices_survive_the_wire() {
        let offer = Offer {
            id: OfferId::new(),
            task_id: TaskId::new(),
            conversation_id: ConversationId::new(),
            workspace_id: WorkspaceId::new(),
            agent_id: AgentId::new(),
            queue_id: QueueId::new(),
            state: OfferState::Pending,
            created_at: Timestamp(1),
            expires_at: Timestamp(2),
            decided_at: None,
        };
        let n = Notice::Agent { agent: offer.agent_id, change: AgentChange::Offered(Box::new(offer.clone())) };
        let bytes = serde_json::to_vec(&Envelope { node: "n".into(), notice: Wire::from(&n) }).unwrap();
        let back: Envelope = serde_json::from_slice(&bytes).unwrap();
        match Notice::from(back.notice) {
            Notice::Agent { change: AgentChange::Offered(o), .. } => assert_eq!(*o, offer),
            other => panic!("{other:?}"),
        }
    }
}
