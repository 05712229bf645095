//! Storage throughput: the B1 baseline (`switchboard_store::baseline`: raw
//! multi-row inserts of chat rows, one transaction per batch) beside the real write
//! path (`Store::apply` through the group-commit writer, many concurrent
//! appenders), in the same run and on the same database.
//!
//! `cargo bench -p switchboard-store --bench storage` (SQLite in a temporary
//! directory). With `BENCH_POSTGRES=1` and `SWITCHBOARD_TEST_POSTGRES_URL`
//! set it runs on PostgreSQL. `BENCH_ROWS` (default 200000) sets the size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use switchboard_core::bus::LocalBus;
use switchboard_core::clock::SystemClock;
use switchboard_core::command::{Author, Command, NewConversation, NewParticipant};
use switchboard_core::event::{ContentType, EventKind};
use switchboard_core::ids::{ConversationId, ParticipantId, WorkspaceId};
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
        let run = switchboard_store::baseline::batched_inserts(&url, 1000, n, per_commit).await.unwrap();
        println!(
            "B1 multi-row INSERT over 1,000 conversations, {per_commit} rows/commit: {:.0} rows/s",
            run.rows_per_sec()
        );
    }

    for writers in [100, 1000] {
        let (rate, mean) = through_store(store.clone(), n, writers, &batches).await;
        println!("Store::apply, {writers} concurrent appenders: {rate:.0} messages/s (mean batch {mean:.0} commands)");
    }
    store.close().await;
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
            continues: None,
            idle: IdleSettings::default(),
            ends_at: None,
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
