//! Copies of a SQLite database file, for `switchboard backup` and `restore`:
//! a consistent copy of a database a server may be writing, and the checks a
//! file must pass before it may replace one.
//!
//! The copy is `VACUUM INTO` on a read-only connection. In WAL mode it runs
//! in one read transaction, so it copies the database as of one commit and
//! never blocks the writer: commits go on into the WAL meanwhile (which
//! checkpoints cannot shorten past the copy's snapshot until it ends). The
//! copy is a compact, self-contained file in rollback-journal mode, with no
//! `-wal` to carry along. Only files go in and out here; where the copy is
//! written, renamed and kept is the caller's business.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};
use switchboard_core::{Error, Result};

use crate::migrations;

/// The 16 bytes every SQLite database file starts with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Problems `integrity_check` reports at most.
const MOST_PROBLEMS: u32 = 20;

fn failed(e: sqlx::Error) -> Error {
    Error::internal(e)
}

/// A SQLite database opened read-only to be copied.
pub struct Source {
    conn: SqliteConnection,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").finish_non_exhaustive()
    }
}

impl Source {
    /// Opens the database at `path` read-only; it must exist. Takes no lock a
    /// server would notice: it is one more reader.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            // A copy is one long statement by design, not a slow query.
            .disable_statement_logging();
        let conn = SqliteConnection::connect_with(&opts).await.map_err(failed)?;
        Ok(Self { conn })
    }

    /// About how large the copy will be: the pages in use (the copy leaves
    /// free pages out).
    pub async fn used_bytes(&mut self) -> Result<u64> {
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&mut self.conn).await.map_err(failed)?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&mut self.conn).await.map_err(failed)?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut self.conn).await.map_err(failed)?;
        Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
    }

    /// Writes a consistent copy of the database to `into`, which must not
    /// exist (or be empty). The file is not synced to disk here.
    pub async fn vacuum_into(mut self, into: &Path) -> Result<()> {
        let target =
            into.to_str().ok_or_else(|| Error::invalid("file", "the backup's path must be valid UTF-8"))?.to_owned();
        sqlx::query("VACUUM INTO ?").bind(target).execute(&mut self.conn).await.map_err(failed)?;
        self.conn.close().await.map_err(failed)
    }
}

/// What a file offered as a backup turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// A Switchboard database at this schema version that passed SQLite's
    /// `integrity_check`.
    Sound { schema_version: i64 },
    /// Not a SQLite database file at all.
    NotSqlite,
    /// A sound SQLite database, but not one of ours; the reason says why.
    NotSwitchboard { reason: String },
    /// A Switchboard database with migrations this build does not know.
    Newer { schema_version: i64 },
    /// A SQLite database that fails its integrity check (or cannot be read).
    Damaged { problems: Vec<String> },
}

/// Checks the file at `path` without changing it (it is opened immutable:
/// no lock, no `-shm` or `-wal` beside it).
pub async fn inspect(path: &Path) -> Result<Inspection> {
    let mut header = [0u8; 16];
    let read = {
        use std::io::Read as _;
        let mut file = std::fs::File::open(path).map_err(Error::internal)?;
        file.read(&mut header).map_err(Error::internal)?
    };
    if read < header.len() || &header != SQLITE_HEADER {
        return Ok(Inspection::NotSqlite);
    }
    let opts = SqliteConnectOptions::new().filename(path).read_only(true).immutable(true).disable_statement_logging();
    let mut conn = match SqliteConnection::connect_with(&opts).await {
        Ok(c) => c,
        Err(e) => return Ok(Inspection::Damaged { problems: vec![e.to_string()] }),
    };
    let verdict = examine(&mut conn).await;
    let _ = conn.close().await;
    verdict
}

async fn examine(conn: &mut SqliteConnection) -> Result<Inspection> {
    let problems: Vec<String> =
        match sqlx::query_scalar(&format!("PRAGMA integrity_check({MOST_PROBLEMS})")).fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            Err(e) => return Ok(Inspection::Damaged { problems: vec![e.to_string()] }),
        };
    if problems != ["ok"] {
        return Ok(Inspection::Damaged { problems });
    }
    let has_table: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(failed)?;
    if has_table.is_none() {
        return Ok(Inspection::NotSwitchboard { reason: "it has no _sqlx_migrations table".into() });
    }
    let applied: Vec<(i64, bool, Vec<u8>)> =
        match sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
        {
            Ok(rows) => rows,
            Err(e) => return Ok(Inspection::NotSwitchboard { reason: format!("its _sqlx_migrations table: {e}") }),
        };
    Ok(judge(&applied))
}

/// The verdict on a sound SQLite database from its applied migrations
/// (version, finished, checksum), compared with this build's.
fn judge(applied: &[(i64, bool, Vec<u8>)]) -> Inspection {
    let ours = migrations::sqlite();
    let Some(&(newest, _, _)) = applied.last() else {
        return Inspection::NotSwitchboard { reason: "it has no migrations applied".into() };
    };
    for (version, success, checksum) in applied {
        match ours.migrations.iter().find(|m| m.version == *version) {
            Some(m) if *m.checksum != checksum[..] => {
                return Inspection::NotSwitchboard {
                    reason: format!("its migration {version} is not Switchboard's (the checksums differ)"),
                };
            }
            Some(_) if !success => {
                return Inspection::Damaged { problems: vec![format!("migration {version} did not finish")] };
            }
            Some(_) => {}
            None if *version > crate::latest_version() => return Inspection::Newer { schema_version: newest },
            None => {
                return Inspection::NotSwitchboard { reason: format!("Switchboard has no migration {version}") };
            }
        }
    }
    Inspection::Sound { schema_version: newest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Vec<(i64, bool, Vec<u8>)> {
        migrations::sqlite().migrations.iter().map(|m| (m.version, true, m.checksum.to_vec())).collect()
    }

    #[test]
    fn applied_migrations_are_judged_against_this_builds() {
        let latest = crate::latest_version();
        assert_eq!(judge(&ours()), Inspection::Sound { schema_version: latest });
        assert_eq!(judge(&ours()[..2]), Inspection::Sound { schema_version: 2 });
        assert!(matches!(judge(&[]), Inspection::NotSwitchboard { .. }));

        let mut other = ours();
        other[0].2 = vec![0; 48];
        assert!(matches!(judge(&other), Inspection::NotSwitchboard { reason } if reason.contains("migration 1")));

        let mut newer = ours();
        newer.push((latest + 1, true, vec![1; 48]));
        assert_eq!(judge(&newer), Inspection::Newer { schema_version: latest + 1 });

        let mut dirty = ours();
        dirty[1].1 = false;
        assert!(matches!(judge(&dirty), Inspection::Damaged { .. }));
    }
}
