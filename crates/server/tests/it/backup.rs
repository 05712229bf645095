//! `switchboard backup` and `switchboard restore` as an operator runs them:
//! the real binary, a backup taken from a `switchboard serve` process in the
//! middle of a load of sends, restored into a fresh data dir and served
//! again; and the refusals that leave everything as it was.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use crate::harness::{ADMIN_KEY, create_chat, read_transcript};
use crate::lock::binary;

/// How long one command, or a server's start, may take (a cold binary on a
/// busy machine).
const PROMPTLY: Duration = Duration::from_secs(30);

/// A finished command: its exit, standard output and standard error.
struct Ran {
    ok: bool,
    out: String,
    err: String,
}

async fn cli(data_dir: &Path, args: &[&str]) -> Ran {
    let run = binary(args, data_dir).output();
    let Output { status, stdout, stderr } =
        tokio::time::timeout(PROMPTLY, run).await.expect("the command ended").expect("the binary runs");
    Ran {
        ok: status.success(),
        out: String::from_utf8_lossy(&stdout).into_owned(),
        err: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Runs a command that must succeed; its standard output.
async fn ok(data_dir: &Path, args: &[&str]) -> String {
    let ran = cli(data_dir, args).await;
    assert!(ran.ok, "{args:?} failed: {}", ran.err);
    ran.out
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `switchboard serve` as a process, with the tests' admin key and no send limit.
struct Serve {
    child: Child,
    base: String,
    pid: u32,
}

impl Serve {
    /// Starts it and waits until the lock file names it and it is ready.
    async fn start(data_dir: &Path) -> Self {
        let args = ["serve", "--listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY, "--sends-per-second", "0"];
        let mut child = binary(&args, data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server binary");
        let pid = child.id().expect("a running child");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        loop {
            if let Some(address) =
                holder(data_dir).filter(|h| h["pid"] == pid).and_then(|h| h["address"].as_str().map(str::to_owned))
                && let Ok(r) = http.get(format!("http://{address}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return Self { child, base: format!("http://{address}"), pid };
            }
            assert!(child.try_wait().unwrap().is_none(), "the server ended before it was ready");
            assert!(tokio::time::Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// SIGKILL: no clean shutdown, no checkpoint.
    async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

fn holder(data_dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(data_dir.join("switchboard.db.lock")).ok()?).ok()
}

/// What `PRAGMA integrity_check` says of the database at `path`.
async fn integrity(path: &Path) -> Vec<String> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.expect("open the database");
    let rows = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    rows
}

/// The names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The agents' names `switchboard agent list` prints for `args` (storage flags).
async fn agent_names(data_dir: &Path, args: &[&str]) -> Vec<String> {
    let out = ok(data_dir, &[&["agent", "list"][..], args].concat()).await;
    let mut names: Vec<String> = out.lines().map(|l| l.split_whitespace().nth(1).unwrap().to_owned()).collect();
    names.sort();
    names
}

/// An acknowledged send: conversation, client token, seq.
type Ack = (String, String, i64);

/// Two senders per conversation (its customer and its agent), sending until
/// `stop`, each reporting every send the server acknowledged. Each has at
/// most one send in flight.
fn senders(
    base: &str,
    chats: &[crate::harness::Chat],
    stop: &CancellationToken,
) -> (tokio::task::JoinSet<()>, tokio::sync::mpsc::UnboundedReceiver<Ack>) {
    let http = reqwest::Client::new();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for (n, chat) in chats.iter().enumerate() {
        for (side, token) in [("c", chat.customer.clone()), ("a", chat.agent.clone())] {
            let (http, tx, stop) = (http.clone(), tx.clone(), stop.clone());
            let url = format!("{base}/api/v1/conversations/{}/messages", chat.id);
            let chat_id = chat.id.clone();
            tasks.spawn(async move {
                for i in 0.. {
                    if stop.is_cancelled() {
                        return;
                    }
                    let client_token = format!("{n}-{side}-{i}");
                    let body = json!({"content": format!("msg {client_token}"), "client_token": client_token});
                    let res = http.post(&url).bearer_auth(&token).json(&body).send().await.expect("the server answers");
                    assert_eq!(res.status(), StatusCode::CREATED);
                    let event: Value = res.json().await.unwrap();
                    let _ = tx.send((chat_id.clone(), client_token, event["seq"].as_i64().unwrap()));
                }
            });
        }
    }
    (tasks, rx)
}

fn take(acked: &mut HashMap<String, (String, i64)>, (chat, token, seq): Ack) {
    assert!(acked.insert(token, (chat, seq)).is_none(), "a client token acknowledged twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_message_acknowledged_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (live, fresh, file) = (tmp.path().join("live"), tmp.path().join("fresh"), tmp.path().join("backup.db"));
    let server = Serve::start(&live).await;
    let http = reqwest::Client::new();
    let mut chats = Vec::new();
    for _ in 0..4 {
        chats.push(create_chat(&http, &server.base).await);
    }
    let stop = CancellationToken::new();
    let (tasks, mut acks) = senders(&server.base, &chats, &stop);
    let mut acked: HashMap<String, (String, i64)> = HashMap::new();
    while acked.len() < 300 {
        let ack = tokio::time::timeout(PROMPTLY, acks.recv()).await.expect("sends are acknowledged").unwrap();
        take(&mut acked, ack);
    }
    while let Ok(ack) = acks.try_recv() {
        take(&mut acked, ack);
    }
    // Everything acknowledged by now was committed before the backup starts.
    let before = acked.clone();

    let started = Instant::now();
    let backup = binary(&["backup", arg(&file)], &live).output();
    tokio::pin!(backup);
    let mut during = 0;
    let out = loop {
        tokio::select! {
            out = &mut backup => break out.expect("the binary runs"),
            ack = acks.recv() => {
                take(&mut acked, ack.unwrap());
                during += 1;
            }
        }
    };
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "backup failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("backed up ") && stdout.contains(arg(&file)), "{stdout}");
    eprintln!(
        "backup under load: {} ({during} sends acknowledged meanwhile, {took:?} with the process start)",
        stdout.trim()
    );
    assert_eq!(holder(&live).unwrap()["pid"], server.pid, "the server kept its lock");

    // The load goes on after the backup; those messages are not in it.
    let after_backup = acked.len();
    while acked.len() < after_backup + 100 {
        let ack = tokio::time::timeout(PROMPTLY, acks.recv()).await.expect("sends are acknowledged").unwrap();
        take(&mut acked, ack);
    }
    stop.cancel();
    tasks.join_all().await;
    while let Some(ack) = acks.recv().await {
        take(&mut acked, ack);
    }
    let mut original = HashMap::new();
    for chat in &chats {
        original.insert(chat.id.clone(), read_transcript(&http, &server.base, &chat.id).await);
    }
    server.kill().await;

    let out = ok(&fresh, &["restore", arg(&file)]).await;
    assert!(out.starts_with(&format!("restored {} into ", file.display())), "{out}");
    assert_eq!(integrity(&fresh.join("switchboard.db")).await, ["ok"]);

    let server = Serve::start(&fresh).await;
    let mut restored = 0;
    for chat in &chats {
        let log = read_transcript(&http, &server.base, &chat.id).await;
        let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "seqs 1..n with no gap");
        let was = &original[&chat.id];
        assert!(log.len() <= was.len() && log[..] == was[..log.len()], "the restored log is a prefix of the live one");
        let by_token: HashMap<&str, i64> =
            log.iter().filter_map(|e| Some((e["client_token"].as_str()?, e["seq"].as_i64().unwrap()))).collect();
        for (token, (c, seq)) in &before {
            if *c == chat.id {
                assert_eq!(
                    by_token.get(token.as_str()),
                    Some(seq),
                    "{token}, acknowledged before the backup, at its seq"
                );
            }
        }
        restored += by_token.len();
    }
    assert!(restored >= before.len());
    // Of the sends acknowledged after the backup had ended, at most one per
    // sender (the one in flight) can have been committed before it.
    let in_flight = 2 * chats.len();
    assert!(
        restored <= after_backup + in_flight,
        "{restored} restored, {after_backup} acknowledged by the backup's end"
    );
    assert!(restored < acked.len(), "the later sends are not in the backup");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_does_not_overwrite_a_file_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out_dir) = (tmp.path().join("data"), tmp.path().join("out"));
    std::fs::create_dir_all(&out_dir).unwrap();
    ok(&dir, &["agent", "create", "--name", "Ann"]).await;

    // No server runs: the backup reads the file all the same.
    let first = out_dir.join("first.db");
    let out = ok(&dir, &["backup", arg(&first)]).await;
    assert!(out.starts_with("backed up ") && out.contains(" in ") && out.contains("KiB"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&first).unwrap().permissions().mode() & 0o777,
            0o600,
            "readable by its owner only"
        );
    }

    let taken = out_dir.join("taken.db");
    std::fs::write(&taken, "precious").unwrap();
    let ran = cli(&dir, &["backup", arg(&taken)]).await;
    assert!(!ran.ok, "{}", ran.out);
    assert!(
        ran.err.contains(&format!("{} already exists; pass --force to replace it", taken.display())),
        "{}",
        ran.err
    );
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "precious");
    assert_eq!(listing(&out_dir), ["first.db", "taken.db"], "no partial file left behind");

    let ran = cli(&dir, &["backup", arg(&dir.join("switchboard.db")), "--force"]).await;
    assert!(!ran.ok && ran.err.contains("is the database itself"), "{}", ran.err);

    ok(&dir, &["backup", arg(&taken), "--force"]).await;
    assert_eq!(listing(&out_dir), ["first.db", "taken.db"]);
    assert_eq!(integrity(&taken).await, ["ok"]);
    let restored = tmp.path().join("restored");
    ok(&restored, &["restore", arg(&taken)]).await;
    assert_eq!(agent_names(&restored, &[]).await, ["Ann"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_is_refused_while_a_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("data"), tmp.path().join("backup.db"));
    let server = Serve::start(&dir).await;
    ok(&dir, &["backup", arg(&file)]).await;
    let files = listing(&dir);

    let ran = cli(&dir, &["restore", arg(&file), "--force"]).await;
    assert!(!ran.ok, "{}", ran.out);
    assert!(
        ran.err.contains(&format!("cannot restore while the database {}", dir.join("switchboard.db").display())),
        "{}",
        ran.err
    );
    assert!(
        ran.err.contains(&format!("(pid {}, serving on ", server.pid)) && ran.err.contains("stop it first"),
        "{}",
        ran.err
    );
    assert_eq!(listing(&dir), files, "nothing set aside or copied");
    // The server keeps its lock and its data.
    assert_eq!(holder(&dir).unwrap()["pid"], server.pid);
    server.admin(reqwest::Method::POST, "/api/v1/agents", json!({"name": "Still here"})).await;
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_files_that_are_not_sound_switchboard_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    ok(&dir, &["agent", "create", "--name", "Ann"]).await;

    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a database\n").unwrap();
    let empty = tmp.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();

    let other = tmp.path().join("other.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", other.display())).await.unwrap();
    sqlx::query("CREATE TABLE notes (body TEXT)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    // Another program's sqlx migrations.
    let foreign = tmp.path().join("foreign.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", foreign.display())).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP \
         NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT \
         NOT NULL); INSERT INTO _sqlx_migrations VALUES (1, 'users', CURRENT_TIMESTAMP, 1, x'00', 1);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // A real backup with its pages' headers overwritten.
    let damaged = tmp.path().join("damaged.db");
    ok(&dir, &["backup", arg(&damaged)]).await;
    let mut raw = std::fs::read(&damaged).unwrap();
    let page = u16::from_be_bytes([raw[16], raw[17]]) as usize;
    for start in (page..raw.len()).step_by(page) {
        raw[start..start + 12].fill(0xff);
    }
    std::fs::write(&damaged, raw).unwrap();

    let database = dir.join("switchboard.db");
    let (bytes, files) = (std::fs::read(&database).unwrap(), listing(&dir));
    for (file, says) in [
        (&text, "is not a SQLite database"),
        (&empty, "is not a SQLite database"),
        (&other, "is not a Switchboard database (it has no _sqlx_migrations table)"),
        (&foreign, "is not a Switchboard database (its migration 1 is not Switchboard's"),
        (&damaged, "is damaged: SQLite's integrity check found: "),
    ] {
        let ran = cli(&dir, &["restore", arg(file), "--force"]).await;
        assert!(!ran.ok, "{}", ran.out);
        assert!(ran.err.contains(&format!("{} {says}", file.display())), "{}", ran.err);
        assert!(ran.err.contains("nothing was changed"), "{}", ran.err);
        assert_eq!(listing(&dir), files, "{}", file.display());
        assert_eq!(std::fs::read(&database).unwrap(), bytes, "{}", file.display());
    }
    assert_eq!(agent_names(&dir, &[]).await, ["Ann"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_restore_keeps_the_old_database_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("data"), tmp.path().join("backup.db"));
    let server = Serve::start(&dir).await;
    server.admin(reqwest::Method::POST, "/api/v1/agents", json!({"name": "Old"})).await;
    ok(&dir, &["backup", arg(&file)]).await;
    server.admin(reqwest::Method::POST, "/api/v1/agents", json!({"name": "Newer"})).await;
    server.kill().await; // its log is left beside the database

    let files = listing(&dir);
    let ran = cli(&dir, &["restore", arg(&file)]).await;
    assert!(!ran.ok, "{}", ran.out);
    let database = dir.join("switchboard.db");
    assert!(
        ran.err.contains(&format!("{} already exists; pass --force to replace it", database.display())),
        "{}",
        ran.err
    );
    assert_eq!(listing(&dir), files);

    let log = std::fs::metadata(dir.join("switchboard.db-wal")).map(|m| m.len()).unwrap_or(0);
    let out = ok(&dir, &["restore", arg(&file), "--force"]).await;
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("the previous database is kept as "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{out}"));
    let name = kept.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("switchboard.db.before-restore-") && name.ends_with('Z'), "{name}");
    let kept_log = std::fs::metadata(format!("{}-wal", kept.display())).map(|m| m.len()).unwrap_or(0);
    assert_eq!(kept_log, log, "the killed server's log went with its database");
    assert_eq!(integrity(&database).await, ["ok"]);
    assert_eq!(agent_names(&dir, &[]).await, ["Old"]);
    // The old database, with whatever its log held, is intact beside it.
    let url = format!("sqlite://{}", kept.display());
    assert_eq!(agent_names(&dir, &["--database-url", &url]).await, ["Newer", "Old"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_an_older_backup_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, file) = (tmp.path().join("data"), tmp.path().join("old.db"));
    switchboard_store::testing::old_store(&format!("sqlite://{}", file.display()), 3, "").await.unwrap();

    let out = ok(&dir, &["restore", arg(&file)]).await;
    let latest = switchboard_store::latest_version();
    assert!(out.contains(&format!("(schema version 3, upgraded to {latest})")), "{out}");
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join("switchboard.db")).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.unwrap();
    let version: i64 =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_eq!(version, latest);
    ok(&dir, &["agent", "create", "--name", "Ann"]).await;
    assert_eq!(agent_names(&dir, &[]).await, ["Ann"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_backed_up_with_its_own_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("backup.db");
    let url = ["--database-url", "postgres://switchboard@127.0.0.1:1/none"];
    for (command, tool) in [("backup", "pg_dump"), ("restore", "pg_restore")] {
        let ran = cli(tmp.path(), &[&[command, arg(&file)][..], &url].concat()).await;
        assert!(!ran.ok, "{}", ran.out);
        assert!(ran.err.contains(&format!("names PostgreSQL: use {tool} instead")), "{}", ran.err);
        assert!(ran.err.contains("docs/operations.md"), "{}", ran.err);
        if command == "backup" {
            assert!(!file.exists(), "no backup written");
            std::fs::write(&file, "a file to restore").unwrap();
        }
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "a file to restore");
}
