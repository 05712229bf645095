//! The `idle` mode: the memory floor per connection. Opens N sockets that send
//! nothing (a customer and an agent per conversation, or relay rooms), reads
//! the server's RSS before and with all of them open, holds them, and closes
//! them cleanly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{StreamExt, TryStreamExt, stream};
use tokio::sync::watch;

use crate::client::{self, SIDES};
use crate::report::{IdleSummary, ProcSample, Progress, mib, round};
use crate::setup::{self, Api};

#[derive(Args)]
pub struct IdleArgs {
    /// Base URL of the server, or of the relay with --relay.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "SWITCHBOARD_URL")]
    pub url: String,
    /// Admin API key (sent as a bearer token) to create the conversations.
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY", required_unless_present = "relay")]
    pub admin_key: Option<String>,
    /// Sockets to open; rounded down to an even number (two per conversation).
    #[arg(long, default_value_t = 10_000)]
    pub connections: u32,
    /// Server process to sample for RSS (VmRSS).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Target the bare relay: rooms instead of REST setup.
    #[arg(long)]
    pub relay: bool,
    /// How long to keep every socket open once all are connected.
    #[arg(long, default_value_t = 5)]
    pub hold_secs: u64,
    /// REST requests in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
}

/// Lets the server finish whatever it allocates lazily after the handshake
/// before its RSS is read.
const SETTLE: Duration = Duration::from_millis(500);

/// Peak RSS above current by more than this counts as "was bigger before".
const HWM_SLACK_KIB: u64 = 2048;

pub async fn run(args: IdleArgs) -> Result<bool> {
    let pairs = args.connections / 2;
    if pairs == 0 {
        bail!("--connections must be at least 2");
    }
    let ws_base = client::ws_base(&args.url)?;
    let urls: Vec<String> = if args.relay {
        (0..pairs)
            .flat_map(|i| SIDES.iter().map(move |role| (i, role)))
            .map(|(i, role)| format!("{ws_base}/api/v1/stream?room=idle{i}&side={role}"))
            .collect()
    } else {
        let key = args.admin_key.as_deref().context("--admin-key is required without --relay")?;
        let api = Api::new(&args.url, key, args.setup_concurrency)?;
        setup::create_conversations(&api, pairs, args.setup_concurrency)
            .await?
            .iter()
            .flat_map(|c| c.tokens.iter())
            .map(|token| format!("{ws_base}/api/v1/stream?token={}", client::query_escape(token)))
            .collect()
    };
    let total = urls.len() as u32;

    // Measured after setup, so the figure is the sockets' cost alone.
    tokio::time::sleep(SETTLE).await;
    let before = ProcSample::maybe(args.server_pid)?;

    let (stop_tx, stop) = watch::channel(false);
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::spawn("open sockets", done.clone(), u64::from(total));
    let started = Instant::now();
    let holders: Vec<tokio::task::JoinHandle<bool>> = stream::iter(urls.into_iter().enumerate())
        .map(|(i, url)| {
            let (stop, done) = (stop.clone(), done.clone());
            async move {
                let (ws, _) = client::connect(&url).await.with_context(|| format!("socket {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(tokio::spawn(client::hold(ws, stop)))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .try_collect()
        .await?;
    let connect_secs = started.elapsed().as_secs_f64();
    drop(progress);
    eprintln!("open sockets: {total} in {connect_secs:.1} s, every hello received");

    tokio::time::sleep(SETTLE).await;
    let open = ProcSample::maybe(args.server_pid)?;
    let kib_per_connection = match (before, open) {
        (Some(b), Some(o)) => Some(round((o.rss_kib as f64 - b.rss_kib as f64) / f64::from(total), 2)),
        _ => None,
    };
    if let Some(k) = kib_per_connection {
        eprintln!("server RSS grew {k:.1} KiB per connection; holding {} s", args.hold_secs);
    }
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;

    stop_tx.send_replace(true);
    let mut dropped = 0;
    for holder in holders {
        if !holder.await.context("a socket task panicked")? {
            dropped += 1;
        }
    }
    tokio::time::sleep(SETTLE).await;
    let closed = ProcSample::maybe(args.server_pid)?;

    // RSS does not shrink when memory is freed, and freed memory is reused: a
    // server that has already been bigger (an earlier run) hides the new
    // sockets' cost. Its peak says whether that may have happened.
    let warning = before.filter(|b| b.hwm_kib > b.rss_kib + HWM_SLACK_KIB).map(|b| {
        format!(
            "the server's RSS had already peaked at {:.1} MiB before this run, so freed memory may have been \
             reused and the per-connection figure understated; measure on a freshly started server",
            mib(b.hwm_kib)
        )
    });
    let summary = IdleSummary {
        mode: if args.relay { "idle-relay" } else { "idle" },
        ok: dropped == 0,
        connections: total,
        connect_secs: round(connect_secs, 3),
        connects_per_sec: round(f64::from(total) / connect_secs.max(1e-9), 1),
        rss_before_mib: before.map(|s| mib(s.rss_kib)),
        rss_open_mib: open.map(|s| mib(s.rss_kib)),
        rss_closed_mib: closed.map(|s| mib(s.rss_kib)),
        kib_per_connection,
        hold_secs: args.hold_secs,
        dropped_while_held: dropped,
        warning,
    };
    summary.print();
    Ok(summary.ok)
}
