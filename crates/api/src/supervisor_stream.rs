//! GET /api/v1/stream with a workspace key — the supervisor's live view.
//!
//! Sends `hello`, then `{"type":"stats","queues":[…],"conversations":[…]}` when it opens
//! and again whenever routing in the workspace changes, at most every
//! quarter second (a burst of changes is one frame), and
//! `{"type":"sla_breached",…}` at once when an agent misses a reply (the
//! queue's response timers). It takes no commands but `ping`.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use switchboard_core::Error;
use switchboard_core::bus::{Breach, Notice, Topic};
use switchboard_core::engine::Caller;
use switchboard_core::event::ReplyTimer;
use switchboard_core::ids::WorkspaceId;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::intake::{Cost, FLOODING_REASON, Flooding, Intake};
use crate::state::AppState;
use crate::stream::{Closed, Inbound, close, close_now, finish, inbound, serve_socket, write};
use crate::wire_routing::{LiveChatView, QueueStatsView};

/// The shortest time between two stats frames.
const THROTTLE: Duration = Duration::from_millis(250);

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Out {
    Hello {
        workspace_id: String,
        heartbeat_secs: u64,
    },
    Stats {
        queues: Vec<QueueStatsView>,
        conversations: Vec<LiveChatView>,
    },
    Pong {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
    /// An assigned agent did not reply in time.
    SlaBreached {
        conversation_id: String,
        task_id: String,
        agent_id: String,
        queue_id: Option<String>,
        /// `first_reply` or `reply`.
        timer: ReplyTimer,
        after_secs: u32,
        /// What followed: `next_agent`, `queue` or `alert`.
        action: String,
    },
}

fn breach_frame(b: &Breach) -> Message {
    frame(&Out::SlaBreached {
        conversation_id: b.conversation.to_string(),
        task_id: b.task.to_string(),
        agent_id: b.agent.to_string(),
        queue_id: b.queue.map(|q| q.to_string()),
        timer: b.timer,
        after_secs: b.after_secs,
        action: b.action.clone(),
    })
}

fn frame(out: &Out) -> Message {
    Message::Text(serde_json::to_string(out).unwrap_or_default().into())
}

pub(crate) fn open(
    s: AppState,
    workspace: WorkspaceId,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    serve_socket(s, upgrade, move |s, mut socket| async move {
        let result = Box::pin(run(&s, workspace, &mut socket)).await;
        finish(&s, &mut socket, result).await;
    })
}

async fn stats(s: &AppState, caller: &Caller) -> Result<Message, Error> {
    let queues = s.engine.queue_stats(caller).await?.into_iter().map(Into::into).collect();
    let conversations = s.engine.live_chats(caller).await?.into_iter().map(Into::into).collect();
    Ok(frame(&Out::Stats { queues, conversations }))
}

async fn run(s: &AppState, workspace: WorkspaceId, socket: &mut WebSocket) -> Closed {
    let caller = Caller::Admin { workspace };
    let mut notices = s.engine.bus_subscribe(Topic::Routing);
    let heartbeat = s.config.heartbeat;
    let hello = frame(&Out::Hello { workspace_id: workspace.to_string(), heartbeat_secs: heartbeat.as_secs() });
    write(socket, vec![hello, stats(s, &caller).await?]).await?;
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    // When a change came in and a frame is owed.
    let mut owed: Option<Instant> = None;
    let mut sent = Instant::now();
    let mut intake = Intake::new(s.engine.limits().sends_per_second, 1);
    loop {
        let due = owed.map(|_| sent + THROTTLE);
        tokio::select! {
            () = s.shutdown.cancelled() => return close(socket, close_code::AWAY, "server shutting down").await,
            incoming = socket.recv() => {
                last_heard = Instant::now();
                match inbound(socket, incoming).await? {
                    Inbound::End => return Ok(()),
                    Inbound::Nothing => {}
                    Inbound::Text(t) => match on_frame(s, t.as_str(), &mut intake) {
                        Ok(reply) => write(socket, vec![reply]).await?,
                        Err(Flooding) => return close(socket, close_code::POLICY, FLOODING_REASON).await,
                    },
                }
            }
            notice = notices.recv() => match notice {
                Ok(Notice::Routing { workspace: w }) if w == workspace => { owed.get_or_insert_with(Instant::now); }
                Ok(Notice::Breach { workspace: w, breach }) if w == workspace => {
                    write(socket, vec![breach_frame(&breach)]).await?;
                    owed.get_or_insert_with(Instant::now);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => { owed.get_or_insert_with(Instant::now); }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            () = sleep_until(due) => {
                owed = None;
                sent = Instant::now();
                write(socket, vec![stats(s, &caller).await?]).await?;
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > heartbeat * 3 / 2 {
                    return close_now(socket, close_code::POLICY, "no heartbeat").await;
                }
                write(socket, vec![Message::Ping(Default::default())]).await?;
            }
        }
    }
}

/// Answers a ping; anything else is refused (and counted against the client).
fn on_frame(s: &AppState, raw: &str, intake: &mut Intake) -> Result<Message, Flooding> {
    let now = s.engine.now();
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if v["type"] == "ping" => {
            let reference = v.get("ref").cloned();
            match intake.admit(now, Cost::Light) {
                Ok(()) => Ok(frame(&Out::Pong { reference })),
                Err(e) => intake.refuse(now, reference, &e),
            }
        }
        _ => intake.refuse(now, None, &Error::malformed("a supervisor stream takes only ping frames")),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
