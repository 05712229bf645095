//! Storage throughput: the B1 baseline (raw multi-row inserts of chat rows
//! into the events table, one transaction per batch) beside the real write
//! path (`Store::apply` through the group-commit writer, many concurrent
//! appenders), in the same run and on the same database.
//!
//! `cargo bench -p switchboard-store --bench storage` (SQLite in a temporary
//! directory). With `BENCH_POSTGRES=1` and `SWITCHBOARD_TEST_POSTGRES_URL`
//! set it runs on PostgreSQL. `BENCH_ROWS` (default 200000) sets the size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sqlx::Connection as _;
use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::command::{Author, Command, NewConversation, NewParticipant};
use switchboard_core::event::{ContentType, EventKind};
use switchboard_core::ids::{ConversationId, EventId, ParticipantId, WorkspaceId};
use switchboard_core::model::{Attributes, IdleSettings, Role};
use switchboard_core::store::{CommitObserver, Store};
use switchboard_store::{StoreConfig, testing};

const BODY: &str = "Hello, I have a question about my last invoice, can you help?"; // ~60 bytes of text

#[derive(Default)]
struct Batches {
    batches: AtomicU64,
    commands: AtomicU64,
}

impl CommitObserver for Batches {
    fn batch_committed(&self, commands: usize, _events: usize, _micros: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.commands.fetch_add(commands as u64, Ordering::Relaxed);
    }
}

fn rows() -> usize {
    std::env::var("BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let postgres = std::env::var("BENCH_POSTGRES").is_ok_and(|v| v == "1");
    let _dir = tempfile::tempdir().unwrap();
    let url = if postgres {
        testing::fresh_postgres_url().await
    } else {
        format!("sqlite://{}", _dir.path().join("bench.db").display())
    };
    let backend = if postgres { "postgres" } else { "sqlite" };
    let n = rows();
    println!("backend: {backend}, rows: {n}");

    // The schema, made by opening the store once.
    let batches = Arc::new(Batches::default());
    let mut config = StoreConfig::new(url.clone());
    config.sqlite_synchronous_full = std::env::var("BENCH_SYNC_NORMAL").is_err();
    config.observer = Some(batches.clone());
    let store = switchboard_store::open(&config, Arc::new(LocalBus::default()), Arc::new(SystemClock)).await.unwrap();

    for per_commit in [100, 1000] {
        let rate =
            if postgres { raw_postgres(&url, n, per_commit).await } else { raw_sqlite(&url, n, per_commit).await };
        println!("B1 raw multi-row INSERT, {per_commit} rows/commit: {rate:.0} rows/s");
    }

    for writers in [100, 1000] {
        let (rate, mean) = through_store(store.clone(), n, writers, &batches).await;
        println!("Store::apply, {writers} concurrent appenders: {rate:.0} messages/s (mean batch {mean:.0} commands)");
    }
    store.close().await;
}

/// The values of one chat row, as the events table stores a message.
fn row(conversation: &str, seq: i64) -> (String, i64, String, String) {
    let payload = serde_json::json!({"content_type": "text/plain", "content": BODY}).to_string();
    (conversation.to_owned(), seq, EventId::new().to_string(), payload)
}

fn insert_sql(rows: usize, numbered: bool) -> String {
    let mut sql = String::from(
        "INSERT INTO events (conversation_id, seq, id, kind, participant_id, payload, client_token, created_at) VALUES ",
    );
    let mut p = 0;
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        let mut ph = || {
            p += 1;
            if numbered { format!("${p}") } else { "?".to_owned() }
        };
        sql.push_str(&format!("({}, {}, {}, 'message', NULL, {}, NULL, 0)", ph(), ph(), ph(), ph()));
    }
    sql
}

/// Inserts `n` rows, `per_commit` to a transaction, on `$conn`; rows/s.
macro_rules! raw_inserts {
    ($conn:expr, $n:expr, $per_commit:expr, $numbered:expr) => {{
        let mut conn = $conn;
        let conv = format!("raw-{}", $per_commit);
        let chunk = 200.min($per_commit);
        let started = Instant::now();
        let mut seq = 0;
        while (seq as usize) < $n {
            let mut tx = conn.begin().await.unwrap();
            for _ in 0..$per_commit / chunk {
                let sql = insert_sql(chunk, $numbered);
                let mut q = sqlx::query(&sql);
                for _ in 0..chunk {
                    seq += 1;
                    let (c, s, id, payload) = row(&conv, seq);
                    q = q.bind(c).bind(s).bind(id).bind(payload);
                }
                q.execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        seq as f64 / started.elapsed().as_secs_f64()
    }};
}

async fn raw_sqlite(url: &str, n: usize, per_commit: usize) -> f64 {
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
    let opts =
        opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal).synchronous(sqlx::sqlite::SqliteSynchronous::Full);
    raw_inserts!(sqlx::SqliteConnection::connect_with(&opts).await.unwrap(), n, per_commit, false)
}

async fn raw_postgres(url: &str, n: usize, per_commit: usize) -> f64 {
    raw_inserts!(sqlx::PgConnection::connect(url).await.unwrap(), n, per_commit, true)
}

/// `writers` tasks, one per conversation, each appending messages one after
/// another through the group-commit writer (like one client per chat).
async fn through_store(store: Arc<dyn Store>, n: usize, writers: usize, batches: &Batches) -> (f64, f64) {
    let mut chats = Vec::new();
    for _ in 0..writers {
        let id = ConversationId::new();
        let who = ParticipantId::new();
        let c = NewConversation {
            id,
            workspace_id: WorkspaceId::new(),
            entry_point_id: None,
            attributes: Attributes::new(),
            record_id: None,
            previous_conversation_id: None,
            idle: IdleSettings::default(),
        };
        let p = NewParticipant { id: who, role: Role::Agent, display_name: "a".into(), token: None, agent_id: None };
        store.apply(Command::Create { conversation: c, participants: vec![p] }).await.unwrap();
        chats.push((id, who));
    }
    let (b0, c0) = (batches.batches.load(Ordering::Relaxed), batches.commands.load(Ordering::Relaxed));
    let per_writer = n / writers;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (id, who) in chats {
        let store = store.clone();
        tasks.spawn(async move {
            for _ in 0..per_writer {
                let kind = EventKind::Message { content_type: ContentType::TextPlain, content: BODY.into() };
                store
                    .apply(Command::Append {
                        conversation: id,
                        author: Author::Participant(who),
                        kind,
                        client_token: None,
                    })
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    let rate = (per_writer * writers) as f64 / started.elapsed().as_secs_f64();
    let b = batches.batches.load(Ordering::Relaxed) - b0;
    let c = batches.commands.load(Ordering::Relaxed) - c0;
    (rate, c as f64 / b.max(1) as f64)
}
