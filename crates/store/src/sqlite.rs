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
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(opts.clone())
        .await
        .map_err(db_error)?;
    migrations::sqlite().run(&write).await.map_err(crate::migrate_error)?;
    let pool = SqlitePoolOptions::new()
        .max_connections(config.pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db_error)?;
    let writer = Writer::spawn(PoolWriter(write), parts);
    Ok(Arc::new(BackendStore { pool, writer }))
}

pub(crate) async fn migrate(config: &StoreConfig) -> Result<()> {
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options(config)?).await.map_err(db_error)?;
    migrations::sqlite().run(&pool).await.map_err(crate::migrate_error)?;
    pool.close().await;
    Ok(())
}
