//! One Switchboard process per SQLite database: the lock next to the file.
//!
//! The SQLite writer keeps the conversation and participant rows it last
//! committed in memory (`writer::RowCache`) because it assumes it is the
//! database's only writer; a second server on the same file would plan
//! batches from rows that changed under it. So whatever opens a SQLite
//! database for writing — `serve`, `migrate`, the admin CLI — first takes an
//! exclusive, non-blocking OS lock on `<database file>.lock`
//! (`DATA_DIR/switchboard.db.lock` by default, and next to the file for
//! `--database-url sqlite://elsewhere`) and holds it until it ends. A second
//! process is refused with a message naming the holder; the CLI sends its
//! command through the holder's API instead (see [`crate::cli`]).
//!
//! The lock is `File::try_lock` (`flock` on Unix): the kernel drops it when
//! the process ends in any way, kill -9 included, so a lock file left behind
//! never blocks anything. Its content — the holder's pid, listen address,
//! command and start time, as JSON — is only information, for the refusal
//! message and for the CLI to find the server. The file is never deleted
//! (deleting a lock file races with a process that has it open); its content
//! is cleared when the holder lets go. PostgreSQL takes no lock: many nodes
//! share one database by design.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use switchboard_core::clock::{Clock as _, SystemClock};

use crate::config::StorageConfig;

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The address a server listens on; none for other commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `serve`, `migrate`, `agent create`, …
    pub command: String,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

impl Holder {
    /// This process, running `command` (listening on `address` for `serve`).
    pub fn this_process(command: impl Into<String>, address: Option<SocketAddr>) -> Self {
        Self {
            pid: std::process::id(),
            address: address.map(|a| a.to_string()),
            command: command.into(),
            since: SystemClock.now().to_rfc3339(),
        }
    }

    /// Where to reach the holder's API from this machine: its listen address,
    /// with a wildcard IP (`0.0.0.0`, `::`) replaced by loopback.
    pub fn api_address(&self) -> Option<SocketAddr> {
        let mut addr: SocketAddr = self.address.as_deref()?.parse().ok()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        Some(addr)
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.address {
            Some(a) => write!(f, "pid {}, serving on {a} since {}", self.pid, self.since),
            None => write!(f, "pid {}, running `switchboard {}` since {}", self.pid, self.command, self.since),
        }
    }
}

/// The lock, held while this value lives.
#[derive(Debug)]
pub struct DataLock {
    file: File,
    path: PathBuf,
}

impl DataLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataLock {
    fn drop(&mut self) {
        // Clear the holder while still holding the lock; closing the file
        // then releases it.
        let _ = self.file.set_len(0);
    }
}

/// The lock is held by another process (or another server in this process).
#[derive(Debug, Clone)]
pub struct Busy {
    /// The database file, as configured.
    pub database: PathBuf,
    pub lock_file: PathBuf,
    /// What the lock file says; `None` while the holder is still writing it.
    pub holder: Option<Holder>,
}

impl fmt::Display for Busy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the database {} is in use by another Switchboard process (", self.database.display())?;
        match &self.holder {
            Some(h) => write!(f, "{h}")?,
            None => write!(f, "it has not yet written who it is into {}", self.lock_file.display())?,
        }
        write!(f, "); stop it first, or point --data-dir elsewhere")
    }
}

impl std::error::Error for Busy {}

/// The outcome of [`try_lock`].
#[derive(Debug)]
pub enum Attempt {
    Taken(DataLock),
    Busy(Busy),
}

/// The SQLite database file `storage` names, read the way sqlx reads the URL;
/// `None` for PostgreSQL and in-memory SQLite (nothing to share).
pub fn sqlite_file(storage: &StorageConfig) -> Option<PathBuf> {
    let url = storage.database_url();
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    if database.is_empty() || database == ":memory:" || params.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    Some(PathBuf::from(percent_decode(database)))
}

/// `<database file>.lock`.
pub fn lock_file(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Tries to take the lock for the SQLite database of `storage` without
/// waiting, and records `holder` in it. `Ok(None)`: no lock applies
/// (PostgreSQL, in-memory SQLite, or a platform without file locks).
pub fn try_lock(storage: &StorageConfig, holder: &Holder) -> anyhow::Result<Option<Attempt>> {
    let Some(database) = sqlite_file(storage) else { return Ok(None) };
    let path = lock_file(&database);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let record = serde_json::to_string(holder)?;
            let write = |f: &mut File| -> std::io::Result<()> {
                f.set_len(0)?;
                f.rewind()?;
                f.write_all(record.as_bytes())?;
                f.write_all(b"\n")
            };
            write(&mut file).with_context(|| format!("writing the lock file {}", path.display()))?;
            Ok(Some(Attempt::Taken(DataLock { file, path })))
        }
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let holder = file.read_to_string(&mut text).ok().and_then(|_| serde_json::from_str(text.trim()).ok());
            Ok(Some(Attempt::Busy(Busy { database, lock_file: path, holder })))
        }
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(path = %path.display(), "file locks are not supported here; not guarding the database");
            Ok(None)
        }
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}

/// Takes the lock or fails with a message naming the process that holds it.
/// `Ok(None)`: no lock applies (see [`try_lock`]).
pub fn lock(storage: &StorageConfig, holder: &Holder) -> anyhow::Result<Option<DataLock>> {
    match try_lock(storage, holder)? {
        Some(Attempt::Taken(lock)) => Ok(Some(lock)),
        Some(Attempt::Busy(busy)) => Err(busy.into()),
        None => Ok(None),
    }
}

/// `%XX` escapes decoded, as sqlx does with the path of a SQLite URL; the
/// text as it is if the result is not UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(url: Option<&str>) -> StorageConfig {
        let mut s = crate::Config::with_defaults("127.0.0.1:0".parse().unwrap(), PathBuf::from("./data")).storage;
        s.database_url = url.map(str::to_owned);
        s
    }

    #[test]
    fn the_lock_file_sits_next_to_the_database_file() {
        assert_eq!(sqlite_file(&storage(None)), Some(PathBuf::from("./data/switchboard.db")));
        assert_eq!(lock_file(&sqlite_file(&storage(None)).unwrap()), PathBuf::from("./data/switchboard.db.lock"));
        assert_eq!(sqlite_file(&storage(Some("sqlite:///srv/x.db?mode=rwc"))), Some(PathBuf::from("/srv/x.db")));
        assert_eq!(sqlite_file(&storage(Some("sqlite://a%20b.db"))), Some(PathBuf::from("a b.db")));
        assert_eq!(sqlite_file(&storage(Some("sqlite::memory:"))), None);
        assert_eq!(sqlite_file(&storage(Some("sqlite://?mode=memory"))), None);
        assert_eq!(sqlite_file(&storage(Some("postgres://u@h/db"))), None);
    }

    #[test]
    fn a_wildcard_listen_address_is_reached_on_loopback() {
        let mut h = Holder::this_process("serve", Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(h.api_address(), Some("127.0.0.1:8080".parse().unwrap()));
        h.address = Some("[::]:9000".into());
        assert_eq!(h.api_address(), Some("[::1]:9000".parse().unwrap()));
        h.address = None;
        assert_eq!(h.api_address(), None);
    }
}
