//! Storage for Switchboard: the core's [`Store`] on SQLite (the embedded
//! default) and on PostgreSQL, chosen at run time from the URL's scheme.
//!
//! Both backends share their SQL ([`sql`]) and their glue (`glue`), and
//! commit conversation writes through one group-commit writer ([`writer`]).
//! The conformance suite in `tests/` runs against both.

#![forbid(unsafe_code)]

use std::sync::Arc;

use switchboard_core::bus::Bus;
use switchboard_core::clock::Clock;
use switchboard_core::store::{CommitObserver, Store};
use switchboard_core::{Error, ErrorCode, Result};

pub mod backup;
pub mod baseline;
pub mod blobs;
mod direct;
mod glue;
mod migrations;
mod postgres;
pub mod seed;
mod sql;
mod sql_files;
mod sql_flows;
mod sql_hours;
mod sql_keys;
mod sql_retention;
mod sql_routing;
mod sqlite;
mod writer;

pub use migrations::latest_version;

/// How to reach the database.
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Connections for reads (and the rare administrative write).
    pub pool_size: u32,
    /// Most commands one transaction commits.
    pub max_batch: usize,
    /// SQLite: fsync at every commit (`synchronous=FULL`), so an acknowledged
    /// write survives a power cut; off means `NORMAL` (survives a crash of the
    /// process, not of the machine).
    pub sqlite_synchronous_full: bool,
    pub observer: Option<Arc<dyn CommitObserver>>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("backend", &Backend::of(&self.url).map(|b| b.name()))
            .field("pool_size", &self.pool_size)
            .field("max_batch", &self.max_batch)
            .field("sqlite_synchronous_full", &self.sqlite_synchronous_full)
            .finish()
    }
}

impl StoreConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), pool_size: 4, max_batch: 1024, sqlite_synchronous_full: true, observer: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names by its scheme.
    pub fn of(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(Error::invalid("database_url", "must start with sqlite:// or postgres://")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Opens (and migrates) the store named by `config.url`. Committed events are
/// published on `bus`; `clock` stamps them.
pub async fn open(config: &StoreConfig, bus: Arc<dyn Bus>, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>> {
    let parts =
        writer::WriterParts { bus, clock, observer: config.observer.clone(), max_batch: config.max_batch.max(1) };
    match Backend::of(&config.url)? {
        Backend::Sqlite => sqlite::open(config, parts).await,
        Backend::Postgres => postgres::open(config, parts).await,
    }
}

/// Opens the store named by `config.url` to read only, beside whatever else
/// has it open: no migrations, no upgrades, no checkpoints, and a writer that
/// refuses every command. On SQLite the connections are read-only (in WAL
/// mode a reader never blocks the writer of a running server); on PostgreSQL
/// every transaction is read-only. The schema must already be this build's.
pub async fn open_reader(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    let parts = writer::WriterParts {
        bus: Arc::new(switchboard_core::bus::LocalBus::default()),
        clock: Arc::new(switchboard_core::clock::SystemClock),
        observer: None,
        max_batch: 1,
    };
    match Backend::of(&config.url)? {
        Backend::Sqlite => sqlite::open_reader(config, parts).await,
        Backend::Postgres => postgres::open_reader(config, parts).await,
    }
}

/// Checks that every migration of this build is applied (a reader cannot
/// migrate), given the versions a database has applied.
pub(crate) fn check_schema(applied: &[i64], ours: &sqlx::migrate::Migrator) -> Result<()> {
    match ours.migrations.iter().find(|m| !applied.contains(&m.version)) {
        None => Ok(()),
        Some(m) => Err(Error::unavailable(format!(
            "the database's schema is older than this build's (migration {} is not applied): start the server \
             on it, or run `switchboard migrate`, first",
            m.version
        ))),
    }
}

/// Brings the schema up to date and returns.
pub async fn migrate(config: &StoreConfig) -> Result<()> {
    match Backend::of(&config.url)? {
        Backend::Sqlite => sqlite::migrate(config).await,
        Backend::Postgres => postgres::migrate(config).await,
    }
}

/// Maps a database error onto the domain's codes: unique violations are
/// conflicts, exhausted pools are "unavailable", the rest is internal.
pub(crate) fn db_error(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::new(ErrorCode::Conflict, "already exists"),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Error::unavailable("the database is busy; retry"),
        _ => Error::internal(e),
    }
}

pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> Error {
    Error::internal(format!("database migration failed: {e}"))
}

/// Helpers for tests elsewhere in the workspace: fresh, isolated databases.
#[doc(hidden)]
pub mod testing {
    use sqlx::Connection as _;

    use crate::Backend;

    /// Brings the database at `url` to schema `version` and no further, and
    /// runs `script` (plain SQL, no parameters) on it: a store as an earlier
    /// release left it, to test the upgrade from it.
    pub async fn old_store(url: &str, version: i64, script: &str) -> switchboard_core::Result<()> {
        let fail = |e: sqlx::Error| switchboard_core::Error::internal(e);
        let migrate = |e: sqlx::migrate::MigrateError| crate::migrate_error(e);
        let backend = Backend::of(url)?;
        let migrator = crate::migrations::up_to(backend, version);
        match backend {
            Backend::Sqlite => {
                let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(fail)?;
                let mut conn =
                    sqlx::SqliteConnection::connect_with(&opts.create_if_missing(true)).await.map_err(fail)?;
                migrator.run(&mut conn).await.map_err(migrate)?;
                sqlx::raw_sql(script).execute(&mut conn).await.map_err(fail)?;
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.map_err(fail)?;
                migrator.run(&mut conn).await.map_err(migrate)?;
                sqlx::raw_sql(script).execute(&mut conn).await.map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Where any of `needles` is stored: `table.column: needle` for every
    /// text column of every table (the migrator's aside) holding one. A
    /// test of erasure asks it for a chat's ids, names and words and expects
    /// to hear only of the audit row. Reads only, so it may run beside a
    /// server.
    pub async fn mentions(url: &str, needles: &[&str]) -> switchboard_core::Result<Vec<String>> {
        use sqlx::Row as _;
        let fail = |e: sqlx::Error| switchboard_core::Error::internal(e);
        let mut found = Vec::new();
        match Backend::of(url)? {
            Backend::Sqlite => {
                let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(fail)?;
                let mut conn = sqlx::SqliteConnection::connect_with(&opts.read_only(true)).await.map_err(fail)?;
                let columns = sqlx::query(
                    "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name <> '_sqlx_migrations' \
                     AND p.type = 'TEXT'",
                )
                .fetch_all(&mut conn)
                .await
                .map_err(fail)?;
                for col in columns {
                    let (t, c): (String, String) = (col.get("t"), col.get("c"));
                    for needle in needles {
                        let sql = format!("SELECT COUNT(*) AS n FROM \"{t}\" WHERE instr(\"{c}\", ?) > 0");
                        let n: i64 = sqlx::query(&sql).bind(*needle).fetch_one(&mut conn).await.map_err(fail)?.get("n");
                        if n > 0 {
                            found.push(format!("{t}.{c}: {needle}"));
                        }
                    }
                }
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.map_err(fail)?;
                let columns = sqlx::query(
                    "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> '_sqlx_migrations'",
                )
                .fetch_all(&mut conn)
                .await
                .map_err(fail)?;
                for col in columns {
                    let (t, c): (String, String) = (col.get("t"), col.get("c"));
                    for needle in needles {
                        let sql = format!("SELECT COUNT(*) AS n FROM \"{t}\" WHERE strpos(\"{c}\", $1) > 0");
                        let n: i64 = sqlx::query(&sql).bind(*needle).fetch_one(&mut conn).await.map_err(fail)?.get("n");
                        if n > 0 {
                            found.push(format!("{t}.{c}: {needle}"));
                        }
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// The PostgreSQL server tests use, from `SWITCHBOARD_TEST_POSTGRES_URL`.
    pub fn postgres_base_url() -> Option<String> {
        std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
    }

    /// A URL for a fresh, empty schema on the test PostgreSQL server, so
    /// tests never see each other's rows. Panics if the server is unreachable:
    /// a test that asked for PostgreSQL must not pass without it.
    pub async fn fresh_postgres_url() -> String {
        let base = postgres_base_url().expect("SWITCHBOARD_TEST_POSTGRES_URL is not set");
        let schema = format!("sbtest_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect to the test PostgreSQL server");
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create a test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{schema}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_needs_every_migration_of_this_build() {
        let ours = migrations::sqlite();
        let all: Vec<i64> = ours.migrations.iter().map(|m| m.version).collect();
        assert!(check_schema(&all, &ours).is_ok());
        let mut newer = all.clone();
        newer.push(latest_version() + 1);
        assert!(check_schema(&newer, &ours).is_ok(), "a newer schema still has what this build reads");
        let e = check_schema(&all[..all.len() - 1], &ours).unwrap_err();
        assert!(e.message.contains(&format!("migration {}", latest_version())), "{e}");
        assert!(check_schema(&[], &ours).is_err());
    }
}
