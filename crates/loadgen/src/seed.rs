//! `seed`: fills a store with history for the growth benchmarks — ended
//! conversations of a customer and an agent, written straight into the
//! database (see `switchboard_store::seed`), with a progress bar. The server
//! must be stopped: on SQLite this takes the same lock the server takes.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard::config::StorageConfig;
use switchboard::lock::{self, Holder};
use switchboard_core::ids::WorkspaceId;
use switchboard_store::seed::{MIN_EVENTS_PER_CONVERSATION, SeedPlan, seed};

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub storage: StorageConfig,
    /// Events to write in all.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Events per conversation (created, two joins, messages, ended).
    #[arg(long, default_value_t = 100)]
    pub per_conversation: u32,
    /// Conversations written per transaction.
    #[arg(long, default_value_t = 500)]
    pub per_transaction: u64,
    /// The workspace to fill (default: the first, which the admin key belongs to).
    #[arg(long)]
    pub workspace: Option<String>,
}

pub async fn run(args: SeedArgs) -> Result<bool> {
    if args.per_conversation < MIN_EVENTS_PER_CONVERSATION {
        bail!("--per-conversation must be at least {MIN_EVENTS_PER_CONVERSATION}");
    }
    let conversations = args.events / u64::from(args.per_conversation);
    if conversations == 0 {
        bail!("--events must be at least --per-conversation ({})", args.per_conversation);
    }
    let workspace = args.workspace.as_deref().map(WorkspaceId::parse).transpose().context("--workspace")?;
    // Held until the end: no server may write the file meanwhile.
    let _lock = lock::lock(&args.storage, &Holder::this_process("seed", None))?;
    let url = args.storage.database_url();
    let before = disk_bytes(&url);

    let plan = SeedPlan {
        workspace,
        conversations,
        events_per_conversation: args.per_conversation,
        per_transaction: args.per_transaction,
    };
    let total = conversations * u64::from(args.per_conversation);
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} events ({per_sec}, {eta} left)",
        )
        .context("progress bar template")?,
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let report = seed(&url, &plan, |done| bar.set_position(done)).await?;
    bar.finish();

    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!(
        "seed: {} events in {} conversations into workspace {} in {:.1} s ({:.0} events/s)",
        report.events,
        report.conversations,
        report.workspace,
        secs,
        report.events as f64 / secs
    );
    if let (Some(before), Some(after)) = (before, disk_bytes(&url)) {
        let grown = after.saturating_sub(before);
        println!(
            "seed: the database files grew by {:.1} MiB to {:.1} MiB ({:.0} bytes per event)",
            grown as f64 / 1_048_576.0,
            after as f64 / 1_048_576.0,
            grown as f64 / report.events.max(1) as f64
        );
    }
    Ok(true)
}

/// The size of a SQLite database with its WAL; `None` for PostgreSQL.
fn disk_bytes(url: &str) -> Option<u64> {
    let path = url.strip_prefix("sqlite://")?;
    let path = path.split('?').next().unwrap_or(path);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Some(size(Path::new(path)) + size(Path::new(&format!("{path}-wal"))))
}
