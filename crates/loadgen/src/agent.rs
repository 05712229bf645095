//! One agent's socket in the `routing` mode: it goes available, and on every
//! offer records how long after the chat's route call the offer arrived,
//! accepts it, and (after the hold) ends the chat over REST so the slot frees.
//! Also the board all agents and the arrival loop share, and the reading of
//! the server's agent frames.
//!
//! Like `client::drive`, each socket is one task with one `select!` loop, so a
//! thousand agents cost the load generator little.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Ws};
use crate::setup::Api;

/// How long a stopping agent waits for the server to confirm it went offline.
const OFFLINE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `ref`s of the two activity changes; accepts use numbers, so the two
/// can never be confused.
const REF_ON: &str = "on";
const REF_OFF: &str = "off";

/// Totals over the run, read by the coordinator's progress loop.
#[derive(Default)]
pub struct Counters {
    /// Agents whose `available` the server acknowledged.
    pub available: AtomicU64,
    pub routed: AtomicU64,
    pub route_errors: AtomicU64,
    /// Every offer frame, re-offers included.
    pub offers: AtomicU64,
    /// Offers of a chat that had been offered before (an earlier offer lapsed).
    pub reoffers: AtomicU64,
    /// Offers for a conversation this run did not route, or not yet: the
    /// latency has no start, so they are counted rather than measured.
    pub unknown_offers: AtomicU64,
    pub accepted: AtomicU64,
    /// Accepts refused with `conflict` (the offer lapsed or was taken back).
    pub conflicts: AtomicU64,
    /// Accepts refused for any other reason.
    pub accept_errors: AtomicU64,
    /// Offers that arrived while the agent already held `capacity` chats whose
    /// end had not even been requested: the server overbooked the agent.
    pub over_capacity_offers: AtomicU64,
    pub ended: AtomicU64,
    pub end_errors: AtomicU64,
    /// Sockets that closed or failed before being told to stop.
    pub broken: AtomicU64,
    /// When the last accept was acknowledged, ns since the board's epoch.
    pub last_accept_ns: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn note_error(&self, error: String) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(error);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// What the arrival loop and every agent know about each chat, by index.
/// Plain atomics rather than a locked map: a thousand agents read it at once.
pub struct Board {
    /// Instants are stored as nanoseconds since this one.
    pub epoch: Instant,
    pub ids: Vec<String>,
    index: HashMap<String, u32>,
    /// When the route call went out, plus one, so 0 means "not routed yet".
    routed_ns: Vec<AtomicU64>,
    /// When the route call was due by the schedule (set with `routed_ns`).
    due_ns: Vec<AtomicU64>,
    /// Offers seen per chat: only the first measures chat created → offer.
    offers: Vec<AtomicU32>,
    /// Acknowledged accepts per chat: more than one is a double assignment.
    pub accepts: Vec<AtomicU32>,
    /// Index + 1 of the agent whose accept was acknowledged; 0 for none.
    pub accepted_by: Vec<AtomicU32>,
    pub counters: Counters,
}

impl Board {
    pub fn new(ids: Vec<String>) -> Self {
        let index = ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        let zeros32 = || ids.iter().map(|_| AtomicU32::new(0)).collect::<Vec<_>>();
        Self {
            epoch: Instant::now(),
            index,
            routed_ns: ids.iter().map(|_| AtomicU64::new(0)).collect(),
            due_ns: ids.iter().map(|_| AtomicU64::new(0)).collect(),
            offers: zeros32(),
            accepts: zeros32(),
            accepted_by: zeros32(),
            counters: Counters::default(),
            ids,
        }
    }

    pub fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Stamps the chat as created; called just before its route call is sent,
    /// so an offer can never find the stamp missing. `due` is when the
    /// schedule wanted it sent.
    pub fn mark_routed(&self, chat: u32, sent: Instant, due: Instant) {
        self.due_ns[chat as usize].store(self.ns(due), Ordering::Relaxed);
        self.routed_ns[chat as usize].store(self.ns(sent) + 1, Ordering::Release);
    }

    /// Chats with an acknowledged accept.
    pub fn chats_accepted(&self) -> u64 {
        self.accepted_by.iter().filter(|a| a.load(Ordering::Relaxed) > 0).count() as u64
    }
}

/// The server's frames, reduced to what this mode acts on.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    Offer {
        offer_id: String,
        conversation_id: String,
    },
    /// The answer to an accept, by the `ref` it was sent with.
    Accepted {
        reference: u64,
        state: String,
    },
    AcceptRefused {
        reference: u64,
        code: String,
        message: String,
    },
    /// An offer ended; `state` is `accepted`, `declined`, `expired` or `revoked`.
    OfferClosed {
        offer_id: String,
        conversation_id: String,
        state: String,
    },
    /// The answer to an activity change: whether the agent now receives chats.
    Activity {
        reference: String,
        available: bool,
    },
    ActivityRefused {
        reference: String,
        message: String,
    },
    /// An error frame that answers nothing this mode sent.
    Error(String),
    /// hello, assigned, event, presence, …: nothing to do.
    Other,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, rename = "ref")]
    reference: Option<Value>,
    #[serde(default)]
    offer: Option<OfferIn>,
    #[serde(default)]
    result: Option<ResultIn>,
    #[serde(default)]
    error: Option<ErrorIn>,
    /// How an offer ended, on `offer_closed`.
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct OfferIn {
    id: String,
    conversation_id: String,
}

/// An ack's `result`: an offer (accept) or an agent (activity change).
#[derive(Deserialize)]
struct ResultIn {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    available: Option<bool>,
}

#[derive(Deserialize)]
struct ErrorIn {
    code: String,
    #[serde(default)]
    message: String,
}

/// Reads one text frame; `Err` holds a description of a frame that is not
/// what the protocol promises.
pub fn read_frame(text: &str) -> Result<Inbound, String> {
    let frame: Frame = serde_json::from_str(text).map_err(|e| format!("unreadable frame ({e}): {text}"))?;
    let accept = frame.reference.as_ref().and_then(Value::as_u64);
    let activity = frame.reference.as_ref().and_then(Value::as_str).filter(|r| *r == REF_ON || *r == REF_OFF);
    match &*frame.kind {
        "offer" => {
            let offer = frame.offer.ok_or_else(|| format!("offer frame without an offer: {text}"))?;
            Ok(Inbound::Offer { offer_id: offer.id, conversation_id: offer.conversation_id })
        }
        "offer_closed" => {
            let offer = frame.offer.ok_or_else(|| format!("offer_closed frame without an offer: {text}"))?;
            let state = frame.state.unwrap_or_default();
            Ok(Inbound::OfferClosed { offer_id: offer.id, conversation_id: offer.conversation_id, state })
        }
        "ack" => {
            let result = frame.result.ok_or_else(|| format!("ack without a result: {text}"))?;
            match (accept, activity) {
                (Some(reference), _) => Ok(Inbound::Accepted { reference, state: result.state.unwrap_or_default() }),
                (None, Some(r)) => {
                    Ok(Inbound::Activity { reference: r.to_owned(), available: result.available.unwrap_or(false) })
                }
                (None, None) => Err(format!("ack for nothing this agent sent: {text}")),
            }
        }
        "error" => {
            let error = frame.error.ok_or_else(|| format!("error frame without an error: {text}"))?;
            Ok(match (accept, activity) {
                (Some(reference), _) => Inbound::AcceptRefused { reference, code: error.code, message: error.message },
                (None, Some(r)) => Inbound::ActivityRefused { reference: r.to_owned(), message: error.message },
                (None, None) => Inbound::Error(format!("{}: {}", error.code, error.message)),
            })
        }
        _ => Ok(Inbound::Other),
    }
}

fn activity_frame(reference: &str, activity: &str) -> Message {
    Message::text(serde_json::json!({"type": "activity", "ref": reference, "activity": activity}).to_string())
}

fn accept_frame(reference: u64, offer_id: &str) -> Message {
    Message::text(serde_json::json!({"type": "accept", "ref": reference, "offer_id": offer_id}).to_string())
}

/// Everything an agent's driver shares with the rest of the run.
#[derive(Clone)]
pub struct Links {
    pub board: Arc<Board>,
    pub api: Api,
    /// Bounds the end calls in flight across all agents.
    pub ends: Arc<Semaphore>,
    pub hold: Duration,
    pub capacity: u32,
    pub stop: watch::Receiver<bool>,
}

/// An offer this agent answered and has no answer for yet.
struct Pending {
    chat: u32,
    offer_id: String,
    /// Still counted in `held`: an offer can close (expire, be revoked) before
    /// the answer to its accept arrives, and its slot is freed at whichever
    /// comes first, once.
    holds_slot: bool,
}

/// One agent's state while it runs.
struct Agent {
    me: u32,
    links: Links,
    /// Slots this agent is known to hold: offers not yet closed and chats whose
    /// end has not been requested. Shared with the end tasks, which count down
    /// as they send, so the count never lags behind the server's.
    held: Arc<AtomicU32>,
    /// By the accept's `ref`, which is unique per offer (a chat may be offered
    /// again after an earlier offer lapsed).
    pending: HashMap<u64, Pending>,
    next_ref: u64,
    samples: Samples,
}

/// One agent's measurements of its chats' first offers, in microseconds.
#[derive(Default)]
pub struct Samples {
    /// From the route call going out: chat created → offer.
    pub from_sent_us: Vec<u32>,
    /// From when the schedule wanted the route call sent: adds the load
    /// generator's own lag, so a generator that fell behind cannot hide the
    /// delay (no coordinated omission).
    pub from_due_us: Vec<u32>,
}

impl Agent {
    fn new(me: u32, links: Links) -> Self {
        let held = Arc::new(AtomicU32::new(0));
        Self { me, links, held, pending: HashMap::new(), next_ref: 0, samples: Samples::default() }
    }

    fn counters(&self) -> &Counters {
        &self.links.board.counters
    }

    /// Measures the offer and answers with the accept frame to send, if any.
    fn on_offer(&mut self, offer_id: &str, conversation_id: &str) -> Option<Message> {
        let now = Instant::now();
        let board = &self.links.board;
        board.counters.offers.fetch_add(1, Ordering::Relaxed);
        let Some(&chat) = board.index.get(conversation_id) else {
            // Not this run's chat (another run on a shared server): leave it to lapse.
            board.counters.unknown_offers.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        // Every slot held, none of them even asked to end or seen to close:
        // the server cannot have freed one, so it overbooked the agent.
        if self.held.fetch_add(1, Ordering::AcqRel) >= self.links.capacity {
            board.counters.over_capacity_offers.fetch_add(1, Ordering::Relaxed);
            board.counters.note_error(format!("agent {} offered {conversation_id} with every slot held", self.me));
        }
        let routed = board.routed_ns[chat as usize].load(Ordering::Acquire);
        if routed == 0 {
            board.counters.unknown_offers.fetch_add(1, Ordering::Relaxed);
        } else if board.offers[chat as usize].fetch_add(1, Ordering::Relaxed) == 0 {
            let now = board.ns(now);
            let due = board.due_ns[chat as usize].load(Ordering::Relaxed);
            let us = |from: u64| u32::try_from(now.saturating_sub(from) / 1000).unwrap_or(u32::MAX);
            self.samples.from_sent_us.push(us(routed - 1));
            self.samples.from_due_us.push(us(due));
        } else {
            board.counters.reoffers.fetch_add(1, Ordering::Relaxed);
        }
        let reference = self.next_ref;
        self.next_ref += 1;
        self.pending.insert(reference, Pending { chat, offer_id: offer_id.to_owned(), holds_slot: true });
        Some(accept_frame(reference, offer_id))
    }

    fn on_offer_closed(&mut self, offer_id: &str, state: &str) {
        // An accepted offer keeps its slot until the chat ends.
        if state == "accepted" {
            return;
        }
        if let Some(p) = self.pending.values_mut().find(|p| p.offer_id == offer_id && p.holds_slot) {
            p.holds_slot = false;
            self.held.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn on_accepted(&mut self, reference: u64, state: &str) {
        let board = Arc::clone(&self.links.board);
        let Some(Pending { chat, .. }) = self.pending.remove(&reference) else {
            board.counters.note_error(format!("agent {}: ack for an accept it did not send ({reference})", self.me));
            return;
        };
        let id = board.ids[chat as usize].clone();
        if state != "accepted" {
            board.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
            board.counters.note_error(format!("accept of {id} acknowledged with state {state:?}"));
        }
        board.accepts[chat as usize].fetch_add(1, Ordering::Relaxed);
        board.accepted_by[chat as usize].store(self.me + 1, Ordering::Relaxed);
        board.counters.last_accept_ns.fetch_max(board.ns(Instant::now()), Ordering::Relaxed);
        board.counters.accepted.fetch_add(1, Ordering::Relaxed);
        // Ended from its own task, so this socket keeps reading meanwhile.
        let (api, ends, hold, held) =
            (self.links.api.clone(), Arc::clone(&self.links.ends), self.links.hold, Arc::clone(&self.held));
        tokio::spawn(async move {
            if !hold.is_zero() {
                tokio::time::sleep(hold).await;
            }
            let Ok(_permit) = ends.acquire().await else { return };
            held.fetch_sub(1, Ordering::AcqRel);
            match api.post::<Value>(&format!("/conversations/{id}/end"), serde_json::json!({})).await {
                Ok(_) => board.counters.ended.fetch_add(1, Ordering::Relaxed),
                Err(err) => {
                    board.counters.note_error(format!("ending {id}: {err:#}"));
                    board.counters.end_errors.fetch_add(1, Ordering::Relaxed)
                }
            };
        });
    }

    fn on_refused(&mut self, reference: u64, code: &str, message: &str) {
        // The offer is gone either way; its slot frees unless its close did that.
        if self.pending.remove(&reference).is_some_and(|p| p.holds_slot) {
            self.held.fetch_sub(1, Ordering::AcqRel);
        }
        if code == "conflict" {
            self.counters().conflicts.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters().accept_errors.fetch_add(1, Ordering::Relaxed);
            self.counters().note_error(format!("agent {}: accept refused: {code}: {message}", self.me));
        }
    }
}

/// Runs one agent until `stop`: goes available, accepts every offer, then goes
/// offline (so a later run on the same server offers nothing to a dead socket)
/// and closes. Returns this agent's latency samples.
pub async fn drive(mut ws: Ws, me: u32, links: Links) -> Samples {
    let mut stop = links.stop.clone();
    let mut a = Agent::new(me, links);
    let mut failed = match ws.send(activity_frame(REF_ON, "available")).await {
        Ok(()) => None,
        Err(err) => Some(format!("sending the activity change failed: {err}")),
    };
    while failed.is_none() {
        let text = tokio::select! {
            _ = stop.changed() => break,
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(close))) => {
                    failed = Some(format!("server closed the socket: {close:?}"));
                    break;
                }
                Some(Err(err)) => {
                    failed = Some(format!("socket error: {err}"));
                    break;
                }
                None => {
                    failed = Some("socket ended".to_owned());
                    break;
                }
                Some(Ok(_)) => continue,
            },
        };
        match read_frame(&text) {
            Ok(Inbound::Offer { offer_id, conversation_id }) => {
                if let Some(frame) = a.on_offer(&offer_id, &conversation_id)
                    && let Err(err) = ws.send(frame).await
                {
                    failed = Some(format!("sending an accept failed: {err}"));
                }
            }
            Ok(Inbound::Accepted { reference, state }) => a.on_accepted(reference, &state),
            Ok(Inbound::AcceptRefused { reference, code, message }) => a.on_refused(reference, &code, &message),
            Ok(Inbound::OfferClosed { offer_id, state, .. }) => a.on_offer_closed(&offer_id, &state),
            Ok(Inbound::Activity { reference, available }) if reference == REF_ON => {
                if available {
                    a.counters().available.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed = Some("the server answered `available` with an activity that takes no chats".into());
                }
            }
            Ok(Inbound::ActivityRefused { message, .. }) => failed = Some(format!("activity refused: {message}")),
            Ok(Inbound::Error(e)) => a.counters().note_error(format!("agent {me}: error frame: {e}")),
            Ok(Inbound::Activity { .. } | Inbound::Other) => {}
            Err(e) => a.counters().note_error(format!("agent {me}: {e}")),
        }
    }
    match failed {
        Some(why) => {
            a.counters().broken.fetch_add(1, Ordering::Relaxed);
            a.counters().note_error(format!("agent {me}: {why}"));
        }
        None => {
            go_offline(&mut ws).await;
            client::close(ws).await;
        }
    }
    a.samples
}

/// Best effort: a failure here only matters to a later run on this server.
async fn go_offline(ws: &mut Ws) {
    if ws.send(activity_frame(REF_OFF, "offline")).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(OFFLINE_TIMEOUT, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg
                && let Ok(Inbound::Activity { reference, .. } | Inbound::ActivityRefused { reference, .. }) =
                    read_frame(&text)
                && reference == REF_OFF
            {
                return;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_frames_it_acts_on() {
        let offer = r#"{"type":"offer","offer":{"id":"ofr_1","conversation_id":"cnv_9","task_id":"tsk_1",
            "agent_id":"agt_1","queue_id":"que_1","state":"pending","created_at":"x","expires_at":"y"}}"#;
        assert_eq!(read_frame(offer), Ok(Inbound::Offer { offer_id: "ofr_1".into(), conversation_id: "cnv_9".into() }));
        let accepted = r#"{"type":"ack","ref":42,"result":{"id":"ofr_1","state":"accepted"}}"#;
        assert_eq!(read_frame(accepted), Ok(Inbound::Accepted { reference: 42, state: "accepted".into() }));
        let conflict = r#"{"type":"error","ref":7,"error":{"code":"conflict","message":"the offer is expired"}}"#;
        assert_eq!(
            read_frame(conflict),
            Ok(Inbound::AcceptRefused {
                reference: 7,
                code: "conflict".into(),
                message: "the offer is expired".into()
            })
        );
        let on = r#"{"type":"ack","ref":"on","result":{"id":"agt_1","attributes":{"x":[1]},"available":true}}"#;
        assert_eq!(read_frame(on), Ok(Inbound::Activity { reference: "on".into(), available: true }));
        let closed = r#"{"type":"offer_closed","offer":{"id":"o","conversation_id":"c"},"state":"expired"}"#;
        assert_eq!(
            read_frame(closed),
            Ok(Inbound::OfferClosed { offer_id: "o".into(), conversation_id: "c".into(), state: "expired".into() })
        );
        let junk = r#"{"type":"error","ref":null,"error":{"code":"malformed_request","message":"no"}}"#;
        assert_eq!(read_frame(junk), Ok(Inbound::Error("malformed_request: no".into())));
    }

    #[test]
    fn ignores_other_frames_and_rejects_broken_ones() {
        for other in [
            r#"{"type":"hello","agent":{},"conversations":[],"offers":[],"heartbeat_secs":20}"#,
            r#"{"type":"assigned","conversation_id":"cnv_1"}"#,
            r#"{"type":"event","event":{"seq":1,"type":"participant.joined"}}"#,
        ] {
            assert_eq!(read_frame(other), Ok(Inbound::Other), "{other}");
        }
        for broken in ["", "[]", r#"{"type":"offer"}"#, r#"{"type":"ack","ref":1}"#, r#"{"type":"ack","result":{}}"#] {
            assert!(read_frame(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn measures_first_offers_and_catches_overbooking() {
        let board = Arc::new(Board::new(vec!["cnv_a".into(), "cnv_b".into()]));
        let (_stop_tx, stop) = watch::channel(false);
        let api = Api::new("http://127.0.0.1:9", "k", 1).unwrap();
        let ends = Arc::new(Semaphore::new(1));
        let links = Links { board: board.clone(), api, ends, hold: Duration::ZERO, capacity: 1, stop };
        let mut agent = Agent::new(0, links);
        let c = &board.counters;
        let held = |a: &Agent| a.held.load(Ordering::Relaxed);
        // Sent 5 ms after it was due: a load generator running late.
        let due = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        board.mark_routed(0, Instant::now(), due);
        assert!(agent.on_offer("ofr_1", "cnv_a").is_some());
        // The offer expires before its accept is answered, and the chat comes
        // back: the slot freed at the close, and the late refusal of the first
        // accept must not free the second offer's.
        agent.on_offer_closed("ofr_1", "expired");
        assert!(agent.on_offer("ofr_2", "cnv_a").is_some());
        agent.on_refused(0, "conflict", "the offer has expired");
        assert_eq!(held(&agent), 1);
        agent.on_refused(1, "conflict", "the offer is revoked");
        assert_eq!(held(&agent), 0);
        // Not routed yet, and not this run's at all: counted, not measured.
        assert!(agent.on_offer("ofr_3", "cnv_b").is_some());
        agent.on_refused(2, "conflict", "x");
        assert!(agent.on_offer("ofr_4", "cnv_other").is_none());
        assert_eq!(agent.samples.from_sent_us.len(), 1);
        // The schedule's lag counts in the second figure only.
        assert!(agent.samples.from_due_us[0] >= agent.samples.from_sent_us[0] + 5000);
        assert_eq!(Counters::get(&c.offers), 4);
        assert_eq!((Counters::get(&c.reoffers), Counters::get(&c.unknown_offers)), (1, 2));
        assert_eq!((Counters::get(&c.conflicts), Counters::get(&c.over_capacity_offers)), (3, 0));
        // A second offer while the first is still held: overbooked.
        assert!(agent.on_offer("ofr_5", "cnv_a").is_some());
        assert!(agent.on_offer("ofr_6", "cnv_b").is_some());
        assert_eq!(Counters::get(&c.over_capacity_offers), 1);
        assert_eq!(held(&agent), 2);
    }
}
