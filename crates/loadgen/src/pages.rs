//! `pages`: how fast the server answers transcript pages from a store that
//! already holds a lot of history (after `seed`). Samples conversations from
//! the workspace's list, then reads random pages of their logs with a fixed
//! number of requests in flight and reports the latency percentiles.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde::Deserialize;

use crate::report::Latency;
use crate::setup::Api;

#[derive(Debug, Clone, Args)]
pub struct PagesArgs {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An admin API key of the workspace that holds the conversations.
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    pub admin_key: String,
    /// Conversations to sample from the workspace's list (newest first).
    #[arg(long, default_value_t = 2_000)]
    pub sample: u32,
    /// Pages to read in the measured run.
    #[arg(long, default_value_t = 20_000)]
    pub requests: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Events per page.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Deserialize)]
struct ConversationList {
    conversations: Vec<Listed>,
    next_before: Option<String>,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    last_seq: u64,
}

/// What a `pages` run measured.
#[derive(Debug, Clone, Copy)]
pub struct PagesSummary {
    pub conversations: usize,
    pub pages: u64,
    pub events: u64,
    pub per_sec: f64,
    pub latency: Latency,
}

pub async fn run(args: PagesArgs) -> Result<bool> {
    if args.concurrency == 0 || args.requests == 0 || args.limit == 0 {
        bail!("--concurrency, --requests and --limit must be at least 1");
    }
    let api = Api::new(&args.url, &args.admin_key, args.concurrency)?;
    let sample = sample(&api, args.sample).await?;
    if sample.is_empty() {
        bail!("the workspace has no conversation with events to read (seed it first)");
    }
    eprintln!("pages: {} conversations sampled; reading {} pages of {}", sample.len(), args.requests, args.limit);
    let summary = measure(&api, &sample, &args).await?;
    println!(
        "pages: {} pages ({} events) from {} conversations in flight {}: {:.0} pages/s; \
         latency ms p50 {} p90 {} p99 {} p99.9 {} max {}",
        summary.pages,
        summary.events,
        summary.conversations,
        args.concurrency,
        summary.per_sec,
        summary.latency.p50_ms,
        summary.latency.p90_ms,
        summary.latency.p99_ms,
        summary.latency.p999_ms,
        summary.latency.max_ms
    );
    Ok(true)
}

/// Up to `n` conversations with at least one event, newest first.
async fn sample(api: &Api, n: u32) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    while out.len() < n as usize {
        let mut path = "/conversations?limit=500".to_owned();
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let page: ConversationList = api.get(&path).await.context("listing conversations")?;
        out.extend(page.conversations.into_iter().filter(|c| c.last_seq > 0).map(|c| (c.id, c.last_seq)));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    out.truncate(n as usize);
    Ok(out)
}

/// Reads `args.requests` pages, each of a conversation and a start picked
/// from a fixed sequence, `args.concurrency` at a time; every page must come
/// back whole and in order.
async fn measure(api: &Api, sample: &[(String, u64)], args: &PagesArgs) -> Result<PagesSummary> {
    let workers = args.concurrency.min(args.requests as usize);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let api = api.clone();
        let sample = sample.to_vec();
        let (limit, requests) = (args.limit, args.requests as usize);
        tasks.spawn(async move {
            let mut times = Vec::new();
            let mut events = 0u64;
            for i in (w..requests).step_by(workers) {
                // A cheap, fixed scatter over conversations and positions.
                let pick = i.wrapping_mul(2_654_435_761) % sample.len();
                let (id, last) = &sample[pick];
                let after = (i as u64).wrapping_mul(40_503) % last.saturating_sub(u64::from(limit)).max(1);
                let t = Instant::now();
                let page = api.transcript_page(id, after, limit).await?;
                times.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                let expected = (last - after).min(u64::from(limit));
                let seqs_in_order = page.events.iter().map(|e| e.seq).eq(after + 1..=after + expected);
                if page.events.len() as u64 != expected || !seqs_in_order {
                    bail!(
                        "{id}: page after seq {after} came back with {} events, not {expected} in order",
                        page.events.len()
                    );
                }
                events += expected;
            }
            Ok::<_, anyhow::Error>((times, events))
        });
    }
    let mut sets = Vec::new();
    let mut events = 0;
    while let Some(done) = tasks.join_next().await {
        let (times, n) = done.context("a reader task failed")??;
        sets.push(times);
        events += n;
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    Ok(PagesSummary {
        conversations: sample.len(),
        pages: u64::from(args.requests),
        events,
        per_sec: f64::from(args.requests) / elapsed.as_secs_f64(),
        latency: Latency::from_samples(sets.iter().map(Vec::as_slice)),
    })
}
