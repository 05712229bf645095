//! Events as people read them, shared by the text and HTML formats: a
//! message is who said what; anything else is a short sentence, with the
//! file it is about when there is one. Receipts are left out (the JSON
//! format keeps them).

use super::{Context, SharedFile};
use crate::event::{EndReason, Event, EventKind, LeaveReason};
use crate::files::model::AttachmentStatus;
use crate::flows::model::Side;
use crate::ids::ParticipantId;
use crate::model::Role;

/// Who caused an event or is named in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Who {
    pub name: String,
    pub role: Option<Role>,
}

impl Who {
    /// `Alice (customer)`.
    pub fn label(&self) -> String {
        match self.role {
            Some(role) => format!("{} ({})", self.name, role.as_str()),
            None => self.name.clone(),
        }
    }
}

/// One event as a line of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line<'e> {
    Said {
        who: Who,
        content: &'e str,
    },
    /// A short sentence, about a file when `file` is set.
    Note {
        text: String,
        file: Option<SharedFile>,
    },
    /// Not shown to people.
    Skipped,
}

/// How `e` reads.
pub(crate) fn line<'e>(e: &'e Event, ctx: &Context) -> Line<'e> {
    let note = |text: String| Line::Note { text, file: None };
    let by = || actor(e.participant_id, ctx);
    match &e.kind {
        EventKind::Message { content, .. } => Line::Said { who: by(), content },
        EventKind::Delivered { .. } | EventKind::Read { .. } => Line::Skipped,
        EventKind::ConversationCreated { .. } => note("Conversation started.".into()),
        EventKind::ParticipantJoined { role, display_name, .. } => {
            note(format!("{} joined.", Who { name: display_name.clone(), role: Some(*role) }.label()))
        }
        EventKind::ParticipantLeft { member_id, reason: LeaveReason::Left } => {
            note(format!("{} left.", member(*member_id, ctx)))
        }
        EventKind::ParticipantLeft { member_id, reason: LeaveReason::Removed } => {
            note(format!("{} was removed.", member(*member_id, ctx)))
        }
        EventKind::ParticipantIdle { member_id } => note(format!("{} went idle.", member(*member_id, ctx))),
        EventKind::ParticipantReturned { member_id } => note(format!("{} is back.", member(*member_id, ctx))),
        EventKind::ParticipantAutoDisconnected { member_id } => {
            note(format!("{} was disconnected for inactivity.", member(*member_id, ctx)))
        }
        EventKind::ConversationUpdated { record_id, .. } => note(match record_id {
            Some(r) => format!("Conversation details updated (record {r})."),
            None => "Conversation details updated.".into(),
        }),
        EventKind::ConversationEnded { reason: EndReason::Abandoned } => {
            note("Conversation ended: everyone had left.".into())
        }
        EventKind::ConversationEnded { reason: EndReason::Expired } => {
            note("Conversation ended: it reached its time limit.".into())
        }
        EventKind::ConversationEnded { reason: EndReason::Ended } => match e.participant_id {
            Some(_) => note(format!("Conversation ended by {}.", by().label())),
            None => note("Conversation ended.".into()),
        },
        EventKind::Queued { queue_id, .. } => note(format!("Waiting for an agent in queue {queue_id}.")),
        EventKind::Transferred { queue_id, agent_id: Some(agent), .. } => {
            note(format!("Transferred to agent {agent} (queue {queue_id})."))
        }
        EventKind::Transferred { queue_id, agent_id: None, .. } => note(format!("Transferred to queue {queue_id}.")),
        EventKind::Overflowed { text, .. } => note(format!("Nobody could answer; left as a message: {text}")),
        EventKind::SlaBreached { agent_id, timer, after_secs, action, .. } => {
            let what = match timer {
                crate::event::ReplyTimer::FirstReply => "send a first reply",
                crate::event::ReplyTimer::Reply => "reply",
            };
            note(format!("Agent {agent_id} did not {what} within {after_secs} s ({}).", action.replace('_', " ")))
        }
        EventKind::FileRequested { record_id, .. } => {
            let record = record_id.as_ref().map(|r| format!(" for record {r}")).unwrap_or_default();
            note(format!("{} asked for a file{record}.", by().label()))
        }
        EventKind::FileRequestCanceled { .. } => note(format!("{} canceled the file request.", by().label())),
        EventKind::FileRequestDeclined { .. } => note(format!("{} declined to send the file.", by().label())),
        EventKind::FileReceived { attachment_id, record_id, .. } => {
            let record = record_id.as_ref().map(|r| format!(" and was linked to record {r}")).unwrap_or_default();
            let file = ctx.file(*attachment_id).cloned();
            let text = match &file {
                Some(_) => format!("The requested file arrived{record}:"),
                None => format!("The requested file {attachment_id} arrived{record}."),
            };
            Line::Note { text, file }
        }
        EventKind::Attachment { attachment_id, .. } => {
            Line::Note { text: format!("{} attached a file:", by().label()), file: ctx.file(*attachment_id).cloned() }
        }
        EventKind::AttachmentScanned { attachment_id, status, reason } => {
            let name = ctx.file(*attachment_id).map_or_else(|| attachment_id.to_string(), |f| f.name.clone());
            note(scanned(&name, *status, reason.as_deref()))
        }
        EventKind::Form { form, to, .. } => {
            note(format!("Form \u{201c}{}\u{201d} sent to the {}.", form.title, side(*to)))
        }
        EventKind::FormSubmitted { values, .. } => {
            let answers: Vec<String> = values.iter().map(|(k, v)| format!("{k}: {}", value(v))).collect();
            note(format!("{} submitted the form: {}.", by().label(), answers.join("; ")))
        }
        EventKind::FormCancelled { .. } => note("The form was withdrawn.".into()),
    }
}

/// Who caused an event: a participant the export knows, or the system.
fn actor(id: Option<ParticipantId>, ctx: &Context) -> Who {
    match id {
        None => Who { name: "The system".into(), role: None },
        Some(id) => match ctx.person(id) {
            Some((name, role)) => Who { name: name.to_owned(), role: Some(role) },
            None => Who { name: format!("Participant {id}"), role: None },
        },
    }
}

fn member(id: ParticipantId, ctx: &Context) -> String {
    actor(Some(id), ctx).label()
}

fn scanned(name: &str, status: AttachmentStatus, reason: Option<&str>) -> String {
    match (status, reason) {
        (AttachmentStatus::Approved, _) => format!("The file {name} passed the scan."),
        (AttachmentStatus::Rejected, Some(r)) => format!("The file {name} was rejected by the scan: {r}."),
        (AttachmentStatus::Rejected, None) => format!("The file {name} was rejected by the scan."),
        (other, _) => format!("The file {name} is {}.", other.as_str()),
    }
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Customer => "customer",
        Side::Agent => "agent",
    }
}

/// A form value as text: strings as they are, anything else as JSON.
fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
