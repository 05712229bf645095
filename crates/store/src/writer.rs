//! Group commit: one task owns the write connection and commits many callers'
//! commands in one transaction.
//!
//! There is no timed window. While one transaction commits, new commands
//! queue; the next batch takes everything queued (up to `max_batch`). At low
//! load a command commits alone and at once; at high load batches grow by
//! themselves and one fsync serves hundreds of sends. Callers are answered
//! only after COMMIT returns, and the committed events are published to the
//! bus in commit order, per conversation, before the next batch starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use switchboard_core::bus::{Bus, Notice};
use switchboard_core::clock::{Clock, Timestamp};
use switchboard_core::command::{Command, Committed, Plan, Snapshot, SnapshotKeys};
use switchboard_core::event::Event;
use switchboard_core::ids::{ConversationId, ParticipantId};
use switchboard_core::model::{Conversation, Participant};
use switchboard_core::store::{CommitObserver, Pending};
use switchboard_core::{Error, Result};

/// What a committed batch hands back.
pub(crate) type Batch = (Vec<Event>, Vec<Notice>, Vec<Result<Committed>>);

/// One backend's way to commit a batch in one transaction.
#[async_trait]
pub(crate) trait BatchCommit: Send + 'static {
    /// Loads, plans and writes `commands` in one transaction. Returns every
    /// event written (in log order), the notices to publish after them, and
    /// one outcome per command.
    async fn commit(&mut self, commands: &[Command], now: Timestamp) -> Result<Batch>;
}

/// The writer of a store opened to read only: it refuses every command.
pub(crate) struct ReadOnly;

#[async_trait]
impl BatchCommit for ReadOnly {
    async fn commit(&mut self, _commands: &[Command], _now: Timestamp) -> Result<Batch> {
        Err(Error::internal("this store was opened to read only; it takes no writes"))
    }
}

/// The conversation and participant rows as last committed, kept by a writer
/// that is the only one writing them (SQLite: one process, one write
/// connection). A batch then reads from the database only what it has not
/// seen, which on SQLite saves a round trip per row through sqlx's worker
/// thread. Never used where other writers exist (PostgreSQL, several nodes).
#[derive(Debug, Default)]
pub(crate) struct RowCache {
    conversations: HashMap<ConversationId, Conversation>,
    participants: HashMap<ParticipantId, Participant>,
}

/// Rows kept at most; past this the cache starts again empty.
const CACHE_ROWS: usize = 200_000;

impl RowCache {
    /// Moves what the cache knows from `keys` into `snap`.
    pub fn fill(&self, keys: &mut SnapshotKeys, snap: &mut Snapshot) {
        keys.conversations.retain(|id| match self.conversations.get(id) {
            Some(c) => {
                snap.conversations.insert(*id, c.clone());
                false
            }
            None => true,
        });
        keys.participants.retain(|id| match self.participants.get(id) {
            Some(p) => {
                snap.participants.insert(*id, p.clone());
                false
            }
            None => true,
        });
    }

    /// Takes in the rows a committed plan wrote.
    pub fn remember(&mut self, plan: &Plan) {
        if self.conversations.len() + self.participants.len() > CACHE_ROWS {
            self.forget();
        }
        for c in plan.new_conversations.iter().chain(&plan.conversations) {
            self.conversations.insert(c.id, c.clone());
        }
        for p in plan.new_participants.iter().chain(&plan.participants) {
            self.participants.insert(p.id, p.clone());
        }
        // Their participants may stay: every command on one goes through
        // its conversation, which is gone now.
        for e in &plan.erasures {
            self.conversations.remove(&e.request.conversation);
        }
    }

    /// After a failed transaction nothing cached can be trusted.
    pub fn forget(&mut self) {
        self.conversations.clear();
        self.participants.clear();
    }
}

struct Job {
    command: Command,
    reply: Reply,
}

type Reply = oneshot::Sender<Result<Committed>>;

/// The handle callers submit commands through.
pub(crate) struct Writer {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

pub(crate) struct WriterParts {
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
    pub observer: Option<Arc<dyn CommitObserver>>,
    pub max_batch: usize,
}

impl Writer {
    pub fn spawn(backend: impl BatchCommit, parts: WriterParts) -> Self {
        let (tx, rx) = mpsc::channel(parts.max_batch.max(1) * 64);
        let task = tokio::spawn(run(backend, rx, parts));
        Self { tx: Mutex::new(Some(tx)), done: Mutex::new(Some(task)) }
    }

    pub async fn apply(&self, command: Command) -> Result<Committed> {
        self.submit(command).await?.committed().await
    }

    /// Queues a command; commands queued one after another commit in order.
    pub async fn submit(&self, command: Command) -> Result<Pending> {
        let tx = self.tx.lock().ok().and_then(|t| t.clone()).ok_or_else(closed)?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job { command, reply }).await.map_err(|_| closed())?;
        Ok(Pending::queued(answer))
    }

    /// Takes no new commands; returns when those already taken are committed.
    pub async fn close(&self) {
        self.tx.lock().ok().and_then(|mut t| t.take());
        let task = self.done.lock().ok().and_then(|mut d| d.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn closed() -> Error {
    Error::unavailable("the server is shutting down")
}

async fn run(mut backend: impl BatchCommit, mut rx: mpsc::Receiver<Job>, parts: WriterParts) {
    let mut commands: Vec<Command> = Vec::with_capacity(parts.max_batch);
    let mut replies: Vec<Reply> = Vec::with_capacity(parts.max_batch);
    while let Some(first) = rx.recv().await {
        commands.push(first.command);
        replies.push(first.reply);
        while commands.len() < parts.max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    commands.push(job.command);
                    replies.push(job.reply);
                }
                Err(_) => break,
            }
        }
        commit_jobs(&mut backend, &commands, &mut replies, &parts).await;
        commands.clear();
    }
}

/// Commits `commands` and answers each through its reply (drained).
async fn commit_jobs(
    backend: &mut impl BatchCommit,
    commands: &[Command],
    replies: &mut Vec<Reply>,
    parts: &WriterParts,
) {
    let started = Instant::now();
    match backend.commit(commands, parts.clock.now()).await {
        Ok((events, notices, outcomes)) => {
            if let Some(o) = &parts.observer {
                o.batch_committed(commands.len(), events.len(), started.elapsed().as_micros() as u64);
            }
            publish(parts.bus.as_ref(), events);
            for n in notices {
                parts.bus.publish(n);
            }
            for (reply, outcome) in replies.drain(..).zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) if commands.len() > 1 => {
            // One command may be poisoning the batch: commit each alone, so
            // only the guilty one fails.
            tracing::warn!(error = %e, commands = commands.len(), "batch failed; retrying its commands one by one");
            for (command, reply) in commands.iter().zip(replies.drain(..)) {
                let mut single = vec![reply];
                Box::pin(commit_jobs(backend, std::slice::from_ref(command), &mut single, parts)).await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed");
            for reply in replies.drain(..) {
                let _ = reply.send(Err(e.duplicate()));
            }
        }
    }
}

/// Publishes committed events, one notice per conversation, in log order.
fn publish(bus: &dyn Bus, events: Vec<Event>) {
    let mut by_conversation: HashMap<_, Vec<Event>> = HashMap::new();
    let mut order = Vec::new();
    for e in events {
        let list = by_conversation.entry(e.conversation_id).or_default();
        if list.is_empty() {
            order.push(e.conversation_id);
        }
        list.push(e);
    }
    for id in order {
        if let Some(list) = by_conversation.remove(&id) {
            let last_seq = list.last().map_or(0, |e| e.seq);
            bus.publish(Notice::Committed { conversation: id, last_seq, events: list.into() });
        }
    }
}
