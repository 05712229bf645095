//! Figures and output: the latency histogram, samples of the server process
//! from `/proc`, the once-a-second progress line on stderr, and the final
//! report (human-readable lines, then one `RESULT {json}` line for scripts).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

/// One reading of the server process.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub rss_kib: u64,
    /// Peak RSS so far (`VmHWM`): catches a spike that the final reading misses.
    pub hwm_kib: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

impl ProcSample {
    pub fn read(pid: u32) -> Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status (is --server-pid right?)"))?;
        let kib = |key: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("no {key} in /proc/{pid}/status"))
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        // The command name (field 2) is in parentheses and may hold spaces, so
        // count fields from the last ')': after it come field 3 (state) onwards,
        // which puts utime (field 14) at index 11 and stime (15) at index 12.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed /proc/PID/stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick = |i: usize| -> Result<u64> {
            fields.get(i).and_then(|f| f.parse().ok()).context("malformed /proc/PID/stat")
        };
        Ok(Self { rss_kib: kib("VmRSS:")?, hwm_kib: kib("VmHWM:")?, cpu_ticks: tick(11)? + tick(12)? })
    }

    /// Reads the sample only when a pid was given; a pid that cannot be read is
    /// an error, since the figures asked for would otherwise silently be missing.
    pub fn maybe(pid: Option<u32>) -> Result<Option<Self>> {
        pid.map(Self::read).transpose()
    }
}

/// Clock ticks per second for `/proc/PID/stat`. Asking `getconf` avoids libc;
/// 100 is what Linux uses everywhere in practice.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

pub fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Merges the per-socket samples (microseconds). Sockets keep plain vectors
    /// rather than their own histograms because a histogram is ~100 KiB and
    /// there can be thousands of sockets.
    pub fn from_samples<'a>(sets: impl IntoIterator<Item = &'a [u32]>) -> Self {
        // 1 µs to 1 hour at 3 significant digits.
        let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("static bounds are valid");
        for set in sets {
            for &us in set {
                hist.saturating_record(u64::from(us.max(1)));
            }
        }
        if hist.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        Self {
            samples: hist.len(),
            p50_ms: ms(hist.value_at_quantile(0.5)),
            p90_ms: ms(hist.value_at_quantile(0.9)),
            p99_ms: ms(hist.value_at_quantile(0.99)),
            p999_ms: ms(hist.value_at_quantile(0.999)),
            max_ms: ms(hist.max()),
        }
    }
}

/// Prints `label: done/total (rate/s)` on stderr once a second until dropped.
/// Progress goes to stderr so stdout stays the report alone.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn spawn(label: &'static str, done: Arc<AtomicU64>, total: u64) -> Self {
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut last = 0;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = done.load(Ordering::Relaxed);
                eprintln!(
                    "[{:>6.1}s] {label}: {now}/{total} ({}/s)",
                    started.elapsed().as_secs_f64(),
                    now.saturating_sub(last)
                );
                last = now;
            }
        });
        Self { task }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the server process cost during a measured phase.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerCost {
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
    pub rss_peak_mib: f64,
    pub cpu_secs: f64,
    /// CPU-seconds per 1,000 delivered messages; null when nothing was delivered.
    pub cpu_secs_per_1k_msgs: Option<f64>,
}

impl ServerCost {
    pub fn between(before: ProcSample, after: ProcSample, delivered: u64) -> Self {
        let cpu_secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / clock_ticks();
        Self {
            rss_before_mib: mib(before.rss_kib),
            rss_after_mib: mib(after.rss_kib),
            rss_peak_mib: mib(after.hwm_kib),
            cpu_secs: round(cpu_secs, 2),
            cpu_secs_per_1k_msgs: (delivered > 0).then(|| round(cpu_secs * 1000.0 / delivered as f64, 4)),
        }
    }
}

/// Transcript check results (see `verify`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct VerifySummary {
    pub conversations: u64,
    pub events: u64,
    pub messages_found: u64,
    /// Acknowledged sends missing from the transcript.
    pub lost: u64,
    /// Extra copies of a send (same client_token more than once).
    pub duplicated: u64,
    /// Places where the transcript's seqs are not 1, 2, 3, … without a gap.
    pub seq_faults: u64,
    /// Sends the server refused with an error frame yet stored anyway.
    pub refused_but_stored: u64,
    /// Messages of this run found in a conversation they were not sent to.
    pub misrouted: u64,
}

impl VerifySummary {
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.seq_faults == 0
            && self.refused_but_stored == 0
            && self.misrouted == 0
    }
}

/// The chat mode's report; serialized as the `RESULT` line.
#[derive(Debug, Serialize)]
pub struct ChatSummary {
    pub mode: &'static str,
    pub ok: bool,
    pub conversations: u32,
    pub sockets: u32,
    pub messages_per_side: u32,
    pub pacing: String,
    pub sent: u64,
    pub acked: u64,
    pub refused: u64,
    /// Messages received by the other side of their conversation, whole run.
    pub delivered: u64,
    /// Acknowledged messages the other side never received on its socket.
    pub undelivered: u64,
    /// Out-of-order, missing or repeated seqs seen on the sockets.
    pub stream_seq_gaps: u64,
    pub stream_seq_dups: u64,
    pub warmup_secs: u64,
    /// Delivered after the warmup (the measured phase).
    pub measured_delivered: u64,
    pub duration_secs: f64,
    pub throughput_msgs_per_sec: f64,
    pub latency: Latency,
    pub server: Option<ServerCost>,
    pub verify: Option<VerifySummary>,
    pub first_error: Option<String>,
    /// What to change when the run was not clean for a known reason.
    pub hint: Option<String>,
}

impl ChatSummary {
    pub fn print(&self) {
        println!("mode            {}", self.mode);
        println!("conversations   {} ({} sockets)", self.conversations, self.sockets);
        println!("pacing          {}", self.pacing);
        println!(
            "messages        sent {}  acked {}  refused {}  delivered to the other side {}  undelivered {}",
            self.sent, self.acked, self.refused, self.delivered, self.undelivered
        );
        println!("stream seqs     gaps {}  duplicates {}", self.stream_seq_gaps, self.stream_seq_dups);
        if self.warmup_secs > 0 {
            println!(
                "warmup          {} s (measured {} deliveries after it)",
                self.warmup_secs, self.measured_delivered
            );
        }
        println!("duration        {:.2} s", self.duration_secs);
        println!("throughput      {:.0} delivered msgs/s", self.throughput_msgs_per_sec);
        let l = &self.latency;
        println!(
            "latency         p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
            l.p50_ms, l.p99_ms, l.p999_ms, l.max_ms, l.samples
        );
        if let Some(s) = &self.server {
            print_server(s);
        }
        if let Some(v) = &self.verify {
            println!(
                "verify          {} conversations, {} events, {} messages: lost {}  duplicated {}  seq faults {}  \
                 refused-but-stored {}  misrouted {}",
                v.conversations,
                v.events,
                v.messages_found,
                v.lost,
                v.duplicated,
                v.seq_faults,
                v.refused_but_stored,
                v.misrouted
            );
        }
        if let Some(e) = &self.first_error {
            println!("first error     {e}");
        }
        if let Some(h) = &self.hint {
            println!("hint            {h}");
        }
        println!("verdict         {}", if self.ok { "OK" } else { "FAILED" });
        result_line(self);
    }
}

fn print_server(s: &ServerCost) {
    let per_1k = s.cpu_secs_per_1k_msgs.map_or_else(|| "-".to_owned(), |c| format!("{c:.4}"));
    println!(
        "server          RSS {:.1} MiB -> {:.1} MiB (peak {:.1})  CPU {:.2} s  ({per_1k} CPU-s per 1k msgs)",
        s.rss_before_mib, s.rss_after_mib, s.rss_peak_mib, s.cpu_secs
    );
}

/// The idle mode's report.
#[derive(Debug, Serialize)]
pub struct IdleSummary {
    pub mode: &'static str,
    pub ok: bool,
    pub connections: u32,
    pub connect_secs: f64,
    pub connects_per_sec: f64,
    pub rss_before_mib: Option<f64>,
    pub rss_open_mib: Option<f64>,
    pub rss_closed_mib: Option<f64>,
    pub kib_per_connection: Option<f64>,
    pub hold_secs: u64,
    pub dropped_while_held: u64,
    /// Set when the figure is probably understated (see `idle`).
    pub warning: Option<String>,
}

impl IdleSummary {
    pub fn print(&self) {
        println!("mode            {}", self.mode);
        println!(
            "connections     {} opened in {:.2} s ({:.0}/s)",
            self.connections, self.connect_secs, self.connects_per_sec
        );
        if let (Some(before), Some(open)) = (self.rss_before_mib, self.rss_open_mib) {
            println!("server RSS      {before:.1} MiB before, {open:.1} MiB with all open");
        }
        if let Some(closed) = self.rss_closed_mib {
            println!("server RSS      {closed:.1} MiB after closing");
        }
        if let Some(k) = self.kib_per_connection {
            println!("per connection  {k:.1} KiB");
        }
        println!("held            {} s, {} dropped by the server meanwhile", self.hold_secs, self.dropped_while_held);
        if let Some(w) = &self.warning {
            println!("warning         {w}");
        }
        println!("verdict         {}", if self.ok { "OK" } else { "FAILED" });
        result_line(self);
    }
}

/// What the server process cost while chats were routed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RoutingCost {
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
    pub rss_peak_mib: f64,
    pub cpu_secs: f64,
    /// Server CPU per accepted chat: its route call, the offer, the accept
    /// and the end call together. Null when nothing was accepted.
    pub cpu_ms_per_assignment: Option<f64>,
}

impl RoutingCost {
    pub fn between(before: ProcSample, after: ProcSample, assignments: u64) -> Self {
        let cpu_secs = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / clock_ticks();
        Self {
            rss_before_mib: mib(before.rss_kib),
            rss_after_mib: mib(after.rss_kib),
            rss_peak_mib: mib(after.hwm_kib),
            cpu_secs: round(cpu_secs, 2),
            cpu_ms_per_assignment: (assignments > 0).then(|| round(cpu_secs * 1000.0 / assignments as f64, 3)),
        }
    }
}

/// The routing mode's read-back of the server's own records (see `routing`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoutingVerify {
    /// Chats whose task was read back (all, or a sample).
    pub chats_checked: u64,
    /// Their tasks' final states, e.g. `completed`: 10000.
    pub task_states: BTreeMap<String, u64>,
    /// Accepted chats whose task is neither `assigned` nor `completed`.
    pub not_assigned: u64,
    /// Checked chats whose history has other than one `accepted` line
    /// (none for a chat the run saw accepted, or more than one).
    pub accepted_lines_wrong: u64,
    /// Accepted chats whose task names another agent than the one told so.
    pub wrong_agent: u64,
    /// Chats (all of them, not a sample) whose accept was acknowledged to
    /// more than one agent, or more than once.
    pub double_assigned: u64,
    pub agents_checked: u64,
    /// Agents whose load exceeds their capacity.
    pub agents_over_capacity: u64,
    /// Agents still holding slots after every chat ended (reported, not a
    /// violation by itself: a slot freed late is not an overbooking).
    pub agents_with_load_left: u64,
}

impl RoutingVerify {
    pub fn clean(&self) -> bool {
        self.not_assigned == 0
            && self.accepted_lines_wrong == 0
            && self.wrong_agent == 0
            && self.double_assigned == 0
            && self.agents_over_capacity == 0
    }
}

/// The routing mode's report; serialized as the `RESULT` line.
#[derive(Debug, Serialize)]
pub struct RoutingSummary {
    pub mode: &'static str,
    pub ok: bool,
    /// Every chat was accepted before the run stopped.
    pub finished: bool,
    pub stop_reason: Option<String>,
    pub agents: u32,
    pub capacity: u32,
    pub chats: u32,
    pub hold_ms: u64,
    pub rate_offered: f64,
    /// Route calls sent per second, first to last.
    pub rate_achieved: f64,
    pub routed: u64,
    pub route_errors: u64,
    pub offers: u64,
    pub reoffers: u64,
    pub unknown_offers: u64,
    /// Accepts acknowledged.
    pub accepted: u64,
    /// Chats with an acknowledged accept.
    pub chats_accepted: u64,
    pub conflicts: u64,
    pub accept_errors: u64,
    pub over_capacity_offers: u64,
    pub ended: u64,
    pub end_errors: u64,
    pub broken_sockets: u64,
    /// First route call sent to last accept acknowledged.
    pub elapsed_secs: f64,
    pub assignments_per_sec: f64,
    /// Route call sent → first offer on an agent's socket.
    pub offer_latency: Latency,
    /// The same from when the schedule wanted the route call sent; differs
    /// from `offer_latency` only when the load generator fell behind.
    pub offer_latency_from_schedule: Latency,
    /// Route call sent → its 201 answer.
    pub route_call: Latency,
    /// How late route calls went out against the schedule (the load
    /// generator's own lag: large values mean the offered rate was not met).
    pub arrival_lag: Latency,
    pub server: Option<RoutingCost>,
    /// The load generator's own CPU over the same span: near one second per
    /// second means it, not the server, may have set the pace.
    pub loadgen_cpu_secs: Option<f64>,
    pub verify: Option<RoutingVerify>,
    pub first_error: Option<String>,
}

impl RoutingSummary {
    pub fn print(&self) {
        println!("mode            {}", self.mode);
        println!(
            "setup           {} agents x capacity {}, {} chats, hold {} ms",
            self.agents, self.capacity, self.chats, self.hold_ms
        );
        println!(
            "arrivals        offered {} chats/s, achieved {:.1}/s; routed {}  route errors {}",
            self.rate_offered, self.rate_achieved, self.routed, self.route_errors
        );
        println!(
            "offers          {} received ({} re-offers, {} unknown)  accepted {} ({} chats)  conflicts {}  \
             accept errors {}  overbooked {}",
            self.offers,
            self.reoffers,
            self.unknown_offers,
            self.accepted,
            self.chats_accepted,
            self.conflicts,
            self.accept_errors,
            self.over_capacity_offers
        );
        println!(
            "ended           {}  end errors {}  broken sockets {}",
            self.ended, self.end_errors, self.broken_sockets
        );
        println!("elapsed         {:.2} s", self.elapsed_secs);
        println!("assignments     {:.1}/s", self.assignments_per_sec);
        print_latency("offer latency", &self.offer_latency);
        print_latency("  from schedule", &self.offer_latency_from_schedule);
        print_latency("route call", &self.route_call);
        print_latency("arrival lag", &self.arrival_lag);
        if let Some(s) = &self.server {
            let per = s.cpu_ms_per_assignment.map_or_else(|| "-".to_owned(), |c| format!("{c:.3}"));
            println!(
                "server          RSS {:.1} MiB -> {:.1} MiB (peak {:.1})  CPU {:.2} s  ({per} CPU-ms per assignment)",
                s.rss_before_mib, s.rss_after_mib, s.rss_peak_mib, s.cpu_secs
            );
        }
        if let Some(cpu) = self.loadgen_cpu_secs {
            println!("load generator  CPU {cpu:.2} s");
        }
        if let Some(v) = &self.verify {
            let states: Vec<String> = v.task_states.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("verify          {} chats: {}", v.chats_checked, states.join(", "));
            println!(
                "verify          not assigned {}  accepted lines wrong {}  wrong agent {}  double assigned {}",
                v.not_assigned, v.accepted_lines_wrong, v.wrong_agent, v.double_assigned
            );
            println!(
                "verify          {} agents: over capacity {}  still holding slots {}",
                v.agents_checked, v.agents_over_capacity, v.agents_with_load_left
            );
        }
        if let Some(why) = &self.stop_reason {
            println!("stopped         {why}");
        }
        if let Some(e) = &self.first_error {
            println!("first error     {e}");
        }
        println!("verdict         {}", if self.ok { "OK" } else { "FAILED" });
        result_line(self);
    }
}

fn print_latency(label: &str, l: &Latency) {
    println!(
        "{label:<16}p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
        l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.samples
    );
}

/// The single line scripts look for.
fn result_line(value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(json) => println!("RESULT {json}"),
        Err(err) => eprintln!("could not encode the RESULT line: {err}"),
    }
}
