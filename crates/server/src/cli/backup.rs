//! `switchboard backup FILE` and `switchboard restore FILE`: the SQLite
//! database copied out while a server runs, and a copy put back while none
//! does.
//!
//! A backup is one more reader of the database (see
//! [`switchboard_store::backup`]), so it takes no lock and does not go through
//! a running server. A restore replaces the file a server would have open, so
//! it holds the data dir's lock (see [`crate::lock`]) from start to end and is
//! refused while anything else holds it. Both write beside their target and
//! rename into place, so an interrupted or failed run leaves the target as it
//! was. PostgreSQL is backed up with its own tools (docs/operations.md).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use switchboard_core::clock::{Clock as _, SystemClock};
use switchboard_store::backup::{Inspection, Source};

use crate::config::StorageConfig;
use crate::lock::{self, Attempt, Holder};

const DOCS: &str = "see docs/operations.md, \"Backup and restore\"";

/// The files SQLite keeps beside a database while it is open or was not
/// closed cleanly. A restore must not leave the old database's ones beside
/// the new file: SQLite would replay them into it.
const COMPANIONS: [&str; 3] = ["-wal", "-journal", "-shm"];

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a single SQLite file).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub storage: StorageConfig,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `switchboard backup`.
    pub file: PathBuf,
    /// Replace the data dir's database if it has one; it is kept beside as
    /// `switchboard.db.before-restore-TIME`.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub storage: StorageConfig,
}

/// The SQLite database file of `storage`, or why there is nothing to copy.
fn database_file(storage: &StorageConfig, pg_tool: &str) -> anyhow::Result<PathBuf> {
    if let Some(file) = lock::sqlite_file(storage) {
        return Ok(file);
    }
    if switchboard_store::Backend::of(&storage.database_url()).ok() == Some(switchboard_store::Backend::Postgres) {
        bail!(
            "this works on the embedded SQLite database only; the database URL names PostgreSQL: use {pg_tool} \
             instead ({DOCS})"
        );
    }
    bail!("the database URL names an in-memory SQLite database: there is no file to copy")
}

/// `path` with `suffix` added to its file name (`switchboard.db` → `switchboard.db-wal`).
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The directory a file given on the command line is in.
pub(super) fn dir_of(file: &Path) -> &Path {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Whether `file` is the database or one of its companion files.
fn is_the_database(file: &Path, database: &Path) -> bool {
    let (Ok(file), Ok(db)) = (file.canonicalize(), database.canonicalize()) else { return false };
    file == db || COMPANIONS.iter().chain([".lock"].iter()).any(|s| file == suffixed(&db, s))
}

/// A file being written beside its final place; removed unless kept.
pub(super) struct Partial {
    pub(super) path: PathBuf,
    kept: bool,
}

impl Partial {
    /// A fresh name beside `target`.
    pub(super) fn beside(target: &Path, what: &str) -> Self {
        let path = suffixed(target, &format!(".{what}-{}", ulid::Ulid::new()));
        Self { path, kept: false }
    }

    /// Syncs the file to disk and renames it to `target`, then syncs the directory.
    pub(super) fn finish(mut self, target: &Path) -> anyhow::Result<()> {
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", self.path.display()))?;
        std::fs::rename(&self.path, target)
            .with_context(|| format!("renaming {} to {}", self.path.display(), target.display()))?;
        self.kept = true;
        sync_dir(dir_of(target));
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            for suffix in ["", "-journal"] {
                let _ = std::fs::remove_file(suffixed(&self.path, suffix));
            }
        }
    }
}

/// Makes renames in `dir` durable; best effort (not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A progress bar on standard error (drawn only on a terminal) for `total`
/// bytes, or a spinner when the total is not known.
fn progress(message: String, total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(t) => ProgressBar::new(t).with_style(
            ProgressStyle::with_template("{spinner} {msg} [{wide_bar}] {bytes}/{total_bytes} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Runs `work`, showing the size of `growing` on `bar` as it is written, until
/// it ends or the process is told to stop (then an error: callers drop their
/// partial files).
async fn watched<T>(
    bar: &ProgressBar,
    growing: Option<&Path>,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let stop = crate::shutdown_signal();
    tokio::pin!(work, stop);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            () = &mut stop => break Err(anyhow::anyhow!("interrupted")),
            _ = tick.tick() => {
                if let Some(size) = growing.and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len()) {
                    bar.set_position(size);
                }
            }
        }
    };
    bar.finish_and_clear();
    result
}

/// `switchboard backup FILE`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let database = database_file(&args.storage, "pg_dump")?;
    let file = args.file;
    if !database.is_file() {
        bail!("there is no database at {}", database.display());
    }
    if is_the_database(&file, &database) {
        bail!("{} is the database itself; write the backup somewhere else", file.display());
    }
    if file.is_dir() {
        bail!("{} is a directory; name the backup file", file.display());
    }
    if file.exists() && !args.force {
        bail!("{} already exists; pass --force to replace it", file.display());
    }
    if !dir_of(&file).is_dir() {
        bail!("the directory {} does not exist", dir_of(&file).display());
    }

    let started = Instant::now();
    let partial = Partial::beside(&file, "partial");
    let mut source = Source::open(&database)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("opening {}", database.display()))?;
    let estimate = source.used_bytes().await.ok();
    let bar = progress(format!("backing up {}", database.display()), estimate);
    let copy = async {
        source.vacuum_into(&partial.path).await.map_err(|e| anyhow::anyhow!("{e}")).context("copying the database")
    };
    watched(&bar, Some(&partial.path), copy).await.context("no backup written")?;
    if file.exists() && !args.force {
        bail!("{} appeared while the backup ran; pass --force to replace it", file.display());
    }
    // Every conversation is in it: readable by its owner only, like the admin key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&partial.path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", partial.path.display()))?;
    }
    let size = std::fs::metadata(&partial.path).map(|m| m.len()).unwrap_or(0);
    partial.finish(&file)?;
    println!(
        "backed up {} to {}: {} in {:.2} s",
        database.display(),
        file.display(),
        HumanBytes(size),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How long a restore waits for a process that holds the lock to write who
/// it is into the lock file (it does so right after taking it).
const HOLDER_WAIT: Duration = Duration::from_secs(2);

/// `switchboard restore FILE`.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let database = database_file(&args.storage, "pg_restore")?;
    let file = args.file;
    if !file.exists() {
        bail!("{} does not exist", file.display());
    }
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    if is_the_database(&file, &database) {
        bail!("{} is the database itself; restore from a backup of it", file.display());
    }
    if std::fs::metadata(suffixed(&file, "-wal")).is_ok_and(|m| m.len() > 0) {
        bail!(
            "{} has a write-ahead log beside it ({}-wal): it is a database in use or a copy of one, not a backup; \
             make one with `switchboard backup`",
            file.display(),
            file.display()
        );
    }

    // Held to the end: no server may open the database while it is replaced.
    let _lock = take_lock(&args.storage).await?;
    let started = Instant::now();

    let bar = progress(format!("checking {}", file.display()), None);
    let inspection = watched(&bar, None, async {
        switchboard_store::backup::inspect(&file).await.map_err(|e| anyhow::anyhow!("{e}"))
    })
    .await
    .with_context(|| format!("reading {}", file.display()))?;
    let version = match inspection {
        Inspection::Sound { schema_version } => schema_version,
        Inspection::NotSqlite => bail!("{} is not a SQLite database; nothing was changed", file.display()),
        Inspection::NotSwitchboard { reason } => {
            bail!("{} is not a Switchboard database ({reason}); nothing was changed", file.display())
        }
        Inspection::Newer { schema_version } => bail!(
            "{} is at schema version {schema_version}, newer than this switchboard knows ({}); restore it with the \
             release that wrote it; nothing was changed",
            file.display(),
            switchboard_store::latest_version()
        ),
        Inspection::Damaged { problems } => bail!(
            "{} is damaged: SQLite's integrity check found: {}; nothing was changed",
            file.display(),
            problems.join("; ")
        ),
    };
    let exists = database.exists();
    if exists && !args.force {
        bail!(
            "{} already exists; pass --force to replace it (it is then kept as {}.before-restore-TIME); nothing was \
             changed",
            database.display(),
            database.display()
        );
    }

    let dir = dir_of(&database);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = Partial::beside(&database, "restoring");
    let size = std::fs::metadata(&file).map(|m| m.len()).ok();
    let bar = progress(format!("copying {}", file.display()), size);
    let (from, to) = (file.clone(), partial.path.clone());
    let copy = async move {
        tokio::task::spawn_blocking(move || std::fs::copy(&from, &to))
            .await
            .context("copying the backup")?
            .context("copying the backup")
    };
    watched(&bar, Some(&partial.path), copy).await.context("nothing was changed")?;

    let kept = if exists { Some(set_aside(&database)?) } else { None };
    for suffix in COMPANIONS {
        let stale = suffixed(&database, suffix);
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", stale.display())),
        }
    }
    partial.finish(&database)?;

    switchboard_store::migrate(&crate::store_config(&args.storage, None))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!("the backup is in place at {}, but bringing its schema up to date", database.display())
        })?;
    let latest = switchboard_store::latest_version();
    let upgraded = if version < latest { format!(", upgraded to {latest}") } else { String::new() };
    println!(
        "restored {} into {} (schema version {version}{upgraded}): {} in {:.2} s",
        file.display(),
        database.display(),
        HumanBytes(size.unwrap_or(0)),
        started.elapsed().as_secs_f64()
    );
    if let Some(kept) = kept {
        println!("the previous database is kept as {}", kept.display());
    }
    Ok(())
}

/// Takes the data dir's lock, or says who holds it.
async fn take_lock(storage: &StorageConfig) -> anyhow::Result<Option<lock::DataLock>> {
    let me = Holder::this_process("restore", None);
    let deadline = tokio::time::Instant::now() + HOLDER_WAIT;
    loop {
        match lock::try_lock(storage, &me)? {
            None => return Ok(None),
            Some(Attempt::Taken(l)) => return Ok(Some(l)),
            Some(Attempt::Busy(busy)) if busy.holder.is_none() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some(Attempt::Busy(busy)) => bail!("cannot restore while {busy}"),
        }
    }
}

/// Moves the database (with its log, if it was not closed cleanly) to
/// `<database>.before-restore-TIME`; returns that path.
fn set_aside(database: &Path) -> anyhow::Result<PathBuf> {
    let now = SystemClock.now().to_rfc3339();
    // 2025-06-01T12:34:56.789Z → 20250601T123456Z
    let stamp: String = now[..19].chars().filter(|c| *c != '-' && *c != ':').chain(['Z']).collect();
    let base = suffixed(database, &format!(".before-restore-{stamp}"));
    let mut kept = base.clone();
    let mut n = 1;
    while COMPANIONS.iter().chain([""].iter()).any(|s| suffixed(&kept, s).exists()) {
        n += 1;
        kept = suffixed(&base, &format!("-{n}"));
    }
    // The log goes with the file it belongs to, which SQLite finds by name.
    for suffix in ["-wal", "-journal", ""] {
        let from = suffixed(database, suffix);
        if from.exists() {
            let to = suffixed(&kept, suffix);
            std::fs::rename(&from, &to).with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
        }
    }
    sync_dir(dir_of(database));
    Ok(kept)
}
