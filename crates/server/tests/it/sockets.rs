//! Sockets under any pattern of client frames: bursts, floods, junk, a
//! client that stops reading or vanishes. A socket keeps reading, answers
//! pings, refuses what is over its limits with `rate_limited`, closes a
//! client that keeps flooding with 1008, and is released once its peer is
//! gone; every acknowledged send is stored once, at the acknowledged seq.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::delivery::open_sockets;
use crate::harness::{PROMPTLY, TestApp};
use crate::routing::{agent, online, queue, take_chat, waiting_chat};

type Raw = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server with the default rate limit (20 sends a second, burst 40).
async fn limited(heartbeat_secs: u64) -> TestApp {
    TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| {
        c.sends_per_second = 20;
        c.heartbeat_secs = heartbeat_secs;
    })
    .await
}

/// What came back on a socket.
#[derive(Debug, Default)]
struct Answers {
    /// Per `ref`: how many answers (ack or error) it got.
    count: HashMap<String, usize>,
    /// Per `ref`: the acknowledged seq.
    acked: HashMap<String, i64>,
    /// Per `ref`: the error code.
    refused: HashMap<String, String>,
    /// The `retry_after_secs` of each `rate_limited` answer.
    retry_after: Vec<i64>,
    pongs: Vec<String>,
    /// The close code, once the server closed (None: no code, or not closed).
    closed: Option<Option<u16>>,
    /// How the connection failed, when it did.
    failure: Option<String>,
    /// Ids of acknowledged messages, for receipts.
    ids: Vec<String>,
}

impl Answers {
    fn take(&mut self, f: &Value) {
        let reference = f["ref"].to_string();
        match f["type"].as_str() {
            // A frame sent without a `ref` is answered without one: not counted.
            Some("ack") if !f["ref"].is_null() => {
                let result = if f["result"].is_object() { &f["result"] } else { f };
                *self.count.entry(reference.clone()).or_default() += 1;
                if let Some(seq) = result["seq"].as_i64() {
                    self.acked.insert(reference, seq);
                }
                if let Some(id) = result["id"].as_str() {
                    self.ids.push(id.to_owned());
                }
            }
            Some("error") if !f["ref"].is_null() => {
                *self.count.entry(reference.clone()).or_default() += 1;
                self.refused.insert(reference, f["error"]["code"].as_str().unwrap_or("").to_owned());
                if f["error"]["code"] == "rate_limited" {
                    self.retry_after.push(f["error"]["retry_after_secs"].as_i64().unwrap_or(0));
                }
            }
            Some("pong") => self.pongs.push(reference),
            _ => {}
        }
    }

    fn answered(&self, reference: &str) -> bool {
        self.count.contains_key(&json!(reference).to_string())
    }

    fn ponged(&self, reference: &str) -> bool {
        self.pongs.contains(&json!(reference).to_string())
    }
}

/// Reads frames into `answers` until `done` holds or the socket closes;
/// false if neither happened within `within`.
async fn read_until(
    rx: &mut SplitStream<Raw>,
    answers: &mut Answers,
    within: Duration,
    done: impl Fn(&Answers) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while !done(answers) && answers.closed.is_none() {
        match tokio::time::timeout_at(deadline, rx.next()).await {
            Err(_) => return false,
            Ok(Some(Ok(Message::Text(t)))) => answers.take(&serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(Message::Close(c)))) => answers.closed = Some(c.map(|c| c.code.into())),
            Ok(Some(Ok(_))) => {}
            Ok(None) => answers.closed = Some(None),
            Ok(Some(Err(e))) => {
                answers.closed = Some(None);
                answers.failure = Some(e.to_string());
            }
        }
    }
    true
}

/// Writes frames without flushing each one, then flushes once: a burst.
async fn burst(tx: &mut SplitSink<Raw, Message>, frames: impl IntoIterator<Item = Value>) {
    for f in frames {
        tx.feed(Message::Text(f.to_string().into())).await.unwrap();
    }
    tx.flush().await.unwrap();
}

/// Checks the log against what was acknowledged: each acknowledged send
/// once, at its seq; nothing refused stored; no client token twice.
async fn check_stored(app: &TestApp, chat: &str, answers: &Answers, token_of: impl Fn(&str) -> String) {
    let mut stored: HashMap<String, Vec<i64>> = HashMap::new();
    for e in app.transcript(chat).await {
        if let Some(t) = e["client_token"].as_str() {
            stored.entry(t.to_owned()).or_default().push(e["seq"].as_i64().unwrap());
        }
    }
    for (token, seqs) in &stored {
        assert_eq!(seqs.len(), 1, "client token {token} stored {} times", seqs.len());
    }
    for (reference, seq) in &answers.acked {
        let token = token_of(reference);
        if let Some(seqs) = stored.get(&token) {
            assert_eq!(seqs, &[*seq], "ref {reference} acknowledged at {seq}");
        }
    }
    for (reference, code) in &answers.refused {
        let token = token_of(reference);
        assert!(!stored.contains_key(&token), "ref {reference} refused ({code}) but stored");
    }
}

fn send(i: usize) -> Value {
    send_as(&format!("s{i}"))
}

/// A send whose `ref` is `reference` and whose client token is `tok-` and the `ref`.
fn send_as(reference: &str) -> Value {
    json!({"type": "send", "ref": reference, "content": format!("message {reference}"), "client_token": format!("tok-{reference}")})
}

/// The client token a `ref` of [`send`] carried.
fn token(reference: &str) -> String {
    format!("tok-{}", reference.trim_matches('"'))
}

pub(crate) async fn a_burst_of_sends_is_answered_and_the_socket_keeps_serving() {
    let app = limited(20).await;
    let chat = app.chat().await;
    let (mut tx, mut rx) = app.ws(&chat.customer, None).await.stream.split();
    burst(&mut tx, (0..300).map(send).chain([json!({"type": "ping", "ref": "P1"})])).await;
    let mut answers = Answers::default();
    let all = |a: &Answers| a.ponged("P1") && (0..300).all(|i| a.answered(&format!("s{i}")));
    assert!(read_until(&mut rx, &mut answers, PROMPTLY, all).await, "not every frame was answered: {answers:?}");
    assert_eq!(answers.closed, None, "a burst is refused, not closed");
    assert!(answers.count.values().all(|n| *n == 1), "a frame answered twice: {:?}", answers.count);
    assert!(answers.acked.len() >= 40, "the burst allowance: {} acked", answers.acked.len());
    assert!(!answers.refused.is_empty(), "300 at once is over the limit");
    assert!(answers.refused.values().all(|c| c == "rate_limited"), "{:?}", answers.refused);
    check_stored(&app, &chat.id, &answers, token).await;
    assert!(answers.retry_after.iter().all(|s| *s >= 1), "a refusal says when to retry: {:?}", answers.retry_after);
    // Still serving: a ping now is answered at once.
    burst(&mut tx, [json!({"type": "ping", "ref": "P2"})]).await;
    assert!(read_until(&mut rx, &mut answers, PROMPTLY, |a| a.ponged("P2")).await);
}

pub(crate) async fn a_pipelined_burst_is_logged_and_answered_in_the_order_sent() {
    // No rate limit: only the bound on frames waiting for the database refuses.
    let app = TestApp::spawn(crate::harness::Backend::Sqlite).await;
    let chat = app.chat().await;
    let (mut tx, mut rx) = app.ws(&chat.customer, None).await.stream.split();
    burst(&mut tx, (0..300).map(send)).await;
    let (mut acked, mut answered) = (Vec::new(), 0);
    while answered < 300 {
        let f = tokio::time::timeout(PROMPTLY, rx.next()).await.expect("no answer came").unwrap().unwrap();
        let Message::Text(t) = f else { continue };
        let f: Value = serde_json::from_str(t.as_str()).unwrap();
        match f["type"].as_str() {
            Some("ack") => acked.push((f["ref"].as_str().unwrap().to_owned(), f["seq"].as_i64().unwrap())),
            Some("error") => assert_eq!(f["error"]["code"], "rate_limited", "{f}"),
            _ => continue,
        }
        answered += 1;
    }
    assert!(acked.len() >= 64, "the socket takes 64 at a time: {} acked", acked.len());
    // Acks in the order the sends went out, with rising seqs, and the log in that order.
    let number = |r: &str| r.trim_start_matches('s').parse::<usize>().unwrap();
    assert!(acked.windows(2).all(|w| number(&w[0].0) < number(&w[1].0) && w[0].1 < w[1].1), "{acked:?}");
    let logged: Vec<String> = app
        .transcript(&chat.id)
        .await
        .into_iter()
        .filter_map(|e| e["client_token"].as_str().map(str::to_owned))
        .collect();
    let sent: Vec<String> = acked.iter().map(|(r, _)| format!("tok-{r}")).collect();
    assert_eq!(logged, sent);
}

pub(crate) async fn an_agent_socket_survives_a_burst_and_still_gets_offers() {
    let app = limited(20).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut ws = online(&app, &a).await;
    let (chat, _) = take_chat(&app, &mut ws, &q).await;
    let (mut tx, mut rx) = ws.stream.split();
    let frames = (0..400).map(|i| {
        let mut f = send(i);
        f["conversation_id"] = json!(chat);
        f
    });
    burst(&mut tx, frames.chain([json!({"type": "ping", "ref": "P1"})])).await;
    let mut answers = Answers::default();
    let all = |a: &Answers| a.ponged("P1") && (0..400).all(|i| a.answered(&format!("s{i}")));
    assert!(read_until(&mut rx, &mut answers, PROMPTLY, all).await, "not every frame was answered: {answers:?}");
    assert_eq!(answers.closed, None);
    assert!(answers.count.values().all(|n| *n == 1));
    assert!(answers.refused.values().all(|c| c == "rate_limited"), "{:?}", answers.refused);
    check_stored(&app, &chat, &answers, token).await;
    // The agent is still reachable: the next chat is offered on this socket.
    let (next, _) = waiting_chat(&app, &q).await;
    let mut offered = false;
    while !offered {
        let f = tokio::time::timeout(PROMPTLY, rx.next()).await.expect("no offer came").unwrap().unwrap();
        if let Message::Text(t) = f {
            let f: Value = serde_json::from_str(t.as_str()).unwrap();
            offered = f["type"] == "offer" && f["offer"]["conversation_id"] == next;
        }
    }
}

pub(crate) async fn a_client_that_keeps_flooding_is_closed_with_1008() {
    let app = limited(20).await;
    let chat = app.chat().await;
    let before = open_sockets(&app).await;
    let (mut tx, mut rx) = app.ws(&chat.customer, None).await.stream.split();
    // Writes until the server closes the socket.
    let writer = tokio::spawn(async move {
        for i in 0..100_000 {
            if tx.send(Message::Text(send(i).to_string().into())).await.is_err() {
                return;
            }
        }
    });
    let mut answers = Answers::default();
    assert!(read_until(&mut rx, &mut answers, PROMPTLY, |_| false).await, "the flood was never closed");
    assert_eq!(answers.closed, Some(Some(1008)));
    assert!(answers.refused.values().any(|c| c == "rate_limited"), "refused before being closed");
    writer.abort();
    drop(rx);
    wait_for_sockets(&app, before).await;
    check_stored(&app, &chat.id, &answers, token).await;
}

/// Descriptors this process holds for TCP sockets on the server's port: its
/// listener and the connections it accepted (the server runs in this
/// process). Counted from `/proc/net/tcp*` against `/proc/self/fd`, so the
/// other tests running beside this one do not count.
fn server_fds(app: &TestApp) -> usize {
    let held: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let port = format!(":{:04X}", app.addr.port());
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            cols.len() > 9 && cols[1].ends_with(&port) && held.contains(cols[9])
        })
        .count()
}

/// Waits until the server counts `n` open sockets.
async fn wait_for_sockets(app: &TestApp, n: i64) {
    let start = std::time::Instant::now();
    while open_sockets(app).await != n {
        assert!(start.elapsed() < PROMPTLY, "sockets were not released: {} open", open_sockets(app).await);
        tokio::task::yield_now().await;
    }
}

/// Waits until the server holds no more socket descriptors than `before`,
/// give or take the test's own HTTP client opening one more keep-alive
/// connection meanwhile.
async fn wait_for_fds(app: &TestApp, before: usize) {
    let start = std::time::Instant::now();
    while server_fds(app) > before + 1 {
        assert!(start.elapsed() < PROMPTLY, "descriptors were not released: {} held, {before} before", server_fds(app));
        tokio::task::yield_now().await;
    }
}

pub(crate) async fn clients_that_vanish_mid_burst_are_released() {
    let app = limited(1).await;
    let mut chats = Vec::new();
    for _ in 0..50 {
        chats.push(app.chat().await);
    }
    let before = open_sockets(&app).await;
    let fds = server_fds(&app);
    let mut silent = Vec::new();
    for (n, chat) in chats.iter().enumerate() {
        let (mut tx, rx) = app.ws(&chat.customer, None).await.stream.split();
        if n == 0 {
            assert!(server_fds(&app) > fds, "the count sees the server's side of an open socket");
        }
        burst(&mut tx, (0..300).map(send)).await;
        if n % 2 == 0 {
            // Gone without a close frame and without reading a thing.
            drop((tx, rx));
        } else {
            // Still connected, but silent: as if its network went away.
            silent.push((tx, rx));
        }
    }
    let start = std::time::Instant::now();
    wait_for_sockets(&app, before).await;
    // Heartbeats of one second: gone within two, with a second of slack.
    assert!(start.elapsed() < Duration::from_secs(3), "released after {:?}", start.elapsed());
    drop(silent);
    wait_for_fds(&app, fds).await;
}

/// One step of a random client.
#[derive(Debug, Clone)]
enum Step {
    Send,
    /// This many sends at once, without a pause.
    Burst(usize),
    /// A receipt for the n-th acknowledged message (or a made-up id).
    Receipt(usize),
    Typing,
    Ping,
    Junk(String),
    Binary(Vec<u8>),
    /// An agent frame that needs an offer it does not have.
    Accept,
    Pause(u64),
    /// Stops reading for a while.
    Deaf(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Send),
        1 => (50usize..400).prop_map(Step::Burst),
        2 => (0usize..50).prop_map(Step::Receipt),
        2 => Just(Step::Typing),
        2 => Just(Step::Ping),
        2 => prop_oneof![".{0,40}", r#"\{"type":"(send|receipt|ping|accept|nope)"(,"[a-z_]{1,8}":("x"|1|null|\[\]))?\}"#]
            .prop_map(Step::Junk),
        1 => proptest::collection::vec(any::<u8>(), 0..32).prop_map(Step::Binary),
        1 => Just(Step::Accept),
        1 => (0u64..30).prop_map(Step::Pause),
        1 => (50u64..400).prop_map(Step::Deaf),
    ]
}

/// A script: one socket's steps, and whether it is the agent's.
fn scripts(n: usize) -> Vec<(bool, Vec<Step>)> {
    let mut runner = TestRunner::new(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(12),
        ..ProptestConfig::default()
    });
    let strategy = (any::<bool>(), proptest::collection::vec(step(), 1..400));
    (0..n).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
}

/// Plays one script on a socket; a second task reads (or, while deaf, does not).
async fn play(app: &TestApp, raw: Raw, conversation: Option<&str>, steps: &[Step]) -> Answers {
    let (mut tx, mut rx) = raw.split();
    let (deaf_tx, mut deaf_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (ids_tx, ids_rx) = tokio::sync::watch::channel(Vec::<String>::new());
    let reader = tokio::spawn(async move {
        let mut answers = Answers::default();
        loop {
            tokio::select! {
                biased;
                Some(ms) = deaf_rx.recv() => tokio::time::sleep(Duration::from_millis(ms)).await,
                more = read_until(&mut rx, &mut answers, Duration::from_millis(50), |_| false) => {
                    let _ = more;
                    ids_tx.send_replace(answers.ids.clone());
                    if answers.closed.is_some() {
                        return (answers, rx);
                    }
                }
            }
            if deaf_rx.is_closed() && deaf_rx.is_empty() {
                return (answers, rx);
            }
        }
    });
    let with = |mut f: Value| {
        if let Some(c) = conversation {
            f["conversation_id"] = json!(c);
        }
        f.to_string()
    };
    for (i, s) in steps.iter().enumerate() {
        let message = match s {
            Step::Send => Message::Text(with(send(i)).into()),
            Step::Burst(n) => {
                for k in 0..*n {
                    if tx.feed(Message::Text(with(send_as(&format!("b{i}.{k}"))).into())).await.is_err() {
                        break;
                    }
                }
                continue;
            }
            Step::Receipt(n) => {
                let id = ids_rx.borrow().get(*n).cloned().unwrap_or_else(|| "evt_01JD0000000000000000000000".into());
                Message::Text(
                    with(json!({"type": "receipt", "ref": format!("r{i}"), "receipt": "read", "message_id": id}))
                        .into(),
                )
            }
            Step::Typing => Message::Text(with(json!({"type": "typing"})).into()),
            Step::Ping => Message::Text(json!({"type": "ping", "ref": format!("p{i}")}).to_string().into()),
            Step::Junk(j) => Message::Text(j.clone().into()),
            Step::Binary(b) => Message::Binary(b.clone().into()),
            Step::Accept => Message::Text(
                json!({"type": "accept", "ref": format!("a{i}"), "offer_id": "ofr_01JD0000000000000000000000"})
                    .to_string()
                    .into(),
            ),
            Step::Pause(ms) => {
                tx.flush().await.ok();
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                continue;
            }
            Step::Deaf(ms) => {
                let _ = deaf_tx.send(*ms);
                continue;
            }
        };
        if tx.feed(message).await.is_err() {
            break;
        }
    }
    let _ = tx.flush().await;
    drop(deaf_tx);
    let (mut answers, mut rx) = reader.await.unwrap();
    // Afterwards the socket answers a ping within a second, or was closed with a code.
    if answers.closed.is_none()
        && tx.send(Message::Text(json!({"type": "ping", "ref": "last"}).to_string().into())).await.is_ok()
    {
        let ok = read_until(&mut rx, &mut answers, Duration::from_secs(1), |a| a.ponged("last")).await;
        assert!(ok, "no pong within a second after {} steps: {answers:?}", steps.len());
    }
    if let Some(code) = answers.closed {
        assert_eq!(code, Some(1008), "closed without the flood code: {answers:?} after {steps:?}");
    }
    let _ = app;
    answers
}

pub(crate) async fn random_clients_never_wedge_a_socket() {
    // The default heartbeat: a script's deaf spells add up to a few seconds,
    // and a client deaf for two heartbeats is rightly dropped.
    let app = limited(20).await;
    let q = queue(&app, "general", json!({})).await;
    let before = open_sockets(&app).await;
    let fds = server_fds(&app);
    for (n, (as_agent, steps)) in scripts(16).into_iter().enumerate() {
        let (chat, raw, agent_conversation) = if as_agent {
            let a = agent(&app, &format!("Agent {n}"), 1, json!({})).await;
            let mut ws = online(&app, &a).await;
            let (chat, _) = take_chat(&app, &mut ws, &q).await;
            (chat.clone(), ws.stream, Some(chat))
        } else {
            let chat = app.chat().await;
            (chat.id, app.ws(&chat.customer, None).await.stream, None)
        };
        let answers = play(&app, raw, agent_conversation.as_deref(), &steps).await;
        assert!(answers.count.values().all(|c| *c == 1), "script {n}: a frame answered twice");
        check_stored(&app, &chat, &answers, token).await;
    }
    wait_for_sockets(&app, before).await;
    wait_for_fds(&app, fds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_customer() {
    a_burst_of_sends_is_answered_and_the_socket_keeps_serving().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_in_order() {
    a_pipelined_burst_is_logged_and_answered_in_the_order_sent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_agent() {
    an_agent_socket_survives_a_burst_and_still_gets_offers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_closed() {
    a_client_that_keeps_flooding_is_closed_with_1008().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_clients_released() {
    clients_that_vanish_mid_burst_are_released().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_clients() {
    random_clients_never_wedge_a_socket().await;
}
