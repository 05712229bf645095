//! `connect`: what the Amazon Connect dialect costs beside the native API,
//! in one run on the same server. Each conversation's customer sends its
//! messages one after another over REST and waits for each to come back on
//! its own socket: first natively (`POST …/messages`, the participant
//! stream), then as ChatJS does (`SendMessage` with a connection token, the
//! `aws/chat` socket). Reports send → delivered latency, messages/s and the
//! server's CPU per message for both, and fails on a lost or repeated one.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::report::{Latency, ProcSample, ServerCost};
use crate::setup::{Api, Conversation, create_conversations};

#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Server base URL (ChatJS needs `127.0.0.1`, not `localhost`; this client does not mind).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An admin API key of the workspace.
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    pub admin_key: String,
    /// Conversations sending at once (each one message at a time).
    #[arg(long, default_value_t = 50)]
    pub conversations: u32,
    /// Messages each conversation sends per mode.
    #[arg(long, default_value_t = 100)]
    pub messages: u32,
    /// The server's process id, to report its CPU per message (Linux /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Run only one mode (`native` or `connect`), e.g. to profile it alone.
    #[arg(long, value_parser = ["native", "connect"])]
    pub only: Option<String>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One mode's figures.
#[derive(Debug, Clone, Copy)]
struct Row {
    sent: u64,
    per_sec: f64,
    latency: Latency,
    cost: Option<ServerCost>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Native,
    Connect,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Native => "native REST + stream",
            Self::Connect => "Connect SendMessage + aws/chat",
        }
    }
}

pub async fn run(args: ConnectArgs) -> Result<bool> {
    if args.conversations == 0 || args.messages == 0 {
        bail!("--conversations and --messages must be at least 1");
    }
    let api = Api::new(&args.url, &args.admin_key, args.conversations as usize)?;
    let conversations = create_conversations(&api, args.conversations, 16).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(args.conversations as usize)
        .build()?;
    let modes: Vec<Mode> = match args.only.as_deref() {
        Some("native") => vec![Mode::Native],
        Some(_) => vec![Mode::Connect],
        None => vec![Mode::Native, Mode::Connect],
    };
    let mut rows = Vec::new();
    for &mode in &modes {
        let before = ProcSample::maybe(args.server_pid)?;
        let started = Instant::now();
        let samples: Vec<Vec<u32>> = stream::iter(conversations.iter())
            .map(|c| one(&http, &args, c, mode))
            .buffer_unordered(conversations.len())
            .try_collect()
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let sent = u64::from(args.conversations) * u64::from(args.messages);
        let cost = match (before, ProcSample::maybe(args.server_pid)?) {
            (Some(b), Some(a)) => Some(ServerCost::between(b, a, sent)),
            _ => None,
        };
        let latency = Latency::from_samples(samples.iter().map(Vec::as_slice));
        rows.push((mode, Row { sent, per_sec: sent as f64 / elapsed, latency, cost }));
    }
    // Every message is in the log once, in the order sent.
    let mut clean = true;
    for c in &conversations {
        let mut after = 0;
        let mut contents = Vec::new();
        loop {
            let page = api.transcript_page(&c.id, after, 500).await?;
            contents.extend(page.events.iter().filter(|e| e.kind == "message").filter_map(|e| e.client_token.clone()));
            match page.next_after_seq {
                Some(n) => after = n,
                None => break,
            }
        }
        let expected: Vec<String> =
            modes.iter().copied().flat_map(|m| (0..args.messages).map(move |i| client_token(m, i))).collect();
        if contents != expected {
            eprintln!("conversation {}: the log does not hold each message once in order", c.id);
            clean = false;
        }
    }
    println!("| mode | messages | msgs/s | p50 ms | p99 ms | max ms | server CPU µs/msg |");
    println!("|---|---|---|---|---|---|---|");
    for (mode, r) in &rows {
        let cpu = r.cost.and_then(|c| c.cpu_secs_per_1k_msgs).map_or("-".to_owned(), |s| format!("{:.0}", s * 1000.0));
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {cpu} |",
            mode.name(),
            r.sent,
            r.per_sec,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms
        );
    }
    if let [(_, native), (_, connect)] = rows.as_slice() {
        println!(
            "\nConnect / native: {:.2}× the throughput, {:.2}× the p50 latency",
            connect.per_sec / native.per_sec,
            connect.latency.p50_ms / native.latency.p50_ms.max(0.001)
        );
    }
    println!("log check: {}", if clean { "every message once, in order" } else { "FAILED" });
    Ok(clean)
}

fn body(mode: Mode, i: u32) -> String {
    match mode {
        Mode::Native => format!("native {i}"),
        Mode::Connect => format!("connect {i}"),
    }
}

/// The idempotency token of message `i`: what the log check compares.
fn client_token(mode: Mode, i: u32) -> String {
    match mode {
        Mode::Native => format!("n{i}"),
        Mode::Connect => format!("c{i}"),
    }
}

fn socket_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}{path}"),
        Some((_, rest)) => format!("ws://{rest}{path}"),
        None => format!("ws://{base}{path}"),
    }
}

async fn next_json(socket: &mut Socket) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no frame within 30 s")?
            .context("the socket closed")??;
        if let Message::Text(t) = msg {
            return Ok(serde_json::from_str(t.as_str())?);
        }
    }
}

/// One conversation's customer in one mode: the latency of each message, µs.
async fn one(http: &reqwest::Client, args: &ConnectArgs, c: &Conversation, mode: Mode) -> Result<Vec<u32>> {
    let token = &c.tokens[0];
    let base = args.url.trim_end_matches('/');
    let (mut socket, conn) = match mode {
        Mode::Native => {
            let url = socket_url(base, &format!("/api/v1/stream?token={token}"));
            let (mut s, _) = tokio_tungstenite::connect_async(url).await.context("opening the stream")?;
            next_json(&mut s).await?; // hello
            (s, String::new())
        }
        Mode::Connect => {
            let body = json!({"Type": ["WEBSOCKET", "CONNECTION_CREDENTIALS"]});
            let r: Value = http
                .post(format!("{base}/participant/connection"))
                .header("x-amz-bearer", token)
                .json(&body)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let url = r["Websocket"]["Url"].as_str().context("no Websocket.Url")?.to_owned();
            let conn = r["ConnectionCredentials"]["ConnectionToken"].as_str().context("no ConnectionToken")?.to_owned();
            let (mut s, _) = tokio_tungstenite::connect_async(url).await.context("opening the aws/chat socket")?;
            s.send(Message::Text(
                json!({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}).to_string().into(),
            ))
            .await?;
            next_json(&mut s).await?; // the subscription's answer
            (s, conn)
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(args.messages as usize);
    for i in 0..args.messages {
        let text = body(mode, i);
        let started = Instant::now();
        let id = match mode {
            Mode::Native => {
                let r: Value = http
                    .post(format!("{base}/api/v1/conversations/{}/messages", c.id))
                    .bearer_auth(token)
                    .json(&json!({"content": text, "client_token": client_token(mode, i)}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                r["id"].as_str().context("no id")?.to_owned()
            }
            Mode::Connect => {
                let r: Value = http
                    .post(format!("{base}/participant/message"))
                    .header("x-amz-bearer", &conn)
                    .json(&json!({"ContentType": "text/plain", "Content": text, "ClientToken": client_token(mode, i)}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                r["Id"].as_str().context("no Id")?.to_owned()
            }
        };
        loop {
            let f = next_json(&mut socket).await?;
            let got = match mode {
                Mode::Native if f["type"] == "event" => f["event"]["id"].as_str().map(str::to_owned),
                Mode::Connect if f["topic"] == "aws/chat" => {
                    let item: Value = serde_json::from_str(f["content"].as_str().unwrap_or("{}"))?;
                    item["Id"].as_str().map(str::to_owned)
                }
                _ => None,
            };
            let Some(got) = got else { continue };
            if !seen.insert(got.clone()) {
                bail!("conversation {}: {got} delivered twice", c.id);
            }
            if got == id {
                break;
            }
        }
        out.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let _ = socket.close(None).await;
    Ok(out)
}
