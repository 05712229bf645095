//! The `chat` mode: sets conversations up over REST (or uses relay rooms),
//! opens a customer and an agent socket for each, releases every sender at
//! once, watches progress until each send is answered and delivered, then
//! reports and (against the server) verifies the transcripts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{self, Counters, Links, Outcome, Plan, SIDES};
use crate::report::{ChatSummary, Latency, ProcSample, Progress, ServerCost, round};
use crate::setup::{self, Api};
use crate::verify::{self, Expected};

#[derive(Args)]
pub struct ChatArgs {
    /// Base URL of the server, or of the relay with --relay.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "SWITCHBOARD_URL")]
    pub url: String,
    /// Admin API key (sent as a bearer token) for setup and verification.
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY", required_unless_present = "relay")]
    pub admin_key: Option<String>,
    /// Conversations, each with a customer and an agent socket.
    #[arg(long, default_value_t = 1000)]
    pub conversations: u32,
    /// Messages each side sends.
    #[arg(long, default_value_t = 100)]
    pub messages: u32,
    /// Total offered messages/s across all senders; 0 = closed loop (see --window).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// With --rate 0: unacknowledged sends each sender may have in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
    /// Pad each message's content to this many bytes (it always carries a timestamp).
    #[arg(long, default_value_t = 64)]
    pub payload_bytes: usize,
    /// Server process to sample for RSS (VmRSS) and CPU time (/proc/PID/stat).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Leave messages sent during the first N seconds out of latency, throughput and CPU.
    #[arg(long, default_value_t = 0)]
    pub warmup_secs: u64,
    /// Read every transcript back afterwards and check for lost or duplicated messages.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub verify: bool,
    /// Target the bare relay (`switchboard-loadgen relay`): rooms instead of REST setup, no verify.
    #[arg(long)]
    pub relay: bool,
    /// REST requests in flight at once during setup and verification.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Once every send is answered, how long to wait for the last deliveries.
    #[arg(long, default_value_t = 10)]
    pub drain_secs: u64,
}

pub async fn run(args: ChatArgs) -> Result<bool> {
    let summary = measure(&args).await?;
    summary.print();
    Ok(summary.ok)
}

/// The whole run without the printed report, so `bench` can put several runs'
/// figures side by side. Progress still goes to stderr.
pub(crate) async fn measure(args: &ChatArgs) -> Result<ChatSummary> {
    if args.conversations == 0 || args.messages == 0 {
        bail!("--conversations and --messages must be at least 1");
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        bail!("--rate must be a number >= 0");
    }
    let ws_base = client::ws_base(&args.url)?;
    let senders = u64::from(args.conversations) * 2;
    let tag = run_tag();

    // Setup: either REST conversations or relay rooms; one URL per socket.
    let (api, conversations) = match (&args.relay, &args.admin_key) {
        (false, Some(key)) => {
            let api = Api::new(&args.url, key, args.setup_concurrency)?;
            let conversations = setup::create_conversations(&api, args.conversations, args.setup_concurrency).await?;
            (Some(api), conversations)
        }
        (false, None) => bail!("--admin-key is required without --relay"),
        (true, _) => (None, Vec::new()),
    };
    let mut urls = Vec::with_capacity(senders as usize);
    for conv in 0..args.conversations {
        for (side, role) in SIDES.iter().enumerate() {
            let url = match conversations.get(conv as usize) {
                Some(c) => format!("{ws_base}/api/v1/stream?token={}", client::query_escape(&c.tokens[side])),
                None => format!("{ws_base}/api/v1/stream?room={conv}&side={role}"),
            };
            urls.push((conv, side as u8, url));
        }
    }

    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(senders as f64 / args.rate));
    let plan = Arc::new(Plan {
        epoch: Instant::now(),
        messages: args.messages,
        window: args.window,
        interval,
        payload_bytes: args.payload_bytes,
        tag: tag.clone(),
        warmup: Duration::from_secs(args.warmup_secs),
        measure_from_ns: AtomicU64::new(u64::MAX),
    });
    let counters = Arc::new(Counters::default());
    let (go_tx, go) = watch::channel(None);
    let (stop_tx, stop) = watch::channel(false);
    let links = Links { plan: plan.clone(), counters: counters.clone(), go, stop };

    let handles = open_sockets(urls, links, args.connect_concurrency).await?;

    // The measured phase.
    let rss_pid = args.server_pid;
    let start_sample = ProcSample::maybe(rss_pid)?;
    let started = Instant::now();
    let measure_from_ns = plan.ns(started + plan.warmup);
    plan.measure_from_ns.store(measure_from_ns, Ordering::Relaxed);
    go_tx.send_replace(Some(started));
    let pacing = match interval {
        Some(iv) => format!("rate {} msg/s offered ({:.1} ms between one sender's messages)", args.rate, ms(iv)),
        None => format!("closed loop, window {} per sender", args.window),
    };
    eprintln!("run: {senders} senders x {} messages, {pacing}", args.messages);
    let warm = watch_run(&counters, senders * u64::from(args.messages), args, started, rss_pid).await?;
    let end_sample = ProcSample::maybe(rss_pid)?;
    stop_tx.send_replace(true);

    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        outcomes.push(handle.await.context("a socket task panicked")?);
    }

    // Figures.
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (acked, delivered) = (load(&counters.acked), load(&counters.delivered));
    let measured_delivered = load(&counters.measured_delivered);
    let duration = load(&counters.last_delivery_ns).saturating_sub(measure_from_ns) as f64 / 1e9;
    let throughput = if duration > 0.0 { measured_delivered as f64 / duration } else { 0.0 };
    let latency = Latency::from_samples(outcomes.iter().map(|o| o.latencies_us.as_slice()));
    let server = match (warm.cpu_from.or(start_sample), end_sample) {
        (Some(before), Some(after)) => {
            let mut cost = ServerCost::between(before, after, measured_delivered);
            // RSS "before" is when sending started, even with a warmup.
            cost.rss_before_mib = start_sample.map_or(cost.rss_before_mib, |s| crate::report::mib(s.rss_kib));
            Some(cost)
        }
        _ => None,
    };
    let first_error = counters.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone();

    let verified = match (&api, args.verify) {
        (Some(api), true) => {
            let expected = expectations(&conversations, outcomes);
            Some(verify::verify(api, &tag, expected, args.setup_concurrency).await?)
        }
        _ => None,
    };

    let undelivered = acked.saturating_sub(delivered);
    let (gaps, dups) = (load(&counters.stream_gaps), load(&counters.stream_dups));
    let refused = load(&counters.refused);
    // Refusals are not data loss, but the figures would not describe the load
    // asked for, so they fail the run too.
    let hint = (refused > 0 && first_error.as_deref().is_some_and(|e| e.contains("rate_limited"))).then(|| {
        "the server limits sends per participant (default 20/s); for load tests start it with \
         SWITCHBOARD_SENDS_PER_SECOND=0, or keep --rate under 20 x sockets"
            .to_owned()
    });
    let ok = warm.finished
        && refused == 0
        && undelivered == 0
        && gaps == 0
        && dups == 0
        && load(&counters.broken) == 0
        && verified.is_none_or(|v| v.clean());
    let summary = ChatSummary {
        mode: if args.relay { "chat-relay" } else { "chat" },
        ok,
        conversations: args.conversations,
        sockets: args.conversations * 2,
        messages_per_side: args.messages,
        pacing,
        sent: load(&counters.sent),
        acked,
        refused,
        delivered,
        undelivered,
        stream_seq_gaps: gaps,
        stream_seq_dups: dups,
        warmup_secs: args.warmup_secs,
        measured_delivered,
        duration_secs: round(duration, 3),
        throughput_msgs_per_sec: round(throughput, 1),
        latency,
        server,
        verify: verified,
        first_error,
        hint,
    };
    Ok(summary)
}

/// Opens every socket (bounded concurrency, each waits for its `hello`) and
/// spawns its driver at once, so it answers pings while the rest connect.
async fn open_sockets(
    urls: Vec<(u32, u8, String)>,
    links: Links,
    concurrency: usize,
) -> Result<Vec<JoinHandle<Outcome>>> {
    let total = urls.len() as u64;
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::spawn("open sockets", done.clone(), total);
    let started = Instant::now();
    let handles: Vec<JoinHandle<Outcome>> = stream::iter(urls)
        .map(|(conv, side, url)| {
            let (links, done) = (links.clone(), done.clone());
            async move {
                let (ws, last_seq) = client::connect(&url)
                    .await
                    .with_context(|| format!("conversation {conv} {}", SIDES[usize::from(side)]))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(tokio::spawn(client::drive(ws, conv, side, last_seq, links)))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    drop(progress);
    let secs = started.elapsed().as_secs_f64();
    eprintln!("open sockets: {total} in {secs:.1} s ({:.0}/s)", total as f64 / secs.max(1e-9));
    Ok(handles)
}

struct Watched {
    /// Every send answered and every acknowledged message delivered.
    finished: bool,
    /// The server sample taken when the warmup ended, if there was one.
    cpu_from: Option<ProcSample>,
}

/// Polls the counters until the run is complete (or stuck), printing progress
/// once a second.
async fn watch_run(
    counters: &Counters,
    to_send: u64,
    args: &ChatArgs,
    started: Instant,
    pid: Option<u32>,
) -> Result<Watched> {
    let warmup_end = started + Duration::from_secs(args.warmup_secs);
    let mut cpu_from = None;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut next_report = started + Duration::from_secs(1);
    let mut last_delivered = 0;
    let mut answered_at: Option<Instant> = None;
    loop {
        tick.tick().await;
        let now = Instant::now();
        if args.warmup_secs > 0 && cpu_from.is_none() && now >= warmup_end {
            cpu_from = ProcSample::maybe(pid)?;
            eprintln!("warmup over, measuring");
        }
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let answered = load(&counters.acked) + load(&counters.refused);
        let (acked, delivered) = (load(&counters.acked), load(&counters.delivered));
        if now >= next_report {
            eprintln!(
                "[{:>6.1}s] answered {answered}/{to_send}  delivered {delivered}  ({}/s)",
                started.elapsed().as_secs_f64(),
                delivered - last_delivered
            );
            last_delivered = delivered;
            next_report += Duration::from_secs(1);
        }
        if load(&counters.broken) > 0 {
            eprintln!("stopping: {} socket(s) failed", load(&counters.broken));
            return Ok(Watched { finished: false, cpu_from });
        }
        if answered >= to_send {
            if delivered >= acked {
                return Ok(Watched { finished: true, cpu_from });
            }
            let since = *answered_at.get_or_insert(now);
            if now.duration_since(since) >= Duration::from_secs(args.drain_secs) {
                eprintln!("stopping: {} acknowledged messages never reached the other side", acked - delivered);
                return Ok(Watched { finished: false, cpu_from });
            }
        }
    }
}

/// Pairs each conversation with what its two sockets sent.
fn expectations(conversations: &[setup::Conversation], outcomes: Vec<Outcome>) -> Vec<Expected> {
    let mut expected: Vec<Expected> = conversations
        .iter()
        .enumerate()
        .map(|(i, c)| Expected { index: i as u32, id: c.id.clone(), status: [Vec::new(), Vec::new()] })
        .collect();
    for o in outcomes {
        if let Some(e) = expected.get_mut(o.conv as usize) {
            e.status[usize::from(o.side)] = o.status;
        }
    }
    expected
}

/// A short tag unique to this run, so its client tokens (and `bench`'s
/// directories and schemas) never clash with an earlier run's.
pub(crate) fn run_tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("lg{:x}", (nanos as u64) ^ u64::from(std::process::id()) << 48)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
