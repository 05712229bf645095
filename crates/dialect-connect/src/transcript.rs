//! `GetTranscript` (`POST /participant/transcript`): the chat's items, across
//! the earlier contacts of a persistent chat, scanned from a start position
//! in either direction and returned in either order.
//!
//! The scan is over items (events the service shows); the log's other
//! events are stepped over. `NextToken` is where the scan stopped (contact
//! and seq) with the direction and the contact it was asked about, so a
//! token is only good for the scan that made it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use switchboard_core::clock::Timestamp;
use switchboard_core::engine::persistent::{SegmentCursor, SegmentRange};
use switchboard_core::event::{Event, EventKind};
use switchboard_core::ids::{ConversationId, EventId};
use switchboard_core::store::{EventRange, Order};

use crate::ConnectState;
use crate::auth::{self, AwsJson, Me};
use crate::error::{AwsError, AwsResult};
use crate::items::{self, Item, Roster};

/// Items per page when `MaxResults` is not given, and the most it may be.
const DEFAULT_RESULTS: u32 = 15;
const MAX_RESULTS: u32 = 100;
/// Events read per store page while scanning.
const SCAN_PAGE: u32 = 200;
/// How far past a page's last message its receipts are looked for, and
/// the most events that read may return.
const RECEIPT_WINDOW: i64 = 500;
const RECEIPT_READ_MAX: u32 = 5_000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TranscriptRequest {
    pub contact_id: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub scan_direction: Option<String>,
    pub sort_order: Option<String>,
    pub start_position: Option<StartPosition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartPosition {
    pub id: Option<String>,
    pub absolute_time: Option<String>,
    pub most_recent: Option<i64>,
}

/// Where to start, once read and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The first item (forward) or the last (backward).
    Edge,
    /// This item, included.
    Id(EventId),
    /// The first item at or after this time (forward), or the last at or
    /// before it (backward).
    Time(i64),
    /// The n-th most recent item (0: the most recent).
    MostRecent(u32),
    /// Just past this position (a `NextToken`).
    After(SegmentCursor),
}

/// A `GetTranscript` request, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub limit: u32,
    /// Scanning toward newer items.
    pub forward: bool,
    pub ascending: bool,
    pub start: Start,
    /// `ContactId`: only this contact of the chain (else the whole chain,
    /// as its rehydration says).
    pub only: Option<ConversationId>,
}

/// Reads and checks a request (the contact it names is checked against the
/// caller's chain later). Never panics.
pub fn read(req: &TranscriptRequest, contact: ConversationId) -> AwsResult<Query> {
    let only = match &req.contact_id {
        None => None,
        Some(c) => Some(
            ConversationId::parse(c)
                .map_err(|_| AwsError::validation(format!("ContactId `{c}` is not a contact id")))?,
        ),
    };
    // A token is good for the scan over the same contacts only.
    let contact = only.unwrap_or(contact);
    let limit = match req.max_results {
        None => DEFAULT_RESULTS,
        Some(n) if (0..=i64::from(MAX_RESULTS)).contains(&n) => n as u32,
        Some(_) => return Err(AwsError::validation(format!("MaxResults must be between 0 and {MAX_RESULTS}"))),
    };
    let forward = match req.scan_direction.as_deref() {
        None | Some("BACKWARD") => false,
        Some("FORWARD") => true,
        Some(other) => return Err(AwsError::validation(format!("ScanDirection `{other}` is not FORWARD or BACKWARD"))),
    };
    let ascending = match req.sort_order.as_deref() {
        None | Some("ASCENDING") => true,
        Some("DESCENDING") => false,
        Some(other) => return Err(AwsError::validation(format!("SortOrder `{other}` is not ASCENDING or DESCENDING"))),
    };
    let start = match (&req.next_token, &req.start_position) {
        (Some(token), _) => Start::After(read_token(token, forward, contact)?),
        (None, None) => Start::Edge,
        (None, Some(p)) => match (&p.id, &p.absolute_time, p.most_recent) {
            (None, None, None) => Start::Edge,
            (Some(id), None, None) => Start::Id(
                EventId::parse(id)
                    .map_err(|_| AwsError::validation(format!("StartPosition.Id `{id}` is not an item id")))?,
            ),
            (None, Some(t), None) => Start::Time(
                Timestamp::parse_rfc3339(t)
                    .ok_or_else(|| {
                        AwsError::validation(format!("StartPosition.AbsoluteTime `{t}` is not an ISO 8601 time"))
                    })?
                    .millis(),
            ),
            (None, None, Some(n)) if (0..=100).contains(&n) => Start::MostRecent(n as u32),
            (None, None, Some(_)) => {
                return Err(AwsError::validation("StartPosition.MostRecent must be between 0 and 100"));
            }
            _ => return Err(AwsError::validation("StartPosition takes one of Id, AbsoluteTime and MostRecent")),
        },
    };
    Ok(Query { limit, forward, ascending, start, only })
}

/// `v1.F|B.CONTACT.SEGMENT:SEQ`, base64url.
fn write_token(at: &SegmentCursor, forward: bool, contact: ConversationId) -> String {
    let dir = if forward { 'F' } else { 'B' };
    URL_SAFE_NO_PAD.encode(format!("v1.{dir}.{contact}.{}:{}", at.conversation, at.seq))
}

fn read_token(token: &str, forward: bool, contact: ConversationId) -> AwsResult<SegmentCursor> {
    let bad = || AwsError::validation("NextToken is not valid for this request");
    let text = URL_SAFE_NO_PAD.decode(token.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    let mut parts = text.splitn(4, '.');
    let (Some("v1"), Some(dir), Some(of), Some(at)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if dir != if forward { "F" } else { "B" } || of != contact.to_string() {
        return Err(bad());
    }
    SegmentCursor::parse("NextToken", at).map_err(|_| bad())
}

/// POST /participant/transcript
pub async fn get_transcript(
    State(s): State<ConnectState>,
    headers: HeaderMap,
    AwsJson(req): AwsJson<TranscriptRequest>,
) -> AwsResult<Json<Value>> {
    let me = auth::connection(&s, &headers).await?;
    let contact = me.conversation();
    let q = read(&req, contact)?;
    if let Some(asked) = q.only
        && asked != contact
        && !history(&s, &me).await?.contains(&asked)
    {
        return Err(AwsError::not_found("CONTACT", format!("contact `{asked}` is not part of this chat")));
    }
    let page = scan(&s, &me, &q).await?;
    let mut out = serde_json::Map::new();
    out.insert("InitialContactId".into(), Value::String(contact.to_string()));
    out.insert("Transcript".into(), serde_json::to_value(&page.items).unwrap_or_default());
    if let Some(at) = page.next {
        out.insert("NextToken".into(), Value::String(write_token(&at, q.forward, q.only.unwrap_or(contact))));
    }
    Ok(Json(Value::Object(out)))
}

async fn history(s: &ConnectState, me: &Me) -> AwsResult<Vec<ConversationId>> {
    let range = SegmentRange { after: None, before: None, limit: 1, order: Order::Ascending };
    Ok(s.engine.transcript_segments(&me.caller, me.conversation(), range).await?.segments)
}

/// A page of items and where the scan stopped, when there may be more.
#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<SegmentCursor>,
}

/// Walks the history from `from` (exclusive) in one direction, a store page
/// at a time, handing each shown event to `take` until it says stop.
/// Returns where the walk stopped when events may remain.
async fn walk(
    s: &ConnectState,
    me: &Me,
    (forward, only): (bool, Option<ConversationId>),
    mut from: Option<SegmentCursor>,
    mut take: impl FnMut(&Event) -> bool,
) -> AwsResult<Option<SegmentCursor>> {
    let order = if forward { Order::Ascending } else { Order::Descending };
    loop {
        let range = if forward {
            SegmentRange { after: from, before: None, limit: SCAN_PAGE, order }
        } else {
            SegmentRange { after: None, before: from, limit: SCAN_PAGE, order }
        };
        let page = s.engine.transcript_segments(&me.caller, me.conversation(), range).await?;
        for e in &page.events {
            if !items::in_transcript(e) || only.is_some_and(|c| c != e.conversation_id) {
                continue;
            }
            if !take(e) {
                return Ok(Some(SegmentCursor { conversation: e.conversation_id, seq: e.seq }));
            }
        }
        match page.next {
            Some(next) => from = Some(next),
            None => return Ok(None),
        }
    }
}

/// Where a scan begins.
enum Placed {
    /// A walk from here (exclusive; `None`: the edge) begins with the start item.
    From(Option<SegmentCursor>),
    /// No item is on the scan's side of the start.
    Nothing,
}

/// Finds the position just outside the start item.
async fn place(s: &ConnectState, me: &Me, q: &Query) -> AwsResult<Placed> {
    let just_outside = |e: &Event, forward: bool| SegmentCursor {
        conversation: e.conversation_id,
        seq: if forward { e.seq - 1 } else { e.seq + 1 },
    };
    match &q.start {
        Start::Edge => Ok(Placed::From(None)),
        Start::After(at) => Ok(Placed::From(Some(*at))),
        Start::Id(id) => {
            // One probe per contact of the history (by the event-id index).
            let missing = || AwsError::not_found("MESSAGE", format!("no item `{id}` in this chat"));
            let contacts = match q.only {
                Some(c) => vec![c],
                None => history(s, me).await?,
            };
            for contact in contacts {
                let Some(e) = s.engine.store().event(contact, *id).await? else { continue };
                let mut screen = s.engine.screen_for(&me.caller, contact).await?;
                if !items::in_transcript(&e) || !screen.admit(&e) {
                    return Err(missing());
                }
                return Ok(Placed::From(Some(just_outside(&e, q.forward))));
            }
            Err(missing())
        }
        Start::Time(t) => {
            // Forward: the first item at or after t. Backward: the last at or before t.
            let mut found = None;
            walk(s, me, (q.forward, q.only), None, |e| {
                let hit = if q.forward { e.at.millis() >= *t } else { e.at.millis() <= *t };
                if hit {
                    found = Some(just_outside(e, q.forward));
                }
                !hit
            })
            .await?;
            Ok(found.map_or(Placed::Nothing, |at| Placed::From(Some(at))))
        }
        Start::MostRecent(n) => {
            let (mut seen, mut found) = (0u32, None);
            walk(s, me, (false, q.only), None, |e| {
                if seen == *n {
                    found = Some(just_outside(e, q.forward));
                    return false;
                }
                seen += 1;
                true
            })
            .await?;
            // Fewer items than that: start at the oldest.
            Ok(Placed::From(found))
        }
    }
}

async fn scan(s: &ConnectState, me: &Me, q: &Query) -> AwsResult<Page> {
    let from = match place(s, me, q).await? {
        Placed::From(from) => from,
        Placed::Nothing => return Ok(Page::default()),
    };
    if q.limit == 0 {
        return Ok(Page::default());
    }
    let mut events: Vec<Event> = Vec::new();
    let limit = q.limit as usize;
    let stopped = walk(s, me, (q.forward, q.only), from, |e| {
        if events.len() == limit {
            return false;
        }
        events.push(e.clone());
        true
    })
    .await?;
    // Stopped at an item that did not fit: the next page starts after the last taken.
    let next =
        stopped.and_then(|_| events.last().map(|e| SegmentCursor { conversation: e.conversation_id, seq: e.seq }));
    if q.forward != q.ascending {
        events.reverse();
    }
    let items = render(s, &events).await?;
    Ok(Page { items, next })
}

/// The items of `events` (in the given order), with each message's receipts.
async fn render(s: &ConnectState, events: &[Event]) -> AwsResult<Vec<Item>> {
    let mut rosters: Vec<(ConversationId, Roster)> = Vec::new();
    for e in events {
        if !rosters.iter().any(|(c, _)| *c == e.conversation_id) {
            let people = s.engine.store().participants(e.conversation_id).await?;
            rosters.push((e.conversation_id, Roster::new(&people)));
        }
    }
    let receipts = receipts_of(s, events).await?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let Some((_, roster)) = rosters.iter().find(|(c, _)| *c == e.conversation_id) else { continue };
        let Some(mut item) = items::item(e, roster, false) else { continue };
        if matches!(e.kind, EventKind::Message { .. }) {
            let mine: Vec<items::Receipt> =
                receipts.iter().filter(|(m, _)| *m == e.id).map(|(_, r)| r.clone()).collect();
            if !mine.is_empty() {
                item.message_metadata = Some(items::MessageMetadata { message_id: e.id.to_string(), receipts: mine });
            }
        }
        out.push(item);
    }
    Ok(out)
}

/// The receipts for the messages among `events`, from the log after the
/// first of them to [`RECEIPT_WINDOW`] events past the last (receipts
/// follow their message soon; one bounded read per contact).
async fn receipts_of(s: &ConnectState, events: &[Event]) -> AwsResult<Vec<(EventId, items::Receipt)>> {
    let mut out: Vec<(EventId, items::Receipt)> = Vec::new();
    let messages: Vec<&Event> = events.iter().filter(|e| matches!(e.kind, EventKind::Message { .. })).collect();
    let mut contacts: Vec<ConversationId> = messages.iter().map(|e| e.conversation_id).collect();
    contacts.sort();
    contacts.dedup();
    for c in contacts {
        let seqs = messages.iter().filter(|e| e.conversation_id == c).map(|e| e.seq);
        let (first, last) = seqs.fold((i64::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
        let window = EventRange {
            after: Some(first),
            before: Some(last.saturating_add(RECEIPT_WINDOW + 1)),
            limit: RECEIPT_READ_MAX,
            order: Order::Ascending,
        };
        for e in s.engine.store().events(c, window).await? {
            let (EventKind::Delivered { message_id } | EventKind::Read { message_id }) = &e.kind else { continue };
            if !messages.iter().any(|m| m.id == *message_id) {
                continue;
            }
            let reader = e.participant_id.map(|p| p.to_string()).unwrap_or_default();
            let at = Some(e.at.to_rfc3339());
            let known = out.iter().position(|(m, r)| m == message_id && r.recipient_participant_id == reader);
            let i = known.unwrap_or_else(|| {
                let r = items::Receipt { recipient_participant_id: reader, ..Default::default() };
                out.push((*message_id, r));
                out.len() - 1
            });
            if matches!(e.kind, EventKind::Read { .. }) {
                out[i].1.read_timestamp = at;
            } else {
                out[i].1.delivered_timestamp = at;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn req(v: Value) -> TranscriptRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_are_fifteen_backward_ascending_from_the_edge() {
        let c = ConversationId::new();
        let q = read(&req(json!({"StartPosition": {}})), c).unwrap();
        assert_eq!(q, Query { limit: 15, forward: false, ascending: true, start: Start::Edge, only: None });
    }

    #[test]
    fn bad_fields_are_named() {
        let c = ConversationId::new();
        for (body, field) in [
            (json!({"MaxResults": 101}), "MaxResults"),
            (json!({"MaxResults": -1}), "MaxResults"),
            (json!({"ScanDirection": "SIDEWAYS"}), "ScanDirection"),
            (json!({"SortOrder": "RANDOM"}), "SortOrder"),
            (json!({"StartPosition": {"Id": "x"}}), "StartPosition.Id"),
            (json!({"StartPosition": {"AbsoluteTime": "noon"}}), "StartPosition.AbsoluteTime"),
            (json!({"StartPosition": {"MostRecent": 101}}), "StartPosition.MostRecent"),
            (json!({"StartPosition": {"MostRecent": 1, "AbsoluteTime": "2026-01-01T00:00:00Z"}}), "StartPosition"),
            (json!({"NextToken": "nope"}), "NextToken"),
        ] {
            let e = read(&req(body.clone()), c).unwrap_err();
            assert_eq!(e.kind, "ValidationException", "{body}");
            assert!(e.message.starts_with(field), "{body}: {}", e.message);
        }
    }

    #[test]
    fn a_next_token_holds_for_its_direction_and_contact_only() {
        let (c, other) = (ConversationId::new(), ConversationId::new());
        let at = SegmentCursor { conversation: c, seq: 42 };
        let token = write_token(&at, true, c);
        let q = read(&req(json!({"NextToken": token, "ScanDirection": "FORWARD"})), c).unwrap();
        assert_eq!(q.start, Start::After(at));
        assert!(read(&req(json!({"NextToken": token, "ScanDirection": "BACKWARD"})), c).is_err());
        assert!(read(&req(json!({"NextToken": token, "ScanDirection": "FORWARD"})), other).is_err());
    }

    proptest! {
        #[test]
        fn no_request_panics_the_reader(
            max in proptest::option::of(any::<i64>()),
            token in proptest::option::of(".{0,80}"),
            dir in proptest::option::of("[A-Z]{0,9}"),
            id in proptest::option::of(".{0,40}"),
            time in proptest::option::of(".{0,40}"),
            recent in proptest::option::of(any::<i64>()),
        ) {
            let r = TranscriptRequest {
                contact_id: None,
                max_results: max,
                next_token: token,
                scan_direction: dir.clone(),
                sort_order: dir,
                start_position: Some(StartPosition { id, absolute_time: time, most_recent: recent }),
            };
            let _ = read(&r, ConversationId::new());
        }
    }
}
