//! The conversation log: one [`Event`] per state change, numbered by `seq`.
//!
//! An event is stored as its `type` and a JSON payload holding the rest of
//! its fields; on the wire it is one flat JSON object (`seq`, `id`, `at`,
//! `participant_id`, `type`, and the fields of its kind), so no kind may have
//! a field named like one of [`Event`]'s.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::files::model::AttachmentStatus;
use crate::ids::{
    AgentId, AttachmentId, ConversationId, EventId, FileRequestId, FormId, ParticipantId, QueueId, TaskId,
};
use crate::model::{Attributes, Role};

/// The media types a message may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentType {
    #[serde(rename = "text/plain")]
    TextPlain,
    #[serde(rename = "text/markdown")]
    TextMarkdown,
    /// Structured content for the client to render (a card, a choice);
    /// checked to be one JSON value.
    #[serde(rename = "application/json")]
    ApplicationJson,
}

impl ContentType {
    pub fn parse(s: &str) -> Option<Self> {
        // Parameters such as `; charset=utf-8` are accepted and ignored.
        let essence = s.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("text/plain") {
            Some(Self::TextPlain)
        } else if essence.eq_ignore_ascii_case("text/markdown") {
            Some(Self::TextMarkdown)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::ApplicationJson)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TextPlain => "text/plain",
            Self::TextMarkdown => "text/markdown",
            Self::ApplicationJson => "application/json",
        }
    }
}

/// Why a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A participant or the API ended it.
    Ended,
    /// The last participant left or was disconnected.
    Abandoned,
    /// It reached the longest it was allowed to last.
    Expired,
}

/// Why a participant left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    Removed,
}

/// Which reply an agent missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyTimer {
    /// Its first message after accepting the chat.
    FirstReply,
    /// Its answer to the customer's message.
    Reply,
}

/// What happened, with the fields that belong to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventKind {
    #[serde(rename = "conversation.created")]
    ConversationCreated { attributes: Attributes },
    #[serde(rename = "message")]
    Message { content_type: ContentType, content: String },
    #[serde(rename = "message.delivered")]
    Delivered { message_id: EventId },
    #[serde(rename = "message.read")]
    Read { message_id: EventId },
    // In the `participant.*` kinds `member_id` is who the event is about (who
    // joined, left, went idle, …); the event's own `participant_id` is who
    // caused it. It is not called `participant_id` so that the flat wire
    // object has no key twice; payloads stored by earlier versions call it
    // that, and the alias reads them.
    #[serde(rename = "participant.joined")]
    ParticipantJoined {
        #[serde(alias = "participant_id")]
        member_id: ParticipantId,
        role: Role,
        display_name: String,
    },
    #[serde(rename = "participant.left")]
    ParticipantLeft {
        #[serde(alias = "participant_id")]
        member_id: ParticipantId,
        reason: LeaveReason,
    },
    #[serde(rename = "participant.idle")]
    ParticipantIdle {
        #[serde(alias = "participant_id")]
        member_id: ParticipantId,
    },
    #[serde(rename = "participant.returned")]
    ParticipantReturned {
        #[serde(alias = "participant_id")]
        member_id: ParticipantId,
    },
    #[serde(rename = "participant.autodisconnection")]
    ParticipantAutoDisconnected {
        #[serde(alias = "participant_id")]
        member_id: ParticipantId,
    },
    #[serde(rename = "conversation.updated")]
    ConversationUpdated { attributes: Attributes, record_id: Option<String> },
    #[serde(rename = "conversation.ended")]
    ConversationEnded { reason: EndReason },
    /// The chat waits for an agent in a queue.
    #[serde(rename = "conversation.queued")]
    Queued { task_id: TaskId, queue_id: QueueId },
    /// The customer is asked for a file (its widget shows an upload prompt);
    /// once uploaded it is linked to the conversation and to `record_id`.
    #[serde(rename = "file.requested")]
    FileRequested {
        request_id: FileRequestId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_id: Option<String>,
    },
    #[serde(rename = "file.request_canceled")]
    FileRequestCanceled { request_id: FileRequestId },
    /// The customer will not send the file asked for.
    #[serde(rename = "file.request_declined")]
    FileRequestDeclined { request_id: FileRequestId },
    /// The file asked for arrived and was approved: the request is fulfilled
    /// and the file linked to `record_id`.
    #[serde(rename = "file.received")]
    FileReceived {
        request_id: FileRequestId,
        attachment_id: AttachmentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record_id: Option<String>,
    },
    /// A file was shared in the chat. While `status` is `scanning` only its
    /// uploader may download it; `attachment.scanned` tells the verdict.
    #[serde(rename = "attachment")]
    Attachment {
        attachment_id: AttachmentId,
        name: String,
        content_type: String,
        size: u64,
        sha256: String,
        status: AttachmentStatus,
        #[serde(default)]
        thumbnail: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<FileRequestId>,
    },
    /// The scan hook's verdict on an attachment (`approved` or `rejected`).
    #[serde(rename = "attachment.scanned")]
    AttachmentScanned {
        attachment_id: AttachmentId,
        status: AttachmentStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The chat was moved to another queue or a named agent.
    #[serde(rename = "conversation.transferred")]
    Transferred {
        task_id: TaskId,
        queue_id: QueueId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<AgentId>,
    },
    /// The assigned agent did not reply in time (the queue's response
    /// timers); `action` says what followed. Agents and supervisors see it,
    /// customers do not.
    /// Nobody could take the chat: it became a "message us" request that an
    /// agent picks up later. The customer is told `text` and, while still
    /// there, asked for contact details by the form `form_id`.
    #[serde(rename = "conversation.overflowed")]
    Overflowed {
        task_id: TaskId,
        queue_id: QueueId,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form_id: Option<FormId>,
    },
    #[serde(rename = "task.sla_breached")]
    SlaBreached { task_id: TaskId, agent_id: AgentId, timer: ReplyTimer, after_secs: u32, action: String },
    /// A form for the customer (or, from an agent-side flow, for the agent)
    /// to fill in; answered by `form.submitted`.
    #[serde(rename = "form")]
    Form { form_id: FormId, to: crate::flows::model::Side, form: crate::flows::form::FormSpec },
    /// The values of a form, checked against it.
    #[serde(rename = "form.submitted")]
    FormSubmitted { form_id: FormId, to: crate::flows::model::Side, values: crate::flows::form::Values },
    /// The form can no longer be submitted (its flow timed out or ended).
    #[serde(rename = "form.cancelled")]
    FormCancelled { form_id: FormId, to: crate::flows::model::Side },
}

/// The payload could not be read back; the log is damaged or from a newer version.
#[derive(Debug, thiserror::Error)]
#[error("stored event of type `{kind}` could not be decoded: {source}")]
pub struct DecodeError {
    pub kind: String,
    #[source]
    pub source: serde_json::Error,
}

impl EventKind {
    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ConversationCreated { .. } => "conversation.created",
            Self::Message { .. } => "message",
            Self::Delivered { .. } => "message.delivered",
            Self::Read { .. } => "message.read",
            Self::ParticipantJoined { .. } => "participant.joined",
            Self::ParticipantLeft { .. } => "participant.left",
            Self::ParticipantIdle { .. } => "participant.idle",
            Self::ParticipantReturned { .. } => "participant.returned",
            Self::ParticipantAutoDisconnected { .. } => "participant.autodisconnection",
            Self::ConversationUpdated { .. } => "conversation.updated",
            Self::ConversationEnded { .. } => "conversation.ended",
            Self::Queued { .. } => "conversation.queued",
            Self::FileRequested { .. } => "file.requested",
            Self::FileRequestCanceled { .. } => "file.request_canceled",
            Self::FileRequestDeclined { .. } => "file.request_declined",
            Self::FileReceived { .. } => "file.received",
            Self::Attachment { .. } => "attachment",
            Self::AttachmentScanned { .. } => "attachment.scanned",
            Self::Transferred { .. } => "conversation.transferred",
            Self::SlaBreached { .. } => "task.sla_breached",
            Self::Overflowed { .. } => "conversation.overflowed",
            Self::Form { .. } => "form",
            Self::FormSubmitted { .. } => "form.submitted",
            Self::FormCancelled { .. } => "form.cancelled",
        }
    }

    /// Splits into the stored form: `type` and a JSON object of the other fields.
    pub fn to_stored(&self) -> (&'static str, String) {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("type");
        }
        (self.type_name(), value.to_string())
    }

    /// Rebuilds from the stored form.
    pub fn from_stored(kind: &str, payload: &str) -> Result<Self, DecodeError> {
        let body = payload.trim();
        let json = match body.strip_prefix('{') {
            Some(rest) if rest.trim_start().starts_with('}') => {
                format!(r#"{{"type":{}}}"#, quote(kind))
            }
            Some(rest) => format!(r#"{{"type":{},{rest}"#, quote(kind)),
            None => body.to_owned(),
        };
        serde_json::from_str(&json).map_err(|source| DecodeError { kind: kind.to_owned(), source })
    }

    /// Whether only agents and supervisors see it: a form of an agent-side
    /// flow or its answer, a missed reply.
    pub fn for_agents(&self) -> bool {
        use crate::flows::model::Side;
        matches!(
            self,
            Self::Form { to: Side::Agent, .. }
                | Self::FormSubmitted { to: Side::Agent, .. }
                | Self::FormCancelled { to: Side::Agent, .. }
                | Self::SlaBreached { .. }
        )
    }

    /// The participant this event is about, when it is about one.
    pub fn subject(&self) -> Option<ParticipantId> {
        match self {
            Self::ParticipantJoined { member_id, .. }
            | Self::ParticipantLeft { member_id, .. }
            | Self::ParticipantIdle { member_id }
            | Self::ParticipantReturned { member_id }
            | Self::ParticipantAutoDisconnected { member_id } => Some(*member_id),
            _ => None,
        }
    }
}

/// What one reader of a log must not see: silent monitors (role `monitor`),
/// hidden from customers and agents — nothing they did and nothing about
/// them. It learns of monitors who join as the log goes by. The reader's
/// cursor still moves past hidden events.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    hides: bool,
    hidden: std::collections::HashSet<ParticipantId>,
    /// A customer does not see the forms of agent-side flows, nor their
    /// answers, nor missed replies.
    agent_forms: bool,
}

impl Screen {
    /// For a reader that sees everything.
    pub fn open() -> Self {
        Self::default()
    }

    /// For a reader that must not see monitors, knowing `hidden` already.
    pub fn hiding(hidden: impl IntoIterator<Item = ParticipantId>) -> Self {
        Self { hides: true, hidden: hidden.into_iter().collect(), agent_forms: false }
    }

    /// The same, and without the forms addressed to agents (a customer).
    pub fn without_agent_forms(mut self) -> Self {
        self.agent_forms = true;
        self
    }

    /// Whether the reader must not see participant `p` (a silent monitor it knows of).
    pub fn hides(&self, p: ParticipantId) -> bool {
        self.hides && self.hidden.contains(&p)
    }

    /// Whether the reader sees `e`.
    pub fn admit(&mut self, e: &Event) -> bool {
        if self.agent_forms && e.kind.for_agents() {
            return false;
        }
        if !self.hides {
            return true;
        }
        if let EventKind::ParticipantJoined { member_id, role: Role::Monitor, .. } = &e.kind {
            self.hidden.insert(*member_id);
        }
        let hidden = |p: Option<ParticipantId>| p.is_some_and(|p| self.hidden.contains(&p));
        !(hidden(e.participant_id) || hidden(e.kind.subject()))
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// One committed entry of a conversation's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub conversation_id: ConversationId,
    /// Position in the log: 1, 2, 3, … with no gaps, assigned at commit.
    pub seq: i64,
    pub id: EventId,
    pub at: Timestamp,
    /// Who caused it; `None` for the system (timers, the API).
    pub participant_id: Option<ParticipantId>,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The sender's idempotency token, when the send carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<EventKind> {
        let p = ParticipantId::new();
        let mut attrs = Attributes::new();
        attrs.insert("k".into(), serde_json::json!({"nested": [1, 2]}));
        vec![
            EventKind::ConversationCreated { attributes: attrs.clone() },
            EventKind::Message { content_type: ContentType::TextMarkdown, content: "hi \"there\" }{".into() },
            EventKind::Delivered { message_id: EventId::new() },
            EventKind::Read { message_id: EventId::new() },
            EventKind::ParticipantJoined { member_id: p, role: Role::Agent, display_name: "Ann".into() },
            EventKind::ParticipantLeft { member_id: p, reason: LeaveReason::Left },
            EventKind::ParticipantIdle { member_id: p },
            EventKind::ParticipantReturned { member_id: p },
            EventKind::ParticipantAutoDisconnected { member_id: p },
            EventKind::ConversationUpdated { attributes: attrs, record_id: Some("500xx".into()) },
            EventKind::ConversationEnded { reason: EndReason::Abandoned },
            EventKind::Queued { task_id: TaskId::new(), queue_id: QueueId::new() },
            EventKind::FileRequested { request_id: FileRequestId::new(), record_id: Some("500xx".into()) },
            EventKind::FileRequestCanceled { request_id: FileRequestId::new() },
            EventKind::FileRequestDeclined { request_id: FileRequestId::new() },
            EventKind::FileReceived {
                request_id: FileRequestId::new(),
                attachment_id: AttachmentId::new(),
                record_id: Some("500xx".into()),
            },
            EventKind::Attachment {
                attachment_id: AttachmentId::new(),
                name: "scan \"1\".pdf".into(),
                content_type: "application/pdf".into(),
                size: 1234,
                sha256: "ab".repeat(32),
                status: AttachmentStatus::Scanning,
                thumbnail: false,
                request_id: Some(FileRequestId::new()),
            },
            EventKind::AttachmentScanned {
                attachment_id: AttachmentId::new(),
                status: AttachmentStatus::Rejected,
                reason: Some("EICAR test file".into()),
            },
            EventKind::Transferred { task_id: TaskId::new(), queue_id: QueueId::new(), agent_id: Some(AgentId::new()) },
            EventKind::Overflowed {
                task_id: TaskId::new(),
                queue_id: QueueId::new(),
                text: "Leave us a message".into(),
                form_id: Some(FormId::new()),
            },
            EventKind::SlaBreached {
                task_id: TaskId::new(),
                agent_id: AgentId::new(),
                timer: ReplyTimer::FirstReply,
                after_secs: 60,
                action: "next_agent".into(),
            },
            EventKind::Form {
                form_id: FormId::new(),
                to: crate::flows::model::Side::Customer,
                form: crate::flows::form::FormSpec {
                    name: "use_of_funds".into(),
                    title: "Use of funds".into(),
                    description: None,
                    fields: vec![crate::flows::form::Field {
                        name: "reason".into(),
                        label: "Reason".into(),
                        kind: crate::flows::form::FieldKind::Choice { choices: vec!["Renovation work".into()] },
                        required: true,
                    }],
                },
            },
            EventKind::FormSubmitted {
                form_id: FormId::new(),
                to: crate::flows::model::Side::Agent,
                values: serde_json::json!({"reason": "Renovation work"}).as_object().cloned().unwrap_or_default(),
            },
            EventKind::FormCancelled { form_id: FormId::new(), to: crate::flows::model::Side::Customer },
        ]
    }

    /// Every `type` the enum has, as serde lists them when it refuses an
    /// unknown one: a variant added later is in this list on its own, so
    /// it cannot be left out of `all_kinds`.
    fn every_type_name() -> std::collections::BTreeSet<String> {
        let err = serde_json::from_str::<EventKind>(r#"{"type":"?"}"#).unwrap_err().to_string();
        let names: std::collections::BTreeSet<String> = err.split('`').skip(3).step_by(2).map(str::to_owned).collect();
        assert!(names.contains("message") && names.contains("participant.joined"), "unexpected serde error: {err}");
        names
    }

    #[test]
    fn all_kinds_has_every_kind() {
        let listed: std::collections::BTreeSet<String> = all_kinds().iter().map(|k| k.type_name().to_owned()).collect();
        assert_eq!(listed, every_type_name(), "add the new kind to `all_kinds`");
    }

    /// No object the server writes may repeat a key: strict JSON parsers
    /// refuse it. An event is one flat object of its own fields and its kind's.
    #[test]
    fn wire_form_of_every_kind_has_no_repeated_key() {
        for kind in all_kinds() {
            let e = Event {
                conversation_id: ConversationId::new(),
                seq: 3,
                id: EventId::new(),
                at: Timestamp(0),
                participant_id: Some(ParticipantId::new()),
                kind,
                client_token: Some("t".into()),
            };
            let text = serde_json::to_string(&e).unwrap();
            let strict = crate::strict_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
            assert_eq!(strict["type"], e.kind.type_name());
            assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e, "{text}");
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_stored_form() {
        for kind in all_kinds() {
            let (name, payload) = kind.to_stored();
            let top: serde_json::Value = serde_json::from_str(&payload).unwrap();
            assert!(top.get("type").is_none(), "the type is stored beside the payload: {payload}");
            assert_eq!(EventKind::from_stored(name, &payload).unwrap(), kind);
        }
    }

    #[test]
    fn wire_form_is_flat() {
        let e = Event {
            conversation_id: ConversationId::new(),
            seq: 7,
            id: EventId::new(),
            at: Timestamp(0),
            participant_id: None,
            kind: EventKind::Message { content_type: ContentType::TextPlain, content: "x".into() },
            client_token: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["content"], "x");
        assert_eq!(v["seq"], 7);
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
    }

    #[test]
    fn payloads_stored_with_the_old_field_name_read_back() {
        let p = ParticipantId::new();
        let joined = format!(r#"{{"participant_id":"{p}","role":"agent","display_name":"Ann"}}"#);
        assert_eq!(
            EventKind::from_stored("participant.joined", &joined).unwrap(),
            EventKind::ParticipantJoined { member_id: p, role: Role::Agent, display_name: "Ann".into() }
        );
        let left = format!(r#"{{"participant_id":"{p}","reason":"removed"}}"#);
        assert_eq!(
            EventKind::from_stored("participant.left", &left).unwrap(),
            EventKind::ParticipantLeft { member_id: p, reason: LeaveReason::Removed }
        );
        let old = format!(r#"{{"participant_id":"{p}"}}"#);
        assert_eq!(
            EventKind::from_stored("participant.idle", &old).unwrap(),
            EventKind::ParticipantIdle { member_id: p }
        );
        assert_eq!(
            EventKind::from_stored("participant.returned", &old).unwrap(),
            EventKind::ParticipantReturned { member_id: p }
        );
        assert_eq!(
            EventKind::from_stored("participant.autodisconnection", &old).unwrap(),
            EventKind::ParticipantAutoDisconnected { member_id: p }
        );
        // What this version stores uses the new name.
        let (_, payload) = EventKind::ParticipantIdle { member_id: p }.to_stored();
        assert_eq!(payload, format!(r#"{{"member_id":"{p}"}}"#));
    }

    #[test]
    fn damaged_payloads_are_errors_not_panics() {
        assert!(EventKind::from_stored("message", "{").is_err());
        assert!(EventKind::from_stored("nope", "{}").is_err());
        assert!(EventKind::from_stored("message", "").is_err());
    }
}
