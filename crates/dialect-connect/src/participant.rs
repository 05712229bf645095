//! The Participant Service: `/participant/*`, authenticated by `X-Amz-Bearer`.
//! Each call is one engine operation on the caller's own conversation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::Error;
use switchboard_core::command::ClientToken;
use switchboard_core::engine::files::NewUpload;
use switchboard_core::engine::{Caller, Receipt, SendMessage};
use switchboard_core::event::ContentType;
use switchboard_core::ids::{AttachmentId, EventId, FormId};
use switchboard_core::model::ConversationState;

use crate::ConnectState;
use crate::auth::{self, AwsJson, Purpose};
use crate::error::{AwsError, AwsResult};
use crate::{items, views};

fn client_token(token: Option<&str>) -> AwsResult<Option<ClientToken>> {
    token
        .map(|t| ClientToken::parse(t).map_err(|e| AwsError::validation(format!("ClientToken {}", e.message))))
        .transpose()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateConnectionRequest {
    #[serde(rename = "Type")]
    pub kinds: Option<Vec<String>>,
    pub connect_participant: Option<bool>,
}

/// POST /participant/connection (`CreateParticipantConnection`)
pub async fn create_connection(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<CreateConnectionRequest>,
) -> AwsResult<Json<Value>> {
    let (p, key) = auth::participant_token(&s, &headers).await?;
    let kinds = req.kinds.unwrap_or_default();
    let (mut websocket, mut credentials) = (false, false);
    for k in &kinds {
        match k.as_str() {
            "WEBSOCKET" => websocket = true,
            "CONNECTION_CREDENTIALS" => credentials = true,
            other => {
                return Err(AwsError::validation(format!(
                    "Type: `{other}` is not one of WEBSOCKET, CONNECTION_CREDENTIALS"
                )));
            }
        }
    }
    if kinds.is_empty() && req.connect_participant != Some(true) {
        return Err(AwsError::validation("Type is required unless ConnectParticipant is true"));
    }
    let caller = Caller::Participant(p.clone());
    let conversation = s.engine.conversation(&caller, p.conversation_id).await?;
    if conversation.state == ConversationState::Ended {
        return Err(AwsError::access_denied("the chat has ended"));
    }
    if !p.is_active() {
        return Err(AwsError::access_denied("the participant has left the chat"));
    }
    let now = s.engine.now();
    let mut out = serde_json::Map::new();
    if websocket {
        let expires = switchboard_core::clock::Timestamp(now.millis() + auth::TICKET_TTL_MS);
        let ticket = auth::derive(&key, Purpose::WebSocket, p.id, expires, conversation.last_seq);
        // `http(s)://` → `ws(s)://`, as the native API hands out its stream URL.
        let url = format!("{}/connect/ws?t={ticket}", s.public_url.replacen("http", "ws", 1));
        out.insert("Websocket".into(), json!({"Url": url, "ConnectionExpiry": expires.to_rfc3339()}));
    }
    if credentials {
        let expires = switchboard_core::clock::Timestamp(now.millis() + auth::CONNECTION_TTL_MS);
        let token = auth::derive(&key, Purpose::Connection, p.id, expires, 0);
        out.insert("ConnectionCredentials".into(), json!({"ConnectionToken": token, "Expiry": expires.to_rfc3339()}));
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageRequest {
    pub content_type: Option<String>,
    pub content: Option<String>,
    pub client_token: Option<String>,
}

/// The media types `SendMessage` takes.
pub fn message_type(content_type: Option<&str>) -> AwsResult<ContentType> {
    let Some(ct) = content_type else {
        return Err(AwsError::validation("ContentType is required"));
    };
    ContentType::parse(ct).ok_or_else(|| {
        AwsError::validation(format!(
            "ContentType `{ct}` is not supported here; use text/plain, text/markdown, application/json, or an interactive response to a view"
        ))
    })
}

/// POST /participant/message (`SendMessage`)
pub async fn send_message(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<SendMessageRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    let content = req.content.filter(|c| !c.is_empty()).ok_or_else(|| AwsError::validation("Content is required"))?;
    if req.content_type.as_deref() == Some(views::INTERACTIVE_RESPONSE) {
        // The answer to a form shown as a view.
        let answer = views::read_answer(&content)?;
        let e = s.engine.submit_form(&me.caller, me.conversation(), answer.form, answer.values).await?;
        return Ok(Json(json!({"Id": e.id.to_string(), "AbsoluteTime": e.at.to_rfc3339()})));
    }
    let content_type = message_type(req.content_type.as_deref())?;
    let msg = SendMessage {
        content_type,
        content,
        client_token: client_token(req.client_token.as_deref())?,
        as_participant: None,
    };
    let e = s.engine.send_message(&me.caller, me.conversation(), msg).await?;
    Ok(Json(json!({"Id": e.id.to_string(), "AbsoluteTime": e.at.to_rfc3339()})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendEventRequest {
    pub content_type: Option<String>,
    pub content: Option<String>,
    pub client_token: Option<String>,
}

/// The message a receipt's `Content` (`{"messageId": "…"}`) names.
pub fn receipt_target(content: Option<&str>) -> AwsResult<EventId> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Target {
        message_id: String,
    }
    let content = content.ok_or_else(|| AwsError::validation("Content is required for a receipt"))?;
    let t: Target = serde_json::from_str(content)
        .map_err(|_| AwsError::validation("Content of a receipt must be {\"messageId\": \"…\"}"))?;
    EventId::parse(&t.message_id)
        .map_err(|_| AwsError::validation(format!("messageId `{}` names no message of this chat", t.message_id)))
}

/// ChatJS sends every read receipt with the same `ClientToken`
/// (`INCOMING_READ_RECEIPT`), so the token alone would make the second
/// receipt a retry of the first: a receipt's idempotency key is its token
/// and the message it is for (hashed when that is too long to store).
fn receipt_token(token: &str, message: EventId) -> String {
    let key = format!("{token}:{message}");
    if key.len() <= ClientToken::MAX_LEN {
        return key;
    }
    switchboard_core::token::SecretHash::of(&key).as_str().to_owned()
}

/// POST /participant/event (`SendEvent`): typing, delivered and read
/// receipts, and the connection acknowledgement.
pub async fn send_event(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<SendEventRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    let (caller, conversation) = (&me.caller, me.conversation());
    let Some(ct) = req.content_type.as_deref() else {
        return Err(AwsError::validation("ContentType is required"));
    };
    let receipt = match ct {
        items::TYPING => {
            s.engine.typing(caller, conversation, None).await?;
            None
        }
        items::CONNECTION_ACKNOWLEDGED => {
            // The connection is the socket itself; nothing is logged.
            s.engine.conversation(caller, conversation).await?;
            None
        }
        items::DELIVERED => Some(Receipt::Delivered),
        items::READ => Some(Receipt::Read),
        other => {
            return Err(AwsError::validation(format!(
                "ContentType `{other}` cannot be sent; use typing, message.delivered, message.read or connection.acknowledged"
            )));
        }
    };
    let Some(receipt) = receipt else {
        let now = s.engine.now();
        return Ok(Json(json!({"Id": EventId::new().to_string(), "AbsoluteTime": now.to_rfc3339()})));
    };
    let target = receipt_target(req.content.as_deref())?;
    let token = client_token(req.client_token.as_deref().map(|t| receipt_token(t, target)).as_deref())?;
    let e = s.engine.send_receipt(caller, conversation, receipt, target, token).await?;
    Ok(Json(json!({"Id": e.id.to_string(), "AbsoluteTime": e.at.to_rfc3339()})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisconnectRequest {
    pub client_token: Option<String>,
}

/// POST /participant/disconnect (`DisconnectParticipant`). The participant
/// leaves; a customer leaving ends the chat, as in the service, and the
/// `chat.ended` item tells ChatJS to close its socket. Saying it twice is
/// not an error.
pub async fn disconnect(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<DisconnectRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    client_token(req.client_token.as_deref())?;
    let (caller, p) = (&me.caller, &me.participant);
    let conversation = s.engine.conversation(caller, p.conversation_id).await?;
    if conversation.state == ConversationState::Ended || !p.is_active() {
        return Ok(Json(json!({})));
    }
    let left = s.engine.remove_participant(caller, p.conversation_id, p.id).await;
    match left {
        Ok(_) => {}
        Err(e) if is_already_over(&e) => return Ok(Json(json!({}))),
        Err(e) => return Err(e.into()),
    }
    if p.role == switchboard_core::model::Role::Customer {
        let system = Caller::Admin { workspace: conversation.workspace_id };
        match s.engine.end_conversation(&system, p.conversation_id).await {
            Ok(_) => {}
            Err(e) if is_already_over(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(json!({})))
}

/// A race with another ending: the outcome asked for holds anyway.
fn is_already_over(e: &Error) -> bool {
    matches!(e.code, switchboard_core::ErrorCode::ConversationEnded | switchboard_core::ErrorCode::ParticipantLeft)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartUploadRequest {
    pub content_type: Option<String>,
    pub attachment_size_in_bytes: Option<i64>,
    pub attachment_name: Option<String>,
    pub client_token: Option<String>,
}

/// POST /participant/start-attachment-upload: the upload URL is the
/// server's own signed upload link (a `PUT` with the bytes).
pub async fn start_attachment_upload(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<StartUploadRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    client_token(req.client_token.as_deref())?;
    let name = req.attachment_name.ok_or_else(|| AwsError::validation("AttachmentName is required"))?;
    let content_type = req.content_type.ok_or_else(|| AwsError::validation("ContentType is required"))?;
    let size = req.attachment_size_in_bytes.ok_or_else(|| AwsError::validation("AttachmentSizeInBytes is required"))?;
    let size = u64::try_from(size)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AwsError::validation("AttachmentSizeInBytes must be at least 1"))?;
    let upload = NewUpload { name, content_type, size, request_id: None };
    let (a, link) = s.engine.start_upload(&me.caller, me.conversation(), upload).await?;
    Ok(Json(json!({
        "AttachmentId": a.id.to_string(),
        "UploadMetadata": {
            "Url": link.url(&s.public_url),
            "UrlExpiry": link.expires.to_rfc3339(),
            "HeadersToInclude": {"Content-Type": a.declared_type},
        },
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteUploadRequest {
    pub attachment_ids: Option<Vec<String>>,
    pub client_token: Option<String>,
}

fn attachment_id(s: &str) -> AwsResult<AttachmentId> {
    AttachmentId::parse(s).map_err(|_| AwsError::validation(format!("`{s}` is not an attachment id")))
}

/// POST /participant/complete-attachment-upload
pub async fn complete_attachment_upload(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<CompleteUploadRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    client_token(req.client_token.as_deref())?;
    let ids = req.attachment_ids.unwrap_or_default();
    if ids.is_empty() || ids.len() > 1 {
        return Err(AwsError::validation("AttachmentIds must hold exactly one id"));
    }
    let id = attachment_id(&ids[0])?;
    s.engine.complete_upload(&me.caller, me.conversation(), id).await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAttachmentRequest {
    pub attachment_id: Option<String>,
    pub url_expiry_in_seconds: Option<i64>,
}

/// POST /participant/attachment (`GetAttachment`): a signed download link.
pub async fn get_attachment(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<GetAttachmentRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    let id =
        attachment_id(req.attachment_id.as_deref().ok_or_else(|| AwsError::validation("AttachmentId is required"))?)?;
    if let Some(n) = req.url_expiry_in_seconds
        && !(5..=300).contains(&n)
    {
        return Err(AwsError::validation("UrlExpiryInSeconds must be between 5 and 300"));
    }
    let access = s.engine.attachment(&me.caller, me.conversation(), id).await?;
    let link = access
        .download
        .ok_or_else(|| AwsError::validation("the attachment cannot be downloaded (not yet scanned, or rejected)"))?;
    let size = access.attachment.stored.as_ref().map_or(access.attachment.declared_size, |st| st.size);
    Ok(Json(json!({
        "Url": link.url(&s.public_url),
        "UrlExpiry": link.expires.to_rfc3339(),
        "AttachmentSizeInBytes": size,
    })))
}

/// GET /participant/views/{ViewToken} (`DescribeView`): a form of this
/// chat, addressed to the caller's side, as a view (see [`views`]).
pub async fn describe_view(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    Path(view_token): Path<String>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    let unknown = || AwsError::not_found("VIEW", format!("no view `{view_token}` in this chat"));
    let id = FormId::parse(&view_token).map_err(|_| unknown())?;
    let form = s.engine.store().form(id).await?.ok_or_else(unknown)?;
    if form.conversation_id != me.conversation() || form.to != views::side_of(me.participant.role) {
        return Err(unknown());
    }
    Ok(Json(json!({"View": views::view(form.id, &form.spec)})))
}
