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
use crate::ids::{
    AccessKeyId, AgentId, ConversationId, EntryPointId, EventId, OfferId, ParticipantId, QueueId, ScheduleId, TaskId,
    WorkspaceId,
};
use crate::model::{AccessKey, ApiKey, Conversation, ConversationState, EntryPoint, Participant, Workspace};
use crate::routing::hours::Schedule;
use crate::routing::model::{Activity, Agent, Offer, Queue, Task, TaskHistory};
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
    /// Only conversations created at or after this time.
    pub created_from: Option<Timestamp>,
    /// Only conversations created before this time.
    pub created_before: Option<Timestamp>,
    pub limit: u32,
}

/// A claimed start token: the chat it names and when it was claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartToken {
    pub conversation: ConversationId,
    pub created_at: Timestamp,
}

/// A workspace's workflow as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWorkflow {
    pub source: String,
    /// The parsed workflow, as JSON.
    pub document: String,
    pub version: i64,
    pub updated_at: Timestamp,
}

/// Filters for listing a workspace's flow runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub flow: Option<String>,
    pub conversation: Option<ConversationId>,
    pub state: Option<crate::flows::run::RunState>,
    pub before: Option<crate::ids::FlowRunId>,
    pub limit: u32,
}

/// Filters for listing a workspace's outbox, newest first.
#[derive(Debug, Clone, Default)]
pub struct OutboxQuery {
    pub state: Option<crate::flows::records::OutboxState>,
    /// Only one lane (a webhook's deliveries).
    pub lane: Option<String>,
    pub before: Option<crate::ids::OutboxId>,
    pub limit: u32,
}

/// A page of a workspace's erasures, newest first.
#[derive(Debug, Clone, Default)]
pub struct ErasureQuery {
    /// Only erasures with ids below this one (the next page).
    pub before: Option<crate::ids::ErasureId>,
    pub limit: u32,
}

/// Counters the store keeps about its own writes, for `/metrics`.
pub trait CommitObserver: Send + Sync + 'static {
    /// One transaction committed `commands` commands in `micros` microseconds.
    fn batch_committed(&self, commands: usize, events: usize, micros: u64);
}

/// A command the writer has taken: its outcome, once committed.
#[derive(Debug)]
pub struct Pending(PendingState);

#[derive(Debug)]
enum PendingState {
    Queued(tokio::sync::oneshot::Receiver<Result<Committed>>),
    Done(Result<Committed>),
}

impl Pending {
    /// Waiting on the writer's answer.
    pub fn queued(answer: tokio::sync::oneshot::Receiver<Result<Committed>>) -> Self {
        Self(PendingState::Queued(answer))
    }

    /// Already answered.
    pub fn done(outcome: Result<Committed>) -> Self {
        Self(PendingState::Done(outcome))
    }

    /// The committed events, once durable.
    pub async fn committed(self) -> Result<Committed> {
        match self.0 {
            PendingState::Done(outcome) => outcome,
            PendingState::Queued(answer) => {
                answer.await.unwrap_or_else(|_| Err(crate::Error::unavailable("the server is shutting down")))
            }
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and metrics ("sqlite", "postgres").
    fn backend(&self) -> &'static str;

    // Conversation logs: group-committed writes.

    /// Commits one command; returns once it is durable.
    async fn apply(&self, command: Command) -> Result<Committed>;

    /// Hands one command to the writer and returns as soon as it is queued,
    /// with what resolves once it is durable. Commands submitted one after
    /// another (each `submit` awaited before the next) commit in that order,
    /// so a client's sends can be pipelined without reordering them.
    async fn submit(&self, command: Command) -> Result<Pending> {
        Ok(Pending::done(self.apply(command).await))
    }

    // Reads.

    async fn conversation(&self, id: ConversationId) -> Result<Option<Conversation>>;
    async fn conversations(&self, workspace: WorkspaceId, query: &ConversationQuery) -> Result<Vec<Conversation>>;
    /// A workspace's conversations linked to a record id, newest first.
    async fn conversations_by_record(&self, workspace: WorkspaceId, record_id: &str) -> Result<Vec<Conversation>>;
    async fn participant(&self, id: ParticipantId) -> Result<Option<Participant>>;
    async fn participants(&self, conversation: ConversationId) -> Result<Vec<Participant>>;
    async fn events(&self, conversation: ConversationId, range: EventRange) -> Result<Vec<Event>>;
    async fn event(&self, conversation: ConversationId, id: EventId) -> Result<Option<Event>>;

    // Credentials.

    /// The participant a live (unrevoked) token belongs to.
    async fn participant_by_token(&self, token: &SecretHash) -> Result<Option<Participant>>;
    /// A participant with the digests of its tokens that are not revoked
    /// (one read; none when it has no live token).
    async fn participant_with_tokens(
        &self,
        participant: ParticipantId,
    ) -> Result<Option<(Participant, Vec<SecretHash>)>>;
    async fn add_participant_token(&self, participant: ParticipantId, token: &SecretHash, at: Timestamp) -> Result<()>;
    /// Revokes every token of a participant; returns how many were live.
    async fn revoke_participant_tokens(&self, participant: ParticipantId, at: Timestamp) -> Result<u64>;
    async fn api_key_by_token(&self, token: &SecretHash) -> Result<Option<ApiKey>>;
    async fn create_api_key(&self, key: &ApiKey, token: &SecretHash) -> Result<()>;

    // Access keys (SigV4). The secret is stored as is: verifying a
    // signature derives its key from it.

    async fn create_access_key(&self, key: &AccessKey, secret: &str) -> Result<()>;
    /// A workspace's access keys, revoked ones too, oldest first.
    async fn access_keys(&self, workspace: WorkspaceId) -> Result<Vec<AccessKey>>;
    /// Revokes a key of `workspace`; whether a live one was revoked.
    async fn revoke_access_key(&self, workspace: WorkspaceId, id: &AccessKeyId, at: Timestamp) -> Result<bool>;
    /// A key and its secret, revoked or not.
    async fn access_key_secret(&self, id: &AccessKeyId) -> Result<Option<(AccessKey, String)>>;

    // Start tokens: a client's idempotency token for starting a chat.

    /// Claims `token` for a chat to be made with id `conversation`, unless
    /// it is claimed already; returns the claim that holds (this one, or
    /// the earlier one).
    async fn claim_start_token(
        &self,
        workspace: WorkspaceId,
        token: &str,
        conversation: ConversationId,
        at: Timestamp,
    ) -> Result<StartToken>;
    /// Moves a claim to a new chat id, only if it is still `stale` (same
    /// chat, same time): whether it moved.
    async fn take_over_start_token(
        &self,
        workspace: WorkspaceId,
        token: &str,
        stale: &StartToken,
        conversation: ConversationId,
        at: Timestamp,
    ) -> Result<bool>;
    /// Gives up a claim that still names `conversation` (its chat could not
    /// be made), so a retry starts afresh.
    async fn release_start_token(
        &self,
        workspace: WorkspaceId,
        token: &str,
        conversation: ConversationId,
    ) -> Result<()>;

    // Workspaces and entry points.

    async fn create_workspace(&self, workspace: &Workspace) -> Result<()>;
    /// The oldest workspace, which a fresh install creates.
    async fn first_workspace(&self) -> Result<Option<Workspace>>;
    async fn create_entry_point(&self, entry_point: &EntryPoint) -> Result<()>;
    async fn update_entry_point(&self, entry_point: &EntryPoint) -> Result<()>;
    async fn entry_point(&self, id: EntryPointId) -> Result<Option<EntryPoint>>;
    async fn entry_points(&self, workspace: WorkspaceId) -> Result<Vec<EntryPoint>>;

    // Routing: agents and their credentials. Changes to an agent's routing
    // state go through `apply`; these are creation and credentials.

    /// Creates an agent; a login already taken in the workspace is a conflict.
    async fn create_agent(&self, agent: &Agent, password_hash: Option<&str>) -> Result<()>;
    async fn agent(&self, id: AgentId) -> Result<Option<Agent>>;
    async fn agents(&self, workspace: WorkspaceId) -> Result<Vec<Agent>>;
    /// The agent with this console login, and its password hash.
    async fn agent_by_login(&self, workspace: WorkspaceId, login: &str) -> Result<Option<(Agent, Option<String>)>>;
    async fn set_agent_password(&self, agent: AgentId, password_hash: Option<&str>) -> Result<()>;
    async fn add_agent_token(&self, agent: AgentId, token: &SecretHash, name: &str, at: Timestamp) -> Result<()>;
    async fn agent_by_token(&self, token: &SecretHash) -> Result<Option<Agent>>;
    async fn revoke_agent_tokens(&self, agent: AgentId, at: Timestamp) -> Result<u64>;

    // Routing: definitions.

    /// The workspace's own activities (the built-in ones are not stored).
    async fn activities(&self, workspace: WorkspaceId) -> Result<Vec<Activity>>;
    async fn create_activity(&self, workspace: WorkspaceId, activity: &Activity, at: Timestamp) -> Result<()>;
    /// Deletes an activity no agent is in; returns whether it existed.
    async fn delete_activity(&self, workspace: WorkspaceId, name: &str) -> Result<bool>;
    async fn create_queue(&self, queue: &Queue) -> Result<()>;
    async fn update_queue(&self, queue: &Queue) -> Result<()>;
    async fn queue(&self, id: QueueId) -> Result<Option<Queue>>;
    async fn queues(&self, workspace: WorkspaceId) -> Result<Vec<Queue>>;
    /// Every queue of every workspace (the router's view).
    async fn all_queues(&self) -> Result<Vec<Queue>>;
    /// Creates a schedule; a name already taken in the workspace is a conflict.
    async fn create_schedule(&self, schedule: &Schedule) -> Result<()>;
    async fn update_schedule(&self, schedule: &Schedule) -> Result<()>;
    async fn schedule(&self, id: ScheduleId) -> Result<Option<Schedule>>;
    /// The workspace's schedules, by name.
    async fn schedules(&self, workspace: WorkspaceId) -> Result<Vec<Schedule>>;
    /// These schedules, whatever their workspace (the router's view).
    async fn schedules_by_ids(&self, ids: &[ScheduleId]) -> Result<Vec<Schedule>>;
    /// Deletes a schedule no queue or entry point follows (a conflict naming
    /// them otherwise); returns whether it existed.
    async fn delete_schedule(&self, id: ScheduleId) -> Result<bool>;
    /// The workflow as written and as parsed (JSON), with its version.
    async fn workflow(&self, workspace: WorkspaceId) -> Result<Option<StoredWorkflow>>;
    /// Replaces the workflow; returns the new version.
    async fn put_workflow(&self, workspace: WorkspaceId, source: &str, document: &str, at: Timestamp) -> Result<i64>;

    // Routing: reads.

    async fn task(&self, id: TaskId) -> Result<Option<Task>>;
    async fn task_history(&self, id: TaskId) -> Result<Vec<TaskHistory>>;
    /// Waiting tasks of every workspace, best first (priority, then time in line).
    async fn waiting_tasks(&self, limit: u32) -> Result<Vec<Task>>;
    /// A workspace's tasks that are waiting, offered, assigned or in wrap-up.
    async fn live_tasks(&self, workspace: WorkspaceId) -> Result<Vec<Task>>;
    /// A workspace's "message us" requests (tasks in state `message`),
    /// oldest first, at most `limit`.
    async fn message_tasks(&self, workspace: WorkspaceId, limit: u32) -> Result<Vec<Task>>;
    /// The chats an agent has: assigned or in wrap-up.
    async fn agent_tasks(&self, agent: AgentId) -> Result<Vec<Task>>;
    /// Enabled agents in an activity that receives chats, in every workspace,
    /// longest idle first. `Some(n)`: only those with a free slot, at most `n`.
    async fn present_agents(&self, free_only: Option<u32>) -> Result<Vec<Agent>>;
    /// Present agents not seen on a socket since `before`.
    async fn unseen_agents(&self, before: Timestamp) -> Result<Vec<Agent>>;
    async fn offer(&self, id: OfferId) -> Result<Option<Offer>>;
    async fn pending_offers(&self, agent: AgentId) -> Result<Vec<Offer>>;

    /// A conversation's file requests, oldest first.
    async fn file_requests(&self, conversation: ConversationId) -> Result<Vec<crate::model::FileRequest>>;

    // Files.

    async fn attachment(&self, id: crate::ids::AttachmentId) -> Result<Option<crate::files::model::Attachment>>;
    /// A conversation's attachments, oldest first.
    async fn attachments(&self, conversation: ConversationId) -> Result<Vec<crate::files::model::Attachment>>;
    /// A workspace's settings as stored (JSON); none until first set.
    async fn workspace_settings(&self, workspace: WorkspaceId) -> Result<Option<String>>;
    /// Every workspace's id.
    async fn workspace_ids(&self) -> Result<Vec<WorkspaceId>>;
    async fn put_workspace_settings(&self, workspace: WorkspaceId, settings: &str, at: Timestamp) -> Result<()>;

    // Flows. Runs, forms and events change through `apply`; these are
    // deployment, reads, and the outbox's bookkeeping.

    /// Stores a new version of a flow (numbered one past the latest of its
    /// name) and returns it.
    async fn deploy_flow(
        &self,
        flow: &crate::flows::records::DeployedFlow,
    ) -> Result<crate::flows::records::DeployedFlow>;
    async fn flow(&self, id: crate::ids::FlowId) -> Result<Option<crate::flows::records::DeployedFlow>>;
    /// Every version of a flow, newest first.
    async fn flow_versions(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Vec<crate::flows::records::DeployedFlow>>;
    /// The latest version of each of a workspace's flows.
    async fn flows(&self, workspace: WorkspaceId) -> Result<Vec<crate::flows::records::DeployedFlow>>;
    /// The latest versions of the flows that have a trigger (which one is in the flow).
    async fn triggered_flows(&self, workspace: WorkspaceId) -> Result<Vec<crate::flows::records::DeployedFlow>>;
    async fn run(&self, id: crate::ids::FlowRunId) -> Result<Option<crate::flows::run::Run>>;
    async fn runs(&self, workspace: WorkspaceId, query: &RunQuery) -> Result<Vec<crate::flows::run::Run>>;
    async fn run_log(&self, id: crate::ids::FlowRunId) -> Result<Vec<crate::flows::records::RunLogEntry>>;
    /// Runs waiting for a custom event of this type and key.
    async fn runs_waiting_for(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        key: &str,
    ) -> Result<Vec<crate::flows::run::Run>>;
    async fn form(&self, id: crate::ids::FormId) -> Result<Option<crate::flows::records::FormRecord>>;
    async fn put_event_type(
        &self,
        workspace: WorkspaceId,
        event_type: &crate::flows::events::EventType,
        at: Timestamp,
    ) -> Result<()>;
    async fn event_types(&self, workspace: WorkspaceId) -> Result<Vec<crate::flows::events::EventType>>;
    async fn custom_event(&self, id: crate::ids::CustomEventId) -> Result<Option<crate::flows::records::CustomEvent>>;
    /// A workspace's events after a replay id, oldest first.
    async fn custom_events(
        &self,
        workspace: WorkspaceId,
        after: i64,
        event_type: Option<&str>,
        key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::flows::records::CustomEvent>>;
    /// Leases up to `limit` due outbox items until `lease_until`.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<crate::flows::records::OutboxItem>>;
    /// Leases the next item of `lane` if it is due and free.
    async fn claim_next_in_lane(
        &self,
        lane: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<crate::flows::records::OutboxItem>>;
    async fn next_outbox_due(&self) -> Result<Option<Timestamp>>;
    /// A failed attempt: due again at `next`, or given up (`dead`).
    async fn retry_outbox(
        &self,
        id: crate::ids::OutboxId,
        attempts: u32,
        next: Timestamp,
        error: &str,
        dead: bool,
        now: Timestamp,
    ) -> Result<()>;
    async fn outbox(
        &self,
        workspace: WorkspaceId,
        query: &OutboxQuery,
    ) -> Result<Vec<crate::flows::records::OutboxItem>>;
    /// Puts a dead item back in line; whether there was one.
    async fn replay_outbox(&self, workspace: WorkspaceId, id: crate::ids::OutboxId, now: Timestamp) -> Result<bool>;
    /// Deletes custom events past their type's retention at `now`, and
    /// finished outbox items older than `outbox_before`.
    async fn sweep_flows(&self, now: Timestamp, outbox_before: Timestamp) -> Result<()>;

    // Webhooks. A conversation-scoped one is also listed in its
    // conversation's row, through `apply` (`Command::Hook`).

    async fn create_webhook(&self, webhook: &crate::flows::webhooks::Webhook) -> Result<()>;
    async fn webhook(&self, id: crate::ids::WebhookId) -> Result<Option<crate::flows::webhooks::Webhook>>;
    /// A workspace's webhooks, workspace-wide and scoped, oldest first.
    async fn webhooks(&self, workspace: WorkspaceId) -> Result<Vec<crate::flows::webhooks::Webhook>>;
    async fn delete_webhook(&self, id: crate::ids::WebhookId) -> Result<bool>;
    async fn set_webhook_enabled(
        &self,
        id: crate::ids::WebhookId,
        enabled: bool,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<()>;
    /// The workspace's signing secret, if one was made.
    async fn webhook_secret(&self, workspace: WorkspaceId) -> Result<Option<String>>;
    /// Sets the signing secret (made on first use, or rotated).
    async fn put_webhook_secret(&self, workspace: WorkspaceId, secret: &str, at: Timestamp) -> Result<()>;

    // Erasure and retention. Erasing is a command (`Command::Erase`,
    // `Command::Purge`); these read its audit rows and find what is due.

    /// The audit row of a conversation of `workspace` that was erased.
    async fn erasure_of(
        &self,
        workspace: WorkspaceId,
        conversation: ConversationId,
    ) -> Result<Option<crate::retention::Erasure>>;
    /// A workspace's erasures, newest first.
    async fn erasures(&self, workspace: WorkspaceId, query: &ErasureQuery) -> Result<Vec<crate::retention::Erasure>>;
    /// The audit rows with these ids (those that were written).
    async fn erasures_by_ids(&self, ids: &[crate::ids::ErasureId]) -> Result<Vec<crate::retention::Erasure>>;
    /// A workspace's conversations that ended before `before`, the longest
    /// ended first, with the length of their logs (`last_seq`).
    async fn ended_before(
        &self,
        workspace: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> Result<Vec<(ConversationId, i64)>>;
    /// Every workspace's settings as stored (JSON), for the retention loop.
    async fn all_workspace_settings(&self) -> Result<Vec<(WorkspaceId, String)>>;

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
