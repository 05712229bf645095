//! Typing: an ephemeral signal to the other participants, never stored. A
//! customer's may carry its draft so far, which only agents are shown (the
//! sneak peek).

use std::sync::Arc;

use super::{Caller, Engine};
use crate::bus::Notice;
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::model::{ConversationState, Role};

/// The longest typing preview passed on to agents, in characters.
const TYPING_PREVIEW_CHARS: usize = 200;

impl Engine {
    /// Tells the other participants that the caller is typing; nothing is
    /// stored. A customer's `preview` (its draft so far, cut to 200
    /// characters) goes to agents only; anyone else's is dropped.
    pub async fn typing(&self, caller: &Caller, id: ConversationId, preview: Option<&str>) -> Result<()> {
        let c = self.conversation(caller, id).await?;
        let p = match caller {
            Caller::Participant(p) => p.clone(),
            Caller::Agent(a) => self.agent_participant(a, id).await?,
            Caller::Admin { .. } => return Err(Error::forbidden("only participants type")),
        };
        if c.state == ConversationState::Ended {
            return Err(Error::conversation_ended());
        }
        let preview = preview
            .filter(|_| p.role == Role::Customer)
            .map(|t| t.chars().filter(|c| !c.is_control() || *c == '\n').take(TYPING_PREVIEW_CHARS).collect::<String>())
            .map(Arc::from);
        self.bus.publish(Notice::Typing { conversation: id, participant: p.id, preview });
        Ok(())
    }
}
