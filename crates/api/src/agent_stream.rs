//! GET /api/v1/stream with an agent token — one socket for all of an
//! agent's work (protocol: docs/stream.md, "Agent sockets").
//!
//! It carries the agent's offers, the events of every conversation assigned
//! to it, presence changes and composer prefills, and takes the agent's
//! sends, receipts, accepts, declines and activity changes. Each assigned
//! conversation has its own cursor, kept like a participant socket's: a
//! notice that continues the cursor is delivered from memory, a gap is read
//! from the store. The socket also vouches for the agent's presence while it
//! is open.

use std::collections::HashMap;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_core::Error;
use switchboard_core::bus::{AgentChange, Notice, Topic};
use switchboard_core::engine::Caller;
use switchboard_core::event::{Event, Screen};
use switchboard_core::ids::{ConversationId, OfferId};
use switchboard_core::routing::model::Agent;
use switchboard_core::store::EventRange;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::event_frames::{encoded, event_frame};
use crate::intake::{Answer, Command, FLOODING_REASON, Flooding, Intake, Worker, answered};
use crate::routes::log::message_id;
use crate::state::AppState;
use crate::stream::{
    Closed, Inbound, answer_when_durable, close, close_now, error_frame, finish, inbound, message_of, receipt_of,
    serve_socket, write,
};
use crate::wire_routing::{AgentView, OfferView};

const CATCH_UP_PAGE: u32 = 500;

/// Where to resume: `cnv_…:SEQ,cnv_…:SEQ`.
fn parse_after(raw: Option<&str>) -> Result<HashMap<ConversationId, i64>, Error> {
    let mut out = HashMap::new();
    for part in raw.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        let bad = || Error::invalid("after", "a list of conversation:seq pairs, e.g. cnv_…:12,cnv_…:40");
        let (c, n) = part.split_once(':').ok_or_else(bad)?;
        let seq: i64 = n.parse().map_err(|_| bad())?;
        if seq < 0 || out.len() >= 1000 {
            return Err(bad());
        }
        out.insert(ConversationId::parse(c).map_err(|_| bad())?, seq);
    }
    Ok(out)
}

pub(crate) fn open(
    s: AppState,
    agent: Agent,
    after: Option<&str>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let after = parse_after(after)?;
    serve_socket(s, upgrade, move |s, mut socket| async move {
        let result = Box::pin(run(&s, agent, after, &mut socket)).await;
        finish(&s, &mut socket, result).await;
    })
}

/// Frames an agent sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentFrame {
    Send {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        conversation_id: String,
        content_type: Option<String>,
        content: String,
        client_token: Option<String>,
    },
    Receipt {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        conversation_id: String,
        receipt: String,
        message_id: String,
    },
    Typing {
        conversation_id: String,
    },
    Accept {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        offer_id: String,
    },
    Decline {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        offer_id: String,
    },
    Activity {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        activity: String,
    },
    Ping {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
}

impl Command for AgentFrame {
    fn is_ping(&self) -> bool {
        matches!(self, Self::Ping { .. })
    }

    fn reference(&self) -> Option<Value> {
        match self {
            Self::Send { reference, .. }
            | Self::Receipt { reference, .. }
            | Self::Accept { reference, .. }
            | Self::Decline { reference, .. }
            | Self::Activity { reference, .. }
            | Self::Ping { reference } => reference.clone(),
            Self::Typing { .. } => None,
        }
    }
}

pub fn parse_agent_frame(text: &str) -> Result<AgentFrame, Error> {
    serde_json::from_str(text).map_err(|e| Error::malformed(format!("unreadable frame: {e}")))
}

/// A conversation the socket follows.
#[derive(Debug, Serialize)]
struct Followed {
    conversation_id: String,
    last_seq: i64,
}

/// Frames the server sends an agent.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Out<'a> {
    Hello {
        agent: Box<AgentView>,
        conversations: Vec<Followed>,
        offers: Vec<OfferView>,
        heartbeat_secs: u64,
    },
    Offer {
        offer: OfferView,
    },
    OfferClosed {
        offer: OfferView,
        state: &'static str,
    },
    Assigned {
        conversation_id: String,
    },
    Released {
        conversation_id: String,
    },
    Presence {
        activity: String,
        available: bool,
    },
    AgentInput {
        conversation_id: String,
        text: String,
    },
    /// An agent-side flow run this agent launched moved on.
    #[serde(rename = "flow.run")]
    FlowRun {
        run_id: String,
        conversation_id: String,
        flow: String,
        state: String,
        step: String,
        vars: serde_json::Map<String, serde_json::Value>,
    },
    Typing {
        conversation_id: String,
        participant_id: String,
        /// The customer's draft so far, when its client sent one.
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<&'a str>,
    },
    Ack {
        #[serde(rename = "ref")]
        reference: Option<Value>,
        result: Value,
    },
    Pong {
        #[serde(rename = "ref")]
        reference: Option<Value>,
    },
}

fn frame(out: &Out<'_>) -> Message {
    Message::Text(serde_json::to_string(out).unwrap_or_default().into())
}

/// What the per-conversation forwarders pass on.
enum Forwarded {
    Notice(Notice),
    Lagged,
}

/// Follows one conversation: its cursor and the task forwarding its notices.
struct Feed {
    cursor: i64,
    forwarder: JoinHandle<()>,
    /// Silent monitors are not shown to agents.
    screen: Screen,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

struct Feeds<'a> {
    s: &'a AppState,
    caller: Caller,
    tx: mpsc::Sender<(ConversationId, Forwarded)>,
    feeds: HashMap<ConversationId, Feed>,
}

impl Feeds<'_> {
    /// Starts following a conversation from `cursor`, then catches up.
    async fn follow(&mut self, socket: &mut WebSocket, c: ConversationId, cursor: i64) -> Closed {
        if self.feeds.contains_key(&c) {
            return Ok(());
        }
        // Subscribe before reading, so nothing committed in between is missed.
        let mut sub = self.s.engine.subscribe(c);
        let tx = self.tx.clone();
        let forwarder = tokio::spawn(async move {
            loop {
                let item = match sub.recv().await {
                    Ok(n) => Forwarded::Notice(n),
                    Err(broadcast::error::RecvError::Lagged(_)) => Forwarded::Lagged,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send((c, item)).await.is_err() {
                    return;
                }
            }
        });
        let screen = self.s.engine.screen_for(&self.caller, c).await?;
        self.feeds.insert(c, Feed { cursor, forwarder, screen });
        self.catch_up(socket, c).await
    }

    /// Delivers `events` past the conversation's cursor; `encoded` holds
    /// their frames already made, one per event (from a notice).
    async fn deliver(
        &mut self,
        socket: &mut WebSocket,
        c: ConversationId,
        events: &[Event],
        encoded: Option<&[Utf8Bytes]>,
    ) -> Closed {
        let Some(feed) = self.feeds.get_mut(&c) else { return Ok(()) };
        let fresh: Vec<(usize, &Event)> = events.iter().enumerate().filter(|(_, e)| e.seq > feed.cursor).collect();
        let Some(last) = fresh.last().map(|(_, e)| e.seq) else { return Ok(()) };
        let frames: Vec<Message> = fresh
            .into_iter()
            .filter(|(_, e)| feed.screen.admit(e))
            .map(|(i, e)| event_frame(e, encoded.and_then(|f| f.get(i))))
            .collect();
        if !frames.is_empty() {
            write(socket, frames).await?;
        }
        feed.cursor = last;
        Ok(())
    }

    async fn catch_up(&mut self, socket: &mut WebSocket, c: ConversationId) -> Closed {
        loop {
            let Some(cursor) = self.feeds.get(&c).map(|f| f.cursor) else { return Ok(()) };
            let page = self.s.engine.store().events(c, EventRange::after(cursor, CATCH_UP_PAGE)).await?;
            self.deliver(socket, c, &page, None).await?;
            if (page.len() as u32) < CATCH_UP_PAGE {
                return Ok(());
            }
        }
    }

    async fn on_notice(&mut self, socket: &mut WebSocket, me: &Agent, c: ConversationId, n: Forwarded) -> Closed {
        let Some(cursor) = self.feeds.get(&c).map(|f| f.cursor) else { return Ok(()) };
        match n {
            Forwarded::Notice(Notice::Committed { last_seq, .. }) if last_seq <= cursor => Ok(()),
            Forwarded::Notice(Notice::Committed { events, .. })
                if events.first().is_some_and(|e| e.seq <= cursor + 1) =>
            {
                self.deliver(socket, c, &events, encoded(&events)).await
            }
            Forwarded::Notice(Notice::Typing { participant, preview, .. }) => {
                let mine = self.s.engine.store().participant(participant).await?.and_then(|p| p.agent_id);
                if mine == Some(me.id) {
                    return Ok(());
                }
                let out = Out::Typing {
                    conversation_id: c.to_string(),
                    participant_id: participant.to_string(),
                    text: preview.as_deref(),
                };
                write(socket, vec![frame(&out)]).await
            }
            Forwarded::Notice(Notice::QueuePosition { .. }) => Ok(()),
            // Its log is gone: nothing to catch up on (the agent's own topic
            // says `released` when the chat was still the agent's).
            Forwarded::Notice(Notice::Erased { .. }) => {
                self.feeds.remove(&c);
                Ok(())
            }
            Forwarded::Notice(_) | Forwarded::Lagged => self.catch_up(socket, c).await,
        }
    }

    /// Delivers what is left of a conversation and stops following it.
    async fn release(&mut self, socket: &mut WebSocket, c: ConversationId) -> Closed {
        self.catch_up(socket, c).await?;
        self.feeds.remove(&c);
        Ok(())
    }
}

async fn run(s: &AppState, agent: Agent, after: HashMap<ConversationId, i64>, socket: &mut WebSocket) -> Closed {
    let caller = Caller::Agent(agent.clone());
    let mut notices = s.engine.bus_subscribe(Topic::Agent(agent.id));
    let _presence = s.engine.agent_connected(agent.id).await?;
    let agent = s.engine.store().agent(agent.id).await?.ok_or_else(|| Error::not_found("agent"))?;
    let tasks = s.engine.store().agent_tasks(agent.id).await?;
    let offers = s.engine.store().pending_offers(agent.id).await?;
    let mut followed = Vec::new();
    for t in &tasks {
        let c = s.engine.store().conversation(t.conversation_id).await?;
        let last_seq = c.map_or(0, |c| c.last_seq);
        followed.push((t.conversation_id, after.get(&t.conversation_id).copied().unwrap_or(last_seq).min(last_seq)));
    }
    let heartbeat = s.config.heartbeat;
    let hello = Out::Hello {
        agent: Box::new(agent.clone().into()),
        conversations: followed
            .iter()
            .map(|(c, seq)| Followed { conversation_id: c.to_string(), last_seq: *seq })
            .collect(),
        offers: offers.into_iter().map(Into::into).collect(),
        heartbeat_secs: heartbeat.as_secs(),
    };
    write(socket, vec![frame(&hello)]).await?;
    let (tx, mut forwarded) = mpsc::channel(256);
    let mut feeds = Feeds { s, caller: caller.clone(), tx, feeds: HashMap::new() };
    for (c, cursor) in followed {
        feeds.follow(socket, c, cursor).await?;
    }

    // An agent works several chats at once: its limits grow with its capacity.
    let mut intake = Intake::new(s.engine.limits().sends_per_second, agent.capacity);
    let mut worker = {
        // Shared, so a frame costs one reference count, not a copy of the agent.
        let shared = std::sync::Arc::new((s.clone(), caller.clone()));
        Worker::new(move |f| {
            let shared = shared.clone();
            async move { submit(&shared.0, &shared.1, f).await }
        })
    };
    let mut ticker = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            () = s.shutdown.cancelled() => return close(socket, close_code::AWAY, "server shutting down").await,
            incoming = socket.recv() => {
                last_heard = Instant::now();
                let text = match inbound(socket, incoming).await? {
                    Inbound::End => return Ok(()),
                    Inbound::Nothing => continue,
                    Inbound::Text(t) => t,
                };
                match on_frame(s, &caller, text.as_str(), &mut intake, &mut worker).await {
                    Ok(Some(reply)) => write(socket, vec![reply]).await?,
                    Ok(None) => {}
                    Err(Flooding) => return close(socket, close_code::POLICY, FLOODING_REASON).await,
                }
            }
            notice = notices.recv() => match notice {
                Ok(Notice::Agent { change: AgentChange::SignedOut, .. }) => {
                    return close(socket, close_code::POLICY, "signed out: the agent was disabled or its tokens revoked").await;
                }
                Ok(Notice::Agent { change, .. }) => on_change(socket, &mut feeds, change).await?,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Offers or assignments may have been missed: the client
                    // reconnects and gets them in its hello.
                    return close(socket, close_code::AGAIN, "fell behind; reconnect").await;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            Some((c, n)) = forwarded.recv() => feeds.on_notice(socket, &agent, c, n).await?,
            Some(answer) = worker.answer() => {
                let mut answers = vec![answer];
                worker.ready(&mut answers);
                write(socket, answers).await?;
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

async fn on_change(socket: &mut WebSocket, feeds: &mut Feeds<'_>, change: AgentChange) -> Closed {
    let out = match change {
        AgentChange::Offered(offer) => Out::Offer { offer: (*offer).into() },
        AgentChange::OfferClosed { offer, state } => Out::OfferClosed { offer: (*offer).into(), state: state.as_str() },
        AgentChange::Assigned { conversation } => {
            write(socket, vec![frame(&Out::Assigned { conversation_id: conversation.to_string() })]).await?;
            // A new chat: its whole log so far, then everything after.
            return feeds.follow(socket, conversation, 0).await;
        }
        AgentChange::Released { conversation } => {
            feeds.release(socket, conversation).await?;
            Out::Released { conversation_id: conversation.to_string() }
        }
        AgentChange::Presence { activity, available } => Out::Presence { activity, available },
        AgentChange::Input { conversation, text } => {
            Out::AgentInput { conversation_id: conversation.to_string(), text }
        }
        AgentChange::Flow(p) => Out::FlowRun {
            run_id: p.run.to_string(),
            conversation_id: p.conversation.to_string(),
            flow: p.flow,
            state: p.state,
            step: p.step,
            vars: p.vars,
        },
        // Handled by the socket's loop, which closes.
        AgentChange::SignedOut => return Ok(()),
    };
    write(socket, vec![frame(&out)]).await
}

/// Handles one agent frame. Pings and typing are answered here; the rest
/// goes to the socket's worker, which answers later. Never waits on the worker.
async fn on_frame(
    s: &AppState,
    caller: &Caller,
    raw: &str,
    intake: &mut Intake,
    worker: &mut Worker<AgentFrame>,
) -> Result<Option<Message>, Flooding> {
    let now = s.engine.now();
    let f = match intake.screen(now, parse_agent_frame(raw))? {
        Ok(f) => f,
        Err(answer) => return Ok(Some(answer)),
    };
    match f {
        AgentFrame::Ping { reference } => Ok(Some(frame(&Out::Pong { reference }))),
        AgentFrame::Typing { conversation_id } => {
            let typed = async { s.engine.typing(caller, ConversationId::parse(&conversation_id)?, None).await };
            Ok(typed.await.err().map(|e| error_frame(None, &e)))
        }
        f => intake.hand_over(now, worker, f),
    }
}

/// The `result` of an agent's acknowledged send or receipt.
fn logged(reference: Option<Value>, e: Event) -> Message {
    let result = serde_json::json!({"seq": e.seq, "id": e.id, "at": e.at.to_rfc3339()});
    frame(&Out::Ack { reference, result })
}

/// Queues an agent's send or receipt (answered once durable); handles its
/// other commands in turn.
async fn submit(s: &AppState, caller: &Caller, f: AgentFrame) -> Answer {
    let (reference, result): (Option<Value>, Result<Value, Error>) = match f {
        AgentFrame::Send { reference, conversation_id, content_type: ct, content, client_token: token } => {
            let queued = async {
                let msg = message_of(ct.as_deref(), content, token.as_deref())?;
                s.engine.submit_message(caller, ConversationId::parse(&conversation_id)?, msg).await
            };
            return answer_when_durable(reference, queued.await, logged);
        }
        AgentFrame::Receipt { reference, conversation_id, receipt, message_id: id } => {
            let queued = async {
                let (receipt, c) = (receipt_of(&receipt)?, ConversationId::parse(&conversation_id)?);
                s.engine.submit_receipt(caller, c, receipt, message_id(Some(&id))?, None).await
            };
            return answer_when_durable(reference, queued.await, logged);
        }
        AgentFrame::Accept { reference, offer_id } => {
            let r = async {
                let (offer, _) = s.engine.accept_offer(caller, OfferId::parse(&offer_id)?).await?;
                Ok(serde_json::to_value(OfferView::from(offer)).unwrap_or_default())
            };
            (reference, r.await)
        }
        AgentFrame::Decline { reference, offer_id } => {
            let r = async {
                let offer = s.engine.decline_offer(caller, OfferId::parse(&offer_id)?).await?;
                Ok(serde_json::to_value(OfferView::from(offer)).unwrap_or_default())
            };
            (reference, r.await)
        }
        AgentFrame::Activity { reference, activity } => {
            let r = async {
                let Caller::Agent(me) = caller else { return Err(Error::forbidden("not an agent")) };
                let a = s.engine.set_activity(caller, me.id, &activity).await?;
                Ok(serde_json::to_value(AgentView::from(a)).unwrap_or_default())
            };
            (reference, r.await)
        }
        AgentFrame::Typing { .. } | AgentFrame::Ping { .. } => {
            return answered(error_frame(None, &Error::malformed("not a command")));
        }
    };
    answered(match result {
        Ok(result) => frame(&Out::Ack { reference, result }),
        Err(e) => error_frame(reference, &e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_agent_frames_and_refuses_junk() {
        assert!(matches!(
            parse_agent_frame(r#"{"type":"accept","ref":1,"offer_id":"ofr_x"}"#),
            Ok(AgentFrame::Accept { .. })
        ));
        assert!(matches!(
            parse_agent_frame(r#"{"type":"activity","activity":"away"}"#),
            Ok(AgentFrame::Activity { .. })
        ));
        for bad in ["", "{}", r#"{"type":"send","content":"x"}"#, r#"{"type":"accept"}"#, "[1]"] {
            assert_eq!(
                parse_agent_frame(bad).unwrap_err().code,
                switchboard_core::ErrorCode::MalformedRequest,
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_resume_points() {
        let c = ConversationId::new();
        let m = parse_after(Some(&format!("{c}:12"))).unwrap();
        assert_eq!(m[&c], 12);
        assert!(parse_after(None).unwrap().is_empty());
        for bad in ["x", "cnv_x:1", &format!("{c}:-1"), &format!("{c}:a")] {
            assert!(parse_after(Some(bad)).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn agent_frame_parser_never_panics(s in ".{0,256}") {
            let _ = parse_agent_frame(&s);
            let _ = parse_after(Some(&s));
        }
    }
}
