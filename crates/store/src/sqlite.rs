//! SQLite, the embedded default: WAL, one writer connection owned by the
//! group-commit task, a small pool of readers.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::glue::sql_backend;
use crate::writer::WriterParts;
use crate::{StoreConfig, migrations};

sql_backend!(db: sqlx::Sqlite, row: sqlx::sqlite::SqliteRow, name: "sqlite", numbered: false, lock: false, begin: "BEGIN IMMEDIATE");

fn options(config: &StoreConfig) -> Result<SqliteConnectOptions> {
    let sync = if config.sqlite_synchronous_full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal };
    let opts = SqliteConnectOptions::from_str(&config.url)
        .map_err(|e| switchboard_core::Error::invalid("database_url", e.to_string()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sync)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(false)
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-32000");
    if let Some(dir) = Path::new(opts.get_filename()).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(switchboard_core::Error::internal)?;
    }
    Ok(opts)
}

pub(crate) async fn open(config: &StoreConfig, parts: WriterParts) -> Result<Arc<dyn Store>> {
    let opts = options(config)?;
    // The writer never checkpoints: a commit that crossed the automatic
    // threshold would copy the whole WAL into the database on the hot path.
    // `checkpoints` does it in the background instead.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(opts.clone().pragma("wal_autocheckpoint", "0"))
        .await
        .map_err(db_error)?;
    migrations::sqlite().run(&write).await.map_err(crate::migrate_error)?;
    finish_upgrades(&write).await?;
    let pool = SqlitePoolOptions::new()
        .max_connections(config.pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db_error)?;
    tokio::spawn(checkpoints(pool.clone()));
    let writer = Writer::spawn(PoolWriter { pool: write, cache: Some(crate::writer::RowCache::default()) }, parts);
    Ok(Arc::new(BackendStore { pool, writer }))
}

/// Opens the database file read-only, beside a server that may be writing
/// it; it must exist and have this build's schema.
pub(crate) async fn open_reader(config: &StoreConfig, parts: WriterParts) -> Result<Arc<dyn Store>> {
    let opts = SqliteConnectOptions::from_str(&config.url)
        .map_err(|e| switchboard_core::Error::invalid("database_url", e.to_string()))?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    let file = opts.get_filename().to_owned();
    if !file.is_file() {
        return Err(switchboard_core::Error::not_found(&format!("the database {}", file.display())));
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(config.pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db_error)?;
    check_schema(&pool, &migrations::sqlite()).await?;
    let writer = Writer::spawn(crate::writer::ReadOnly, parts);
    Ok(Arc::new(BackendStore { pool, writer }))
}

/// How often the WAL is copied back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints the WAL from a reader connection, off the writer's path,
/// until the pool closes. PASSIVE never blocks the writer or readers; pages
/// rewritten by many commits in between are copied once.
async fn checkpoints(pool: sqlx::SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

pub(crate) async fn migrate(config: &StoreConfig) -> Result<()> {
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options(config)?).await.map_err(db_error)?;
    migrations::sqlite().run(&pool).await.map_err(crate::migrate_error)?;
    finish_upgrades(&pool).await?;
    pool.close().await;
    Ok(())
}
