//! The storage port: what the engine needs from a database.
//!
//! Implemented for SQLite and PostgreSQL in `switchboard-store`; both pass the
//! same conformance suite. Conversation writes go through [`Store::apply`],
//! which the implementations group-commit; everything else is a plain read or
//! an administrative write.

use async_trait::async_trait;

use crate::clock::Timestamp;
use crate::command::{Command, Committed};
use crate::error::Result;
use crate::event::Event;
use crate::ids::{ConversationId, EntryPointId, EventId, ParticipantId, WorkspaceId};
use crate::model::{ApiKey, Conversation, ConversationState, EntryPoint, Participant, Workspace};
use crate::timer::Timer;
use crate::token::SecretHash;

/// Which way to read a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// A window of a conversation's log: events with `after < seq < before`,
/// the first `limit` of them in `order`.
#[derive(Debug, Clone, Copy)]
pub struct EventRange {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
    pub order: Order,
}

impl EventRange {
    pub fn after(seq: i64, limit: u32) -> Self {
        Self { after: Some(seq), before: None, limit, order: Order::Ascending }
    }
}

/// Filters for listing a workspace's conversations, newest first.
#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    pub state: Option<ConversationState>,
    /// Only conversations with ids below this one (the next page).
    pub before: Option<ConversationId>,
    pub limit: u32,
}

/// Counters the store keeps about its own writes, for `/metrics`.
pub trait CommitObserver: Send + Sync + 'static {
    /// One transaction committed `commands` commands in `micros` microseconds.
    fn batch_committed(&self, commands: usize, events: usize, micros: u64);
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and metrics ("sqlite", "postgres").
    fn backend(&self) -> &'static str;

    // Conversation logs: group-committed writes.

    /// Commits one command; returns once it is durable.
    async fn apply(&self, command: Command) -> Result<Committed>;

    // Reads.

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>>;
    async fn conversations(&self, workspace: WorkspaceId, query: &ConversationQuery) -> Result<Vec<Conversation>>;
    async fn participant(&self, id: ParticipantId) -> Result<Option<Participant>>;
    async fn participants(&self, conversation: ConversationId) -> Result<Vec<Participant>>;
    async fn events(&self, conversation: ConversationId, range: EventRange) -> Result<Vec<Event>>;
    async fn event(&self, conversation: ConversationId, id: EventId) -> Result<Option<Event>>;

    // Credentials.

    /// The participant a live (unrevoked) token belongs to.
    async fn participant_by_token(&self, token: &SecretHash) -> Result<Option<Participant>>;
    async fn add_participant_token(&self, participant: ParticipantId, token: &SecretHash, at: Timestamp) -> Result<()>;
    /// Revokes every token of a participant; returns how many were live.
    async fn revoke_participant_tokens(&self, participant: ParticipantId, at: Timestamp) -> Result<u64>;
    async fn api_key_by_token(&self, token: &SecretHash) -> Result<Option<ApiKey>>;
    async fn create_api_key(&self, key: &ApiKey, token: &SecretHash) -> Result<()>;

    // Workspaces and entry points.

    async fn create_workspace(&self, workspace: &Workspace) -> Result<()>;
    /// The oldest workspace, which a fresh install creates.
    async fn first_workspace(&self) -> Result<Option<Workspace>>;
    async fn create_entry_point(&self, entry_point: &EntryPoint) -> Result<()>;
    async fn update_entry_point(&self, entry_point: &EntryPoint) -> Result<()>;
    async fn entry_point(&self, id: EntryPointId) -> Result<Option<EntryPoint>>;
    async fn entry_points(&self, workspace: WorkspaceId) -> Result<Vec<EntryPoint>>;

    // Timers.

    /// Timers due at or before `now`, oldest first.
    async fn due_timers(&self, now: Timestamp, limit: u32) -> Result<Vec<Timer>>;
    /// When the earliest timer is due, if any.
    async fn next_timer_due(&self) -> Result<Option<Timestamp>>;

    // Health.

    /// A round trip through the database (readiness, deep heartbeats).
    async fn ping(&self) -> Result<()>;
    /// Stops taking writes and waits for the writes already taken to commit.
    async fn close(&self);
}
