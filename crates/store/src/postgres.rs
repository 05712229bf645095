//! PostgreSQL, for scale and for several nodes: a batch locks the
//! conversations it writes (`FOR UPDATE`, in id order), so writers on any
//! number of nodes assign seqs without gaps or collisions.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::glue::sql_backend;
use crate::writer::WriterParts;
use crate::{StoreConfig, migrations};

sql_backend!(db: sqlx::Postgres, row: sqlx::postgres::PgRow, name: "postgres", numbered: true, lock: true, begin: "BEGIN");

fn options(config: &StoreConfig) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(&config.url).map_err(|e| switchboard_core::Error::invalid("database_url", e.to_string()))
}

pub(crate) async fn open(config: &StoreConfig, parts: WriterParts) -> Result<Arc<dyn Store>> {
    let opts = options(config)?;
    let pool = PgPoolOptions::new()
        .max_connections(config.pool_size.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts.clone())
        .await
        .map_err(db_error)?;
    migrations::postgres().run(&pool).await.map_err(crate::migrate_error)?;
    finish_upgrades(&pool).await?;
    let write = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db_error)?;
    let writer = Writer::spawn(PoolWriter { pool: write, cache: None }, parts);
    Ok(Arc::new(BackendStore { pool, writer }))
}

/// Opens the database with every transaction read-only; it must have this build's schema.
pub(crate) async fn open_reader(config: &StoreConfig, parts: WriterParts) -> Result<Arc<dyn Store>> {
    let opts = options(config)?.options([("default_transaction_read_only", "on")]);
    let pool = PgPoolOptions::new()
        .max_connections(config.pool_size.max(1))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db_error)?;
    check_schema(&pool, &migrations::postgres()).await?;
    let writer = Writer::spawn(crate::writer::ReadOnly, parts);
    Ok(Arc::new(BackendStore { pool, writer }))
}

pub(crate) async fn migrate(config: &StoreConfig) -> Result<()> {
    let pool = PgPoolOptions::new().max_connections(1).connect_with(options(config)?).await.map_err(db_error)?;
    migrations::postgres().run(&pool).await.map_err(crate::migrate_error)?;
    finish_upgrades(&pool).await?;
    pool.close().await;
    Ok(())
}
