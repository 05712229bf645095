//! One connection of either backend, outside the store: for the bulk
//! writers beside it (the B1 baseline, seeding a store for growth runs) that
//! must write through the same statements without the group-commit writer.

use sqlx::Connection as _;
use switchboard_core::{Error, Result};

use crate::sql::Stmt;
use crate::{Backend, db_error};

pub(crate) enum Direct {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Direct {
    /// SQLite with the server's durability (WAL, `synchronous=FULL`);
    /// PostgreSQL as the URL says (synchronous commit on by default).
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(match Backend::of(url)? {
            Backend::Sqlite => {
                let opts: sqlx::sqlite::SqliteConnectOptions =
                    url.parse().map_err(|e: sqlx::Error| Error::invalid("database_url", e.to_string()))?;
                let opts = opts
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .busy_timeout(std::time::Duration::from_secs(10));
                Self::Sqlite(sqlx::SqliteConnection::connect_with(&opts).await.map_err(db_error)?)
            }
            Backend::Postgres => Self::Postgres(sqlx::PgConnection::connect(url).await.map_err(db_error)?),
        })
    }

    /// Runs `statements` in one transaction.
    pub async fn transaction(&mut self, statements: &[Stmt]) -> Result<()> {
        match self {
            Self::Sqlite(conn) => {
                let mut tx = conn.begin().await.map_err(db_error)?;
                for s in statements {
                    crate::sqlite::execute(&mut *tx, s).await?;
                }
                tx.commit().await.map_err(db_error)
            }
            Self::Postgres(conn) => {
                let mut tx = conn.begin().await.map_err(db_error)?;
                for s in statements {
                    crate::postgres::execute(&mut *tx, s).await?;
                }
                tx.commit().await.map_err(db_error)
            }
        }
    }

    /// Column `col` of the rows `statement` returns, as text.
    pub async fn texts(&mut self, statement: &Stmt, col: &str) -> Result<Vec<String>> {
        use crate::sql::Cols as _;
        match self {
            Self::Sqlite(conn) => {
                let rows = crate::sqlite::fetch_all(&mut *conn, statement).await?;
                rows.iter().map(|r| r.text(col)).collect()
            }
            Self::Postgres(conn) => {
                let rows = crate::postgres::fetch_all(&mut *conn, statement).await?;
                rows.iter().map(|r| r.text(col)).collect()
            }
        }
    }
}
