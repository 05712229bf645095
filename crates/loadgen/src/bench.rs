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

mod table;

use table::{BenchReport, Kind, Machine, Row, fill_ratios, thousands};

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
pub(super) struct Sizes {
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

#[cfg(test)]
mod tests {
    use super::*;

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
