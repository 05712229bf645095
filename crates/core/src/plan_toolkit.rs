//! Planning the agent toolkit's file requests (`initFileTransfer`): the
//! request is an event in the log, for the customer's widget to show an
//! upload prompt, and a stored record whose state the upload will move on.

use super::Planner;
use crate::command::{Author, Committed};
use crate::error::{Error, ErrorCode, Result};
use crate::event::EventKind;
use crate::flows::run::Input;
use crate::ids::{ConversationId, FileRequestId};
use crate::model::{FileRequest, FileRequestState, Role};

impl Planner {
    /// Who may ask for files: the API (a flow), agents and supervisors in the chat.
    fn file_requester(&self, conversation: ConversationId, by: Author) -> Result<()> {
        if let Author::Participant(p) = by
            && !matches!(self.active_member(conversation, p)?.role, Role::Agent | Role::Supervisor)
        {
            return Err(Error::forbidden("only agents and supervisors in the chat ask for files"));
        }
        Ok(())
    }

    pub(super) fn request_file(
        &mut self,
        conversation: ConversationId,
        id: FileRequestId,
        by: Author,
        record_id: Option<String>,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        self.file_requester(conversation, by)?;
        if self.file_requests.contains_key(&id) {
            return Err(Error::new(ErrorCode::Conflict, "file request already exists"));
        }
        let request = FileRequest {
            id,
            conversation_id: conversation,
            requested_by: by.participant(),
            record_id: record_id.clone(),
            state: FileRequestState::Requested,
            attachment_id: None,
            created_at: self.now,
            updated_at: self.now,
        };
        self.plan.file_requests.push(request.clone());
        self.file_requests.insert(id, request);
        let kind = EventKind::FileRequested { request_id: id, record_id };
        Ok(vec![self.emit(conversation, by.participant(), kind, None)])
    }

    pub(super) fn cancel_file_request(
        &mut self,
        conversation: ConversationId,
        id: FileRequestId,
        by: Author,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        self.file_requester(conversation, by)?;
        let kind = EventKind::FileRequestCanceled { request_id: id };
        self.close_file_request(conversation, id, by, FileRequestState::Canceled, kind)
    }

    pub(super) fn decline_file_request(
        &mut self,
        conversation: ConversationId,
        id: FileRequestId,
        by: Author,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        if let Author::Participant(p) = by
            && self.active_member(conversation, p)?.role != Role::Customer
        {
            return Err(Error::forbidden("only the customer declines a file request"));
        }
        let kind = EventKind::FileRequestDeclined { request_id: id };
        self.close_file_request(conversation, id, by, FileRequestState::Declined, kind)
    }

    /// Moves a waiting request of this conversation to `state`, logging `kind`.
    pub(super) fn close_file_request(
        &mut self,
        conversation: ConversationId,
        id: FileRequestId,
        by: Author,
        state: FileRequestState,
        kind: EventKind,
    ) -> Result<Committed> {
        let request = self
            .file_requests
            .get_mut(&id)
            .filter(|r| r.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("file request"))?;
        if request.state != FileRequestState::Requested {
            return Err(Error::new(ErrorCode::Conflict, format!("the file request is {}", request.state.as_str())));
        }
        request.state = state;
        request.updated_at = self.now;
        let request = request.clone();
        self.plan.file_requests.retain(|r| r.id != id);
        self.plan.file_requests.push(request);
        let mut out = vec![self.emit(conversation, by.participant(), kind, None)];
        let why = format!("the file request was {}", state.as_str());
        out.extend(self.file_settled(conversation, id, Input::FileRefused { why }, 0));
        Ok(out)
    }
}
