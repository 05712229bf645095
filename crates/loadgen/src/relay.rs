//! The `relay` mode: baseline B0, a minimal WebSocket relay with no storage,
//! built on axum's WebSocket like the server. It speaks enough of the stream
//! protocol (docs/stream.md) for `chat --relay` and `idle --relay` to run
//! against it unchanged, so their figures show what the transport alone costs.
//!
//! `GET /api/v1/stream?room=R&side=S` joins room R (created on first use,
//! removed when empty). Each `send` gets the room's next seq and goes out as an
//! `event` to every socket in the room, then an `ack` to the sender.
//! `GET /readyz` answers 200 once it listens, like the server's, so `bench`
//! waits for either the same way.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::Args;
use futures_util::SinkExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Args)]
pub struct RelayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
}

/// Small on purpose: the point of the baseline is the memory floor per socket.
const BUFFER_BYTES: usize = 4 << 10;
const MAX_MESSAGE_BYTES: usize = 64 << 10;
/// Frames written before one flush when several are queued.
const WRITE_BATCH: usize = 64;

#[derive(Default)]
struct Relay {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    next_socket: AtomicU64,
}

#[derive(Default)]
struct Room {
    /// One lock for seq and members: assigning a seq and queueing the event to
    /// every member must be one step, or two senders could queue seqs out of order.
    state: Mutex<RoomState>,
}

#[derive(Default)]
struct RoomState {
    seq: u64,
    members: Vec<(u64, mpsc::UnboundedSender<Message>)>,
}

/// A poisoned lock only means another socket's task panicked; the data is
/// still consistent enough for a relay.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Relay {
    /// Joins (creating the room if needed); returns the room and its current seq.
    fn join(&self, room: &str, socket: u64, tx: mpsc::UnboundedSender<Message>) -> (Arc<Room>, u64) {
        let mut rooms = lock(&self.rooms);
        let entry = rooms.entry(room.to_owned()).or_default().clone();
        let mut state = lock(&entry.state);
        state.members.push((socket, tx));
        let seq = state.seq;
        drop(state);
        (entry, seq)
    }

    /// Leaves, removing the room once empty. Holding the map lock while
    /// checking emptiness keeps a concurrent `join` from landing in a room
    /// that is about to disappear.
    fn leave(&self, room: &str, socket: u64) {
        let mut rooms = lock(&self.rooms);
        let empty = rooms.get(room).is_some_and(|r| {
            let mut state = lock(&r.state);
            state.members.retain(|(id, _)| *id != socket);
            state.members.is_empty()
        });
        if empty {
            rooms.remove(room);
        }
    }
}

#[derive(Deserialize)]
struct StreamQuery {
    room: Option<String>,
    side: Option<String>,
    // `token` and anything else are ignored.
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    client_token: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing<'a> {
    Hello { conversation: Named<'a>, participant: Named<'a>, last_seq: u64, heartbeat_secs: u64 },
    Event { event: Event<'a> },
    Ack { r#ref: Option<&'a str>, seq: u64, id: &'a str },
    Typing { participant_id: &'a str },
    Pong { r#ref: Option<&'a str> },
    Error { r#ref: Option<&'a str>, error: ErrorBody<'a> },
}

#[derive(Serialize)]
struct Named<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a str>,
}

#[derive(Serialize)]
struct Event<'a> {
    seq: u64,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    participant_id: &'a str,
    content_type: &'a str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: &'a str,
    field: Option<&'static str>,
}

fn frame(out: &Outgoing<'_>) -> Utf8Bytes {
    serde_json::to_string(out).expect("plain structs serialize").into()
}

pub async fn run(args: RelayArgs) -> Result<()> {
    let relay = Arc::new(Relay::default());
    let app = Router::new()
        .route("/api/v1/stream", get(upgrade))
        .route("/readyz", get(|| async { "ready" }))
        .with_state(relay);
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    // Nagle off, as a real chat server would, or small frames wait on delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("relay listening on ws://{}/api/v1/stream?room=R&side=S (pid {})", args.listen, std::process::id());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}

async fn upgrade(ws: WebSocketUpgrade, Query(q): Query<StreamQuery>, State(relay): State<Arc<Relay>>) -> Response {
    let Some(room) = q.room else {
        return (StatusCode::BAD_REQUEST, "the relay needs ?room=R&side=S").into_response();
    };
    let side = q.side.unwrap_or_else(|| "customer".to_owned());
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(relay, room, side, socket))
}

async fn serve_socket(relay: Arc<Relay>, room_name: String, side: String, mut socket: WebSocket) {
    let id = relay.next_socket.fetch_add(1, Ordering::Relaxed);
    let participant_id = format!("prt_{id}");
    // Unbounded: the relay never drops or blocks on a slow reader; the load
    // generator's window or rate is what bounds the queue.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (room, last_seq) = relay.join(&room_name, id, tx.clone());
    // Joined first, then hello: anything sent to the room meanwhile waits in
    // `rx`, so hello is still the first frame and `last_seq` matches the stream.
    let hello = Outgoing::Hello {
        conversation: Named { id: &room_name, role: None },
        participant: Named { id: &participant_id, role: Some(&side) },
        last_seq,
        heartbeat_secs: 0,
    };
    if socket.send(Message::Text(frame(&hello))).await.is_ok() {
        loop {
            tokio::select! {
                out = rx.recv() => {
                    let Some(first) = out else { break };
                    if write_batch(&mut socket, first, &mut rx).await.is_err() {
                        break;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => on_text(&room, &participant_id, &tx, &text),
                    Some(Ok(Message::Close(_))) => {
                        // Pushes out the close reply tungstenite queued.
                        let _ = socket.flush().await;
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
    relay.leave(&room_name, id);
}

/// Writes the queued frames with one flush, so a burst costs one syscall
/// rather than one per frame.
async fn write_batch(
    socket: &mut WebSocket,
    first: Message,
    rx: &mut mpsc::UnboundedReceiver<Message>,
) -> Result<(), axum::Error> {
    socket.feed(first).await?;
    for _ in 1..WRITE_BATCH {
        match rx.try_recv() {
            Ok(next) => socket.feed(next).await?,
            Err(_) => break,
        }
    }
    socket.flush().await
}

fn on_text(room: &Room, participant_id: &str, own: &mpsc::UnboundedSender<Message>, text: &str) {
    let reply = |out: Outgoing<'_>| {
        let _ = own.send(Message::Text(frame(&out)));
    };
    let parsed: Incoming<'_> = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(err) => {
            let message = err.to_string();
            return reply(Outgoing::Error {
                r#ref: None,
                error: ErrorBody { code: "invalid", message: &message, field: None },
            });
        }
    };
    let reference = parsed.reference.as_deref();
    match &*parsed.kind {
        "send" => {
            let (Some(content_type), Some(content)) = (parsed.content_type.as_deref(), parsed.content.as_deref())
            else {
                let error = ErrorBody { code: "invalid", message: "send needs content_type and content", field: None };
                return reply(Outgoing::Error { r#ref: reference, error });
            };
            let mut state = lock(&room.state);
            state.seq += 1;
            let seq = state.seq;
            let event_id = format!("evt_{seq}");
            let event = frame(&Outgoing::Event {
                event: Event {
                    seq,
                    id: &event_id,
                    kind: "message",
                    participant_id,
                    content_type,
                    content,
                    client_token: parsed.client_token.as_deref(),
                },
            });
            for (_, member) in &state.members {
                let _ = member.send(Message::Text(event.clone()));
            }
            // Queued behind our own copy of the event, still under the lock.
            reply(Outgoing::Ack { r#ref: reference, seq, id: &event_id });
        }
        "typing" => {
            let typing = frame(&Outgoing::Typing { participant_id });
            for (_, member) in &lock(&room.state).members {
                if !member.same_channel(own) {
                    let _ = member.send(Message::Text(typing.clone()));
                }
            }
        }
        "ping" => reply(Outgoing::Pong { r#ref: reference }),
        _ => {
            let error = ErrorBody { code: "invalid", message: "the relay handles send, typing and ping", field: None };
            reply(Outgoing::Error { r#ref: reference, error });
        }
    }
}
