//! Persistent chat: a chat started from an ended one carries its past.
//!
//! The new conversation links back (`previous_conversation_id`) with a
//! rehydration mode; the planner checks that the source has ended, is in the
//! same workspace and is continued only once. Here: who may continue a chat
//! through a public entry point (the customer of the source, proven by its
//! participant token), which segments a conversation's history holds, the
//! transcript across them, and the routing step that offers a continued chat
//! first to the agent who had the one it continues.

use super::{Caller, Engine};
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::model::{Participant, Rehydration, Role};

/// A chat to start as the continuation of an ended one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContinueFrom {
    pub conversation: ConversationId,
    pub rehydration: Rehydration,
}

impl Engine {
    /// Checks that `caller` may start a chat through an entry point of
    /// `workspace` that continues `from`: it must hold the customer token of
    /// that chat (nobody else may carry someone's transcript into a chat of
    /// their own). Returns the source's customer.
    pub(crate) async fn vouch_continuation(&self, from: ContinueFrom, caller: Option<&Caller>) -> Result<Participant> {
        let field = "continue_from.conversation_id";
        let Some(caller) = caller else {
            return Err(Error::unauthenticated(
                "continuing a chat needs the customer token of the chat it continues (Authorization: Bearer sbp_…)",
            ));
        };
        match caller {
            Caller::Participant(p) if p.conversation_id == from.conversation && p.role == Role::Customer => {
                Ok(p.clone())
            }
            _ => Err(Error::forbidden(format!(
                "only the customer of conversation {}, with its token, may continue it here",
                from.conversation
            ))
            .with_field(field)),
        }
    }
}
