//! One participant's WebSocket: connecting and waiting for `hello`, then the
//! driver that sends this side's messages (paced by a window of unacked sends
//! or by a fixed rate), reads every frame of its conversation, checks the
//! stream's seqs and measures latency on messages from the other side.
//!
//! Each socket is one task with one `select!` loop (no reader/writer split), so
//! thousands of sockets cost as little as possible on the load generator's side.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Index 0 is the customer, 1 the agent, everywhere in this crate.
pub const SIDES: [&str; 2] = ["customer", "agent"];

/// What happened to each of a side's messages, by index; `verify` compares it
/// with the transcript.
pub const NOT_SENT: u8 = 0;
pub const SENT: u8 = 1;
pub const ACKED: u8 = 2;
pub const REFUSED: u8 = 3;

const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// `http://host:port` → `ws://host:port` (no trailing slash).
pub fn ws_base(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    if let Some(rest) = url.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else if url.starts_with("ws://") {
        Ok(url.to_owned())
    } else {
        bail!("--url must start with http:// (this tool is built without TLS): {url}")
    }
}

/// Percent-encodes a query value; tokens are probably URL-safe already, but
/// nothing promises that.
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL without its query, for error messages: the query holds a token.
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// Opens a socket and waits for `hello`; returns the socket and `last_seq`.
pub async fn connect(url: &str) -> Result<(Ws, u64)> {
    // Small buffers: the read buffer is allocated up front, and at 10,000
    // sockets the default 128 KiB would cost the load generator over 1 GiB.
    let config = WebSocketConfig::default().read_buffer_size(8 << 10).write_buffer_size(8 << 10);
    // Nagle off, or small frames wait for delayed ACKs and latency reads ~40 ms.
    let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (mut ws, _) = tokio::time::timeout(HELLO_TIMEOUT, connecting)
        .await
        .with_context(|| format!("connecting to {} timed out", shown(url)))?
        .with_context(|| format!("connecting to {}", shown(url)))?;
    let hello = async {
        while let Some(msg) = ws.next().await {
            match msg? {
                Message::Text(text) => {
                    let frame: Frame = serde_json::from_str(&text).context("unreadable first frame")?;
                    if frame.kind != "hello" {
                        bail!("expected hello first, got {text}");
                    }
                    return Ok(frame.last_seq.unwrap_or(0));
                }
                Message::Close(close) => bail!("closed before hello: {close:?}"),
                _ => {}
            }
        }
        bail!("closed before hello")
    };
    let last_seq = tokio::time::timeout(HELLO_TIMEOUT, hello)
        .await
        .with_context(|| format!("no hello from {} within {HELLO_TIMEOUT:?}", shown(url)))?
        .with_context(|| format!("waiting for hello from {}", shown(url)))?;
    Ok((ws, last_seq))
}

/// Sends a close frame and waits briefly for the server's, so neither end
/// sees a reset.
pub async fn close(mut ws: Ws) {
    if ws.close(None).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
}

/// Keeps an idle socket alive (reading answers the server's pings) until
/// `stop`; returns false if the server dropped it first.
pub async fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>) -> bool {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return false,
                Some(Ok(_)) => {}
            },
        }
    }
    close(ws).await;
    true
}

/// What every sender shares.
pub struct Plan {
    /// Timestamps in payloads are nanoseconds since this instant; sender and
    /// receiver are in this process, so they share the clock.
    pub epoch: Instant,
    pub messages: u32,
    pub window: u32,
    /// Rate mode: the spacing between one sender's messages.
    pub interval: Option<Duration>,
    pub payload_bytes: usize,
    /// Makes this run's client tokens unique.
    pub tag: String,
    /// Latency only counts messages sent at least this long after the start.
    pub warmup: Duration,
    /// Start + warmup in ns since `epoch`; set once before `go`. Shared rather
    /// than derived by each driver from `go`, since a driver can receive its
    /// peer's first messages before it has seen `go` itself.
    pub measure_from_ns: AtomicU64,
}

impl Plan {
    pub fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Totals over all sockets, read by the coordinator's progress loop.
#[derive(Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub refused: AtomicU64,
    pub delivered: AtomicU64,
    pub measured_delivered: AtomicU64,
    pub last_delivery_ns: AtomicU64,
    pub stream_gaps: AtomicU64,
    pub stream_dups: AtomicU64,
    /// Sockets that closed or failed before being told to stop.
    pub broken: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn note_error(&self, error: String) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(error);
    }
}

/// Everything a driver shares with the coordinator.
#[derive(Clone)]
pub struct Links {
    pub plan: Arc<Plan>,
    pub counters: Arc<Counters>,
    /// Carries the start instant once every socket is open.
    pub go: watch::Receiver<Option<Instant>>,
    pub stop: watch::Receiver<bool>,
}

pub struct Outcome {
    pub conv: u32,
    pub side: u8,
    pub latencies_us: Vec<u32>,
    pub status: Vec<u8>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    last_seq: Option<u64>,
    #[serde(default, rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<EventIn<'a>>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct EventIn<'a> {
    seq: u64,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct SendFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "ref")]
    reference: String,
    content_type: &'static str,
    content: String,
    client_token: &'a str,
}

/// `{tag}-{conv}-{side}-{n}`: `verify` parses it back.
pub fn client_token(tag: &str, conv: u32, side: u8, n: u32) -> String {
    format!("{tag}-{conv}-{side}-{n}")
}

/// `lg {side} {n} {send_ns}`, padded with `x` to the requested size.
fn payload(side: u8, n: u32, send_ns: u64, size: usize) -> String {
    let mut s = format!("lg {side} {n} {send_ns}");
    if s.len() < size {
        s.push(' ');
        while s.len() < size {
            s.push('x');
        }
    }
    s
}

fn parse_payload(content: &str) -> Option<(u8, u64)> {
    let mut parts = content.split(' ');
    if parts.next()? != "lg" {
        return None;
    }
    let side = parts.next()?.parse().ok()?;
    let _n = parts.next()?;
    Some((side, parts.next()?.parse().ok()?))
}

/// A start offset spread over one interval, from a fixed hash of the sender,
/// so the senders do not fire in lockstep (and no RNG crate is needed).
fn spread(conv: u32, side: u8, interval: Duration) -> Duration {
    let mut x = (u64::from(conv) << 1 | u64::from(side)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(x % nanos)
}

/// One socket's state while it runs.
struct Driver {
    conv: u32,
    side: u8,
    plan: Arc<Plan>,
    counters: Arc<Counters>,
    status: Vec<u8>,
    latencies_us: Vec<u32>,
    next_seq: u64,
    next_n: u32,
    in_flight: u32,
}

impl Driver {
    fn send_frame(&mut self, send_at: Instant) -> Message {
        let n = self.next_n;
        self.next_n += 1;
        self.in_flight += 1;
        self.status[n as usize] = SENT;
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        let token = client_token(&self.plan.tag, self.conv, self.side, n);
        let frame = SendFrame {
            kind: "send",
            reference: n.to_string(),
            content_type: "text/plain",
            content: payload(self.side, n, self.plan.ns(send_at), self.plan.payload_bytes),
            client_token: &token,
        };
        Message::text(serde_json::to_string(&frame).expect("a plain struct serializes"))
    }

    fn on_text(&mut self, text: &str) {
        let Ok(frame) = serde_json::from_str::<Frame>(text) else {
            self.counters.note_error(format!("unreadable frame: {text}"));
            return;
        };
        match &*frame.kind {
            "event" => {
                if let Some(event) = frame.event {
                    self.on_event(&event);
                }
            }
            "ack" => {
                if let Some(n) = self.own_send(frame.reference.as_deref()) {
                    self.status[n] = ACKED;
                    self.in_flight -= 1;
                    self.counters.acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            "error" => {
                let error = frame.error.map_or_else(|| text.to_owned(), |e| e.to_string());
                if let Some(n) = self.own_send(frame.reference.as_deref()) {
                    self.status[n] = REFUSED;
                    self.in_flight -= 1;
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                }
                self.counters.note_error(format!("error frame: {error}"));
            }
            // hello, typing, pong: nothing to measure.
            _ => {}
        }
    }

    /// The index of a send still waiting for its answer, by `ref`.
    fn own_send(&self, reference: Option<&str>) -> Option<usize> {
        let n: usize = reference?.parse().ok()?;
        (self.status.get(n) == Some(&SENT)).then_some(n)
    }

    fn on_event(&mut self, event: &EventIn<'_>) {
        // The stream promises every event once, in seq order, without a gap.
        if event.seq < self.next_seq {
            self.counters.stream_dups.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if event.seq > self.next_seq {
            self.counters.stream_gaps.fetch_add(event.seq - self.next_seq, Ordering::Relaxed);
        }
        self.next_seq = event.seq + 1;
        if event.kind != "message" {
            return;
        }
        let Some((side, sent_ns)) = event.content.as_deref().and_then(parse_payload) else {
            return;
        };
        if side == self.side {
            return; // our own message echoed back: not a delivery to the other side
        }
        let now_ns = self.plan.ns(Instant::now());
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        self.counters.last_delivery_ns.fetch_max(now_ns, Ordering::Relaxed);
        if sent_ns >= self.plan.measure_from_ns.load(Ordering::Relaxed) {
            let us = now_ns.saturating_sub(sent_ns) / 1000;
            self.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
            self.counters.measured_delivered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs one participant: reads from the moment it is spawned (so pings are
/// answered while other sockets connect), starts sending when `go` carries the
/// start instant, and stops when `stop` turns true.
pub async fn drive(mut ws: Ws, conv: u32, side: u8, last_seq: u64, links: Links) -> Outcome {
    let Links { plan, counters, mut go, mut stop } = links;
    let messages = plan.messages;
    let mut d = Driver {
        conv,
        side,
        status: vec![NOT_SENT; messages as usize],
        latencies_us: Vec::with_capacity(messages as usize),
        next_seq: last_seq + 1,
        next_n: 0,
        in_flight: 0,
        plan,
        counters,
    };
    let mut running = false;
    // Rate mode: when the next message is due. Its stamp is the due time, not
    // the moment it went out, so a sender that falls behind still charges the
    // delay to latency (no coordinated omission).
    let mut due: Option<Instant> = None;
    let sleep = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(sleep);
    let mut failed: Option<String> = None;
    let mut start = go.borrow_and_update().to_owned();

    loop {
        if let Some(at) = start.take() {
            running = true;
            if let Some(interval) = d.plan.interval {
                let first = at + spread(conv, side, interval);
                due = Some(first);
                sleep.as_mut().reset(first.into());
            }
        }
        // Window mode: top the window up before waiting for anything.
        if running && d.plan.interval.is_none() {
            while d.next_n < messages && d.in_flight < d.plan.window {
                let frame = d.send_frame(Instant::now());
                if let Err(err) = ws.send(frame).await {
                    failed = Some(format!("send failed: {err}"));
                    break;
                }
            }
            if failed.is_some() {
                break;
            }
        }
        let rate_pending = running && due.is_some() && d.next_n < messages;
        tokio::select! {
            _ = stop.changed() => break,
            changed = go.changed(), if !running => {
                if changed.is_err() {
                    break;
                }
                start = go.borrow_and_update().to_owned();
            }
            () = &mut sleep, if rate_pending => {
                let at = due.unwrap_or_else(Instant::now);
                let frame = d.send_frame(at);
                if let Err(err) = ws.send(frame).await {
                    failed = Some(format!("send failed: {err}"));
                    break;
                }
                let next = at + d.plan.interval.unwrap_or_default();
                due = Some(next);
                sleep.as_mut().reset(next.into());
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => d.on_text(&text),
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
                Some(Ok(_)) => {}
            },
        }
    }

    match failed {
        Some(why) => {
            d.counters.broken.fetch_add(1, Ordering::Relaxed);
            d.counters.note_error(format!("conversation {conv} {}: {why}", SIDES[usize::from(side)]));
        }
        None => close(ws).await,
    }
    Outcome { conv, side, latencies_us: d.latencies_us, status: d.status }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_pads() {
        let p = payload(1, 7, 123_456_789, 64);
        assert_eq!(p.len(), 64);
        assert_eq!(parse_payload(&p), Some((1, 123_456_789)));
        assert_eq!(parse_payload(&payload(0, 0, 5, 0)), Some((0, 5)));
        assert_eq!(parse_payload("hello"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(ws_base("http://127.0.0.1:8080/").unwrap(), "ws://127.0.0.1:8080");
        assert!(ws_base("https://x").is_err());
        assert_eq!(query_escape("sbp_a+b/c="), "sbp_a%2Bb%2Fc%3D");
    }

    #[test]
    fn spread_stays_within_the_interval() {
        let iv = Duration::from_millis(10);
        assert!((0..1000).all(|c| spread(c, 1, iv) < iv));
    }
}
