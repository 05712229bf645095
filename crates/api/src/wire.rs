//! The JSON shapes of the native API: requests as clients send them and
//! views of domain records as clients see them. The domain types stay free
//! of wire concerns; these are the contract, documented in the OpenAPI spec.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use switchboard_core::engine::persistent::ContinueFrom;
use switchboard_core::event::Event;
use switchboard_core::ids::ConversationId;
use switchboard_core::model::{Conversation, EntryPoint, IdleSettings, Participant, Rehydration};
use switchboard_core::widget::WidgetSettings;
use utoipa::ToSchema;

/// Customer inactivity settings.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Idle {
    /// Seconds of customer silence before `participant.idle`.
    pub idle_after_secs: Option<u32>,
    /// Seconds of customer silence before `participant.autodisconnection`
    /// (greater than `idle_after_secs`).
    pub disconnect_after_secs: Option<u32>,
}

impl From<IdleSettings> for Idle {
    fn from(i: IdleSettings) -> Self {
        Self { idle_after_secs: i.idle_after_secs, disconnect_after_secs: i.disconnect_after_secs }
    }
}

impl From<Idle> for IdleSettings {
    fn from(i: Idle) -> Self {
        Self { idle_after_secs: i.idle_after_secs, disconnect_after_secs: i.disconnect_after_secs }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    #[schema(example = "cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub id: String,
    pub workspace_id: String,
    pub entry_point_id: Option<String>,
    /// `open` or `ended`.
    pub state: String,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub record_id: Option<String>,
    /// The ended chat this one continues (persistent chat).
    pub previous_conversation_id: Option<String>,
    /// With `previous_conversation_id`: `entire_past_session` or `from_segment`.
    pub rehydration: Option<String>,
    /// The chat that continues this one, once one does.
    pub next_conversation_id: Option<String>,
    pub idle: Idle,
    /// The seq of the newest event in the log.
    pub last_seq: i64,
    pub active_participants: i64,
    pub created_at: String,
    pub ended_at: Option<String>,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            workspace_id: c.workspace_id.to_string(),
            entry_point_id: c.entry_point_id.map(|e| e.to_string()),
            state: c.state.as_str().into(),
            attributes: c.attributes,
            record_id: c.record_id,
            previous_conversation_id: c.previous_conversation_id.map(|p| p.to_string()),
            rehydration: c.rehydration.map(|r| r.as_str().into()),
            next_conversation_id: c.next_conversation_id.map(|n| n.to_string()),
            idle: c.idle.into(),
            last_seq: c.last_seq,
            active_participants: c.active_participants,
            created_at: c.created_at.to_rfc3339(),
            ended_at: c.ended_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantView {
    #[schema(example = "prt_01JDZ3Q5W7Y3J8M2V6X4T9R0PB")]
    pub id: String,
    pub conversation_id: String,
    /// `customer`, `agent`, `system`, `supervisor` or `monitor` (a supervisor watching silently).
    pub role: String,
    pub display_name: String,
    pub joined_at: String,
    pub left_at: Option<String>,
    pub idle: bool,
    /// For an agent who joined through routing: which agent.
    pub agent_id: Option<String>,
}

impl From<Participant> for ParticipantView {
    fn from(p: Participant) -> Self {
        Self {
            id: p.id.to_string(),
            conversation_id: p.conversation_id.to_string(),
            role: p.role.as_str().into(),
            display_name: p.display_name,
            joined_at: p.joined_at.to_rfc3339(),
            left_at: p.left_at.map(|t| t.to_rfc3339()),
            idle: p.idle,
            agent_id: p.agent_id.map(|a| a.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPointView {
    #[schema(example = "ept_01JDZ3Q5W7Y3J8M2V6X4T9R0PC")]
    pub id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub idle: Idle,
    pub enabled: bool,
    /// The schedule (by name) whose hours its availability tells. None: always open.
    pub schedule: Option<String>,
    /// Its chat widget's look and pre-chat form.
    #[schema(value_type = Object)]
    pub widget: WidgetSettings,
    pub created_at: String,
}

impl From<EntryPoint> for EntryPointView {
    fn from(e: EntryPoint) -> Self {
        Self {
            id: e.id.to_string(),
            name: e.name,
            allowed_origins: e.allowed_origins,
            idle: e.idle.into(),
            enabled: e.enabled,
            schedule: None,
            widget: e.widget,
            created_at: e.created_at.to_rfc3339(),
        }
    }
}

/// One entry of a conversation's log. Besides the fields below it carries the
/// fields of its `type`: `message` has `content_type` and `content`;
/// `message.delivered` / `message.read` have `message_id`;
/// `participant.joined` has `member_id`, `role`, `display_name`;
/// `participant.left` has `member_id`, `reason`; `participant.idle`,
/// `participant.returned`, `participant.autodisconnection` have
/// `member_id` (the participant the event is about; `participant_id` is who
/// caused it, `null` for the system); `conversation.created` /
/// `conversation.updated` have `attributes` (and `record_id`);
/// `conversation.ended` has `reason` (`ended`: a participant or the API;
/// `abandoned`: everyone left; `expired`: it reached its maximum duration).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventDoc {
    /// Position in the log: 1, 2, 3, … with no gaps.
    pub seq: i64,
    #[schema(example = "evt_01JDZ3Q5W7Y3J8M2V6X4T9R0PD")]
    pub id: String,
    pub conversation_id: String,
    pub at: String,
    pub participant_id: Option<String>,
    #[serde(rename = "type")]
    #[schema(example = "message")]
    pub kind: String,
    pub client_token: Option<String>,
}

// Requests and responses.

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChatRequest {
    /// Default: `Customer`, or the customer's name in the chat continued.
    pub display_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// Default: none, or the record id of the chat continued.
    pub record_id: Option<String>,
    /// Continue an ended chat. The request must carry that chat's customer
    /// token as `Authorization: Bearer sbp_…`.
    pub continue_from: Option<ContinueFromRequest>,
}

/// Which ended chat a new one continues, and how much of its past it carries.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinueFromRequest {
    /// An ended conversation of the same workspace that nothing continues yet.
    #[schema(example = "cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA")]
    pub conversation_id: String,
    /// `entire_past_session`: the transcript carries that chat and every
    /// segment its own history carried; `from_segment`: that chat only.
    #[schema(example = "entire_past_session")]
    pub rehydration: String,
}

impl ContinueFromRequest {
    pub fn parse(&self) -> Result<ContinueFrom, switchboard_core::Error> {
        let conversation = ConversationId::parse(&self.conversation_id)
            .map_err(|e| switchboard_core::Error::invalid("continue_from.conversation_id", e.to_string()))?;
        let rehydration = Rehydration::parse(&self.rehydration).ok_or_else(|| {
            switchboard_core::Error::invalid("continue_from.rehydration", "must be entire_past_session or from_segment")
        })?;
        Ok(ContinueFrom { conversation, rehydration })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartChatResponse {
    pub conversation: ConversationView,
    pub participant: ParticipantView,
    /// The customer's participant token: send it as `Authorization: Bearer …`
    /// (or `?token=` on the stream). Keep it to resume after a page refresh.
    pub token: String,
    /// Where to open the WebSocket stream.
    pub stream_url: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub attributes: Map<String, Value>,
    pub record_id: Option<String>,
    #[serde(default)]
    pub idle: Idle,
    /// Continue an ended chat of the workspace (persistent chat).
    pub continue_from: Option<ContinueFromRequest>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationRequest {
    /// Keys to set; a `null` value removes the key.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// The linked record id; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub record_id: Option<Option<String>>,
}

/// Tells a field sent as `null` (Some(None)) from one left out (None).
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipantRequest {
    /// `customer`, `agent`, `system`, `supervisor` or `monitor` (a supervisor watching silently, hidden from customers and agents).
    #[schema(example = "agent")]
    pub role: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddParticipantResponse {
    pub participant: ParticipantView,
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedResponse {
    /// How many live tokens were revoked.
    pub revoked: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// `text/plain` (default), `text/markdown` or `application/json` (one JSON value).
    pub content_type: Option<String>,
    pub content: String,
    /// Idempotency token: a retry with the same token stores nothing new
    /// and returns the first result.
    pub client_token: Option<String>,
    /// With a workspace key: send as this participant.
    pub as_participant: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEventRequest {
    /// `typing`, `delivered` or `read`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `delivered` and `read`: the message's event id.
    pub message_id: Option<String>,
    pub client_token: Option<String>,
    /// For `typing` by a customer: the draft so far, shown to agents only
    /// (cut to 200 characters).
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPointRequest {
    pub name: Option<String>,
    /// `*` or origins like `https://shop.example.com`.
    pub allowed_origins: Option<Vec<String>>,
    pub idle: Option<Idle>,
    pub enabled: Option<bool>,
    /// A schedule's name, for its availability; `null` takes it off.
    #[serde(default, deserialize_with = "crate::wire::present")]
    #[schema(value_type = Option<String>)]
    pub schedule: Option<Option<String>>,
    /// The chat widget: `title`, `accent_color` (`#rrggbb`), `logo_url`
    /// (https or a path here), `greeting`, and `prechat`, a list of
    /// `{name, label, kind: text|email|tel|textarea|select, required, options}`.
    /// Replaced whole.
    #[schema(value_type = Option<Object>)]
    pub widget: Option<WidgetSettings>,
}

/// What the chat widget needs to know of its entry point (public).
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetView {
    pub id: String,
    pub name: String,
    pub style: WidgetStyle,
    pub prechat: WidgetPrechat,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetStyle {
    /// The panel's heading: the widget's title, or else the entry point's name.
    pub title: String,
    pub accent_color: Option<String>,
    pub logo_url: Option<String>,
    pub greeting: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetPrechat {
    /// The questions, in order: `{name, label, kind, required, options}`.
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<switchboard_core::widget::PrechatField>,
}

impl From<EntryPoint> for WidgetView {
    fn from(e: EntryPoint) -> Self {
        let w = e.widget;
        Self {
            id: e.id.to_string(),
            style: WidgetStyle {
                title: w.title.unwrap_or_else(|| e.name.clone()),
                accent_color: w.accent_color,
                logo_url: w.logo_url,
                greeting: w.greeting,
            },
            name: e.name,
            prechat: WidgetPrechat { fields: w.prechat },
        }
    }
}

/// The JSON format of a transcript export (documentation only: the body is
/// written as it is read). Text and HTML exports hold the same, for people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TranscriptExport)]
pub struct TranscriptExportDoc {
    /// `{"format":"switchboard.transcript","version":1,"exported_at":"…","segments":"all"}`.
    #[schema(value_type = Object)]
    pub export: Value,
    /// The conversation asked about: id, state, attributes, record id, the
    /// chats it continues and is continued by, when it began and ended, and
    /// `last_seq`, where its log stood when the export began.
    #[schema(value_type = Object)]
    pub conversation: Value,
    /// The conversations exported, oldest first, in the same shape.
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Value>,
    /// Who took part, per segment: `id`, `conversation_id`, `role`,
    /// `display_name`, `joined_at`, `left_at`.
    #[schema(value_type = Vec<Object>)]
    pub participants: Vec<Value>,
    /// Every event the reader may see, oldest first, each with its `conversation_id`.
    pub events: Vec<EventDoc>,
    /// The files shared: `id`, `conversation_id`, `name`, `content_type`,
    /// `size`, `sha256`, `status` (the scan's verdict), and `link`, the
    /// attachment's API resource (which hands out a fresh download link).
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<Value>,
}

/// A page of a conversation's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptPage {
    /// With `segments=all`, each event's `conversation_id` says which segment it is from.
    #[schema(value_type = Vec<EventDoc>)]
    #[serde(serialize_with = "crate::markdown::events")]
    pub events: Vec<Event>,
    /// For the next page forwards: pass as `after_seq`.
    pub next_after_seq: Option<i64>,
    /// For the next page backwards: pass as `before_seq`.
    pub next_before_seq: Option<i64>,
    /// With `segments=all`: the conversations of the history, oldest first
    /// (the one asked about last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<String>>,
    /// With `segments=all`, for the next page forwards: pass as `after` (`cnv_…:SEQ`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
    /// With `segments=all`, for the next page backwards: pass as `before` (`cnv_…:SEQ`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// Events a long-poll waited for.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollResponse {
    #[schema(value_type = Vec<EventDoc>)]
    #[serde(serialize_with = "crate::markdown::events")]
    pub events: Vec<Event>,
    /// The seq of the last event returned: pass it as `after_seq` next time.
    pub last_seq: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationView>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<String>,
}

/// Who the credentials belong to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `workspace` or `participant`.
    pub kind: String,
    pub workspace_id: Option<String>,
    pub participant: Option<ParticipantView>,
}
