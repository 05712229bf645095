//! The `routing` mode: how fast the router puts an arriving chat in front of
//! an agent. Sets up a queue and N agents, each online on its own socket,
//! pre-creates M conversations, then routes them into the queue at a fixed
//! rate (open loop: arrivals never wait for assignments). Each agent records
//! the time from a chat's route call to its offer, accepts, and ends the chat
//! after a hold so the slot frees (`agent`). Afterwards the chats' tasks and
//! the agents' loads are read back: one acceptance per chat, by the agent that
//! was told so, and no agent over capacity.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::agent::{self, Board, Counters};
use crate::client;
use crate::report::{Latency, ProcSample, Progress, RoutingCost, RoutingSummary, RoutingVerify, round};
use crate::setup::Api;

#[derive(Args)]
pub struct RoutingArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "SWITCHBOARD_URL")]
    pub url: String,
    /// Admin API key (sent as a bearer token).
    #[arg(long, env = "SWITCHBOARD_ADMIN_KEY")]
    pub admin_key: String,
    /// Agents online, each on its own socket.
    #[arg(long, default_value_t = 1000)]
    pub agents: u32,
    /// Chats routed through them.
    #[arg(long, default_value_t = 10_000)]
    pub chats: u32,
    /// Chats each agent may hold at once (1 to 1000).
    #[arg(long, default_value_t = 1)]
    pub capacity: u32,
    /// Chats routed per second (open loop: arrivals never wait for assignments).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// How long an agent keeps an accepted chat before ending it.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// Server process to sample for RSS (VmRSS) and CPU time (/proc/PID/stat).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// REST requests in flight at once: setup, route calls, end calls and
    /// verification each get this many.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// The queue's offer timeout: an offer left unanswered this long goes to another agent.
    #[arg(long, default_value_t = 30)]
    pub offer_timeout_secs: u32,
    /// Read the chats' tasks and the agents' loads back afterwards and check them.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub verify: bool,
    /// Read back only this many chats' tasks, spread over the run (0: every chat).
    #[arg(long, default_value_t = 0)]
    pub verify_sample: u32,
    /// Once every chat is routed, give up when none was accepted for this long.
    #[arg(long, default_value_t = 45)]
    pub stall_secs: u64,
}

/// The checks clap cannot express; kept apart so tests can reach them.
pub fn validate(a: &RoutingArgs) -> Result<()> {
    if a.agents == 0 || a.chats == 0 {
        bail!("--agents and --chats must be at least 1");
    }
    if !(1..=1000).contains(&a.capacity) {
        bail!("--capacity must be 1 to 1000 (the server's range)");
    }
    if !(a.rate.is_finite() && a.rate > 0.0) {
        bail!("--rate must be a number of chats per second above 0");
    }
    if a.concurrency == 0 || a.connect_concurrency == 0 {
        bail!("--concurrency and --connect-concurrency must be at least 1");
    }
    if !(1..=86_400).contains(&a.offer_timeout_secs) {
        bail!("--offer-timeout-secs must be 1 to 86400 (the server's range)");
    }
    // An offer lost on its way to an agent comes back only when it expires.
    if a.stall_secs <= u64::from(a.offer_timeout_secs) {
        bail!("--stall-secs must exceed --offer-timeout-secs, or a re-offer after an expiry would look like a stall");
    }
    Ok(())
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Issued {
    token: String,
}

/// `GET …/task`, reduced to what the check reads.
#[derive(Deserialize)]
struct TaskIn {
    state: String,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    history: Vec<HistoryIn>,
}

#[derive(Deserialize)]
struct HistoryIn {
    what: String,
}

#[derive(Deserialize)]
struct AgentIn {
    id: String,
    load: u32,
    capacity: u32,
}

/// One agent made for the run.
struct NewAgent {
    id: String,
    token: String,
}

/// One route call: how late it went out against the schedule, how long the
/// server took to answer, and whether it succeeded.
struct Arrival {
    lag_us: u32,
    call_us: u32,
    sent_ns: u64,
    ok: bool,
}

pub async fn run(args: RoutingArgs) -> Result<bool> {
    validate(&args)?;
    let ws_base = client::ws_base(&args.url)?;
    // Route calls and end calls each have `concurrency` in flight; idle
    // connections are kept for all of them, so none is reopened mid-run.
    let api = Api::new(&args.url, &args.admin_key, args.concurrency * 2)?;
    let tag = unix_millis();

    let queue: Created = api
        .post("/queues", json!({"name": format!("loadgen-{tag}"), "offer_timeout_secs": args.offer_timeout_secs}))
        .await
        .context("creating the queue")?;
    let agents = create_agents(&api, &args, tag).await?;
    let chats = create_chats(&api, args.chats, args.concurrency).await?;

    let board = Arc::new(Board::new(chats));
    let (stop_tx, stop) = watch::channel(false);
    let links = agent::Links {
        board: Arc::clone(&board),
        api: api.clone(),
        ends: Arc::new(Semaphore::new(args.concurrency)),
        hold: Duration::from_millis(args.hold_ms),
        capacity: args.capacity,
        stop,
    };
    let drivers = connect_agents(&ws_base, &agents, &links, args.connect_concurrency).await?;
    wait_available(&board.counters, args.agents).await?;

    // The measured phase.
    let before = ProcSample::maybe(args.server_pid)?;
    let own_before = ProcSample::read(std::process::id()).ok();
    let started = Instant::now();
    eprintln!(
        "run: {} chats at {} chats/s into {} agents (capacity {})",
        args.chats, args.rate, args.agents, args.capacity
    );
    let arrivals = tokio::spawn(arrive(api.clone(), Arc::clone(&board), queue.id.clone(), args.rate, args.concurrency));
    let stop_reason = watch_run(&board, args.chats, started, args.stall_secs).await;
    let after = ProcSample::maybe(args.server_pid)?;
    let own_after = ProcSample::read(std::process::id()).ok();
    let finished = stop_reason.is_none();

    // Every route call has been answered once the run finished; after a stall
    // the rest are given up on.
    if !finished {
        arrivals.abort();
    }
    let arrived = match arrivals.await {
        Ok(handles) => {
            let mut out = Vec::with_capacity(handles.len());
            for h in handles {
                if let Ok(a) = h.await {
                    out.push(a);
                }
            }
            out
        }
        Err(_) => Vec::new(),
    };
    stop_tx.send_replace(true);
    let mut samples = Vec::with_capacity(drivers.len());
    for d in drivers {
        samples.push(d.await.context("an agent task panicked")?);
    }

    let verified = if args.verify {
        Some(verify(&api, &board, &agents, args.verify_sample, args.concurrency).await?)
    } else {
        None
    };

    // Figures.
    let c = &board.counters;
    let get = Counters::get;
    let chats_accepted = board.chats_accepted();
    let started_ns = board.ns(started);
    let elapsed = get(&c.last_accept_ns).saturating_sub(started_ns) as f64 / 1e9;
    let (first_sent, last_sent) =
        arrived.iter().fold((u64::MAX, 0), |(lo, hi), a| (lo.min(a.sent_ns), hi.max(a.sent_ns)));
    let send_span = last_sent.saturating_sub(first_sent) as f64 / 1e9;
    let rate_achieved = if send_span > 0.0 { (arrived.len() as f64 - 1.0) / send_span } else { 0.0 };
    let ok_calls: Vec<u32> = arrived.iter().filter(|a| a.ok).map(|a| a.call_us).collect();
    let lags: Vec<u32> = arrived.iter().map(|a| a.lag_us).collect();
    let server = match (before, after) {
        (Some(b), Some(a)) => Some(RoutingCost::between(b, a, chats_accepted)),
        _ => None,
    };
    let first_error = c.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let clean_counts = [&c.route_errors, &c.accept_errors, &c.over_capacity_offers, &c.end_errors, &c.broken]
        .into_iter()
        .all(|n| get(n) == 0);
    let ok = finished && clean_counts && verified.as_ref().is_none_or(RoutingVerify::clean);
    let summary = RoutingSummary {
        mode: "routing",
        ok,
        finished,
        stop_reason: stop_reason.clone(),
        agents: args.agents,
        capacity: args.capacity,
        chats: args.chats,
        hold_ms: args.hold_ms,
        rate_offered: args.rate,
        rate_achieved: round(rate_achieved, 1),
        routed: get(&c.routed),
        route_errors: get(&c.route_errors),
        offers: get(&c.offers),
        reoffers: get(&c.reoffers),
        unknown_offers: get(&c.unknown_offers),
        accepted: get(&c.accepted),
        chats_accepted,
        conflicts: get(&c.conflicts),
        accept_errors: get(&c.accept_errors),
        over_capacity_offers: get(&c.over_capacity_offers),
        ended: get(&c.ended),
        end_errors: get(&c.end_errors),
        broken_sockets: get(&c.broken),
        elapsed_secs: round(elapsed, 3),
        assignments_per_sec: round(if elapsed > 0.0 { chats_accepted as f64 / elapsed } else { 0.0 }, 1),
        offer_latency: Latency::from_samples(samples.iter().map(|s| s.from_sent_us.as_slice())),
        offer_latency_from_schedule: Latency::from_samples(samples.iter().map(|s| s.from_due_us.as_slice())),
        route_call: Latency::from_samples([ok_calls.as_slice()]),
        arrival_lag: Latency::from_samples([lags.as_slice()]),
        server,
        loadgen_cpu_secs: own_before
            .zip(own_after)
            .map(|(b, a)| round(a.cpu_ticks.saturating_sub(b.cpu_ticks) as f64 / crate::report::clock_ticks(), 2)),
        verify: verified,
        first_error,
    };
    summary.print();
    match stop_reason {
        // A run that did not finish is a broken run, not a finding (exit 1),
        // though its figures are printed above.
        Some(why) => bail!("the run did not finish: {why}"),
        None => Ok(ok),
    }
}

/// Creates the agents and their tokens, `concurrency` at a time, in order.
async fn create_agents(api: &Api, args: &RoutingArgs, tag: u64) -> Result<Vec<NewAgent>> {
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("setup agents", Arc::clone(&done), u64::from(args.agents));
    let started = Instant::now();
    let capacity = args.capacity;
    let agents: Vec<NewAgent> = stream::iter(0..args.agents)
        .map(|i| {
            let done = Arc::clone(&done);
            async move {
                let body = json!({"name": format!("loadgen-{tag}-{i}"), "capacity": capacity, "attributes": {}});
                let created: Created =
                    api.post("/agents", body).await.with_context(|| format!("creating agent {i}"))?;
                let issued: Issued = api
                    .post(&format!("/agents/{}/tokens", created.id), json!({}))
                    .await
                    .with_context(|| format!("issuing agent {i}'s token"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(NewAgent { id: created.id, token: issued.token })
            }
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;
    eprintln!("setup: {} agents in {:.1} s", args.agents, started.elapsed().as_secs_f64());
    Ok(agents)
}

/// Creates the conversations the run will route: setup, not measured.
async fn create_chats(api: &Api, count: u32, concurrency: usize) -> Result<Vec<String>> {
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("setup chats", Arc::clone(&done), u64::from(count));
    let started = Instant::now();
    let ids: Vec<String> = stream::iter(0..count)
        .map(|i| {
            let done = Arc::clone(&done);
            async move {
                let created: Created =
                    api.post("/conversations", json!({})).await.with_context(|| format!("creating chat {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(created.id)
            }
        })
        .buffered(concurrency)
        .try_collect()
        .await?;
    eprintln!("setup: {count} chats in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ids)
}

/// Opens every agent's socket (each waits for its `hello`) and spawns its
/// driver at once, so it answers pings while the rest connect.
async fn connect_agents(
    ws_base: &str,
    agents: &[NewAgent],
    links: &agent::Links,
    concurrency: usize,
) -> Result<Vec<JoinHandle<agent::Samples>>> {
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::spawn("open agent sockets", Arc::clone(&done), agents.len() as u64);
    let started = Instant::now();
    let drivers = stream::iter(agents.iter().enumerate())
        .map(|(i, a)| {
            let url = format!("{ws_base}/api/v1/stream?token={}", client::query_escape(&a.token));
            let (links, done) = (links.clone(), Arc::clone(&done));
            async move {
                let (ws, _) = client::connect(&url).await.with_context(|| format!("agent {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(tokio::spawn(agent::drive(ws, i as u32, links)))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    drop(progress);
    eprintln!("open agent sockets: {} in {:.1} s", agents.len(), started.elapsed().as_secs_f64());
    Ok(drivers)
}

/// Waits until the server has acknowledged every agent as available.
async fn wait_available(c: &Counters, agents: u32) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let available = Counters::get(&c.available);
        if available >= u64::from(agents) {
            return Ok(());
        }
        if Counters::get(&c.broken) > 0 || Instant::now() >= deadline {
            let why = c.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
            bail!("only {available} of {agents} agents became available: {why}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Routes chat after chat on schedule (chat i at start + i/rate), each call
/// in its own task so a slow answer never holds up the next arrival; at most
/// `concurrency` calls are in flight, and a call that had to wait for room
/// shows up as arrival lag.
async fn arrive(api: Api, board: Arc<Board>, queue: String, rate: f64, concurrency: usize) -> Vec<JoinHandle<Arrival>> {
    let room = Arc::new(Semaphore::new(concurrency));
    let start = tokio::time::Instant::now();
    let mut calls = Vec::with_capacity(board.ids.len());
    for chat in 0..board.ids.len() as u32 {
        let due = start + Duration::from_secs_f64(f64::from(chat) / rate);
        tokio::time::sleep_until(due).await;
        let Ok(permit) = Arc::clone(&room).acquire_owned().await else { break };
        let (api, board, queue) = (api.clone(), Arc::clone(&board), queue.clone());
        calls.push(tokio::spawn(async move {
            let _permit = permit;
            let sent = Instant::now();
            board.mark_routed(chat, sent, due.into_std());
            let id = &board.ids[chat as usize];
            let result = api.post::<Created>(&format!("/conversations/{id}/route"), json!({"queue": queue})).await;
            let call_us = micros(sent.elapsed());
            let c = &board.counters;
            match &result {
                Ok(_) => c.routed.fetch_add(1, Ordering::Relaxed),
                Err(err) => {
                    c.note_error(format!("routing {id}: {err:#}"));
                    c.route_errors.fetch_add(1, Ordering::Relaxed)
                }
            };
            let lag_us = micros(sent.saturating_duration_since(due.into_std()));
            Arrival { lag_us, call_us, sent_ns: board.ns(sent), ok: result.is_ok() }
        }));
    }
    calls
}

/// Polls the counters until every chat was accepted and ended, printing
/// progress once a second. Returns why it stopped early, if it did.
async fn watch_run(board: &Board, chats: u32, started: Instant, stall_secs: u64) -> Option<String> {
    let c = &board.counters;
    let get = Counters::get;
    let total = u64::from(chats);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut next_report = started + Duration::from_secs(1);
    let (mut last_accepted, mut last_change) = (0, Instant::now());
    let mut reported = 0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let (routed, errors, accepted) = (get(&c.routed), get(&c.route_errors), get(&c.accepted));
        let settled = get(&c.ended) + get(&c.end_errors);
        if now >= next_report {
            eprintln!(
                "[{:>6.1}s] routed {routed}/{total}  offers {}  accepted {accepted} ({}/s)  ended {}",
                started.elapsed().as_secs_f64(),
                get(&c.offers),
                accepted - reported,
                get(&c.ended)
            );
            reported = accepted;
            next_report += Duration::from_secs(1);
        }
        if get(&c.broken) > 0 {
            return Some(format!("{} agent socket(s) failed", get(&c.broken)));
        }
        if accepted != last_accepted {
            (last_accepted, last_change) = (accepted, now);
        }
        let all_routed = routed + errors >= total;
        // Accepts are per offer; the check per chat is the one that counts,
        // and only needs to run once the totals say it could pass.
        if all_routed && accepted + errors >= total && settled >= accepted && board.chats_accepted() + errors >= total {
            return None;
        }
        if all_routed && now.duration_since(last_change) >= Duration::from_secs(stall_secs) {
            return Some(format!(
                "no chat accepted for {stall_secs} s; {} of {total} chats accepted",
                board.chats_accepted()
            ));
        }
    }
}

/// Reads the server's records back: each (sampled) chat's task and history,
/// and every agent's load.
async fn verify(
    api: &Api,
    board: &Board,
    agents: &[NewAgent],
    sample: u32,
    concurrency: usize,
) -> Result<RoutingVerify> {
    let chats = board.ids.len() as u32;
    let step = if sample == 0 || sample >= chats { 1 } else { chats / sample };
    let picked: Vec<u32> = (0..chats).step_by(step as usize).collect();
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::spawn("verify tasks", Arc::clone(&done), picked.len() as u64);
    let tasks: Vec<(u32, TaskIn)> = stream::iter(picked)
        .map(|chat| {
            let done = Arc::clone(&done);
            async move {
                let id = &board.ids[chat as usize];
                let task: TaskIn = api.get(&format!("/conversations/{id}/task")).await?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok((chat, task))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    drop(progress);

    let mut v = RoutingVerify { chats_checked: tasks.len() as u64, ..RoutingVerify::default() };
    for (chat, task) in &tasks {
        let by = board.accepted_by[*chat as usize].load(Ordering::Relaxed);
        let told = by.checked_sub(1).and_then(|i| agents.get(i as usize)).map(|a| a.id.as_str());
        judge_task(task, told, &mut v);
    }
    v.double_assigned = board.accepts.iter().filter(|n| n.load(Ordering::Relaxed) > 1).count() as u64;

    let ours: HashSet<&str> = agents.iter().map(|a| a.id.as_str()).collect();
    let listed: Vec<AgentIn> = api.get("/agents").await.context("listing agents")?;
    for a in listed.iter().filter(|a| ours.contains(a.id.as_str())) {
        v.agents_checked += 1;
        v.agents_over_capacity += u64::from(a.load > a.capacity);
        v.agents_with_load_left += u64::from(a.load > 0);
    }
    Ok(v)
}

/// One chat's task against what the run saw: `told` is the agent whose
/// accept was acknowledged, if any.
fn judge_task(task: &TaskIn, told: Option<&str>, v: &mut RoutingVerify) {
    *v.task_states.entry(task.state.clone()).or_default() += 1;
    let accepted_lines = task.history.iter().filter(|h| h.what == "accepted").count();
    match told {
        Some(agent) => {
            if !matches!(task.state.as_str(), "assigned" | "completed") {
                v.not_assigned += 1;
            }
            if accepted_lines != 1 {
                v.accepted_lines_wrong += 1;
            }
            if task.agent_id.as_deref() != Some(agent) {
                v.wrong_agent += 1;
            }
        }
        // Never acknowledged (the run stopped early): at most one acceptance.
        None => v.accepted_lines_wrong += u64::from(accepted_lines > 1),
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn unix_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RoutingArgs,
    }

    fn parse(extra: &[&str]) -> RoutingArgs {
        let base = ["routing", "--admin-key", "k"];
        Cli::try_parse_from(base.iter().chain(extra)).unwrap().args
    }

    #[test]
    fn defaults_are_the_design_load_and_bad_values_are_refused() {
        let a = parse(&[]);
        assert_eq!((a.agents, a.chats, a.capacity, a.rate, a.hold_ms), (1000, 10_000, 1, 500.0, 0));
        assert!(validate(&a).is_ok());
        for bad in [
            &["--agents", "0"][..],
            &["--chats", "0"],
            &["--capacity", "0"],
            &["--capacity", "1001"],
            &["--rate", "0"],
            &["--rate", "NaN"],
            &["--concurrency", "0"],
            &["--offer-timeout-secs", "60"],
        ] {
            assert!(validate(&parse(bad)).is_err(), "{bad:?}");
        }
        assert!(validate(&parse(&["--offer-timeout-secs", "60", "--stall-secs", "90"])).is_ok());
    }

    fn task(state: &str, agent: Option<&str>, history: &[&str]) -> TaskIn {
        let history = history.iter().map(|w| HistoryIn { what: (*w).to_owned() }).collect();
        TaskIn { state: state.to_owned(), agent_id: agent.map(str::to_owned), history }
    }

    #[test]
    fn judges_tasks_against_what_the_agents_were_told() {
        let mut v = RoutingVerify::default();
        let full = ["queued", "offered", "accepted", "completed"];
        judge_task(&task("completed", Some("agt_a"), &full), Some("agt_a"), &mut v);
        judge_task(&task("assigned", Some("agt_a"), &full[..3]), Some("agt_a"), &mut v);
        assert!(v.clean());
        judge_task(&task("waiting", None, &["queued", "offered", "expired"]), Some("agt_a"), &mut v);
        judge_task(&task("completed", Some("agt_b"), &full), Some("agt_a"), &mut v);
        judge_task(&task("completed", Some("agt_a"), &["accepted", "accepted"]), None, &mut v);
        assert_eq!((v.not_assigned, v.accepted_lines_wrong, v.wrong_agent), (1, 2, 2));
        assert_eq!(v.task_states["completed"], 3);
        assert!(!v.clean());
    }
}
