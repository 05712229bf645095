//! GET /api/v1/stream — a participant's WebSocket (protocol: docs/stream.md).
//!
//! One task per socket. It subscribes to the conversation's notices before
//! it reads anything, keeps a cursor (the last seq delivered), and delivers
//! each committed event exactly once in order: from the notice itself when
//! the notice continues the cursor, from the store when there is a gap
//! (resume, lag). Sends are handed to a per-socket worker so that a commit in
//! progress never holds up delivery, while the socket's own frames still
//! commit in the order they arrived; the loop never waits on that worker
//! (see [`crate::intake`]).

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, SinkExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::bus::Notice;
use switchboard_core::engine::{Caller, PendingEvent, Receipt, SendMessage};
use switchboard_core::event::{Event, EventKind, Screen};
use switchboard_core::ids::ConversationId;
use switchboard_core::model::{ConversationState, Participant};
use switchboard_core::store::EventRange;
use switchboard_core::{Error, ErrorCode};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use crate::error::{ApiError, ErrorBody};
use crate::event_frames::{encoded, event_frame};
use crate::extract::{Query, socket_caller};
use crate::intake::{Answer, Command, FLOODING_REASON, Flooding, Intake, Worker, answered, next_answer, ready_answers};
use crate::routes::log::{client_token, content_type, message_id};
use crate::state::AppState;
use crate::wire::{ConversationView, ParticipantView};

/// How long one write to a socket may take before the peer counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the peer's own close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Events read from the store per page while catching up.
const CATCH_UP_PAGE: u32 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    token: Option<String>,
    after_seq: Option<i64>,
    /// Agent sockets: where to resume each conversation, `cnv_…:SEQ,cnv_…:SEQ`.
    after: Option<String>,
}

/// GET /api/v1/stream
#[utoipa::path(get, path = "/api/v1/stream", tag = "stream",
    description = "Upgrades to the participant WebSocket; the protocol is in docs/stream.md.",
    params(("token" = Option<String>, Query, description = "participant token (or send it as a bearer header)"),
           ("after_seq" = Option<i64>, Query, description = "resume: first deliver every event after this seq")),
    responses((status = 101, description = "switching protocols"), (status = 401, body = crate::error::ErrorResponse)))]
pub async fn stream(
    State(s): State<AppState>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match open(s, q, &headers, upgrade).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn open(
    s: AppState,
    q: StreamQuery,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let caller = socket_caller(&s, q.token.as_deref(), headers, "a participant token").await?;
    if let Caller::Agent(agent) = caller {
        return crate::agent_stream::open(s, agent, q.after.as_deref(), upgrade);
    }
    if let Caller::Admin { workspace } = caller {
        return crate::supervisor_stream::open(s, workspace, upgrade);
    }
    if q.after.is_some() {
        return Err(Error::invalid("after", "is for agent sockets; a participant resumes with after_seq").into());
    }
    if !matches!(caller, Caller::Participant(_)) {
        return Err(Error::forbidden("the stream takes a participant or agent token").into());
    }
    if q.after_seq.is_some_and(|n| n < 0) {
        return Err(Error::invalid("after_seq", "must not be negative").into());
    }
    let after_seq = q.after_seq;
    serve_socket(s, upgrade, move |s, socket| session(s, socket, caller, after_seq))
}

/// A participant's socket from the upgrade to the end, as its task runs it:
/// everything is used in place (see [`serve_socket`]).
#[allow(
    clippy::manual_async_fn,
    reason = "an `async fn` moves its arguments into locals and keeps both copies: 640 bytes more per socket"
)]
fn session(
    s: AppState,
    mut socket: WebSocket,
    caller: Caller,
    after_seq: Option<i64>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let result = run(&s, &caller, after_seq, &mut socket).await;
        finish(&s, &mut socket, result).await;
    }
}

/// Upgrades and runs `session` on the socket as a tracked task (shutdown
/// waits for it), counting it while it is open. The session ends with
/// [`finish`].
///
/// Memory: an open socket is one task, and a task keeps room for the
/// largest await point of its future for as long as it lives, idle or not,
/// and for every value it captured, used up or not. So, per socket:
/// - axum's task keeps the upgrade callback's captures to the end: they are
///   one pointer here, unboxed once the socket is up;
/// - `session` should use the socket and its own captures in place (by
///   reference, as `run(&s, &caller, …, &mut socket)` does), never move them
///   into a nested future, or each is kept twice;
/// - what runs once per socket (the greeting, closing, [`finish`]) is boxed,
///   so an idle socket does not keep room for it.
///
/// `stream::tests::an_idle_participant_socket_stays_small` holds the result.
pub(crate) fn serve_socket<F, Fut>(
    s: AppState,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    session: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(AppState, WebSocket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let upgrade = configure(&s, upgrade)?;
    let start = Box::new((s, session));
    Ok(upgrade.on_upgrade(move |socket| {
        let (s, session) = *start;
        let open = OpenGauge::new(&s);
        let tasks = s.tasks.clone();
        // Not an async block: it would keep the moved socket's old slot.
        tasks.track_future(session(s, socket).map(move |()| drop(open)))
    }))
}

/// Ends a socket's session: logs why, and when the server (not the socket)
/// failed, tells the client to come back. Boxed: it runs once per socket.
pub(crate) fn finish<'a>(s: &'a AppState, socket: &'a mut WebSocket, result: Closed) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        match result {
            Ok(()) => {}
            Err(Stop::Socket(why)) => tracing::debug!(%why, "socket closed"),
            Err(Stop::Failed(e)) => {
                let (code, reason) = if s.shutdown.is_cancelled() {
                    (close_code::AWAY, "server shutting down")
                } else {
                    tracing::warn!(error = %e, "stream failed");
                    (close_code::ERROR, "server error; reconnect and resume")
                };
                let _ = close(socket, code, reason).await;
            }
        }
    })
}

/// Checks the upgrade and sets the socket's buffer and frame limits.
fn configure(
    s: &AppState,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    let upgrade = upgrade.map_err(|r| Error::malformed(format!("not a WebSocket upgrade: {}", r.body_text())))?;
    let frame = s.config.max_frame_bytes;
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(frame.max(64 * 1024) * 4)
        .max_message_size(frame)
        .max_frame_size(frame))
}

/// Counts open sockets for as long as it lives.
struct OpenGauge(prometheus_client::metrics::gauge::Gauge);

impl OpenGauge {
    fn new(s: &AppState) -> Self {
        s.metrics.websocket_connections.inc();
        Self(s.metrics.websocket_connections.clone())
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Frames a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Send {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        content_type: Option<String>,
        content: String,
        client_token: Option<String>,
    },
    Receipt {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        receipt: String,
        message_id: String,
    },
    Typing {
        /// The draft so far (customers only; shown to agents).
        #[serde(default)]
        text: Option<String>,
    },
    Ping {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
    DeepHeartbeat {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
}

impl Command for ClientFrame {
    fn is_ping(&self) -> bool {
        matches!(self, Self::Ping { .. })
    }

    fn reference(&self) -> Option<Value> {
        match self {
            Self::Send { reference, .. }
            | Self::Receipt { reference, .. }
            | Self::Ping { reference }
            | Self::DeepHeartbeat { reference } => reference.clone(),
            Self::Typing { .. } => None,
        }
    }
}

/// Reads one client frame; never panics, whatever the input.
pub fn parse_frame(text: &str) -> Result<ClientFrame, Error> {
    serde_json::from_str(text).map_err(|e| Error::malformed(format!("unreadable frame: {e}")))
}

/// Frames the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame<'a> {
    Hello {
        conversation: Box<ConversationView>,
        participant: Box<ParticipantView>,
        last_seq: i64,
        heartbeat_secs: u64,
    },
    Event {
        event: crate::markdown::WireEvent<'a>,
    },
    Typing {
        participant_id: String,
    },
    /// A waiting chat's place in line (1: next); not logged.
    QueuePosition {
        position: u32,
        estimated_wait_secs: Option<u32>,
    },
    Ack {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        seq: i64,
        id: String,
        at: String,
    },
    Error {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        error: ErrorBody,
    },
    Pong {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
    DeepHeartbeat {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        status: &'static str,
    },
}

pub(crate) fn text(frame: &ServerFrame<'_>) -> Message {
    Message::Text(Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default()))
}

/// Why a socket's task ended early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The peer went away or could not be written to.
    Socket(String),
    /// The server could not go on with this socket.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

pub(crate) type Closed = Result<(), Stop>;

pub(crate) fn gone(e: impl std::fmt::Display) -> Stop {
    Stop::Socket(e.to_string())
}

/// Writes frames and flushes them once, within the write timeout.
pub(crate) async fn write(socket: &mut WebSocket, frames: Vec<Message>) -> Closed {
    let work = async {
        for m in frames {
            socket.feed(m).await.map_err(gone)?;
        }
        socket.flush().await.map_err(gone)
    };
    tokio::time::timeout(WRITE_TIMEOUT, work).await.map_err(|_| gone("write timed out"))?
}

/// Writes one frame, as [`write`] does, in a boxed future: for the socket
/// loops, whose idle tasks would otherwise keep room for a write.
pub(crate) fn write_one(socket: &mut WebSocket, frame: Message) -> BoxFuture<'_, Closed> {
    Box::pin(write(socket, vec![frame]))
}

/// The delivery state of one socket.
struct Feed {
    /// The last seq delivered.
    cursor: i64,
    /// Set once `conversation.ended` went out, or the chat was erased.
    ended: bool,
    /// The chat was erased: nothing more will come, and its log is gone.
    erased: bool,
    /// What this reader does not see (silent monitors).
    screen: Screen,
}

impl Feed {
    /// Adds the frames of `events` past the cursor to `out`, in order;
    /// `encoded` holds them already made, one per event (from a notice).
    fn take(&mut self, events: &[Event], encoded: Option<&[Utf8Bytes]>, out: &mut Vec<Message>) {
        let from = self.cursor;
        for (i, e) in events.iter().enumerate().filter(|(_, e)| e.seq > from) {
            if self.screen.admit(e) {
                out.push(event_frame(e, encoded.and_then(|f| f.get(i))));
            }
            self.cursor = e.seq;
            self.ended |= matches!(e.kind, EventKind::ConversationEnded { .. });
        }
    }

    /// Reads from the store everything after the cursor and delivers it,
    /// then `after` (answers due on the socket) with the last page.
    async fn catch_up(&mut self, s: &AppState, socket: &mut WebSocket, p: &Participant, after: Vec<Message>) -> Closed {
        let mut out = Vec::new();
        loop {
            let page =
                s.engine.store().events(p.conversation_id, EventRange::after(self.cursor, CATCH_UP_PAGE)).await?;
            self.take(&page, None, &mut out);
            let last = (page.len() as u32) < CATCH_UP_PAGE;
            if last {
                out.extend(after);
                return flush(socket, out).await;
            }
            flush(socket, std::mem::take(&mut out)).await?;
        }
    }

    /// Delivers what a notice brings, then `after` (answers due on the
    /// socket), in one write.
    async fn on_notice(
        &mut self,
        s: &AppState,
        socket: &mut WebSocket,
        p: &Participant,
        n: Notice,
        after: Vec<Message>,
    ) -> Closed {
        let mut out = Vec::new();
        match n {
            Notice::Committed { last_seq, .. } if last_seq <= self.cursor => {}
            Notice::Committed { events, .. } if events.first().is_some_and(|e| e.seq <= self.cursor + 1) => {
                self.take(&events, encoded(&events), &mut out);
            }
            Notice::Committed { .. } => return self.catch_up(s, socket, p, after).await,
            Notice::Typing { participant, .. } if participant != p.id => {
                out.push(text(&ServerFrame::Typing { participant_id: participant.to_string() }));
            }
            Notice::QueuePosition { position, estimated_wait_secs, .. } => {
                out.push(text(&ServerFrame::QueuePosition { position, estimated_wait_secs }));
            }
            Notice::Erased { .. } => (self.ended, self.erased) = (true, true),
            // Agent and routing notices travel on other topics.
            Notice::Typing { .. }
            | Notice::Agent { .. }
            | Notice::Routing { .. }
            | Notice::Breach { .. }
            | Notice::Work { .. }
            | Notice::Events { .. } => {}
        }
        out.extend(after);
        flush(socket, out).await
    }
}

/// Writes `frames` in one flush, if there are any.
async fn flush(socket: &mut WebSocket, frames: Vec<Message>) -> Closed {
    if frames.is_empty() { Ok(()) } else { write(socket, frames).await }
}

/// Greets the socket: hello, what it missed, its place in line. `None` when
/// the conversation has already ended (everything delivered).
async fn greet(
    s: &AppState,
    caller: &Caller,
    p: &Participant,
    after_seq: Option<i64>,
    socket: &mut WebSocket,
) -> Result<Option<Feed>, Stop> {
    let conversation = s.engine.conversation(caller, p.conversation_id).await?;
    let last_seq = conversation.last_seq;
    let already_ended = conversation.state == ConversationState::Ended;
    let hello = ServerFrame::Hello {
        conversation: Box::new(conversation.into()),
        participant: Box::new(p.clone().into()),
        last_seq,
        heartbeat_secs: s.config.heartbeat.as_secs(),
    };
    write(socket, vec![text(&hello)]).await?;
    let screen = s.engine.screen_for(caller, p.conversation_id).await?;
    let mut feed = Feed { cursor: after_seq.unwrap_or(last_seq).min(last_seq), ended: false, erased: false, screen };
    feed.catch_up(s, socket, p, Vec::new()).await?;
    if already_ended {
        return Ok(None);
    }
    if let Some(q) = s.engine.queue_position(caller, p.conversation_id).await? {
        let frame = ServerFrame::QueuePosition { position: q.position, estimated_wait_secs: q.estimated_wait_secs };
        write(socket, vec![text(&frame)]).await?;
    }
    Ok(Some(feed))
}

/// A participant's socket. The task of every idle socket keeps room for
/// this future's largest await point: what runs once or rarely is boxed
/// (see [`serve_socket`]).
async fn run(s: &AppState, caller: &Caller, after_seq: Option<i64>, socket: &mut WebSocket) -> Closed {
    let Caller::Participant(p) = caller else {
        return Err(Error::forbidden("the stream takes a participant or agent token").into());
    };
    // Subscribe before reading, so nothing committed in between is missed.
    let mut notices = s.engine.subscribe(p.conversation_id);
    // Boxed, like every await below but the select: this future is kept,
    // with room for its largest await point, for as long as the socket idles.
    let Some(mut feed) = Box::pin(greet(s, caller, p, after_seq, socket)).await? else {
        return close(socket, close_code::NORMAL, "conversation ended").await;
    };

    let heartbeat = s.config.heartbeat;
    let mut intake = Intake::new(s.engine.limits().sends_per_second, 1);
    let mut worker: Option<Worker<ClientFrame>> = None;
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    while !feed.ended {
        tokio::select! {
            () = s.shutdown.cancelled() => {
                return close(socket, close_code::AWAY, "server shutting down").await;
            }
            incoming = socket.recv() => {
                last_heard = Instant::now();
                let read = Box::pin(on_read(s, caller, p.conversation_id, socket, incoming, &mut intake, &mut worker));
                if let Some(end) = read.await {
                    return end;
                }
            }
            // A commit usually makes both a notice and the answer to this
            // socket's send ready at once: they go out in one write.
            notice = notices.recv() => {
                let answers = ready_answers(&mut worker, Vec::new());
                match notice {
                    Ok(n) => Box::pin(feed.on_notice(s, socket, p, n, answers)).await?,
                    Err(RecvError::Lagged(_)) => Box::pin(feed.catch_up(s, socket, p, answers)).await?,
                    Err(RecvError::Closed) => return Box::pin(flush(socket, answers)).await,
                }
            }
            Some(answer) = next_answer(&mut worker) => {
                let answers = ready_answers(&mut worker, vec![answer]);
                match notices.try_recv() {
                    Ok(n) => Box::pin(feed.on_notice(s, socket, p, n, answers)).await?,
                    Err(TryRecvError::Empty) => Box::pin(flush(socket, answers)).await?,
                    Err(TryRecvError::Lagged(_)) => Box::pin(feed.catch_up(s, socket, p, answers)).await?,
                    Err(TryRecvError::Closed) => return Box::pin(flush(socket, answers)).await,
                }
            }
            _ = ticker.tick() => {
                // Silent for more than one and a half intervals at a tick means
                // silent through two pings: dropped at most two intervals after
                // the last sign of life.
                if last_heard.elapsed() > heartbeat * 3 / 2 {
                    return close_now(socket, close_code::POLICY, "no heartbeat").await;
                }
                write_one(socket, Message::Ping(Default::default())).await?;
            }
        }
    }
    // Let the answers to frames already taken go out before closing.
    if let Some(w) = worker {
        let answers = Box::pin(w.finish()).await;
        Box::pin(write(socket, answers)).await?;
    }
    let reason = if feed.erased { "conversation erased" } else { "conversation ended" };
    close(socket, close_code::NORMAL, reason).await
}

/// Handles one read from a participant's socket: a frame is answered at
/// once or handed to the worker. `Some` ends the socket with that result.
async fn on_read(
    s: &AppState,
    caller: &Caller,
    conversation: ConversationId,
    socket: &mut WebSocket,
    incoming: Option<Result<Message, axum::Error>>,
    intake: &mut Intake,
    worker: &mut Option<Worker<ClientFrame>>,
) -> Option<Closed> {
    let t = match inbound(socket, incoming).await {
        Err(e) => return Some(Err(e)),
        Ok(Inbound::End) => return Some(Ok(())),
        Ok(Inbound::Nothing) => return None,
        Ok(Inbound::Text(t)) => t,
    };
    match on_frame(s, caller, conversation, t.as_str(), intake, worker).await {
        Ok(Some(reply)) => write(socket, vec![reply]).await.err().map(Err),
        Ok(None) => None,
        Err(Flooding) => Some(close(socket, close_code::POLICY, FLOODING_REASON).await),
    }
}

/// What a read from the socket amounts to.
pub(crate) enum Inbound {
    Text(Utf8Bytes),
    /// A control frame, or a binary frame already answered with an error.
    Nothing,
    /// The peer closed the socket or sent something unreadable (already answered).
    End,
}

/// Sorts one read from the socket; answers binary frames and unreadable
/// input itself (in boxed futures: rare, and this is awaited on every frame).
pub(crate) async fn inbound(
    socket: &mut WebSocket,
    incoming: Option<Result<Message, axum::Error>>,
) -> Result<Inbound, Stop> {
    match incoming {
        None | Some(Ok(Message::Close(_))) => Ok(Inbound::End),
        Some(Err(e)) => close_on_error(socket, &e).await.map(|()| Inbound::End),
        Some(Ok(Message::Text(t))) => Ok(Inbound::Text(t)),
        Some(Ok(Message::Binary(_))) => {
            let answer = error_frame(None, &Error::new(ErrorCode::UnsupportedMediaType, "frames are JSON text"));
            write_one(socket, answer).await.map(|()| Inbound::Nothing)
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(Inbound::Nothing),
    }
}

// The closing helpers return boxed futures: they run once per socket, and
// an idle socket's task should not keep room for them (see [`serve_socket`]).

/// Sends a close frame, then reads (and drops) what the peer still sends
/// until its own close frame, for at most [`CLOSE_LINGER`]: a peer that is
/// still writing would otherwise get a reset connection instead of our code.
pub(crate) fn close<'a>(socket: &'a mut WebSocket, code: u16, reason: &'static str) -> BoxFuture<'a, Closed> {
    Box::pin(async move {
        close_now(socket, code, reason).await?;
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    return;
                }
            }
        })
        .await;
        Ok(())
    })
}

/// Sends a close frame and lets go: for a peer that has stopped answering.
pub(crate) fn close_now<'a>(socket: &'a mut WebSocket, code: u16, reason: &'static str) -> BoxFuture<'a, Closed> {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    Box::pin(write(socket, vec![Message::Close(Some(frame))]))
}

/// A frame could not be read: say why in the close frame when the socket
/// still takes one. The WebSocket library reports an oversized message only
/// as error text, hence the match on it.
pub(crate) fn close_on_error<'a>(socket: &'a mut WebSocket, e: &axum::Error) -> BoxFuture<'a, Closed> {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        close(socket, close_code::SIZE, "message too big")
    } else {
        close(socket, close_code::PROTOCOL, "unreadable frame")
    }
}

pub(crate) fn error_frame(reference: Option<Value>, e: &Error) -> Message {
    text(&ServerFrame::Error { reference, error: ErrorBody::of(e) })
}

/// Handles one client frame. Pings and typing are answered here; sends,
/// receipts and deep heartbeats go to the socket's worker, which answers
/// later. Never waits on the worker.
async fn on_frame(
    s: &AppState,
    caller: &Caller,
    conversation: ConversationId,
    raw: &str,
    intake: &mut Intake,
    worker: &mut Option<Worker<ClientFrame>>,
) -> Result<Option<Message>, Flooding> {
    let now = s.engine.now();
    let frame = match intake.screen(now, parse_frame(raw))? {
        Ok(f) => f,
        Err(answer) => return Ok(Some(answer)),
    };
    match frame {
        ClientFrame::Ping { reference } => Ok(Some(text(&ServerFrame::Pong { reference }))),
        ClientFrame::Typing { text } => {
            Ok(s.engine.typing(caller, conversation, text.as_deref()).await.err().map(|e| error_frame(None, &e)))
        }
        frame => {
            let w = worker.get_or_insert_with(|| {
                // Shared, so a frame costs one reference count, not a copy of the participant.
                let shared = std::sync::Arc::new((s.clone(), caller.clone()));
                Worker::new(move |f| {
                    let shared = shared.clone();
                    async move { submit(&shared.0, &shared.1, conversation, f).await }
                })
            });
            intake.hand_over(now, w, frame)
        }
    }
}

/// A `send` frame's fields as the engine takes them.
pub(crate) fn message_of(ct: Option<&str>, content: String, token: Option<&str>) -> Result<SendMessage, Error> {
    Ok(SendMessage {
        content_type: content_type(ct)?,
        content,
        client_token: client_token(token)?,
        as_participant: None,
    })
}

/// A `receipt` frame's kind.
pub(crate) fn receipt_of(receipt: &str) -> Result<Receipt, Error> {
    match receipt {
        "delivered" => Ok(Receipt::Delivered),
        "read" => Ok(Receipt::Read),
        _ => Err(Error::invalid("receipt", "must be delivered or read")),
    }
}

/// The answer to a queued send or receipt: once durable, `make` of its
/// event, or the error; a frame refused before it was queued is answered now.
pub(crate) fn answer_when_durable(
    reference: Option<Value>,
    queued: Result<PendingEvent, Error>,
    make: impl FnOnce(Option<Value>, Event) -> Message + Send + 'static,
) -> Answer {
    match queued {
        Err(e) => answered(error_frame(reference, &e)),
        Ok(pending) => Answer::later(async move {
            match pending.event().await {
                Ok(e) => make(reference, e),
                Err(e) => error_frame(reference, &e),
            }
        }),
    }
}

/// Queues a participant's send or receipt; answers a deep heartbeat.
async fn submit(s: &AppState, caller: &Caller, conversation: ConversationId, frame: ClientFrame) -> Answer {
    let (reference, queued) = match frame {
        ClientFrame::Send { reference, content_type: ct, content, client_token: token } => {
            let queued = async {
                let msg = message_of(ct.as_deref(), content, token.as_deref())?;
                s.engine.submit_message(caller, conversation, msg).await
            };
            (reference, queued.await)
        }
        ClientFrame::Receipt { reference, receipt, message_id: id } => {
            let queued = async {
                let receipt = receipt_of(&receipt)?;
                s.engine.submit_receipt(caller, conversation, receipt, message_id(Some(&id))?, None).await
            };
            (reference, queued.await)
        }
        ClientFrame::DeepHeartbeat { reference } => {
            let status = if s.engine.store().ping().await.is_ok() { "ok" } else { "failed" };
            return answered(text(&ServerFrame::DeepHeartbeat { reference, status }));
        }
        ClientFrame::Ping { .. } | ClientFrame::Typing { .. } => {
            return answered(error_frame(None, &Error::malformed("not a command")));
        }
    };
    answer_when_durable(reference, queued, |reference, e| {
        text(&ServerFrame::Ack { reference, seq: e.seq, id: e.id.to_string(), at: e.at.to_rfc3339() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_client_frame_kind() {
        assert!(matches!(parse_frame(r#"{"type":"typing"}"#), Ok(ClientFrame::Typing { text: None })));
        assert!(matches!(
            parse_frame(r#"{"type":"send","ref":1,"content":"hi"}"#),
            Ok(ClientFrame::Send { content, .. }) if content == "hi"
        ));
        assert!(matches!(
            parse_frame(r#"{"type":"receipt","ref":"a","receipt":"read","message_id":"evt_x"}"#),
            Ok(ClientFrame::Receipt { .. })
        ));
        assert!(matches!(parse_frame(r#"{"type":"ping","ref":"p"}"#), Ok(ClientFrame::Ping { .. })));
        assert!(matches!(parse_frame(r#"{"type":"deep_heartbeat"}"#), Ok(ClientFrame::DeepHeartbeat { .. })));
    }

    /// The size of a future, from the function that makes it.
    fn future_size<A, B, C, D, Fut>(_: impl FnOnce(A, B, C, D) -> Fut) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// Every open participant socket is a task holding this future (inside
    /// axum's upgrade task) for as long as it is open, and it keeps room for
    /// its largest await point while it idles. With 10,000 idle sockets each
    /// KiB here is 10 MiB. It was 2,064 bytes for `run` plus ~1,700 for the
    /// session wrapped around it, mostly the greeting, the closing and
    /// copies of the socket and the participant moved from one nested
    /// future into the next (see `serve_socket`). If this fails, look for a
    /// new large await in the socket loop or a value moved into a nested
    /// future, and box or borrow it, rather than raise the bound.
    #[test]
    fn an_idle_participant_socket_stays_small() {
        let session = future_size(session);
        eprintln!("participant session future: {session} bytes (WebSocket {})", std::mem::size_of::<WebSocket>());
        assert!(session <= 1_536, "the participant socket's future grew to {session} bytes");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in [
            "",
            "null",
            "{}",
            "[]",
            r#"{"type":"send"}"#,
            r#"{"type":"nope"}"#,
            "{\"type\":\"send\",\"content\":\"\u{0}",
        ] {
            let e = parse_frame(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::MalformedRequest, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn frame_parser_never_panics(s in ".{0,512}") {
            let _ = parse_frame(&s);
        }

        #[test]
        fn frame_parser_never_panics_on_json_like_input(s in r#"\{("type":"(send|receipt|typing|ping)",?)?("[a-z_]{1,12}":("[^"]{0,8}"|-?[0-9]{1,20}|null|true|\[\]|\{\}),?){0,5}\}"#) {
            let _ = parse_frame(&s);
        }
    }
}
