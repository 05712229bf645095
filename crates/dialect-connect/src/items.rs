//! Log events as the service's transcript `Item`s: the same shape on the
//! WebSocket (`aws/chat`) and in `GetTranscript`.
//!
//! An item's `Id` is the event's id, so a client that deduplicates by `Id`
//! (ChatJS does) sees each event once whichever way it came. Events the
//! service has no item for (routing, forms, file requests, attribute
//! updates) are not shown; the cursor still moves past them.

use std::collections::HashMap;

use serde::Serialize;
use switchboard_core::clock::Timestamp;
use switchboard_core::event::{Event, EventKind};
use switchboard_core::files::model::AttachmentStatus;
use switchboard_core::ids::{ConversationId, ParticipantId};
use switchboard_core::model::{Participant, Role};

/// The media types of the service's events.
pub const EVENT_PREFIX: &str = "application/vnd.amazonaws.connect.event.";
pub const TYPING: &str = "application/vnd.amazonaws.connect.event.typing";
pub const DELIVERED: &str = "application/vnd.amazonaws.connect.event.message.delivered";
pub const READ: &str = "application/vnd.amazonaws.connect.event.message.read";
pub const METADATA: &str = "application/vnd.amazonaws.connect.event.message.metadata";
pub const CONNECTION_ACKNOWLEDGED: &str = "application/vnd.amazonaws.connect.event.connection.acknowledged";
pub const CHAT_ENDED: &str = "application/vnd.amazonaws.connect.event.chat.ended";

/// One transcript item (the service's `Item`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    pub absolute_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub content_type: String,
    pub id: String,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<AttachmentItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_metadata: Option<MessageMetadata>,
    pub contact_id: String,
    /// On the WebSocket only (ChatJS drops socket items whose
    /// `InitialContactId` and `ContactId` are both someone else's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_contact_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentItem {
    pub content_type: String,
    pub attachment_id: String,
    pub attachment_name: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MessageMetadata {
    pub message_id: String,
    pub receipts: Vec<Receipt>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Receipt {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timestamp: Option<String>,
    pub recipient_participant_id: String,
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Customer => "CUSTOMER",
        Role::Agent => "AGENT",
        Role::System => "SYSTEM",
        Role::Supervisor | Role::Monitor => "SUPERVISOR",
    }
}

fn status_name(status: AttachmentStatus) -> &'static str {
    match status {
        AttachmentStatus::Approved => "APPROVED",
        AttachmentStatus::Rejected => "REJECTED",
        _ => "IN_PROGRESS",
    }
}

/// Who is who in one conversation, for `DisplayName` and `ParticipantRole`.
/// It learns of participants who join as the log goes by.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    people: HashMap<ParticipantId, (Role, String)>,
}

impl Roster {
    pub fn new(participants: &[Participant]) -> Self {
        let people = participants.iter().map(|p| (p.id, (p.role, p.display_name.clone()))).collect();
        Self { people }
    }

    pub fn learn(&mut self, e: &Event) {
        if let EventKind::ParticipantJoined { member_id, role, display_name } = &e.kind {
            self.people.insert(*member_id, (*role, display_name.clone()));
        }
    }

    fn who(&self, p: Option<ParticipantId>) -> (Option<String>, Option<String>, &'static str) {
        match p.and_then(|p| self.people.get(&p).map(|w| (p, w))) {
            Some((p, (role, name))) => (Some(p.to_string()), Some(name.clone()), role_name(*role)),
            None => (p.map(|p| p.to_string()), None, "SYSTEM"),
        }
    }
}

fn event_type(name: &str) -> String {
    format!("{EVENT_PREFIX}{name}")
}

/// The item for `e` as `roster` names its people, or `None` when the
/// service has no item for it. `on_socket` adds `InitialContactId`.
pub fn item(e: &Event, roster: &Roster, on_socket: bool) -> Option<Item> {
    let base = |kind: &'static str, content_type: String, about: Option<ParticipantId>| {
        let (participant_id, display_name, role) = roster.who(about);
        Item {
            absolute_time: e.at.to_rfc3339(),
            content: None,
            content_type,
            id: e.id.to_string(),
            kind,
            participant_id,
            display_name,
            participant_role: Some(role),
            attachments: None,
            message_metadata: None,
            contact_id: e.conversation_id.to_string(),
            initial_contact_id: on_socket.then(|| e.conversation_id.to_string()),
        }
    };
    let event = |name: &str, about: Option<ParticipantId>| Some(base("EVENT", event_type(name), about));
    match &e.kind {
        EventKind::Message { content_type, content } => {
            let mut it = base("MESSAGE", content_type.as_str().to_owned(), e.participant_id);
            it.content = Some(content.clone());
            Some(it)
        }
        EventKind::Overflowed { text, .. } => {
            let mut it = base("MESSAGE", "text/plain".to_owned(), None);
            it.content = Some(text.clone());
            Some(it)
        }
        EventKind::Attachment { attachment_id, name, content_type, status, .. } => {
            let mut it = base("ATTACHMENT", content_type.clone(), e.participant_id);
            it.attachments = Some(vec![AttachmentItem {
                content_type: content_type.clone(),
                attachment_id: attachment_id.to_string(),
                attachment_name: name.clone(),
                status: status_name(*status),
            }]);
            Some(it)
        }
        EventKind::Delivered { message_id } | EventKind::Read { message_id } => {
            let mut it = base("MESSAGEMETADATA", METADATA.to_owned(), e.participant_id);
            let at = Some(e.at.to_rfc3339());
            let reader = e.participant_id.map(|p| p.to_string()).unwrap_or_default();
            let receipt = if matches!(e.kind, EventKind::Read { .. }) {
                Receipt { read_timestamp: at, recipient_participant_id: reader, ..Receipt::default() }
            } else {
                Receipt { delivered_timestamp: at, recipient_participant_id: reader, ..Receipt::default() }
            };
            it.message_metadata = Some(MessageMetadata { message_id: message_id.to_string(), receipts: vec![receipt] });
            Some(it)
        }
        EventKind::ParticipantJoined { member_id, .. } => event("participant.joined", Some(*member_id)),
        EventKind::ParticipantLeft { member_id, .. } => event("participant.left", Some(*member_id)),
        EventKind::ParticipantIdle { member_id } => event("participant.idle", Some(*member_id)),
        EventKind::ParticipantReturned { member_id } => event("participant.returned", Some(*member_id)),
        EventKind::ParticipantAutoDisconnected { member_id } => {
            event("participant.autodisconnection", Some(*member_id))
        }
        EventKind::Form { form_id, form, .. } => {
            let mut it = base("MESSAGE", crate::views::INTERACTIVE.to_owned(), e.participant_id);
            it.content = Some(crate::views::announcement(*form_id, form));
            Some(it)
        }
        EventKind::FormSubmitted { form_id, values, .. } => {
            let mut it = base("MESSAGE", crate::views::INTERACTIVE_RESPONSE.to_owned(), e.participant_id);
            it.content = Some(crate::views::response(*form_id, values));
            Some(it)
        }
        EventKind::Transferred { .. } => event("transfer.succeeded", None),
        EventKind::ConversationEnded { .. } => event("chat.ended", None),
        _ => None,
    }
}

/// The item for someone typing (not logged: a fresh id each time).
pub fn typing(conversation: ConversationId, who: ParticipantId, roster: &Roster, at: i64) -> Item {
    let (participant_id, display_name, role) = roster.who(Some(who));
    Item {
        absolute_time: Timestamp(at).to_rfc3339(),
        content: None,
        content_type: TYPING.to_owned(),
        id: switchboard_core::ids::EventId::new().to_string(),
        kind: "EVENT",
        participant_id,
        display_name,
        participant_role: Some(role),
        attachments: None,
        message_metadata: None,
        contact_id: conversation.to_string(),
        initial_contact_id: Some(conversation.to_string()),
    }
}

/// Whether the service shows `e` as an item at all.
pub fn shown(e: &Event) -> bool {
    item(e, &Roster::default(), false).is_some()
}

/// Whether `e` is an item of a transcript: receipts are not (they ride on
/// their message's `MessageMetadata` there).
pub fn in_transcript(e: &Event) -> bool {
    !matches!(e.kind, EventKind::Delivered { .. } | EventKind::Read { .. }) && shown(e)
}

#[cfg(test)]
mod tests {
    use switchboard_core::clock::Timestamp;
    use switchboard_core::event::{EndReason, LeaveReason};
    use switchboard_core::ids::{EventId, QueueId, TaskId};

    use super::*;

    fn event(participant: Option<ParticipantId>, kind: EventKind) -> Event {
        Event {
            conversation_id: ConversationId::new(),
            seq: 1,
            id: EventId::new(),
            at: Timestamp(1_700_000_000_123),
            participant_id: participant,
            kind,
            client_token: None,
        }
    }

    /// Each log event the service has an item for, as its `Type` and `ContentType`.
    #[test]
    fn each_event_becomes_the_item_chatjs_expects() {
        let (agent, customer) = (ParticipantId::new(), ParticipantId::new());
        let joined =
            |p, role, name: &str| EventKind::ParticipantJoined { member_id: p, role, display_name: name.into() };
        let mut roster = Roster::default();
        roster.learn(&event(None, joined(agent, Role::Agent, "Ann")));
        roster.learn(&event(None, joined(customer, Role::Customer, "Jane")));
        let e = |name: &str| format!("{EVENT_PREFIX}{name}");
        let cases = [
            (EventKind::ParticipantIdle { member_id: customer }, "EVENT", e("participant.idle")),
            (EventKind::ParticipantReturned { member_id: customer }, "EVENT", e("participant.returned")),
            (
                EventKind::ParticipantAutoDisconnected { member_id: customer },
                "EVENT",
                e("participant.autodisconnection"),
            ),
            (
                EventKind::ParticipantLeft { member_id: agent, reason: LeaveReason::Left },
                "EVENT",
                e("participant.left"),
            ),
            (EventKind::ConversationEnded { reason: EndReason::Ended }, "EVENT", CHAT_ENDED.to_owned()),
            (
                EventKind::Transferred { task_id: TaskId::new(), queue_id: QueueId::new(), agent_id: None },
                "EVENT",
                e("transfer.succeeded"),
            ),
            (EventKind::Read { message_id: EventId::new() }, "MESSAGEMETADATA", METADATA.to_owned()),
        ];
        for (kind, ty, content_type) in cases {
            let it = item(&event(Some(customer), kind.clone()), &roster, true).unwrap();
            assert_eq!((it.kind, it.content_type.as_str()), (ty, content_type.as_str()), "{kind:?}");
            assert_eq!(it.absolute_time, "2023-11-14T22:13:20.123Z");
            assert!(it.initial_contact_id.is_some());
        }
        let idle = item(&event(None, EventKind::ParticipantIdle { member_id: customer }), &roster, false).unwrap();
        assert_eq!((idle.display_name.as_deref(), idle.participant_role), (Some("Jane"), Some("CUSTOMER")));
        assert!(idle.initial_contact_id.is_none(), "transcript items carry no InitialContactId");
        let queued = EventKind::Queued { task_id: TaskId::new(), queue_id: QueueId::new() };
        assert!(item(&event(None, queued), &roster, true).is_none(), "routing has no Connect item");
        let t = typing(ConversationId::new(), agent, &roster, 0);
        assert_eq!((t.kind, t.content_type.as_str(), t.participant_role), ("EVENT", TYPING, Some("AGENT")));
    }
}
