//! `StartChatContact` (`PUT /contact/chat`): a customer chat started by a
//! back end holding a workspace access key, signed with SigV4.
//!
//! The signature is checked first ([`crate::sigv4`], against the key's
//! secret from `Engine::signing_key`); then the body is read (restJson1,
//! unknown fields ignored, each bad field a 400 naming it); then the chat
//! starts on the entry point named by `ContactFlowId`, in the key's
//! workspace (`InstanceId`), as the engine's persistent chat when
//! `PersistentChat` is given. `ClientToken` makes the call idempotent across
//! nodes and restarts (`Engine::start_chat_once`): a repeat answers the
//! same contact and customer with a freshly issued participant token, and a
//! repeat while the first is still starting is a `ThrottlingException`
//! (which the SDKs retry). The answer's `ParticipantToken` is the
//! customer's native participant token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use switchboard_core::ErrorCode;
use switchboard_core::engine::start_tokens::ServerStart;
use switchboard_core::engine::{Caller, StartChat};
use switchboard_core::event::ContentType;
use switchboard_core::ids::{AccessKeyId, ConversationId, EntryPointId, WorkspaceId};
use switchboard_core::model::{Attributes, Conversation, Rehydration};

use crate::ConnectState;
use crate::error::{AwsError, AwsResult, Service};
use crate::sigv4::{self, Authorization, SigError};

/// Content types a chat may be said to support; `text/plain` must be one.
const MESSAGING_TYPES: [&str; 5] = [
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive",
    "application/vnd.amazonaws.connect.message.interactive.response",
];
/// Longest display name, and initial message, in characters (AWS's limits).
const MAX_DISPLAY_NAME: usize = 256;
const MAX_INITIAL_MESSAGE: usize = 1024;
/// `ChatDurationInMinutes`: from one hour to seven days; 25 hours when not
/// given, as in the service.
const CHAT_MINUTES: std::ops::RangeInclusive<i64> = 60..=10080;
const DEFAULT_CHAT_MINUTES: u32 = 1500;

/// PUT /contact/chat
pub async fn start_chat_contact(
    State(state): State<ConnectState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AwsError> {
    let workspace = authenticate(&state, &method, &uri, &headers, &body).await?;
    let caller = Caller::Admin { workspace };
    let req = StartRequest::parse(&body)?;
    if req.instance_id != workspace.to_string() {
        return Err(not_found("INSTANCE", format!("instance {} not found", req.instance_id)));
    }
    let flow_missing = || not_found("CONTACT_FLOW", format!("contact flow {} not found", req.contact_flow_id));
    let entry = EntryPointId::parse(&req.contact_flow_id).map_err(|_| flow_missing())?;
    match state.engine.entry_point(&caller, entry).await {
        Ok(ep) if ep.enabled => {}
        Ok(_) => return Err(flow_missing()),
        Err(e) if e.code == ErrorCode::NotFound => return Err(flow_missing()),
        Err(e) => return Err(control(e)),
    }

    let start = ServerStart {
        chat: StartChat {
            display_name: Some(req.display_name),
            attributes: req.attributes,
            continue_from: req.continue_from,
            max_duration_secs: Some(req.duration_minutes * 60),
            ..StartChat::default()
        },
        client_token: req.client_token,
        initial_message: req.initial_message,
    };
    let started = state.engine.start_chat_once(&caller, entry, start).await.map_err(control)?;
    Ok(answer(&started.conversation, &started.customer.to_string(), started.token.expose()))
}

/// Checks the request's SigV4 signature; the key's workspace.
async fn authenticate(
    state: &ConnectState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> AwsResult<WorkspaceId> {
    let denied = |e: SigError| AwsError::access_denied(e.to_string()).in_control();
    let value = headers.get(header::AUTHORIZATION).ok_or(SigError::Missing).map_err(denied)?;
    let auth = Authorization::parse(value.to_str().map_err(|_| denied(SigError::Missing))?).map_err(denied)?;
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let request = sigv4::Request {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    let now = state.engine.now().millis().div_euclid(1000);
    // The date first: a stale request is refused the same whatever its key.
    sigv4::precheck(&request, &auth, now).map_err(denied)?;
    let unknown = || AwsError::access_denied("unknown or revoked access key id").in_control();
    let id = AccessKeyId::parse(&auth.key_id).map_err(|_| unknown())?;
    let (workspace, secret) = state.engine.signing_key(&id).await.map_err(control)?.ok_or_else(unknown)?;
    let verified = sigv4::verify(&request, &auth, &secret, now).map_err(denied)?;
    tracing::debug!(key = %verified.key_id, region = %verified.region, service = %verified.service, "signed request");
    Ok(workspace)
}

fn answer(c: &Conversation, participant: &str, token: &str) -> Response {
    let mut body = json!({"ContactId": c.id.to_string(), "ParticipantId": participant, "ParticipantToken": token});
    if let Some(previous) = c.previous_conversation_id {
        body["ContinuedFromContactId"] = Value::String(previous.to_string());
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert("x-amzn-requestid", crate::request_id());
    response
}

/// A domain error in the control plane's names, its field named as the
/// request names it.
fn control(mut e: switchboard_core::Error) -> AwsError {
    if let Some(field) = e.field.as_deref() {
        let named = match field {
            "display_name" => "ParticipantDetails.DisplayName",
            "attributes" => "Attributes",
            "content" => "InitialMessage.Content",
            "client_token" => "ClientToken",
            "continue_from.conversation_id" => "PersistentChat.SourceContactId",
            other => other,
        };
        e.field = Some(named.to_owned());
    }
    AwsError::from(e).in_control()
}

fn not_found(resource: &'static str, message: String) -> AwsError {
    AwsError::not_found(resource, message).in_control()
}

fn invalid(field: &str, message: impl std::fmt::Display) -> AwsError {
    AwsError::validation(format!("{field}: {message}")).in_control()
}

/// The request body, read and checked.
#[derive(Debug)]
struct StartRequest {
    instance_id: String,
    contact_flow_id: String,
    display_name: String,
    attributes: Attributes,
    initial_message: Option<(ContentType, String)>,
    client_token: Option<String>,
    continue_from: Option<switchboard_core::engine::persistent::ContinueFrom>,
    /// `ChatDurationInMinutes`, or the service's default.
    duration_minutes: u32,
}

impl StartRequest {
    fn parse(body: &[u8]) -> AwsResult<Self> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            AwsError::new(
                Service::Control,
                "InvalidRequestException",
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            )
        })?;
        let Value::Object(o) = value else {
            return Err(AwsError::new(
                Service::Control,
                "InvalidRequestException",
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
            ));
        };
        let instance_id = required_string(&o, "InstanceId")?;
        let contact_flow_id = required_string(&o, "ContactFlowId")?;
        let details = match o.get("ParticipantDetails") {
            Some(Value::Object(d)) => d,
            Some(_) => return Err(invalid("ParticipantDetails", "must be an object")),
            None => return Err(invalid("ParticipantDetails", "is required")),
        };
        let display_name = required_string(details, "DisplayName")
            .map_err(|_| invalid("ParticipantDetails.DisplayName", "is required, a string"))?;
        let chars = display_name.chars().count();
        if display_name.trim().is_empty() || chars > MAX_DISPLAY_NAME {
            return Err(invalid("ParticipantDetails.DisplayName", format!("1 to {MAX_DISPLAY_NAME} characters")));
        }
        let attributes = attributes(o.get("Attributes"))?;
        let initial_message = initial_message(o.get("InitialMessage"))?;
        supported_types(o.get("SupportedMessagingContentTypes"))?;
        let duration_minutes = chat_duration(o.get("ChatDurationInMinutes"))?;
        let client_token = client_token(o.get("ClientToken"))?;
        let continue_from = persistent_chat(o.get("PersistentChat"))?;
        Ok(Self {
            instance_id,
            contact_flow_id,
            display_name,
            attributes,
            initial_message,
            client_token,
            continue_from,
            duration_minutes,
        })
    }
}

fn required_string(o: &Map<String, Value>, field: &str) -> AwsResult<String> {
    match o.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(invalid(field, "must not be empty")),
        Some(_) => Err(invalid(field, "must be a string")),
        None => Err(invalid(field, "is required")),
    }
}

fn optional(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// `Attributes`: a map of strings, kept as the conversation's attributes.
fn attributes(v: Option<&Value>) -> AwsResult<Attributes> {
    let Some(v) = optional(v) else { return Ok(Attributes::new()) };
    let Value::Object(map) = v else { return Err(invalid("Attributes", "must be a map of strings")) };
    for (k, v) in map {
        if k.is_empty() || k.len() > 32767 {
            return Err(invalid("Attributes", "keys are 1 to 32767 characters"));
        }
        if !v.is_string() {
            return Err(invalid(&format!("Attributes.{k}"), "must be a string"));
        }
    }
    Ok(map.clone())
}

/// `InitialMessage {ContentType, Content}`: the customer's first message.
fn initial_message(v: Option<&Value>) -> AwsResult<Option<(ContentType, String)>> {
    let Some(v) = optional(v) else { return Ok(None) };
    let Value::Object(m) = v else { return Err(invalid("InitialMessage", "must be an object")) };
    let content_type =
        required_string(m, "ContentType").map_err(|_| invalid("InitialMessage.ContentType", "is required"))?;
    let content_type = ContentType::parse(&content_type).ok_or_else(|| {
        invalid("InitialMessage.ContentType", "must be text/plain, text/markdown or application/json")
    })?;
    let content = required_string(m, "Content").map_err(|_| invalid("InitialMessage.Content", "is required"))?;
    if content.chars().count() > MAX_INITIAL_MESSAGE {
        return Err(invalid("InitialMessage.Content", format!("at most {MAX_INITIAL_MESSAGE} characters")));
    }
    // Checked here too, so that a bad one refuses the start rather than follow it.
    if content_type == ContentType::ApplicationJson
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&content)
    {
        return Err(invalid("InitialMessage.Content", format_args!("is not JSON: {e}")));
    }
    Ok(Some((content_type, content)))
}

fn client_token(v: Option<&Value>) -> AwsResult<Option<String>> {
    match optional(v) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= switchboard_core::engine::start_tokens::MAX_TOKEN_LEN => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(invalid("ClientToken", "must be a string of 1 to 500 characters")),
    }
}

/// `SupportedMessagingContentTypes`: known types, `text/plain` among them.
fn supported_types(v: Option<&Value>) -> AwsResult<()> {
    let Some(v) = optional(v) else { return Ok(()) };
    let field = "SupportedMessagingContentTypes";
    let Value::Array(items) = v else { return Err(invalid(field, "must be a list of content types")) };
    let mut plain = false;
    for item in items {
        let Some(t) = item.as_str().filter(|t| MESSAGING_TYPES.contains(t)) else {
            return Err(invalid(field, format!("each must be one of {}", MESSAGING_TYPES.join(", "))));
        };
        plain |= t == "text/plain";
    }
    if !plain {
        return Err(invalid(field, "must include text/plain"));
    }
    Ok(())
}

/// `ChatDurationInMinutes` (60 to 10080): the chat ends by itself that
/// long after it starts (a stored timer; reason `expired`).
fn chat_duration(v: Option<&Value>) -> AwsResult<u32> {
    let Some(v) = optional(v) else { return Ok(DEFAULT_CHAT_MINUTES) };
    match v.as_i64() {
        Some(m) if CHAT_MINUTES.contains(&m) => Ok(m as u32),
        _ => Err(invalid("ChatDurationInMinutes", "must be a whole number of minutes from 60 to 10080")),
    }
}

/// `PersistentChat {RehydrationType, SourceContactId}`.
fn persistent_chat(v: Option<&Value>) -> AwsResult<Option<switchboard_core::engine::persistent::ContinueFrom>> {
    let Some(v) = optional(v) else { return Ok(None) };
    let Value::Object(m) = v else { return Err(invalid("PersistentChat", "must be an object")) };
    let rehydration = match m.get("RehydrationType").and_then(Value::as_str) {
        Some("ENTIRE_PAST_SESSION") => Rehydration::EntirePastSession,
        Some("FROM_SEGMENT") => Rehydration::FromSegment,
        _ => {
            return Err(invalid("PersistentChat.RehydrationType", "must be ENTIRE_PAST_SESSION or FROM_SEGMENT"));
        }
    };
    let source =
        required_string(m, "SourceContactId").map_err(|_| invalid("PersistentChat.SourceContactId", "is required"))?;
    let conversation = ConversationId::parse(&source)
        .map_err(|_| invalid("PersistentChat.SourceContactId", format!("{source} is not a contact id")))?;
    Ok(Some(switchboard_core::engine::persistent::ContinueFrom { conversation, rehydration }))
}
