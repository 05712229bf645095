//! B1, the storage baseline: the fastest this machine can durably append
//! chat rows to the events table, with nothing of the server around it.
//!
//! One connection inserts message rows with the same multi-row statement the
//! writer uses, `per_commit` rows to a transaction, each transaction's rows
//! interleaved over all the conversations (as a group commit under load is),
//! SQLite with `synchronous=FULL`, PostgreSQL with synchronous commit on.
//! The load generator's `bench` puts the server's durable throughput beside it.

use std::time::{Duration, Instant};

use switchboard_core::bus::LocalBus;
use switchboard_core::clock::{Clock as _, SystemClock};
use switchboard_core::command::{Command, NewConversation};
use switchboard_core::event::{ContentType, Event, EventKind};
use switchboard_core::ids::{ConversationId, EventId, ParticipantId, WorkspaceId};
use switchboard_core::model::{Attributes, IdleSettings};
use switchboard_core::{Error, Result};

use crate::StoreConfig;
use crate::direct::Direct;
use crate::sql::{self, Stmt};

/// A chat message of about 100 bytes as stored (the payload's JSON).
const BODY: &str = "Hello, I have a question about my last invoice from March, can you help?";

/// What one B1 run did.
#[derive(Debug, Clone, Copy)]
pub struct InsertRun {
    pub rows: u64,
    pub elapsed: Duration,
}

impl InsertRun {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs B1 on the (empty, or at least unused) database at `url`: creates
/// `conversations` conversations through the store, then times `rows` message
/// rows inserted `per_commit` to a transaction.
pub async fn batched_inserts(url: &str, conversations: usize, rows: usize, per_commit: usize) -> Result<InsertRun> {
    if conversations == 0 || per_commit == 0 {
        return Err(Error::invalid("b1", "conversations and per_commit must be at least 1"));
    }
    let config = StoreConfig::new(url);
    let store =
        crate::open(&config, std::sync::Arc::new(LocalBus::default()), std::sync::Arc::new(SystemClock)).await?;
    let mut chats = Vec::with_capacity(conversations);
    for _ in 0..conversations {
        let id = ConversationId::new();
        let conversation = NewConversation {
            id,
            workspace_id: WorkspaceId::new(),
            entry_point_id: None,
            attributes: Attributes::new(),
            record_id: None,
            continues: None,
            idle: IdleSettings::default(),
            ends_at: None,
        };
        store.apply(Command::Create { conversation, participants: Vec::new() }).await?;
        chats.push((id, 1i64));
    }
    store.close().await;

    let author = ParticipantId::new();
    let mut next = 0usize;
    let mut batch = move |n: usize| -> Vec<Stmt> {
        let now = SystemClock.now();
        let events: Vec<Event> = (0..n)
            .map(|_| {
                let (conversation_id, seq) = &mut chats[next % conversations];
                next += 1;
                *seq += 1;
                Event {
                    conversation_id: *conversation_id,
                    seq: *seq,
                    id: EventId::new(),
                    at: now,
                    participant_id: Some(author),
                    kind: EventKind::Message { content_type: ContentType::TextPlain, content: BODY.into() },
                    client_token: Some(EventId::new().to_string()),
                }
            })
            .collect();
        events.chunks(sql::CHUNK).map(sql::insert_events).collect()
    };

    let mut conn = Direct::connect(url).await?;
    let started = Instant::now();
    let mut done = 0usize;
    while done < rows {
        let n = per_commit.min(rows - done);
        conn.transaction(&batch(n)).await?;
        done += n;
    }
    Ok(InsertRun { rows: done as u64, elapsed: started.elapsed() })
}
