//! Starting a chat at most once per client token, across nodes and
//! restarts (the Amazon Connect dialect's `ClientToken`).
//!
//! The token is claimed first, in a shared table, with the id the chat will
//! be made with (`INSERT … ON CONFLICT DO NOTHING`): whoever's id the claim
//! holds starts the chat, and a repeat finds that chat. While the first
//! request is still making it, a repeat is told to retry. A claim whose chat
//! never appeared within [`TAKE_OVER_AFTER_SECS`] (its node died midway) is
//! taken over with a compare-and-set on its time, so two repeats cannot
//! both take it. A start that fails after its claim gives the claim up.

use super::{Caller, Engine, admin_workspace};
use crate::error::{Error, ErrorCode, Result};
use crate::ids::ConversationId;
use crate::model::Conversation;

/// How long a claim whose chat does not exist is left to its request.
pub const TAKE_OVER_AFTER_SECS: i64 = 60;
/// Longest client token (AWS's limit).
pub const MAX_TOKEN_LEN: usize = 500;

/// What a claimed token says to do.
#[derive(Debug)]
pub enum StartClaim {
    /// This request holds the token: start the chat with this id.
    Fresh(ConversationId),
    /// A request before this one started this chat.
    Started(Box<Conversation>),
    /// A request before this one holds the token and is still starting its
    /// chat: retry in a moment.
    InProgress,
}

impl Engine {
    /// Claims a client token of the caller's workspace for a new chat.
    pub async fn claim_start_token(&self, caller: &Caller, token: &str) -> Result<StartClaim> {
        let workspace = admin_workspace(caller)?;
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Error::invalid("client_token", format!("1 to {MAX_TOKEN_LEN} bytes")));
        }
        let now = self.now();
        let mine = ConversationId::new();
        let claim = self.store.claim_start_token(workspace, token, mine, now).await?;
        if claim.conversation == mine {
            return Ok(StartClaim::Fresh(mine));
        }
        if let Some(c) = self.store.conversation(claim.conversation).await?.filter(|c| c.workspace_id == workspace) {
            return Ok(StartClaim::Started(Box::new(c)));
        }
        if now.millis() - claim.created_at.millis() < TAKE_OVER_AFTER_SECS * 1000 {
            return Ok(StartClaim::InProgress);
        }
        let fresh = ConversationId::new();
        if self.store.take_over_start_token(workspace, token, &claim, fresh, now).await? {
            Ok(StartClaim::Fresh(fresh))
        } else {
            // Another repeat took it over first.
            Ok(StartClaim::InProgress)
        }
    }

    /// Gives up a claim whose chat could not be started.
    pub async fn release_start_token(&self, caller: &Caller, token: &str, conversation: ConversationId) -> Result<()> {
        let workspace = admin_workspace(caller)?;
        self.store.release_start_token(workspace, token, conversation).await
    }
}

/// The refusal for a repeat that came while the first was still running.
pub fn in_progress() -> Error {
    Error::new(ErrorCode::Conflict, "a chat with this client token is being started; retry in a moment")
}
