//! The WebSocket ChatJS speaks (`GET /connect/ws?t=TICKET`; the URL comes
//! from `CreateParticipantConnection`).
//!
//! Client frames: `aws/subscribe` (topics `["aws/chat"]`), `aws/heartbeat`
//! and the deep heartbeat `aws/ping`; each is answered in kind. Server
//! frames: `aws/chat` with one item, as a JSON string, in `content`.
//!
//! The socket's cursor starts where the log ended when its URL was issued
//! (ChatJS's `connect()` resolves before the socket is up; nothing said in
//! between is lost): what came before is the transcript's to tell (ChatJS
//! reads it after a reconnect).
//! From there each committed event is delivered once, in order, from the
//! notice when it continues the cursor and from the store when there is a
//! gap; silent monitors and agent-side forms are screened as on the native
//! streams. Two sockets of one participant (ChatJS overlaps them while it
//! renews its connection) are independent readers: each gets every item once.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::bus::Notice;
use switchboard_core::engine::Caller;
use switchboard_core::event::{Event, EventKind, Screen};
use switchboard_core::model::{ConversationState, Participant};
use switchboard_core::store::EventRange;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::ConnectState;
use crate::auth::{self, Purpose};
use crate::error::{AwsError, AwsResult};
use crate::items::{self, Roster};

/// ChatJS sends a heartbeat every 10 s; three missed and the peer is gone.
const SILENCE: Duration = Duration::from_secs(30);
/// How long a write may take before the peer counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After `chat.ended` the client closes; it is given this long to.
const END_LINGER: Duration = Duration::from_secs(5);
/// Largest frame a client may send (its frames are a few dozen bytes).
const MAX_FRAME: usize = 16 * 1024;
const CATCH_UP_PAGE: u32 = 500;

#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    t: Option<String>,
}

/// GET /connect/ws
pub async fn socket(
    State(s): State<ConnectState>,
    Query(q): Query<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match open(s, q, upgrade).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn open(
    s: ConnectState,
    q: SocketQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> AwsResult<Response> {
    let ticket = q.t.ok_or_else(|| AwsError::access_denied("the WebSocket URL carries no ticket"))?;
    let (p, from) = auth::derived(&s, &ticket, Purpose::WebSocket).await?;
    let upgrade = upgrade.map_err(|r| AwsError::validation(format!("not a WebSocket upgrade: {}", r.body_text())))?;
    let upgrade = upgrade.max_message_size(MAX_FRAME).max_frame_size(MAX_FRAME);
    let tasks = s.tasks.clone();
    Ok(upgrade.on_upgrade(move |mut socket| {
        tasks.track_future(async move {
            match session(&s, p, from, &mut socket).await {
                Ok(code) => close(&mut socket, code).await,
                Err(Stop::Gone(why)) => tracing::debug!(%why, "connect socket closed"),
                Err(Stop::Failed(e)) => {
                    tracing::warn!(error = %e, "connect socket failed");
                    close(&mut socket, close_code::ERROR).await;
                }
            }
        })
    }))
}

#[derive(Debug)]
enum Stop {
    /// The peer went away or could not be written to.
    Gone(String),
    Failed(switchboard_core::Error),
}

impl From<switchboard_core::Error> for Stop {
    fn from(e: switchboard_core::Error) -> Self {
        Self::Failed(e)
    }
}

fn gone(e: impl std::fmt::Display) -> Stop {
    Stop::Gone(e.to_string())
}

async fn close(socket: &mut WebSocket, code: u16) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static("") };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

async fn send(socket: &mut WebSocket, frames: Vec<String>) -> Result<(), Stop> {
    let work = async {
        for f in frames {
            socket.feed(Message::Text(Utf8Bytes::from(f))).await.map_err(gone)?;
        }
        socket.flush().await.map_err(gone)
    };
    tokio::time::timeout(WRITE_TIMEOUT, work).await.map_err(|_| gone("write timed out"))?
}

/// `{"topic":"aws/chat","contentType":"application/json","content":"<the item as a JSON string>"}`,
/// written with one serialization of the item and one escape of it.
fn chat_frame(item: &items::Item) -> String {
    let content = serde_json::to_string(item).unwrap_or_default();
    let quoted = serde_json::to_string(&content).unwrap_or_default();
    format!(r#"{{"topic":"aws/chat","contentType":"application/json","content":{quoted}}}"#)
}

/// What one client frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Subscribe(Vec<String>),
    Heartbeat,
    Ping,
    /// Anything else (answered with the service's topic-less failure frame).
    Unknown(String),
}

/// Reads one client frame. Never panics.
pub fn parse_frame(text: &str) -> ClientFrame {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return ClientFrame::Unknown("the frame is not JSON".into());
    };
    match v.get("topic").and_then(Value::as_str) {
        Some("aws/subscribe") => {
            let topics = v
                .pointer("/content/topics")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            ClientFrame::Subscribe(topics)
        }
        Some("aws/heartbeat") => ClientFrame::Heartbeat,
        Some("aws/ping") => ClientFrame::Ping,
        Some(other) => ClientFrame::Unknown(format!("unknown topic `{other}`")),
        None => ClientFrame::Unknown("the frame has no topic".into()),
    }
}

/// The answer to one client frame, and whether it subscribed to the chat.
pub fn answer(frame: &ClientFrame) -> (String, bool) {
    match frame {
        ClientFrame::Subscribe(topics) => {
            let chat = topics.iter().any(|t| t == "aws/chat");
            let status = if chat { "success" } else { "failure" };
            (json!({"topic": "aws/subscribe", "content": {"status": status, "topics": topics}}).to_string(), chat)
        }
        ClientFrame::Heartbeat => (json!({"topic": "aws/heartbeat"}).to_string(), false),
        ClientFrame::Ping => {
            (json!({"topic": "aws/ping", "statusCode": 200, "statusContent": "OK"}).to_string(), false)
        }
        ClientFrame::Unknown(why) => {
            let id = crate::request_id();
            let id = id.to_str().unwrap_or_default();
            (json!({"message": "Forbidden", "reason": why, "connectionId": id, "requestId": id}).to_string(), false)
        }
    }
}

/// The delivery state of one socket.
struct Feed {
    participant: Participant,
    cursor: i64,
    subscribed: bool,
    ended: bool,
    screen: Screen,
    roster: Roster,
}

impl Feed {
    fn frames(&mut self, events: &[Event]) -> Vec<String> {
        let mut out = Vec::new();
        for e in events {
            if e.seq <= self.cursor {
                continue;
            }
            self.cursor = e.seq;
            self.roster.learn(e);
            self.ended |= matches!(e.kind, EventKind::ConversationEnded { .. });
            if self.screen.admit(e)
                && let Some(item) = items::item(e, &self.roster, true)
            {
                out.push(chat_frame(&item));
            }
        }
        out
    }

    async fn deliver(&mut self, socket: &mut WebSocket, events: &[Event]) -> Result<(), Stop> {
        if !self.subscribed {
            return Ok(());
        }
        let frames = self.frames(events);
        if frames.is_empty() { Ok(()) } else { send(socket, frames).await }
    }

    async fn catch_up(&mut self, s: &ConnectState, socket: &mut WebSocket) -> Result<(), Stop> {
        if !self.subscribed {
            return Ok(());
        }
        loop {
            let range = EventRange::after(self.cursor, CATCH_UP_PAGE);
            let page = s.engine.store().events(self.participant.conversation_id, range).await?;
            self.deliver(socket, &page).await?;
            if (page.len() as u32) < CATCH_UP_PAGE {
                return Ok(());
            }
        }
    }

    async fn on_notice(&mut self, s: &ConnectState, socket: &mut WebSocket, n: Notice) -> Result<(), Stop> {
        match n {
            Notice::Committed { last_seq, .. } if last_seq <= self.cursor => Ok(()),
            Notice::Committed { events, .. } if events.first().is_some_and(|e| e.seq <= self.cursor + 1) => {
                self.deliver(socket, &events).await
            }
            Notice::Committed { .. } => self.catch_up(s, socket).await,
            Notice::Typing { participant, .. }
                if self.subscribed && participant != self.participant.id && !self.screen.hides(participant) =>
            {
                let now = s.engine.now().millis();
                let item = items::typing(self.participant.conversation_id, participant, &self.roster, now);
                send(socket, vec![chat_frame(&item)]).await
            }
            Notice::Erased { .. } => {
                self.ended = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Runs one socket; the close code to end it with.
async fn session(s: &ConnectState, p: Participant, from: i64, socket: &mut WebSocket) -> Result<u16, Stop> {
    // Subscribe before reading, so nothing committed in between is missed.
    let mut notices = s.engine.subscribe(p.conversation_id);
    let caller = Caller::Participant(p.clone());
    let conversation = s.engine.conversation(&caller, p.conversation_id).await?;
    if conversation.state == ConversationState::Ended {
        return Ok(close_code::NORMAL);
    }
    let screen = s.engine.screen_for(&caller, p.conversation_id).await?;
    let roster = Roster::new(&s.engine.store().participants(p.conversation_id).await?);
    let mut feed = Feed {
        participant: p,
        cursor: from.min(conversation.last_seq),
        subscribed: false,
        ended: false,
        screen,
        roster,
    };
    let mut last_heard = Instant::now();
    let mut ended_at: Option<Instant> = None;
    loop {
        if feed.ended && ended_at.is_none() {
            ended_at = Some(Instant::now());
        }
        let deadline = match ended_at {
            Some(t) => t + END_LINGER,
            None => last_heard + SILENCE,
        };
        tokio::select! {
            () = s.shutdown.cancelled() => return Ok(close_code::AWAY),
            () = tokio::time::sleep_until(deadline) => {
                return if ended_at.is_some() { Ok(close_code::NORMAL) } else { Err(gone("no heartbeat")) };
            }
            incoming = socket.recv() => {
                last_heard = Instant::now();
                let text = match incoming {
                    None | Some(Ok(Message::Close(_))) => return Err(gone("closed by the client")),
                    Some(Err(e)) => return Err(gone(e)),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                };
                let frame = parse_frame(text.as_str());
                let (reply, subscribes) = answer(&frame);
                send(socket, vec![reply]).await?;
                if subscribes && !feed.subscribed {
                    feed.subscribed = true;
                    // What came between the socket opening and the subscription.
                    feed.catch_up(s, socket).await?;
                }
            }
            notice = notices.recv(), if !feed.ended => match notice {
                Ok(n) => feed.on_notice(s, socket, n).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => feed.catch_up(s, socket).await?,
                Err(broadcast::error::RecvError::Closed) => return Ok(close_code::AWAY),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_client_frames_chatjs_sends_are_answered_as_the_service_does() {
        let sub = parse_frame(r#"{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}"#);
        assert_eq!(sub, ClientFrame::Subscribe(vec!["aws/chat".into()]));
        let (reply, subscribes) = answer(&sub);
        assert!(subscribes);
        assert_eq!(
            serde_json::from_str::<Value>(&reply).unwrap(),
            json!({"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}})
        );
        let (reply, _) = answer(&parse_frame(r#"{"topic":"aws/heartbeat"}"#));
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap(), json!({"topic":"aws/heartbeat"}));
        let (reply, _) = answer(&parse_frame(r#"{"topic":"aws/ping"}"#));
        assert_eq!(
            serde_json::from_str::<Value>(&reply).unwrap(),
            json!({"topic":"aws/ping","statusCode":200,"statusContent":"OK"})
        );
        let (reply, subscribes) = answer(&parse_frame(r#"{"topic":"aws/subscribe","content":{"topics":["x"]}}"#));
        assert!(!subscribes);
        assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["content"]["status"], "failure");
        let (reply, _) = answer(&parse_frame("not json"));
        let v: Value = serde_json::from_str(&reply).unwrap();
        assert!(v.get("topic").is_none(), "a failure frame has no topic: {v}");
        assert_eq!(v["message"], "Forbidden");
    }

    proptest! {
        #[test]
        fn no_frame_panics_the_reader(text in ".{0,300}") {
            let _ = answer(&parse_frame(&text));
        }
    }
}
