//! A conversation's log over HTTP: send messages and events, read pages of
//! the transcript, long-poll for what comes next.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_core::command::ClientToken;
use switchboard_core::engine::persistent::{SegmentCursor, SegmentRange};
use switchboard_core::engine::{Caller, Receipt, SendMessage};
use switchboard_core::event::{ContentType, Event};
use switchboard_core::ids::{ConversationId, EventId, ParticipantId};
use switchboard_core::store::{EventRange, Order};
use switchboard_core::{Error, ErrorCode};

use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{Auth, Json, Query};
use crate::state::AppState;
use crate::wire::{EventDoc, PollResponse, SendEventRequest, SendMessageRequest, TranscriptPage};

pub(crate) fn content_type(v: Option<&str>) -> Result<ContentType, Error> {
    match v {
        None => Ok(ContentType::TextPlain),
        Some(s) => ContentType::parse(s).ok_or_else(|| {
            Error::new(
                ErrorCode::UnsupportedMediaType,
                "content_type must be text/plain, text/markdown or application/json",
            )
            .with_field("content_type")
        }),
    }
}

pub(crate) fn client_token(v: Option<&str>) -> Result<Option<ClientToken>, Error> {
    v.map(ClientToken::parse).transpose()
}

pub(crate) fn message_id(v: Option<&str>) -> Result<EventId, Error> {
    let v = v.ok_or_else(|| Error::invalid("message_id", "is required for receipts"))?;
    EventId::parse(v).map_err(|e| Error::invalid("message_id", e.to_string()))
}

/// POST /api/v1/conversations/{id}/messages — sends a message. Answers once
/// the message is durable, with its event (seq, id, time).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendMessageRequest,
    responses((status = 201, body = EventDoc), (status = 409, description = "conversation ended or participant left", body = ErrorResponse),
        (status = 413, body = ErrorResponse), (status = 415, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
pub async fn send_message(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<SendMessageRequest>,
) -> ApiResult<(StatusCode, axum::Json<Event>)> {
    let as_participant = req
        .as_participant
        .as_deref()
        .map(ParticipantId::parse)
        .transpose()
        .map_err(|e| Error::invalid("as_participant", e.to_string()))?;
    let msg = SendMessage {
        content_type: content_type(req.content_type.as_deref())?,
        content: req.content,
        client_token: client_token(req.client_token.as_deref())?,
        as_participant,
    };
    let e = s.engine.send_message(&caller, ConversationId::parse(&id)?, msg).await?;
    Ok((StatusCode::CREATED, axum::Json(e)))
}

/// POST /api/v1/conversations/{id}/events — `typing` (not stored; 202),
/// `delivered` or `read` (stored; 201 with the event).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/events", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SendEventRequest,
    responses((status = 201, body = EventDoc), (status = 202, description = "typing sent"), (status = 422, body = ErrorResponse)))]
pub async fn send_event(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(req): Json<SendEventRequest>,
) -> ApiResult<Response> {
    let id = ConversationId::parse(&id)?;
    let receipt = match req.kind.as_str() {
        "typing" => {
            s.engine.typing(&caller, id, req.text.as_deref()).await?;
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        "delivered" => Receipt::Delivered,
        "read" => Receipt::Read,
        _ => return Err(Error::invalid("type", "must be typing, delivered or read").into()),
    };
    let token = client_token(req.client_token.as_deref())?;
    let e = s.engine.send_receipt(&caller, id, receipt, message_id(req.message_id.as_deref())?, token).await?;
    Ok((StatusCode::CREATED, axum::Json(e)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TranscriptQuery {
    /// Only events after this seq.
    after_seq: Option<i64>,
    /// Only events before this seq.
    before_seq: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u32>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    /// `current` (default): this conversation's log. `all`: the earlier
    /// segments of a continued chat too, oldest first, paged with `after`
    /// and `before`.
    segments: Option<String>,
    /// With `segments=all`: only events after this place, `cnv_…:SEQ`.
    after: Option<String>,
    /// With `segments=all`: only events before this place, `cnv_…:SEQ`.
    before: Option<String>,
}

/// GET /api/v1/conversations/{id}/transcript — a page of the log, forwards
/// from `after_seq` or backwards from `before_seq`. With `segments=all`, the
/// history of a continued chat: the events of the chats it carries, oldest
/// segment first, each with its `conversation_id`, paged across segments
/// with `after` / `before` cursors (`cnv_…:SEQ`).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/transcript", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path), TranscriptQuery),
    responses((status = 200, body = TranscriptPage), (status = 400, description = "a cursor that is unreadable or not of this history", body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
pub async fn transcript(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<TranscriptQuery>,
) -> ApiResult<axum::Json<TranscriptPage>> {
    let order = match q.order.as_deref() {
        None | Some("asc") => Order::Ascending,
        Some("desc") => Order::Descending,
        Some(_) => return Err(Error::invalid("order", "must be asc or desc").into()),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, s.engine.limits().page_max);
    let id = ConversationId::parse(&id)?;
    match q.segments.as_deref() {
        None | Some("current") => {}
        Some("all") => return transcript_segments(&s, &caller, id, &q, limit, order).await,
        Some(_) => return Err(Error::invalid("segments", "must be current or all").into()),
    }
    if q.after.is_some() || q.before.is_some() {
        let field = if q.after.is_some() { "after" } else { "before" };
        return Err(Error::malformed("after and before are cursors of segments=all; use after_seq and before_seq")
            .with_field(field)
            .into());
    }
    let range = EventRange { after: q.after_seq, before: q.before_seq, limit, order };
    let mut events = s.engine.transcript(&caller, id, range).await?;
    // Cursors come from the page as read, before silent monitors are hidden.
    let full = events.len() as u32 == limit;
    let last = events.last().map(|e| e.seq);
    let (next_after_seq, next_before_seq) = match order {
        Order::Ascending => (full.then_some(last).flatten(), None),
        Order::Descending => (None, full.then_some(last).flatten()),
    };
    let mut screen = s.engine.screen_for(&caller, id).await?;
    events.retain(|e| screen.admit(e));
    let page =
        TranscriptPage { events, next_after_seq, next_before_seq, segments: None, next_after: None, next_before: None };
    Ok(axum::Json(page))
}

/// The transcript across a continued chat's segments.
async fn transcript_segments(
    s: &AppState,
    caller: &Caller,
    id: ConversationId,
    q: &TranscriptQuery,
    limit: u32,
    order: Order,
) -> ApiResult<axum::Json<TranscriptPage>> {
    if q.after_seq.is_some() || q.before_seq.is_some() {
        let field = if q.after_seq.is_some() { "after_seq" } else { "before_seq" };
        let e = Error::malformed("with segments=all, page with after and before (cnv_…:SEQ)").with_field(field);
        return Err(e.into());
    }
    let after = q.after.as_deref().map(|c| SegmentCursor::parse("after", c)).transpose()?;
    let before = q.before.as_deref().map(|c| SegmentCursor::parse("before", c)).transpose()?;
    let page = s.engine.transcript_segments(caller, id, SegmentRange { after, before, limit, order }).await?;
    let next = page.next.map(|c| c.to_string());
    let (next_after, next_before) = match order {
        Order::Ascending => (next, None),
        Order::Descending => (None, next),
    };
    Ok(axum::Json(TranscriptPage {
        events: page.events,
        next_after_seq: None,
        next_before_seq: None,
        segments: Some(page.segments.iter().map(ToString::to_string).collect()),
        next_after,
        next_before,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PollQuery {
    /// Return events after this seq.
    after_seq: i64,
    /// Seconds to wait for the first event, 0 to 60 (default 30).
    wait: Option<u64>,
    /// Most events to return, 1 to 500 (default 100).
    limit: Option<u32>,
}

/// GET /api/v1/conversations/{id}/poll — long-poll: 200 with the events after
/// `after_seq` as soon as there are any, or 204 after `wait` seconds.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/poll", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path), PollQuery),
    responses((status = 200, body = PollResponse), (status = 204, description = "nothing new in time"), (status = 422, body = ErrorResponse)))]
pub async fn poll(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
) -> ApiResult<Response> {
    let max = s.config.max_poll_wait.as_secs();
    let wait = q.wait.unwrap_or(30.min(max));
    if wait > max {
        return Err(Error::invalid("wait", format!("at most {max} seconds")).into());
    }
    let id = ConversationId::parse(&id)?;
    let limit = q.limit.unwrap_or(100);
    let events = tokio::select! {
        r = s.engine.poll(&caller, id, q.after_seq, limit, Duration::from_secs(wait)) => r?,
        () = s.shutdown.cancelled() => Vec::new(),
    };
    match events.last() {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(last) => {
            // The cursor moves past hidden events too, so they are not polled again.
            let last_seq = last.seq;
            let mut screen = s.engine.screen_for(&caller, id).await?;
            let events = events.into_iter().filter(|e| screen.admit(e)).collect();
            Ok(axum::Json(PollResponse { events, last_seq }).into_response())
        }
    }
}
