//! `switchboard transcript export`: one conversation's transcript to a file
//! (or standard output), or every conversation created in a time window to
//! a directory — one file per conversation and an `index.json` — as JSON,
//! plain text or HTML, with a progress bar on a terminal.
//!
//! An export only reads, so it takes no lock and never goes through a
//! running server: it opens the database read-only (see
//! [`switchboard_store::open_reader`]), which on SQLite is one more reader
//! beside the server's writer. Each file is written beside its place and
//! renamed into it once complete, so a file that exists is whole: a range
//! export that was interrupted is resumed by running it again (the files
//! already written are kept unless `--force`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use futures_util::{StreamExt as _, TryStreamExt as _};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::{Clock as _, SystemClock, Timestamp};
use switchboard_core::engine::export::{Export, ExportRequest};
use switchboard_core::engine::{Caller, Engine, Limits};
use switchboard_core::export::{Format, Links, Segments};
use switchboard_core::ids::{ConversationId, WorkspaceId};
use switchboard_core::model::{Conversation, ConversationState};
use switchboard_core::store::ConversationQuery;

use super::backup::{Partial, dir_of};
use super::failed;
use crate::config::StorageConfig;

#[derive(Debug, Subcommand)]
pub enum TranscriptCommand {
    /// Exports one conversation's transcript (`--conversation`), or those of
    /// every conversation created in a window (`--from` and `--to`).
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON document per conversation.
    Json,
    /// Lines for people: `[2026-12-04 10:15:02Z] Alice (customer): hello`.
    Text,
    /// A self-contained HTML page.
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Json => Format::Json,
            FormatArg::Text => Format::Text,
            FormatArg::Html => Format::Html,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SegmentsArg {
    /// The conversation's own log.
    Current,
    /// With the earlier chats it continues (persistent chat), oldest first.
    All,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["conversation", "from"])))]
pub struct ExportArgs {
    /// The conversation to export.
    #[arg(long, conflicts_with_all = ["from", "to", "workspace"])]
    pub conversation: Option<String>,
    /// Export the conversations created at or after this time: RFC 3339
    /// (2026-12-04T10:00:00Z) or a day (2026-12-04, from midnight UTC).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// … and before this time (same forms; a day means its midnight UTC).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: FormatArg,
    /// Where to write: for one conversation a file (`-`: standard output;
    /// default `transcript-ID.EXT`), for a window a directory (default
    /// `transcripts-FROM-TO`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Default: `all` for one conversation; `current` for a window, so each
    /// conversation is written once (index.json links them).
    #[arg(long, value_enum)]
    pub segments: Option<SegmentsArg>,
    /// The workspace a window is taken from (default: the first, which the
    /// admin key belongs to).
    #[arg(long)]
    pub workspace: Option<String>,
    /// The server's public URL: files link to their API resource under it.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Replace files that exist. Without it a single export refuses to, and
    /// a window keeps them (running it again finishes an interrupted one).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub storage: StorageConfig,
}

pub async fn transcript(cmd: TranscriptCommand) -> anyhow::Result<()> {
    match cmd {
        TranscriptCommand::Export(args) => export(args).await,
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let config = crate::store_config(&args.storage, None);
    let store = switchboard_store::open_reader(&config).await.map_err(failed).context("opening the database")?;
    let engine = Engine::new(store, Arc::new(LocalBus::default()), Arc::new(SystemClock), Limits::default());
    let stop = crate::shutdown_signal();
    let work = async {
        match (&args.conversation, &args.from, &args.to) {
            (Some(id), _, _) => one(&engine, &args, id).await,
            (None, Some(from), Some(to)) => window(&engine, &args, from, to).await,
            _ => bail!("name a conversation (--conversation) or a window (--from and --to)"),
        }
    };
    // Interrupted: the partial files are removed as the work is dropped.
    let result = tokio::select! {
        r = work => r,
        () = stop => Err(anyhow!("interrupted; files not finished were removed")),
    };
    engine.store().close().await;
    result
}

fn request(args: &ExportArgs, default: Segments) -> ExportRequest {
    let segments = match args.segments {
        Some(SegmentsArg::All) => Segments::All,
        Some(SegmentsArg::Current) => Segments::Current,
        None => default,
    };
    ExportRequest { format: args.format.into(), segments, links: Links::new(&args.public_url) }
}

/// One conversation, to a file or standard output.
async fn one(engine: &Engine, args: &ExportArgs, id: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let id =
        ConversationId::parse(id).map_err(|_| anyhow!("--conversation: {id:?} is not a conversation id (cnv_…)"))?;
    let c = engine.store().conversation(id).await.map_err(failed)?;
    let c = c.ok_or_else(|| anyhow!("conversation {id} not found in this database"))?;
    let format = Format::from(args.format);
    let target = args.out.clone().unwrap_or_else(|| PathBuf::from(file_name(id, format)));
    let to_stdout = target.as_os_str() == "-";
    if !to_stdout {
        check_target(&target, args.force)?;
    }
    let caller = Caller::Admin { workspace: c.workspace_id };
    let mut export = engine.export(&caller, id, request(args, Segments::All)).await.map_err(failed)?;
    let bar = events_bar(export.header().log_events());
    if to_stdout {
        write_export(&mut export, &mut std::io::stdout(), &bar).await?;
    } else {
        let partial = Partial::beside(&target, "partial");
        let mut file = create(&partial.path)?;
        write_export(&mut export, &mut file, &bar).await?;
        file.flush().with_context(|| format!("writing {}", partial.path.display()))?;
        drop(file);
        partial.finish(&target)?;
    }
    bar.finish_and_clear();
    let (events, secs) = (export.events(), started.elapsed().as_secs_f64());
    let summary = format!("exported {id}: {events} events in {secs:.2} s ({:.0} events/s)", rate(events, secs));
    if to_stdout {
        eprintln!("{summary}");
    } else {
        println!("{summary} to {}", target.display());
    }
    Ok(())
}

/// A single export's target must be a file we may write.
fn check_target(target: &Path, force: bool) -> anyhow::Result<()> {
    if target.is_dir() {
        bail!("{} is a directory; name the file to write", target.display());
    }
    if target.exists() && !force {
        bail!("{} already exists; pass --force to replace it", target.display());
    }
    if !dir_of(target).is_dir() {
        bail!("the directory {} does not exist", dir_of(target).display());
    }
    Ok(())
}

/// Every conversation of a workspace created in `[from, to)`, to a directory.
async fn window(engine: &Engine, args: &ExportArgs, from: &str, to: &str) -> anyhow::Result<()> {
    let (from, to) = (parse_time("--from", from)?, parse_time("--to", to)?);
    if from >= to {
        bail!("--from ({}) must be before --to ({})", from.to_rfc3339(), to.to_rfc3339());
    }
    let workspace = workspace(engine, args.workspace.as_deref()).await?;
    let caller = Caller::Admin { workspace };
    let listed = created_between(engine, &caller, from, to).await?;
    if listed.is_empty() {
        bail!(
            "no conversations of workspace {workspace} were created from {} to {}; nothing written",
            from.to_rfc3339(),
            to.to_rfc3339()
        );
    }
    let dir = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("transcripts-{}-{}", stamp(from), stamp(to))));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the directory {}", dir.display()))?;
    let request = request(args, Segments::Current);
    let about = IndexAbout::new(workspace, from, to, &request);
    let mut index = Index::create(&dir, &about)?;
    let progress = Progress::new(listed.len() as u64);
    let work = Window { engine, caller: &caller, request: &request, dir: &dir, force: args.force, progress: &progress };
    // A few at a time, so that one file's fsync does not hold up the
    // reading of the next; `buffered` hands them back in order for the index.
    let mut done = futures_util::stream::iter(&listed).map(|c| work.conversation(c)).buffered(AT_ONCE);
    while let Some(entry) = done.try_next().await? {
        index.add(&entry)?;
        progress.bar.inc(1);
    }
    drop(done);
    index.finish(&dir)?;
    progress.report(&dir);
    Ok(())
}

/// Conversations of a window exported at once.
const AT_ONCE: usize = 8;

/// What exporting each conversation of a window needs.
struct Window<'a> {
    engine: &'a Engine,
    caller: &'a Caller,
    request: &'a ExportRequest,
    dir: &'a Path,
    force: bool,
    progress: &'a Progress,
}

impl Window<'_> {
    /// Exports one conversation into its file, unless a whole file is there
    /// already; returns its line of the index.
    async fn conversation(&self, c: &Listed) -> anyhow::Result<IndexEntry> {
        let name = file_name(c.id, self.request.format);
        let target = self.dir.join(&name);
        if target.exists() && !self.force {
            self.progress.kept.fetch_add(1, Ordering::Relaxed);
        } else {
            self.export(c.id, target).await?;
            self.progress.written.fetch_add(1, Ordering::Relaxed);
        }
        Ok(IndexEntry::new(c, name))
    }

    async fn export(&self, id: ConversationId, target: PathBuf) -> anyhow::Result<()> {
        let mut export = self.engine.export(self.caller, id, self.request.clone()).await.map_err(failed)?;
        let partial = Partial::beside(&target, "partial");
        let mut file = create(&partial.path)?;
        let mut counted = 0;
        while let Some(chunk) = export.next_chunk().await.map_err(failed).with_context(|| format!("reading {id}"))? {
            file.write_all(chunk.as_bytes()).with_context(|| format!("writing {}", partial.path.display()))?;
            self.progress.add_events(export.events() - counted);
            counted = export.events();
        }
        file.flush().with_context(|| format!("writing {}", partial.path.display()))?;
        drop(file);
        // fsync and rename off the runtime's threads.
        tokio::task::spawn_blocking(move || partial.finish(&target)).await.context("finishing a file")?
    }
}

/// How far a window export is: its bar, and what it did so far.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    written: AtomicU64,
    kept: AtomicU64,
    events: AtomicU64,
}

impl Progress {
    fn new(conversations: u64) -> Self {
        let bar = conversations_bar(conversations);
        let zero = || AtomicU64::new(0);
        Self { bar, started: Instant::now(), written: zero(), kept: zero(), events: zero() }
    }

    fn add_events(&self, n: u64) {
        let events = self.events.fetch_add(n, Ordering::Relaxed) + n;
        self.bar.set_message(format!("{events} events, {:.0}/s", rate(events, self.started.elapsed().as_secs_f64())));
    }

    fn report(self, dir: &Path) {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64();
        let (written, kept, events) = (self.written.into_inner(), self.kept.into_inner(), self.events.into_inner());
        let kept = if kept > 0 { format!(" ({kept} kept from an earlier run)") } else { String::new() };
        println!(
            "exported {written} conversations{kept} to {}: {events} events in {secs:.2} s ({:.0} events/s)",
            dir.display(),
            rate(events, secs)
        );
    }
}

/// Writes the chunks of `export` to `out`, counting events on `bar`.
async fn write_export(export: &mut Export, out: &mut impl Write, bar: &ProgressBar) -> anyhow::Result<()> {
    while let Some(chunk) = export.next_chunk().await.map_err(failed).context("reading the transcript")? {
        out.write_all(chunk.as_bytes()).context("writing the transcript")?;
        bar.set_position(export.events());
    }
    out.flush().context("writing the transcript")
}

fn create(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(std::io::BufWriter::with_capacity(256 * 1024, file))
}

fn file_name(id: ConversationId, format: Format) -> String {
    format!("transcript-{id}.{}", format.extension())
}

/// The workspace named, or the first one.
async fn workspace(engine: &Engine, named: Option<&str>) -> anyhow::Result<WorkspaceId> {
    if let Some(w) = named {
        return WorkspaceId::parse(w).map_err(|_| anyhow!("--workspace: {w:?} is not a workspace id (wsp_…)"));
    }
    let first = engine.store().first_workspace().await.map_err(failed)?;
    Ok(first.ok_or_else(|| anyhow!("the database has no workspace yet: nothing to export"))?.id)
}

/// The conversations created in `[from, to)`, oldest first.
async fn created_between(
    engine: &Engine,
    caller: &Caller,
    from: Timestamp,
    to: Timestamp,
) -> anyhow::Result<Vec<Listed>> {
    let mut found = Vec::new();
    let mut query = ConversationQuery {
        created_from: Some(from),
        created_before: Some(to),
        limit: engine.limits().page_max,
        ..ConversationQuery::default()
    };
    loop {
        let page = engine.conversations(caller, query.clone()).await.map_err(failed)?;
        let full = page.len() as u32 >= query.limit;
        query.before = page.last().map(|c| c.id);
        found.extend(page.iter().map(Listed::from));
        if !full {
            break;
        }
    }
    found.sort_by_key(|c| (c.created_at, c.id));
    Ok(found)
}

/// What a window export keeps of each conversation it lists.
#[derive(Debug, Clone)]
struct Listed {
    id: ConversationId,
    state: ConversationState,
    created_at: Timestamp,
    ended_at: Option<Timestamp>,
    last_seq: i64,
    previous: Option<ConversationId>,
    next: Option<ConversationId>,
}

impl From<&Conversation> for Listed {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id,
            state: c.state,
            created_at: c.created_at,
            ended_at: c.ended_at,
            last_seq: c.last_seq,
            previous: c.previous_conversation_id,
            next: c.next_conversation_id,
        }
    }
}

/// The head of `index.json`.
#[derive(Debug, Serialize)]
struct IndexAbout {
    format: &'static str,
    version: u32,
    exported_at: Timestamp,
    workspace_id: WorkspaceId,
    created_from: Timestamp,
    created_before: Timestamp,
    transcript_format: &'static str,
    segments: &'static str,
}

impl IndexAbout {
    fn new(workspace: WorkspaceId, from: Timestamp, to: Timestamp, request: &ExportRequest) -> Self {
        Self {
            format: "switchboard.transcript-index",
            version: 1,
            exported_at: SystemClock.now(),
            workspace_id: workspace,
            created_from: from,
            created_before: to,
            transcript_format: request.format.as_str(),
            segments: request.segments.as_str(),
        }
    }
}

/// One conversation in `index.json`.
#[derive(Debug, Serialize)]
struct IndexEntry {
    conversation_id: ConversationId,
    file: String,
    state: ConversationState,
    created_at: Timestamp,
    ended_at: Option<Timestamp>,
    last_seq: i64,
    previous_conversation_id: Option<ConversationId>,
    next_conversation_id: Option<ConversationId>,
}

impl IndexEntry {
    fn new(c: &Listed, file: String) -> Self {
        Self {
            conversation_id: c.id,
            file,
            state: c.state,
            created_at: c.created_at,
            ended_at: c.ended_at,
            last_seq: c.last_seq,
            previous_conversation_id: c.previous,
            next_conversation_id: c.next,
        }
    }
}

/// `index.json`, written as the conversations go by:
/// `{"export":{…},"conversations":[{…},…]}`.
struct Index {
    partial: Partial,
    file: std::io::BufWriter<std::fs::File>,
    entries: u64,
}

impl Index {
    fn create(dir: &Path, about: &IndexAbout) -> anyhow::Result<Self> {
        let partial = Partial::beside(&dir.join("index.json"), "partial");
        let mut file = create(&partial.path)?;
        write!(file, "{{\"export\":{},\n\"conversations\":[", serde_json::to_string(about)?)
            .with_context(|| format!("writing {}", partial.path.display()))?;
        Ok(Self { partial, file, entries: 0 })
    }

    fn add(&mut self, entry: &IndexEntry) -> anyhow::Result<()> {
        let sep = if self.entries == 0 { "\n" } else { ",\n" };
        write!(self.file, "{sep}{}", serde_json::to_string(entry)?)
            .with_context(|| format!("writing {}", self.partial.path.display()))?;
        self.entries += 1;
        Ok(())
    }

    fn finish(mut self, dir: &Path) -> anyhow::Result<()> {
        self.file.write_all(b"\n]}\n").and_then(|()| self.file.flush()).context("writing index.json")?;
        drop(self.file);
        self.partial.finish(&dir.join("index.json"))
    }
}

/// Reads `--from` / `--to`: RFC 3339, or a day meaning its midnight UTC.
fn parse_time(flag: &str, s: &str) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    let is_day = s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') && s.as_bytes().get(7) == Some(&b'-');
    let full = if is_day { format!("{s}T00:00:00Z") } else { s.to_owned() };
    Timestamp::parse_rfc3339(&full).ok_or_else(|| {
        anyhow!("{flag} {s:?} is not a time: give RFC 3339 (2026-12-04T10:00:00Z) or a day (2026-12-04, midnight UTC)")
    })
}

/// `20261204T100000Z`, for a directory name.
fn stamp(t: Timestamp) -> String {
    let full = t.to_rfc3339();
    full.get(..19).unwrap_or(&full).chars().filter(|c| *c != '-' && *c != ':').chain(['Z']).collect()
}

fn rate(events: u64, secs: f64) -> f64 {
    if secs > 0.0 { events as f64 / secs } else { 0.0 }
}

/// A bar of events for one conversation (drawn only on a terminal).
fn events_bar(total: u64) -> ProgressBar {
    bar(total, "{spinner} exporting [{wide_bar}] {human_pos}/{human_len} events ({per_sec}, {eta} left)")
}

/// A bar of conversations for a window (drawn only on a terminal).
fn conversations_bar(total: u64) -> ProgressBar {
    bar(total, "{spinner} exporting [{wide_bar}] {human_pos}/{human_len} conversations, {msg} ({elapsed}, {eta} left)")
}

fn bar(total: u64, template: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(total).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_days() {
        assert_eq!(parse_time("--from", "2026-12-04").unwrap().to_rfc3339(), "2026-12-04T00:00:00.000Z");
        assert_eq!(parse_time("--to", "2026-12-04T10:15:02+01:00").unwrap().to_rfc3339(), "2026-12-04T09:15:02.000Z");
        for bad in ["", "yesterday", "2026-13-01", "2026-02-30", "2026/12/04", "2026-12-04T10:00"] {
            let e = parse_time("--from", bad).unwrap_err().to_string();
            assert!(e.starts_with("--from") && e.contains("RFC 3339"), "{bad}: {e}");
        }
        assert_eq!(stamp(parse_time("--from", "2026-12-04").unwrap()), "20261204T000000Z");
    }
}
