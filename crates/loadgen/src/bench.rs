//! The `bench` mode: the comparison BENCHMARKS.md makes by hand, in one
//! command and one table. Back to back on this machine it runs
//!
//! - **B0**, the bare relay (this binary's `relay`), as a child process,
//!   driven by the `chat` load;
//! - **B1**, raw batched inserts of chat rows (`switchboard_store::baseline`),
//!   in this process, on SQLite and, with `--postgres-url`, on PostgreSQL;
//! - the real server (`switchboard serve`) as a child process on a fresh
//!   SQLite data directory and, with `--postgres-url`, on a fresh schema,
//!   driven by the same load and its transcripts verified;
//!
//! then prints every run beside the baselines with the two ratios the
//! targets are stated in: durable msgs/s over min(B0, B1), and server CPU per
//! message over B0's.
//!
//! Servers run as child processes so their CPU is theirs alone (read from
//! `/proc` as `chat --server-pid` does). With two cores or more and `taskset`
//! on PATH the child runs on core 0 and this process on core 1, the method
//! the manual runs use.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use sqlx::Connection as _;
use switchboard_store::Backend;
use switchboard_store::baseline::{self, InsertRun};
use tokio::process::{Child, Command};

use crate::chat::{self, ChatArgs};
use crate::report::{ChatSummary, round};

/// Shown under `bench --help`.
pub const BENCH_NOTE: &str = "Build the server with the same profile first, e.g. `cargo build --release -p switchboard \
                              -p switchboard-loadgen`. --timeout-secs bounds each phase. Exit status 3 means a run \
                              lost, duplicated, refused or misordered messages; a slow figure never fails the run.";

#[derive(Args)]
pub struct BenchArgs {
    /// Small sizes (100 conversations x 20 messages, B1 20,000 rows, shorter waits):
    /// checks the whole pipeline in well under a minute; not figures to quote.
    #[arg(long)]
    pub quick: bool,
    /// Conversations, each with a customer and an agent socket [default: 1000; --quick 100].
    #[arg(long)]
    pub conversations: Option<u32>,
    /// Messages each side of a conversation sends [default: 50; --quick 20].
    #[arg(long)]
    pub messages: Option<u32>,
    /// Unacknowledged sends each sender may have in flight (the load is closed loop).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
    /// Rows B1 inserts, one row per conversation in each commit [default: 100000; --quick 20000].
    #[arg(long)]
    pub b1_rows: Option<usize>,
    /// Also run B1 and the server on PostgreSQL (`postgres://USER@HOST/DB`), each in a
    /// fresh schema dropped afterwards.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// The server binary [default: `switchboard` next to this executable].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Where the temporary data directories and logs go; removed afterwards
    /// [default: the system's temporary directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Do not pin the server or relay to core 0 and this process to core 1.
    #[arg(long)]
    pub no_pin: bool,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The sizes of one bench run, after `--quick` and the overrides.
#[derive(Debug, Clone, Copy, Serialize)]
struct Sizes {
    conversations: u32,
    messages_per_side: u32,
    window: u32,
    payload_bytes: usize,
    b1_rows: usize,
    /// One row per conversation in each B1 transaction, as a group commit
    /// under the chat load interleaves them.
    b1_per_commit: usize,
    #[serde(skip)]
    drain_secs: u64,
    #[serde(skip)]
    ready_within: Duration,
}

impl Sizes {
    fn of(args: &BenchArgs) -> Result<Self> {
        let (conversations, messages, b1_rows, drain_secs, ready_secs) =
            if args.quick { (100, 20, 20_000, 3, 15) } else { (1_000, 50, 100_000, 10, 60) };
        let sizes = Self {
            conversations: args.conversations.unwrap_or(conversations),
            messages_per_side: args.messages.unwrap_or(messages),
            window: args.window,
            payload_bytes: 64,
            b1_rows: args.b1_rows.unwrap_or(b1_rows),
            b1_per_commit: 0,
            drain_secs,
            ready_within: Duration::from_secs(ready_secs),
        };
        if sizes.conversations == 0 || sizes.messages_per_side == 0 || sizes.b1_rows == 0 {
            bail!("--conversations, --messages and --b1-rows must be at least 1");
        }
        Ok(Self { b1_per_commit: sizes.conversations as usize, ..sizes })
    }
}

pub async fn run(args: BenchArgs, limit: Duration) -> Result<bool> {
    let started = Instant::now();
    let sizes = Sizes::of(&args)?;
    if let Some(url) = &args.postgres_url {
        check_postgres_url(url)?;
    }
    let server_bin = server_bin(args.server_bin.as_deref())?;
    // Before pinning: afterwards this process sees one core.
    let machine = Machine::read();
    let pinning = Pinning::apply(args.no_pin, machine.cores);
    eprintln!("bench: {}", pinning.note);
    let work = WorkDir::create(&args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let ctx = Ctx { sizes, pinning, work, limit, server_bin, tag: chat::run_tag() };

    let pg = args.postgres_url.as_deref();
    let mut phases = Phases { step: 0, total: if pg.is_some() { 5 } else { 3 } };
    let mut rows = Vec::new();
    let b0 = phases.run("B0 bare relay", relay_run(&ctx), chat_done).await?;
    rows.push(Row::chat("B0 bare relay", Kind::Relay, None, b0));
    let b1 = phases.run("B1 SQLite inserts", b1_sqlite(&ctx), inserts_done).await?;
    rows.push(Row::inserts("B1 SQLite (rows/s)", Backend::Sqlite, b1));
    if let Some(base) = pg {
        let b1 = phases.run("B1 PostgreSQL inserts", b1_postgres(&ctx, base), inserts_done).await?;
        rows.push(Row::inserts("B1 PostgreSQL (rows/s)", Backend::Postgres, b1));
    }
    let chat = phases.run("chat on SQLite", durable_sqlite(&ctx), chat_done).await?;
    rows.push(Row::chat("chat SQLite", Kind::Durable, Some(Backend::Sqlite), chat));
    if let Some(base) = pg {
        let chat = phases.run("chat on PostgreSQL", durable_postgres(&ctx, base), chat_done).await?;
        rows.push(Row::chat("chat PostgreSQL", Kind::Durable, Some(Backend::Postgres), chat));
    }
    fill_ratios(&mut rows);

    let report = BenchReport {
        mode: "bench",
        ok: rows.iter().all(|r| r.check.as_ref().is_none_or(|c| c.ok)),
        machine,
        sizes,
        pinning: ctx.pinning.note.clone(),
        server_bin: ctx.server_bin.display().to_string(),
        wall_secs: round(started.elapsed().as_secs_f64(), 1),
        rows,
    };
    for line in report.lines() {
        println!("{line}");
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("encoding the JSON report")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.ok)
}

/// What every phase needs.
struct Ctx {
    sizes: Sizes,
    pinning: Pinning,
    work: WorkDir,
    limit: Duration,
    server_bin: PathBuf,
    /// Unique to this run: the admin key and the PostgreSQL schemas carry it.
    tag: String,
}

/// Numbers the phases and puts a line on stderr as each starts and ends.
struct Phases {
    step: usize,
    total: usize,
}

impl Phases {
    async fn run<T>(
        &mut self,
        label: &str,
        phase: impl Future<Output = Result<T>>,
        done: impl Fn(&T) -> String,
    ) -> Result<T> {
        self.step += 1;
        let (step, total) = (self.step, self.total);
        eprintln!("bench [{step}/{total}] {label}: start");
        let started = Instant::now();
        let out = phase.await.with_context(|| format!("bench phase {label}"))?;
        eprintln!("bench [{step}/{total}] {label}: done in {:.1} s, {}", started.elapsed().as_secs_f64(), done(&out));
        Ok(out)
    }
}

fn chat_done(s: &ChatSummary) -> String {
    format!("{} msgs/s{}", thousands(s.throughput_msgs_per_sec), if s.ok { "" } else { " (FAILED)" })
}

fn inserts_done(r: &InsertRun) -> String {
    format!("{} rows/s", thousands(r.rows_per_sec()))
}

/// B0: the relay as a child of this process, under the chat load.
async fn relay_run(ctx: &Ctx) -> Result<ChatSummary> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let argv = ["relay".to_owned(), "--listen".to_owned(), listen.clone()];
    let mut relay = Spawned::start("relay", &exe, &argv, &ctx.pinning, &ctx.work.path("relay.log"))?;
    let result = drive(ctx, &mut relay, &format!("http://{listen}"), None).await;
    relay.stop().await;
    result
}

/// The durable run on SQLite, in a fresh data directory.
async fn durable_sqlite(ctx: &Ctx) -> Result<ChatSummary> {
    durable(ctx, "chat-sqlite", None).await
}

/// The durable run on PostgreSQL, in a fresh schema dropped afterwards.
async fn durable_postgres(ctx: &Ctx, base: &str) -> Result<ChatSummary> {
    let schema = PgSchema::create(base, &format!("sbbench_{}_chat", ctx.tag)).await?;
    let result = durable(ctx, "chat-postgres", Some(&schema.url)).await;
    schema.drop().await;
    result
}

/// Starts `switchboard serve` on `database_url` (default: SQLite in its data
/// directory), drives it with the chat load and verification, stops it.
async fn durable(ctx: &Ctx, name: &str, database_url: Option<&str>) -> Result<ChatSummary> {
    let data_dir = ctx.work.dir(name)?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let admin_key = format!("sbk_bench_{}", ctx.tag);
    let mut argv: Vec<String> =
        ["serve", "--listen", &listen, "--sends-per-second", "0", "--admin-key", &admin_key].map(str::to_owned).into();
    argv.extend(["--data-dir".to_owned(), data_dir.display().to_string()]);
    if let Some(url) = database_url {
        argv.extend(["--database-url".to_owned(), url.to_owned()]);
    }
    let log = ctx.work.path(&format!("{name}.log"));
    let mut server = Spawned::start("server", &ctx.server_bin, &argv, &ctx.pinning, &log)?;
    let result = drive(ctx, &mut server, &format!("http://{listen}"), Some(admin_key)).await;
    server.stop().await;
    result
}

/// Waits for the child to answer `/readyz`, then runs the chat load against it
/// (with `admin_key`: the server, set up over REST and verified; without: the relay).
async fn drive(ctx: &Ctx, child: &mut Spawned, url: &str, admin_key: Option<String>) -> Result<ChatSummary> {
    let ready = child.wait_ready(url, ctx.sizes.ready_within).await?;
    eprintln!("bench: {} (pid {}) ready on {url} after {} ms", child.name, child.pid, ready.as_millis());
    let sizes = &ctx.sizes;
    let args = ChatArgs {
        url: url.to_owned(),
        relay: admin_key.is_none(),
        admin_key,
        conversations: sizes.conversations,
        messages: sizes.messages_per_side,
        rate: 0.0,
        window: sizes.window,
        payload_bytes: sizes.payload_bytes,
        server_pid: Some(child.pid),
        warmup_secs: 0,
        verify: true,
        setup_concurrency: 32,
        connect_concurrency: 64,
        drain_secs: sizes.drain_secs,
    };
    crate::bounded(ctx.limit, chat::measure(&args)).await
}

/// B1 on SQLite, in its own file under the work directory.
async fn b1_sqlite(ctx: &Ctx) -> Result<InsertRun> {
    let db = ctx.work.dir("b1-sqlite")?.join("b1.db");
    b1(ctx, &format!("sqlite://{}", db.display())).await
}

/// B1 on PostgreSQL, in a fresh schema dropped afterwards.
async fn b1_postgres(ctx: &Ctx, base: &str) -> Result<InsertRun> {
    let schema = PgSchema::create(base, &format!("sbbench_{}_b1", ctx.tag)).await?;
    let result = b1(ctx, &schema.url).await;
    schema.drop().await;
    result
}

async fn b1(ctx: &Ctx, url: &str) -> Result<InsertRun> {
    let s = &ctx.sizes;
    let inserts = async {
        baseline::batched_inserts(url, s.conversations as usize, s.b1_rows, s.b1_per_commit).await.context("B1 inserts")
    };
    crate::bounded(ctx.limit, inserts).await
}

/// `--server-bin`, or the `switchboard` binary this one was built beside (so
/// both come from the same profile).
fn server_bin(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_owned(),
        None => std::env::current_exe().context("finding this executable")?.with_file_name("switchboard"),
    };
    if !path.is_file() {
        bail!(
            "no server binary at {}: build it with `cargo build --release -p switchboard` (the same profile as \
             this binary), or pass --server-bin PATH",
            path.display()
        );
    }
    Ok(path)
}

fn check_postgres_url(url: &str) -> Result<()> {
    if !matches!(Backend::of(url), Ok(Backend::Postgres)) {
        bail!("--postgres-url must start with postgres:// or postgresql://");
    }
    if url.contains("options=") {
        bail!("--postgres-url must not set options=: bench sets search_path to its own schema");
    }
    Ok(())
}

/// A port the system just handed out and took back. The child binds it a
/// moment later; should another process take it meanwhile, the child fails
/// to start and says so in its log.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

/// Where the children run: pinned to core 0 (through `taskset`), with this
/// process moved to core 1, so the server's CPU and the load generator's never
/// compete.
struct Pinning {
    /// Prepended to a child's command line; empty when not pinning.
    prefix: Vec<String>,
    /// What was done, for the report.
    note: String,
}

impl Pinning {
    fn apply(disabled: bool, cores: usize) -> Self {
        let off = |why: String| Self { prefix: Vec::new(), note: format!("not pinned: {why}") };
        if disabled {
            return off("--no-pin".to_owned());
        }
        if cores < 2 {
            return off(format!("{cores} core"));
        }
        // -a: every thread, the runtime's workers included; threads started
        // later inherit the mask from the thread that starts them.
        let pid = std::process::id().to_string();
        match std::process::Command::new("taskset").args(["-a", "-cp", "1", &pid]).output() {
            Ok(out) if out.status.success() => Self {
                prefix: ["taskset", "-c", "0"].map(str::to_owned).into(),
                note: "server and relay on core 0 (taskset -c 0), load generator and B1 on core 1 \
                       (taskset -a -cp 1)"
                    .to_owned(),
            },
            Ok(out) => off(format!("taskset -a -cp 1 {pid} failed: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => off("taskset not found".to_owned()),
            Err(err) => off(format!("running taskset: {err}")),
        }
    }
}

/// A relay or server child process. Killed if dropped (an error or a timeout
/// elsewhere); `stop` asks it to shut down first.
struct Spawned {
    name: &'static str,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Spawned {
    fn start(name: &'static str, program: &Path, argv: &[String], pinning: &Pinning, log: &Path) -> Result<Self> {
        let mut line: Vec<&OsStr> = pinning.prefix.iter().map(OsStr::new).collect();
        line.push(program.as_os_str());
        line.extend(argv.iter().map(OsStr::new));
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = Command::new(line[0]);
        cmd.args(&line[1..]).stdin(Stdio::null()).stdout(out).stderr(err).kill_on_drop(true);
        // The server reads SWITCHBOARD_* as defaults; one left in this shell
        // (a database URL, say) would quietly change what is measured.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SWITCHBOARD_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd.spawn().with_context(|| format!("starting {}", program.display()))?;
        // With taskset in front the pid is still the server's: taskset execs it.
        let pid = child.id().with_context(|| format!("the {name} exited at once"))?;
        Ok(Self { name, child, pid, log: log.to_owned() })
    }

    /// Polls `GET /readyz` until it answers 200; returns how long that took.
    async fn wait_ready(&mut self, base: &str, within: Duration) -> Result<Duration> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().context("HTTP client")?;
        let url = format!("{base}/readyz");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("checking the child")? {
                bail!("the {} exited ({status}) before it was ready; its log ends:\n{}", self.name, self.log_tail());
            }
            if let Ok(resp) = http.get(&url).send().await
                && resp.status() == reqwest::StatusCode::OK
            {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= within {
                bail!(
                    "the {} was not ready within {} s; its log ends:\n{}",
                    self.name,
                    within.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGTERM (the server shuts down gracefully on it), then SIGKILL if it is
    /// still running after a while. Problems are only reported: the figures
    /// are already taken.
    async fn stop(mut self) {
        // Once reaped, its pid may belong to another process: signal only a live child.
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let graceful = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if graceful && let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            return;
        }
        eprintln!("bench: the {} (pid {}) did not stop on SIGTERM; killing it", self.name, self.pid);
        if let Err(err) = self.child.kill().await {
            eprintln!("bench: killing the {} (pid {}): {err}", self.name, self.pid);
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

/// The run's temporary directory; removed when dropped, also on errors.
struct WorkDir(PathBuf);

impl WorkDir {
    fn create(parent: &Path) -> Result<Self> {
        let path = parent.join(format!("switchboard-bench-{}", chat::run_tag()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn dir(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.0) {
            eprintln!("bench: could not remove {}: {err}", self.0.display());
        }
    }
}

/// A fresh schema on the PostgreSQL server, so a run never sees an earlier
/// run's rows. Not dropped by itself (that needs the database): call `drop`.
struct PgSchema {
    base: String,
    name: String,
    /// `base` with the schema as its search_path.
    url: String,
}

impl PgSchema {
    async fn create(base: &str, name: &str) -> Result<Self> {
        let mut conn = sqlx::PgConnection::connect(base).await.context("connecting to --postgres-url")?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating schema {name}"))?;
        let _ = conn.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Ok(Self { base: base.to_owned(), name: name.to_owned(), url })
    }

    async fn drop(self) {
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&self.base).await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)).execute(&mut conn).await?;
            conn.close().await
        };
        if let Err(err) = dropped.await {
            eprintln!("bench: could not drop schema {}: {err} (drop it by hand)", self.name);
        }
    }
}

/// Facts about the machine printed with the figures, which mean little without them.
#[derive(Debug, Serialize)]
struct Machine {
    cores: usize,
    cpu: Option<String>,
    memory_gib: Option<f64>,
    /// The 1-minute load average when the run started: on a shared machine,
    /// a busy neighbour shows here.
    load_average: Option<f64>,
}

impl Machine {
    fn read() -> Self {
        let file = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = file("/proc/cpuinfo");
        let meminfo = file("/proc/meminfo");
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_owned()),
            memory_gib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
                .map(|kib| round(kib / 1024.0 / 1024.0, 1)),
            load_average: file("/proc/loadavg").split_whitespace().next().and_then(|l| l.parse().ok()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// B0.
    Relay,
    /// B1.
    Inserts,
    /// The server, storing every message.
    Durable,
}

/// One line of the table.
#[derive(Debug, Serialize)]
struct Row {
    run: String,
    kind: Kind,
    backend: Option<&'static str>,
    /// Delivered msgs/s, or rows/s for B1.
    per_sec: f64,
    /// Server CPU per delivered message; none for B1 (it runs in this process).
    cpu_us_per_msg: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    p999_ms: Option<f64>,
    /// Durable runs: `per_sec` over min(B0, the B1 of the same backend).
    vs_min_baselines: Option<f64>,
    /// Durable runs: `cpu_us_per_msg` over B0's.
    cpu_vs_b0: Option<f64>,
    /// What the load found wrong; none for B1, which checks nothing.
    check: Option<Check>,
}

#[derive(Debug, Default, Serialize)]
struct Check {
    ok: bool,
    /// Whether the transcripts were read back (the server); the relay keeps none.
    transcripts: bool,
    lost: u64,
    duplicated: u64,
    seq_faults: u64,
    stream_seq_gaps: u64,
    stream_seq_dups: u64,
    undelivered: u64,
    refused: u64,
    first_error: Option<String>,
    hint: Option<String>,
}

impl Row {
    fn chat(run: &str, kind: Kind, backend: Option<Backend>, s: ChatSummary) -> Self {
        let latency = (s.latency.samples > 0).then_some(s.latency);
        let v = s.verify.unwrap_or_default();
        Self {
            run: run.to_owned(),
            kind,
            backend: backend.map(Backend::name),
            per_sec: s.throughput_msgs_per_sec,
            cpu_us_per_msg: s.server.and_then(|c| c.cpu_secs_per_1k_msgs).map(|c| round(c * 1000.0, 1)),
            p50_ms: latency.map(|l| l.p50_ms),
            p99_ms: latency.map(|l| l.p99_ms),
            p999_ms: latency.map(|l| l.p999_ms),
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: Some(Check {
                ok: s.ok,
                transcripts: s.verify.is_some(),
                lost: v.lost,
                duplicated: v.duplicated,
                seq_faults: v.seq_faults,
                stream_seq_gaps: s.stream_seq_gaps,
                stream_seq_dups: s.stream_seq_dups,
                undelivered: s.undelivered,
                refused: s.refused,
                first_error: s.first_error,
                hint: s.hint,
            }),
        }
    }

    fn inserts(run: &str, backend: Backend, r: InsertRun) -> Self {
        Self {
            run: run.to_owned(),
            kind: Kind::Inserts,
            backend: Some(backend.name()),
            per_sec: round(r.rows_per_sec(), 1),
            cpu_us_per_msg: None,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: None,
        }
    }
}

/// Sets each durable row's ratios against B0 and the B1 of its backend.
fn fill_ratios(rows: &mut [Row]) {
    let b0 = rows.iter().find(|r| r.kind == Kind::Relay).map(|r| (r.per_sec, r.cpu_us_per_msg));
    let b1: Vec<(Option<&str>, f64)> =
        rows.iter().filter(|r| r.kind == Kind::Inserts).map(|r| (r.backend, r.per_sec)).collect();
    for row in rows.iter_mut().filter(|r| r.kind == Kind::Durable) {
        let b1 = b1.iter().find(|(backend, _)| *backend == row.backend).map(|(_, per_sec)| *per_sec);
        let floor = match (b0.map(|(per_sec, _)| per_sec), b1) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        row.vs_min_baselines = floor.filter(|f| *f > 0.0).map(|f| round(row.per_sec / f, 4));
        row.cpu_vs_b0 = match (row.cpu_us_per_msg, b0.and_then(|(_, cpu)| cpu)) {
            (Some(cpu), Some(base)) if base > 0.0 => Some(round(cpu / base, 2)),
            _ => None,
        };
    }
}

/// Everything the table shows; also the `--json` document.
#[derive(Debug, Serialize)]
struct BenchReport {
    mode: &'static str,
    ok: bool,
    machine: Machine,
    sizes: Sizes,
    pinning: String,
    server_bin: String,
    wall_secs: f64,
    rows: Vec<Row>,
}

impl BenchReport {
    fn lines(&self) -> Vec<String> {
        let m = &self.machine;
        let s = &self.sizes;
        let mut machine = format!("{} cores", m.cores);
        if let Some(cpu) = &m.cpu {
            machine += &format!(" ({cpu})");
        }
        if let Some(gib) = m.memory_gib {
            machine += &format!(", {gib:.1} GiB");
        }
        if let Some(load) = m.load_average {
            machine += &format!(", load average {load:.2} at start");
        }
        let mut out = vec![
            format!("machine       {machine}"),
            format!(
                "load          {} conversations ({} sockets) x {} messages per side, closed loop, window {}, \
                 {} B payload",
                thousands(f64::from(s.conversations)),
                thousands(f64::from(s.conversations) * 2.0),
                s.messages_per_side,
                s.window,
                s.payload_bytes
            ),
            format!(
                "B1            {} rows, {} per commit (one per conversation)",
                thousands(s.b1_rows as f64),
                thousands(s.b1_per_commit as f64)
            ),
            format!("pinning       {}", self.pinning),
            format!("server        {}", self.server_bin),
            String::new(),
        ];
        out.extend(table(&self.rows));
        out.push(String::new());
        out.push(
            "ratios        durable/min(B0,B1): msgs/s over the lower of B0 and the B1 of the same backend \
             (target >= 40 %); CPU/B0: server CPU per message over B0's (target <= 2.5x)"
                .to_owned(),
        );
        if self.rows.iter().any(|r| r.backend == Some("postgres") && r.kind == Kind::Durable) {
            out.push("              PostgreSQL CPU is the server process's alone, not the database's".to_owned());
        }
        for row in &self.rows {
            if let Some(c) = row.check.as_ref().filter(|c| !c.ok) {
                let mut note =
                    format!("failed        {}: undelivered {}, refused {}", row.run, c.undelivered, c.refused);
                if let Some(e) = &c.first_error {
                    note += &format!("; first error: {e}");
                }
                if let Some(h) = &c.hint {
                    note += &format!("; hint: {h}");
                }
                out.push(note);
            }
        }
        out.push(format!("wall time     {:.1} s", self.wall_secs));
        out.push(format!("verdict       {}", if self.ok { "OK" } else { "FAILED" }));
        out
    }
}

/// The table itself: a header and one line per row; `-` where a figure does
/// not apply.
fn table(rows: &[Row]) -> Vec<String> {
    let dash = || "-".to_owned();
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(dash, f);
    let mut out = vec![format!(
        "{:<24}{:>10}{:>12}{:>9}{:>9}{:>20}{:>8}  {}",
        "run", "msgs/s", "CPU µs/msg", "p50 ms", "p99 ms", "durable/min(B0,B1)", "CPU/B0", "check"
    )];
    for r in rows {
        out.push(format!(
            "{:<24}{:>10}{:>12}{:>9}{:>9}{:>20}{:>8}  {}",
            r.run,
            thousands(r.per_sec),
            opt(r.cpu_us_per_msg, |v| format!("{v:.1}")),
            opt(r.p50_ms, |v| format!("{v:.1}")),
            opt(r.p99_ms, |v| format!("{v:.1}")),
            opt(r.vs_min_baselines, |v| format!("{:.1} %", v * 100.0)),
            opt(r.cpu_vs_b0, |v| format!("{v:.1}x")),
            r.check.as_ref().map_or_else(dash, check_cell),
        ));
    }
    out
}

fn check_cell(c: &Check) -> String {
    let mut parts = if c.transcripts {
        vec![format!("lost {}, dup {}, seq faults {}", c.lost, c.duplicated, c.seq_faults)]
    } else {
        vec![format!("stream gaps {}, dups {}", c.stream_seq_gaps, c.stream_seq_dups)]
    };
    if c.undelivered > 0 {
        parts.push(format!("undelivered {}", c.undelivered));
    }
    if c.refused > 0 {
        parts.push(format!("refused {}", c.refused));
    }
    format!("{} ({})", if c.ok { "OK" } else { "FAILED" }, parts.join(", "))
}

/// `12345.6` → `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    if x < 0.0 && digits != "0" { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_row(run: &str, kind: Kind, backend: Option<&'static str>, per_sec: f64, cpu: f64, p99: f64) -> Row {
        Row {
            run: run.to_owned(),
            kind,
            backend,
            per_sec,
            cpu_us_per_msg: Some(cpu),
            p50_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
            p999_ms: Some(p99),
            vs_min_baselines: None,
            cpu_vs_b0: None,
            check: Some(Check { ok: true, transcripts: kind == Kind::Durable, ..Check::default() }),
        }
    }

    fn b1_row(run: &str, backend: Backend, per_sec: f64) -> Row {
        Row::inserts(run, backend, InsertRun { rows: per_sec as u64, elapsed: Duration::from_secs(1) })
    }

    fn rows() -> Vec<Row> {
        let mut rows = vec![
            chat_row("B0 bare relay", Kind::Relay, None, 77_132.0, 12.5, 481.0),
            b1_row("B1 SQLite (rows/s)", Backend::Sqlite, 196_430.0),
            b1_row("B1 PostgreSQL (rows/s)", Backend::Postgres, 20_000.0),
            chat_row("chat SQLite", Kind::Durable, Some("sqlite"), 9_744.0, 97.0, 287.0),
            chat_row("chat PostgreSQL", Kind::Durable, Some("postgres"), 8_000.0, 71.0, 312.0),
        ];
        fill_ratios(&mut rows);
        rows
    }

    #[test]
    fn ratios_use_the_lower_baseline_of_the_same_backend() {
        let rows = rows();
        // SQLite: B0 (77,132) is below B1 SQLite.
        assert_eq!(rows[3].vs_min_baselines, Some(round(9_744.0 / 77_132.0, 4)));
        assert_eq!(rows[3].cpu_vs_b0, Some(7.76));
        // PostgreSQL: its own B1 (20,000) is the lower one, not B1 SQLite.
        assert_eq!(rows[4].vs_min_baselines, Some(0.4));
        assert_eq!(rows[4].cpu_vs_b0, Some(5.68));
        // Baselines get no ratios.
        assert!(rows[..3].iter().all(|r| r.vs_min_baselines.is_none() && r.cpu_vs_b0.is_none()));
    }

    #[test]
    fn no_ratio_without_a_baseline_figure() {
        let mut rows = vec![
            chat_row("B0 bare relay", Kind::Relay, None, 0.0, 0.0, 1.0),
            chat_row("chat SQLite", Kind::Durable, Some("sqlite"), 9_744.0, 97.0, 287.0),
        ];
        fill_ratios(&mut rows);
        assert_eq!(rows[1].vs_min_baselines, None);
        assert_eq!(rows[1].cpu_vs_b0, None);
    }

    #[test]
    fn table_lines() {
        let lines = table(&rows());
        assert_eq!(
            lines,
            [
                "run                         msgs/s  CPU µs/msg   p50 ms   p99 ms  durable/min(B0,B1)  CPU/B0  check",
                "B0 bare relay               77,132        12.5    240.5    481.0                   -       -  \
                 OK (stream gaps 0, dups 0)",
                "B1 SQLite (rows/s)         196,430           -        -        -                   -       -  -",
                "B1 PostgreSQL (rows/s)      20,000           -        -        -                   -       -  -",
                "chat SQLite                  9,744        97.0    143.5    287.0              12.6 %    7.8x  \
                 OK (lost 0, dup 0, seq faults 0)",
                "chat PostgreSQL              8,000        71.0    156.0    312.0              40.0 %    5.7x  \
                 OK (lost 0, dup 0, seq faults 0)",
            ]
        );
    }

    #[test]
    fn failed_checks_say_what_went_wrong() {
        let c = Check { ok: false, transcripts: true, lost: 2, undelivered: 3, ..Check::default() };
        assert_eq!(check_cell(&c), "FAILED (lost 2, dup 0, seq faults 0, undelivered 3)");
        let c = Check { ok: false, stream_seq_dups: 1, refused: 4, ..Check::default() };
        assert_eq!(check_cell(&c), "FAILED (stream gaps 0, dups 1, refused 4)");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(196_430.2), "196,430");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-1_234.0), "-1,234");
    }

    #[test]
    fn quick_and_overrides() {
        let args = BenchArgs {
            quick: true,
            conversations: None,
            messages: Some(7),
            window: 2,
            b1_rows: None,
            postgres_url: None,
            server_bin: None,
            work_dir: None,
            no_pin: true,
            json: None,
        };
        let s = Sizes::of(&args).unwrap();
        assert_eq!(
            (s.conversations, s.messages_per_side, s.window, s.b1_rows, s.b1_per_commit),
            (100, 7, 2, 20_000, 100)
        );
        assert!(Sizes::of(&BenchArgs { conversations: Some(0), ..args }).is_err());
    }

    #[test]
    fn postgres_url_checks() {
        assert!(check_postgres_url("postgres://u@h/db").is_ok());
        assert!(check_postgres_url("sqlite://x.db").is_err());
        assert!(check_postgres_url("postgres://u@h/db?options=-c%20search_path%3Dx").is_err());
    }
}
