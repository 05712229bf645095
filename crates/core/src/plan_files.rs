//! Planning attachments: an upload's row from start to verdict, the file
//! request it answers, and the sweep of uploads never completed.

use super::Planner;
use crate::command::{Author, Committed};
use crate::error::{Error, ErrorCode, Result};
use crate::event::EventKind;
use crate::files::model::{Attachment, AttachmentStatus, StoredFile};
use crate::files::scan::Verdict;
use crate::flows::records::{OutboxState, Work};
use crate::flows::run::Input;
use crate::ids::{AttachmentId, ConversationId, OutboxId};
use crate::model::{FileRequestState, Role};
use crate::timer::{Timer, TimerKind};

impl Planner {
    fn attachment(&self, conversation: ConversationId, id: AttachmentId) -> Result<&Attachment> {
        self.attachments
            .get(&id)
            .filter(|a| a.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("attachment"))
    }

    fn attachment_mut(&mut self, id: AttachmentId) -> &mut Attachment {
        self.touched_attachments.insert(id);
        let a = self.attachments.get_mut(&id).expect("checked before planning");
        a.updated_at = self.now;
        a
    }

    pub(super) fn start_upload(&mut self, a: &Attachment, by: Author) -> Result<Committed> {
        self.writable(a.conversation_id)?;
        let role = match by {
            Author::Participant(p) => Some(self.active_member(a.conversation_id, p)?.role),
            Author::System => None,
        };
        if role == Some(Role::Monitor) {
            return Err(Error::forbidden("a monitoring supervisor sends nothing; barge in to take part"));
        }
        if self.attachments.contains_key(&a.id) {
            return Err(Error::new(ErrorCode::Conflict, "attachment already exists"));
        }
        if let Some(request) = a.request_id {
            if !matches!(role, None | Some(Role::Customer)) {
                return Err(Error::forbidden("only the customer answers a file request"));
            }
            let r = self
                .file_requests
                .get(&request)
                .filter(|r| r.conversation_id == a.conversation_id)
                .ok_or_else(|| Error::not_found("file request").with_field("request_id"))?;
            if r.state != FileRequestState::Requested {
                return Err(Error::new(ErrorCode::Conflict, format!("the file request is {}", r.state.as_str()))
                    .with_field("request_id"));
            }
        }
        self.attachments.insert(a.id, a.clone());
        self.touched_attachments.insert(a.id);
        self.set_timer(Timer {
            conversation_id: a.conversation_id,
            participant_id: None,
            kind: TimerKind::UploadExpiry { attachment: a.id },
            due_at: a.upload_expires_at,
        });
        Ok(Vec::new())
    }

    pub(super) fn uploaded(
        &mut self,
        conversation: ConversationId,
        id: AttachmentId,
        stored: &StoredFile,
    ) -> Result<Committed> {
        let a = self.attachment(conversation, id)?;
        if a.status != AttachmentStatus::Uploading {
            return Err(Error::new(ErrorCode::Conflict, "the upload is already complete"));
        }
        if a.stored.is_some() {
            return Err(Error::new(ErrorCode::Conflict, "the file's bytes are already in"));
        }
        self.attachment_mut(id).stored = Some(stored.clone());
        Ok(Vec::new())
    }

    pub(super) fn complete_upload(
        &mut self,
        conversation: ConversationId,
        id: AttachmentId,
        by: Author,
        scan: bool,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        let a = self.attachment(conversation, id)?;
        if let Author::Participant(p) = by
            && a.uploaded_by != Some(p)
        {
            return Err(Error::forbidden("only the uploader completes an upload"));
        }
        if a.status != AttachmentStatus::Uploading {
            return Err(Error::new(ErrorCode::Conflict, "the upload is already complete"));
        }
        let Some(stored) = a.stored.clone() else {
            return Err(Error::new(ErrorCode::Conflict, "no bytes have been uploaded yet"));
        };
        let (author, request_id, workspace) = (a.uploaded_by, a.request_id, a.workspace_id);
        let status = if scan { AttachmentStatus::Scanning } else { AttachmentStatus::Approved };
        let a = self.attachment_mut(id);
        a.status = status;
        let kind = EventKind::Attachment {
            attachment_id: id,
            name: a.name.clone(),
            content_type: stored.content_type,
            size: stored.size,
            sha256: stored.sha256,
            status,
            thumbnail: stored.thumbnail_key.is_some(),
            request_id,
        };
        self.unset_upload_timer(conversation, id);
        let mut out = vec![self.emit(conversation, author, kind, None)];
        if scan {
            self.queue_work(OutboxId::new(), workspace, Some(conversation), Work::Scan { attachment: id });
        } else {
            out.extend(self.fulfil(conversation, id));
        }
        Ok(out)
    }

    pub(super) fn scanned(
        &mut self,
        conversation: ConversationId,
        id: AttachmentId,
        verdict: &Verdict,
        outbox: Option<OutboxId>,
    ) -> Result<Committed> {
        let a = self.attachment(conversation, id)?;
        let (author, prefix, workspace, was) = (a.uploaded_by, a.prefix(), a.workspace_id, a.status);
        if let Some(item) = outbox {
            self.plan.outbox_done.push((item, OutboxState::Done, None));
        }
        if was != AttachmentStatus::Scanning {
            // A repeated verdict (the outbox item ran twice) changes nothing.
            return match outbox {
                Some(_) => Ok(Vec::new()),
                None => Err(Error::new(ErrorCode::Conflict, format!("the attachment is {}", was.as_str()))),
            };
        }
        let (status, reason) = match verdict {
            Verdict::Approved => (AttachmentStatus::Approved, None),
            Verdict::Rejected(why) => (AttachmentStatus::Rejected, Some(why.clone())),
        };
        let a = self.attachment_mut(id);
        a.status = status;
        a.reason = reason.clone();
        if status == AttachmentStatus::Rejected {
            self.queue_work(OutboxId::new(), workspace, Some(conversation), Work::DeleteFiles { prefix });
        }
        // An ended chat's log takes nothing more; the row still tells.
        if self.writable(conversation).is_err() {
            return Ok(Vec::new());
        }
        let kind = EventKind::AttachmentScanned { attachment_id: id, status, reason };
        let mut out = vec![self.emit(conversation, author, kind, None)];
        if status == AttachmentStatus::Approved {
            out.extend(self.fulfil(conversation, id));
        }
        Ok(out)
    }

    /// An approved file answers the request it was uploaded for, if that
    /// still waits.
    fn fulfil(&mut self, conversation: ConversationId, id: AttachmentId) -> Vec<crate::event::Event> {
        let Some(request_id) = self.attachments[&id].request_id else { return Vec::new() };
        let now = self.now;
        let waiting = self.file_requests.get_mut(&request_id).filter(|r| r.state == FileRequestState::Requested);
        let Some(r) = waiting else { return Vec::new() };
        r.state = FileRequestState::Fulfilled;
        r.attachment_id = Some(id);
        r.updated_at = now;
        let (record_id, request) = (r.record_id.clone(), r.clone());
        self.plan.file_requests.retain(|x| x.id != request_id);
        self.plan.file_requests.push(request);
        let details = self.file_details(id, record_id.as_deref());
        let kind = EventKind::FileReceived { request_id, attachment_id: id, record_id };
        let mut out = vec![self.emit(conversation, None, kind, None)];
        out.extend(self.file_settled(conversation, request_id, Input::File { data: details }, 0));
        out
    }

    /// What a flow waiting for a file learns of it.
    fn file_details(&self, id: AttachmentId, record_id: Option<&str>) -> serde_json::Value {
        let a = &self.attachments[&id];
        let stored = a.stored.as_ref();
        serde_json::json!({
            "request_id": a.request_id,
            "attachment_id": id,
            "record_id": record_id,
            "name": a.name,
            "content_type": stored.map(|s| s.content_type.as_str()),
            "size": stored.map(|s| s.size),
            "sha256": stored.map(|s| s.sha256.as_str()),
        })
    }

    fn unset_upload_timer(&mut self, conversation: ConversationId, id: AttachmentId) {
        let key = Timer {
            conversation_id: conversation,
            participant_id: None,
            kind: TimerKind::UploadExpiry { attachment: id },
            due_at: self.now,
        }
        .key();
        self.timers.remove(&key);
        self.plan.set_timers.retain(|t| t.key() != key);
        self.plan.delete_timers.push(key);
    }

    /// An upload's time is up: if it never completed, its row and bytes go.
    pub(super) fn fire_upload(&mut self, timer: &Timer) -> Vec<crate::event::Event> {
        let TimerKind::UploadExpiry { attachment } = timer.kind else { return Vec::new() };
        self.timers.remove(&timer.key());
        self.plan.delete_timers.push(timer.key());
        let Some(a) = self.attachments.get(&attachment).filter(|a| a.status == AttachmentStatus::Uploading) else {
            return Vec::new();
        };
        let (prefix, workspace) = (a.prefix(), a.workspace_id);
        self.attachments.remove(&attachment);
        self.touched_attachments.remove(&attachment);
        self.plan.deleted_attachments.push(attachment);
        self.queue_work(OutboxId::new(), workspace, Some(timer.conversation_id), Work::DeleteFiles { prefix });
        Vec::new()
    }
}
