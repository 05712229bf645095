//! Starting a chat from a back end at most once per client token, across
//! nodes and restarts (the Amazon Connect dialect's `ClientToken`).
//!
//! The token is claimed first, in a shared table, with the id the chat will
//! be made with (`INSERT … ON CONFLICT DO NOTHING`): whoever's id the claim
//! holds starts the chat, and a repeat finds that chat and gets a fresh
//! token for its customer. While the first request is still making it, a
//! repeat is told to retry (`unavailable`). A claim whose chat never
//! appeared within [`TAKE_OVER_AFTER_SECS`] (its node died midway) is taken
//! over with a compare-and-set on its time, so two repeats cannot both take
//! it. A start that fails after its claim gives the claim up.

use super::{Caller, Engine, SendMessage, StartChat, admin_workspace};
use crate::error::{Error, Result};
use crate::event::ContentType;
use crate::ids::{ConversationId, EntryPointId, ParticipantId};
use crate::model::{Conversation, Role};
use crate::token::Secret;

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

/// A customer chat a back end starts on an entry point of its workspace.
#[derive(Debug, Clone, Default)]
pub struct ServerStart {
    pub chat: StartChat,
    /// Start at most one chat for this token (1 to [`MAX_TOKEN_LEN`] bytes).
    pub client_token: Option<String>,
    /// The customer's first message, sent once the chat has started.
    pub initial_message: Option<(ContentType, String)>,
}

/// What a back end hands its customer.
#[derive(Debug)]
pub struct ServerStarted {
    pub conversation: Conversation,
    pub customer: ParticipantId,
    /// A participant token of the customer, issued for this answer.
    pub token: Secret,
    /// Whether an earlier request with the same client token started it.
    pub repeated: bool,
}

impl Engine {
    /// Starts a customer chat on an entry point of the caller's workspace
    /// (see [`Engine::start_chat_for`]), once per client token.
    pub async fn start_chat_once(
        &self,
        caller: &Caller,
        entry: EntryPointId,
        req: ServerStart,
    ) -> Result<ServerStarted> {
        let ServerStart { chat, client_token, initial_message } = req;
        let Some(token) = client_token else { return self.start_and_greet(caller, entry, chat, initial_message).await };
        let id = match self.claim_start_token(caller, &token).await? {
            StartClaim::Fresh(id) => id,
            StartClaim::Started(c) => return self.restart_answer(caller, *c).await,
            StartClaim::InProgress => return Err(in_progress()),
        };
        let started = self.start_and_greet(caller, entry, StartChat { id: Some(id), ..chat }, initial_message).await;
        if started.is_err()
            && let Err(e) = self.release_start_token(caller, &token, id).await
        {
            tracing::warn!(error = %e, "a start token could not be given up");
        }
        started
    }

    async fn start_and_greet(
        &self,
        caller: &Caller,
        entry: EntryPointId,
        chat: StartChat,
        initial_message: Option<(ContentType, String)>,
    ) -> Result<ServerStarted> {
        let started = self.start_chat_for(caller, entry, chat).await?;
        let (conversation, customer) = (started.conversation, started.participant.id);
        if let Some((content_type, content)) = initial_message {
            let msg = SendMessage { content_type, content, client_token: None, as_participant: Some(customer) };
            self.send_message(caller, conversation.id, msg).await?;
        }
        Ok(ServerStarted { conversation, customer, token: started.token, repeated: false })
    }

    /// A repeat: the same chat and customer, with a token of its own.
    async fn restart_answer(&self, caller: &Caller, conversation: Conversation) -> Result<ServerStarted> {
        let customer = self
            .participants(caller, conversation.id)
            .await?
            .into_iter()
            .find(|p| p.role == Role::Customer)
            .ok_or_else(|| Error::not_found("customer"))?;
        let token = self.issue_token(caller, conversation.id, customer.id).await?;
        Ok(ServerStarted { conversation, customer: customer.id, token, repeated: true })
    }

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

/// The answer to a repeat that came while the first was still running: a
/// retry will find the chat.
pub fn in_progress() -> Error {
    Error::unavailable("a chat with this client token is being started; retry in a moment")
}
