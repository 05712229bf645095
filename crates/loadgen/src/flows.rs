//! The flows mode: flow steps per second, the server's memory with many runs
//! waiting, and webhook deliveries per second to a local receiver, each
//! checked (every run finished or waiting as it should, every delivery once,
//! in order per webhook and conversation).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};

use crate::report::{ProcSample, Progress, ServerCost, mib, round};
use crate::setup::{Api, Conversation, create_conversations};

#[derive(Args)]
pub struct FlowsArgs {
    /// Base URL of the server (start it with `--sends-per-second 0`).
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "SWITCHBOARD_URL")]
    pub url: String,
    /// Admin API key (sent as a bearer token).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    pub admin_key: String,
    /// Server process to sample for RSS and CPU time.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Runs of the step-counting flow to launch.
    #[arg(long, default_value_t = 2_000)]
    pub runs: u32,
    /// Steps in that flow (`set_vars` steps, then one message).
    #[arg(long, default_value_t = 20)]
    pub steps: u32,
    /// Runs left waiting for an event, for the memory figure (10 per conversation).
    #[arg(long, default_value_t = 10_000)]
    pub waiting: u32,
    /// Messages sent while webhooks listen.
    #[arg(long, default_value_t = 2_000)]
    pub messages: u32,
    /// Webhooks told about every message (each its own ordered lane).
    #[arg(long, default_value_t = 4)]
    pub webhooks: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Summary {
    runs: u32,
    steps_per_run: u32,
    steps_elapsed_secs: f64,
    steps_per_sec: f64,
    steps_cost: Option<ServerCost>,
    waiting_runs: u32,
    waiting_rss_before_mib: Option<f64>,
    waiting_rss_after_mib: Option<f64>,
    waiting_kib_per_run: Option<f64>,
    messages: u32,
    webhooks: u32,
    deliveries: u64,
    deliveries_elapsed_secs: f64,
    deliveries_per_sec: f64,
    duplicate_deliveries: u64,
    out_of_order_deliveries: u64,
    missing_deliveries: u64,
}

const PER_CONVERSATION: u32 = 10;

pub async fn run(args: FlowsArgs) -> Result<bool> {
    let api = Api::new(&args.url, &args.admin_key, args.concurrency)?;
    let _: Value = api.put("/event-types/bench", json!({"fields": [{"name": "n", "type": "number"}]})).await?;
    deploy(&api, &steps_flow(args.steps)).await?;
    deploy(&api, WAITING_FLOW).await?;
    let rooms = (args.waiting.div_ceil(PER_CONVERSATION)).max(args.runs.div_ceil(PER_CONVERSATION)).max(1);
    let conversations = create_conversations(&api, rooms, args.concurrency).await?;

    // Steps: each launch runs every step of the flow in its transaction.
    let before = ProcSample::maybe(args.server_pid)?;
    let started = Instant::now();
    let completed = launch_all(&api, &conversations, "bench-steps", args.runs, args.concurrency).await?;
    let steps_elapsed = started.elapsed().as_secs_f64();
    let after = ProcSample::maybe(args.server_pid)?;
    let steps_cost = before.zip(after).map(|(b, a)| ServerCost::between(b, a, u64::from(args.runs * args.steps)));
    let not_done = completed.iter().filter(|s| s.as_str() != "completed").count();

    // Waiting runs: rows, not memory.
    let before = ProcSample::maybe(args.server_pid)?;
    let waiting = launch_all(&api, &conversations, "bench-wait", args.waiting, args.concurrency).await?;
    let after = ProcSample::maybe(args.server_pid)?;
    let not_waiting = waiting.iter().filter(|s| s.as_str() != "waiting").count();

    let (deliveries, elapsed, check) = webhooks(&api, &conversations, &args).await?;
    let total_steps = f64::from(args.runs * args.steps);
    let summary = Summary {
        runs: args.runs,
        steps_per_run: args.steps,
        steps_elapsed_secs: round(steps_elapsed, 3),
        steps_per_sec: round(total_steps / steps_elapsed.max(1e-9), 0),
        steps_cost,
        waiting_runs: args.waiting,
        waiting_rss_before_mib: before.map(|b| mib(b.rss_kib)),
        waiting_rss_after_mib: after.map(|a| mib(a.rss_kib)),
        waiting_kib_per_run: before
            .zip(after)
            .map(|(b, a)| round((a.rss_kib as f64 - b.rss_kib as f64) / f64::from(args.waiting.max(1)), 2)),
        messages: args.messages,
        webhooks: args.webhooks,
        deliveries,
        deliveries_elapsed_secs: round(elapsed, 3),
        deliveries_per_sec: round(deliveries as f64 / elapsed.max(1e-9), 0),
        duplicate_deliveries: check.duplicates,
        out_of_order_deliveries: check.out_of_order,
        missing_deliveries: check.missing,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print(&summary);
    }
    if not_done > 0 || not_waiting > 0 {
        eprintln!("problems: {not_done} step runs did not complete, {not_waiting} runs were not left waiting");
    }
    Ok(not_done == 0 && not_waiting == 0 && check.duplicates == 0 && check.out_of_order == 0 && check.missing == 0)
}

fn print(s: &Summary) {
    println!(
        "flow steps      {} runs × {} steps in {:.2} s: {} steps/s",
        s.runs, s.steps_per_run, s.steps_elapsed_secs, s.steps_per_sec
    );
    if let Some(c) = &s.steps_cost {
        println!(
            "                server CPU {:.2} s ({:.1} µs per step)",
            c.cpu_secs,
            c.cpu_secs * 1e6 / f64::from(s.runs * s.steps_per_run).max(1.0)
        );
    }
    if let (Some(b), Some(a), Some(k)) = (s.waiting_rss_before_mib, s.waiting_rss_after_mib, s.waiting_kib_per_run) {
        println!("waiting runs    {}: RSS {b:.1} → {a:.1} MiB ({k} KiB per run)", s.waiting_runs);
    }
    println!(
        "webhooks        {} messages × {} webhooks = {} deliveries in {:.2} s: {} deliveries/s",
        s.messages, s.webhooks, s.deliveries, s.deliveries_elapsed_secs, s.deliveries_per_sec
    );
    println!(
        "                duplicates {}, out of order {}, missing {}",
        s.duplicate_deliveries, s.out_of_order_deliveries, s.missing_deliveries
    );
}

/// A flow of `n` `set_vars` steps and a message.
fn steps_flow(n: u32) -> String {
    let mut yaml = String::from("name: bench-steps\nsteps:\n");
    for i in 0..n.saturating_sub(1) {
        yaml.push_str(&format!(
            "  s{i}:\n    type: set_vars\n    vars: {{ n{i}: \"{{{{ chat.id }}}}\" }}\n    next: s{}\n",
            i + 1
        ));
    }
    yaml.push_str(&format!(
        "  s{}:\n    type: send_message\n    text: \"done {{{{ vars.n0 }}}}\"\n    next: end\n",
        n.saturating_sub(1)
    ));
    yaml
}

const WAITING_FLOW: &str = "name: bench-wait\nsteps:\n  wait:\n    type: wait_for_event\n    event: bench\n    \
    key: \"{{ chat.id }}\"\n    timeout: 1d\n    on_timeout: end\n    next: end\n";

async fn deploy(api: &Api, source: &str) -> Result<()> {
    let _: Value = api.post_text("/flows", source).await.context("deploying a bench flow")?;
    Ok(())
}

/// Launches `count` runs of `flow`, `PER_CONVERSATION` per conversation;
/// returns each run's state as the launch answered it.
async fn launch_all(
    api: &Api,
    rooms: &[Conversation],
    flow: &str,
    count: u32,
    concurrency: usize,
) -> Result<Vec<String>> {
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("launches", done.clone(), u64::from(count));
    stream::iter(0..count)
        .map(|i| {
            let room = &rooms[(i / PER_CONVERSATION) as usize % rooms.len()];
            let done = done.clone();
            async move {
                let run: Value = api.post(&format!("/flows/{flow}/runs"), json!({"conversation_id": room.id})).await?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(run["state"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await
}

#[derive(Default)]
struct Check {
    duplicates: u64,
    out_of_order: u64,
    missing: u64,
}

/// What the receiver saw: per webhook, the (conversation, seq) of each
/// delivery in arrival order.
type Seen = Arc<Mutex<HashMap<u32, Vec<(String, u64)>>>>;

/// Sends messages while `args.webhooks` webhooks listen on a local receiver;
/// returns the deliveries received, how long until the last, and the check.
async fn webhooks(api: &Api, rooms: &[Conversation], args: &FlowsArgs) -> Result<(u64, f64, Check)> {
    let seen: Seen = Arc::default();
    let received = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .route(
            "/hook/{n}",
            axum::routing::post(
                |axum::extract::State((seen, received)): axum::extract::State<(Seen, Arc<AtomicU64>)>,
                 axum::extract::Path(n): axum::extract::Path<u32>,
                 axum::Json(body): axum::Json<Value>| async move {
                    let conv = body["conversation_id"].as_str().unwrap_or_default().to_owned();
                    let seq = body["data"]["seq"].as_u64().unwrap_or_default();
                    seen.lock().unwrap_or_else(|e| e.into_inner()).entry(n).or_default().push((conv, seq));
                    received.fetch_add(1, Ordering::Relaxed);
                    axum::http::StatusCode::OK
                },
            ),
        )
        .with_state((seen.clone(), received.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the webhook receiver")?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut hooks = Vec::new();
    for n in 0..args.webhooks {
        let hook: Value =
            api.post("/webhooks", json!({"url": format!("{base}/hook/{n}"), "events": ["message"]})).await?;
        hooks.push(hook["id"].as_str().unwrap_or_default().to_owned());
    }
    let expected = u64::from(args.messages) * u64::from(args.webhooks);
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("messages", sent.clone(), u64::from(args.messages));
    stream::iter(0..args.messages)
        .map(|i| {
            let room = &rooms[i as usize % rooms.len()];
            let sent = sent.clone();
            async move {
                let _: Value = api
                    .post_as(
                        &room.tokens[0],
                        &format!("/conversations/{}/messages", room.id),
                        json!({"content": format!("m{i}")}),
                    )
                    .await?;
                sent.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    let _deliveries = Progress::spawn("deliveries", received.clone(), expected);
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.load(Ordering::Relaxed) < expected {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for id in &hooks {
        let _: Value = api.delete(&format!("/webhooks/{id}")).await.unwrap_or(Value::Null);
    }
    server.abort();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let mut check = Check::default();
    for n in 0..args.webhooks {
        let got = seen.get(&n).map(Vec::as_slice).unwrap_or_default();
        let mut last: HashMap<&str, u64> = HashMap::new();
        let mut unique = HashSet::new();
        for (conv, seq) in got {
            if !unique.insert((conv.as_str(), *seq)) {
                check.duplicates += 1;
            }
            let prev = last.entry(conv.as_str()).or_insert(0);
            if *seq < *prev {
                check.out_of_order += 1;
            }
            *prev = (*prev).max(*seq);
        }
        check.missing += u64::from(args.messages).saturating_sub(unique.len() as u64);
    }
    if received.load(Ordering::Relaxed) < expected {
        bail!("only {} of {expected} deliveries arrived within 10 minutes", received.load(Ordering::Relaxed));
    }
    Ok((received.load(Ordering::Relaxed), elapsed, check))
}
