//! The agent toolkit beside sending and ending (which are the plain
//! message and end operations): `setAgentInput` and `initFileTransfer`.
//! Each is one call usable with an agent token or a workspace key, so a
//! flow step can make it later.

use super::{Caller, Engine};
use crate::access::Action;
use crate::bus::{AgentChange, Notice};
use crate::command::{Author, Command};
use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::ids::{AgentId, ConversationId, FileRequestId};
use crate::model::{ConversationState, FileRequest};
use crate::routing::model::TaskState;

impl Engine {
    /// Prefills the assigned agent's composer (not logged): the agent who
    /// holds the chat, or a workspace key (a flow), may push it.
    pub async fn set_agent_input(&self, caller: &Caller, id: ConversationId, text: String) -> Result<AgentId> {
        let c = self.permit_chat(caller, Action::SetAgentInput, id).await?;
        if text.len() > self.limits.message_bytes {
            return Err(Error::too_large("text", self.limits.message_bytes));
        }
        if c.state == ConversationState::Ended {
            return Err(Error::conversation_ended());
        }
        let task = self.task_of(&c).await?;
        let agent = match (task.state, task.agent_id) {
            (TaskState::Assigned, Some(a)) => a,
            _ => return Err(Error::new(ErrorCode::Conflict, "no agent has this chat yet")),
        };
        self.bus.publish(Notice::Agent { agent, change: AgentChange::Input { conversation: id, text } });
        Ok(agent)
    }

    /// Asks the customer for a file, to be linked to `record_id` once uploaded.
    pub async fn request_file(
        &self,
        caller: &Caller,
        id: ConversationId,
        record_id: Option<String>,
    ) -> Result<(FileRequest, Event)> {
        let by = self.toolkit_author(caller, Action::RequestFile, id).await?;
        let record_id = record_id.map(|r| self.check_record_id(r)).transpose()?;
        let request = FileRequestId::new();
        let events = self.store.apply(Command::RequestFile { conversation: id, request, by, record_id }).await?;
        let event = events.into_iter().last().ok_or_else(|| Error::internal("file request committed no event"))?;
        let stored = self.store.file_requests(id).await?.into_iter().find(|r| r.id == request);
        Ok((stored.ok_or_else(|| Error::internal("file request not found"))?, event))
    }

    pub async fn cancel_file_request(
        &self,
        caller: &Caller,
        id: ConversationId,
        request: FileRequestId,
    ) -> Result<Event> {
        let by = self.toolkit_author(caller, Action::CancelFileRequest, id).await?;
        let events = self.store.apply(Command::CancelFileRequest { conversation: id, request, by }).await?;
        events.into_iter().last().ok_or_else(|| Error::internal("cancel committed no event"))
    }

    /// A conversation's file requests (the customer too: it is asked for them).
    pub async fn file_requests(&self, caller: &Caller, id: ConversationId) -> Result<Vec<FileRequest>> {
        self.permit_chat(caller, Action::ListFileRequests, id).await?;
        self.store.file_requests(id).await
    }

    /// Who a toolkit call acts as: the agent's participant (it must hold
    /// the chat), a participant token's own participant, or the system.
    async fn toolkit_author(&self, caller: &Caller, action: Action, id: ConversationId) -> Result<Author> {
        self.permit_chat(caller, action, id).await?;
        Ok(match caller {
            Caller::Admin { .. } => Author::System,
            Caller::Participant(p) => Author::Participant(p.id),
            Caller::Agent(a) => Author::Participant(self.agent_participant(a, id).await?.id),
        })
    }
}
