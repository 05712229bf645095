//! The engine: one method per domain operation, with who-may-do-what and the
//! limits. The API and the vendor dialects call these and nothing below them.

use std::sync::Arc;
use std::time::Duration;

use crate::bus::{Bus, Notice, Subscription, Topic};
use crate::clock::{Clock, Timestamp};
use crate::command::{AttributePatch, Author, ClientToken, Command, NewConversation, NewParticipant};
use crate::error::{Error, ErrorCode, Result};
use crate::event::{ContentType, Event, EventKind, LeaveReason};
use crate::ids::{ConversationId, EntryPointId, EventId, ParticipantId, WorkspaceId};
use crate::model::{Attributes, Conversation, IdleSettings, Participant, Role};
use crate::rate::RateLimiter;
use crate::routing::model::Agent;
use crate::store::{ConversationQuery, EventRange, Order, Store};
use crate::token::{Secret, SecretHash, SecretKind};

pub mod access_keys;
pub mod admin;
pub mod directory;
pub mod explain;
pub mod export;
pub mod files;
pub mod flows;
pub mod hours;
mod outbox;
mod permit;
pub mod persistent;
pub mod retention;
pub mod router;
pub mod routing;
pub mod start_tokens;
pub mod stats_history;
pub mod supervisor;
mod timers;
mod toolkit;
mod typing;
pub mod webhooks;

/// Size and rate limits, with their defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message body, in bytes (16 KiB).
    pub message_bytes: usize,
    /// Largest attributes object, serialized, in bytes (16 KiB).
    pub attributes_bytes: usize,
    /// Longest display name, in characters.
    pub display_name_chars: usize,
    /// Most events one transcript page or poll returns.
    pub page_max: u32,
    /// Messages and receipts per second per participant (burst: twice that).
    pub sends_per_second: u32,
    pub outbox: OutboxSettings,
}

/// How outbox work is retried and leased.
#[derive(Debug, Clone, Copy)]
pub struct OutboxSettings {
    /// Attempts before an item is given up (dead).
    pub attempts: u32,
    /// The first wait before a retry; it doubles each time, up to 10 minutes.
    pub backoff: Duration,
    /// How long a taken item is held before it may be taken again.
    pub lease_secs: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        // With the doubling, twelve attempts span about an hour.
        Self { attempts: 12, backoff: Duration::from_secs(2), lease_secs: 90 }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            message_bytes: 16 * 1024,
            attributes_bytes: 16 * 1024,
            display_name_chars: 128,
            page_max: 500,
            sends_per_second: 20,
            outbox: OutboxSettings::default(),
        }
    }
}

/// Who is asking, as established from their credentials.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A workspace API key: everything in its workspace.
    Admin { workspace: WorkspaceId },
    /// A participant token: its own conversation only.
    Participant(Participant),
    /// An agent token: the agent's own chats, offers and presence.
    Agent(Agent),
}

/// What starting a chat hands back to the customer.
#[derive(Debug)]
pub struct StartedChat {
    pub conversation: Conversation,
    pub participant: Participant,
    pub token: Secret,
    pub events: Vec<Event>,
}

/// A chat as a customer asks for it through an entry point.
#[derive(Debug, Clone, Default)]
pub struct StartChat {
    pub display_name: Option<String>,
    pub attributes: Attributes,
    pub record_id: Option<String>,
    /// Continue an ended chat (persistent chat).
    pub continue_from: Option<persistent::ContinueFrom>,
    /// Who sent the request, when it carried credentials: continuing a chat
    /// needs the customer token of the chat it continues.
    pub caller: Option<Caller>,
    /// The conversation's id, chosen beforehand (a start token was claimed
    /// with it); else a fresh one.
    pub id: Option<ConversationId>,
    /// The longest the chat may last: it ends by itself this long after it
    /// starts (`conversation.ended` with reason `expired`).
    pub max_duration_secs: Option<u32>,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct SendMessage {
    pub content_type: ContentType,
    pub content: String,
    pub client_token: Option<ClientToken>,
    /// With a workspace key: send as this participant (else as the system).
    pub as_participant: Option<ParticipantId>,
}

/// Read and delivered receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

/// An event queued for the log; [`PendingEvent::event`] waits until it is durable.
#[derive(Debug)]
pub struct PendingEvent(crate::store::Pending);

impl PendingEvent {
    /// The committed event, once durable.
    pub async fn event(self) -> Result<Event> {
        last(self.0.committed().await?)
    }
}

pub struct Engine {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    sends: RateLimiter<ParticipantId>,
    /// Open agent sockets on this node, per agent (presence).
    sockets: std::sync::Mutex<std::collections::HashMap<crate::ids::AgentId, usize>>,
    /// Queue positions last published, and recent departures (estimates).
    positions: std::sync::Mutex<crate::routing::position::PositionBook>,
    files: files::Files,
    /// The last hour of queue statistics (the supervisor's chart).
    history: stats_history::StatsHistory,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.store.backend()).field("limits", &self.limits).finish()
    }
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        let sends = RateLimiter::new(limits.sends_per_second, limits.sends_per_second.saturating_mul(2));
        let files = files::Files::new(Arc::new(files::NoBlobs));
        Self {
            store,
            bus,
            clock,
            limits,
            sends,
            sockets: Default::default(),
            positions: Default::default(),
            files,
            history: Default::default(),
        }
    }

    /// Gives the engine its file storage (and scan hook).
    pub fn with_files(mut self, files: files::Files) -> Self {
        self.files = files;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Resolves a bearer secret to a caller.
    pub async fn authenticate(&self, secret: &str) -> Result<Caller> {
        let unknown = || Error::unauthenticated("unknown or revoked credentials");
        let hash = SecretHash::of(secret);
        match SecretKind::of(secret) {
            Some(SecretKind::Participant) => {
                let p = self.store.participant_by_token(&hash).await?.ok_or_else(unknown)?;
                return Ok(Caller::Participant(p));
            }
            Some(SecretKind::Agent) => {
                let a = self.store.agent_by_token(&hash).await?.filter(|a| a.enabled).ok_or_else(unknown)?;
                return Ok(Caller::Agent(a));
            }
            _ => {}
        }
        // Generated API keys start with `sbk_`; a key the operator chose may not.
        let key = self.store.api_key_by_token(&hash).await?.ok_or_else(unknown)?;
        Ok(Caller::Admin { workspace: key.workspace_id })
    }

    /// The workspace API key a bearer secret is, if it is one (for audit rows).
    pub async fn api_key_id(&self, secret: &str) -> Result<Option<crate::ids::ApiKeyId>> {
        Ok(self.store.api_key_by_token(&SecretHash::of(secret)).await?.map(|k| k.id))
    }

    /// Opens a chat through a public entry point. `origin` is the browser's
    /// `Origin` header, checked against the entry point's allowed origins.
    pub async fn start_chat(&self, entry: EntryPointId, origin: Option<&str>, req: StartChat) -> Result<StartedChat> {
        let ep = self.chat_entry_point(entry, origin).await?;
        // The pre-chat form was answered when the chat continued was started.
        if req.continue_from.is_none() {
            ep.widget.check_answers(req.display_name.as_deref(), &req.attributes)?;
        }
        self.open_chat(ep, req, false).await
    }

    /// Opens a customer chat on an entry point of the caller's workspace,
    /// server to server (a back end holding a workspace key or access key
    /// starts it and hands the customer its token). The key vouches for
    /// continuing any ended chat of its workspace; an entry point of another
    /// workspace is not found.
    pub async fn start_chat_for(&self, caller: &Caller, entry: EntryPointId, req: StartChat) -> Result<StartedChat> {
        let workspace = admin_workspace(caller)?;
        let ep = self.chat_entry_point(entry, None).await?;
        if ep.workspace_id != workspace {
            return Err(Error::not_found("entry point"));
        }
        self.open_chat(ep, StartChat { caller: Some(caller.clone()), ..req }, true).await
    }

    async fn open_chat(&self, ep: crate::model::EntryPoint, req: StartChat, by_key: bool) -> Result<StartedChat> {
        self.check_attributes(&req.attributes)?;
        let mut record_id = req.record_id.map(|r| self.check_record_id(r)).transpose()?;
        let mut default_name = "Customer".to_owned();
        if let Some(from) = req.continue_from {
            // The same customer, under the same name and record unless told otherwise.
            let customer = if by_key {
                self.vouch_continuation_by_key(from, ep.workspace_id).await?
            } else {
                self.vouch_continuation(from, req.caller.as_ref()).await?
            };
            default_name = customer.display_name;
            if record_id.is_none() {
                let source = self.store.conversation(from.conversation).await?;
                record_id = source.filter(|c| c.workspace_id == ep.workspace_id).and_then(|c| c.record_id);
            }
        }
        let display_name = self.display_name(req.display_name, &default_name)?;
        let token = Secret::generate(SecretKind::Participant);
        let conversation = NewConversation {
            id: req.id.unwrap_or_default(),
            workspace_id: ep.workspace_id,
            entry_point_id: Some(ep.id),
            attributes: req.attributes,
            record_id,
            continues: req.continue_from.map(|f| (f.conversation, f.rehydration)),
            idle: ep.idle,
            ends_at: req.max_duration_secs.map(|secs| self.now().plus_secs(secs)),
        };
        let customer = NewParticipant {
            id: ParticipantId::new(),
            role: Role::Customer,
            display_name,
            token: Some(token.hash()),
            agent_id: None,
        };
        let (cid, pid) = (conversation.id, customer.id);
        let mut events = self.store.apply(Command::Create { conversation, participants: vec![customer] }).await?;
        let conversation =
            self.store.conversation(cid).await?.ok_or_else(|| Error::internal("created conversation not found"))?;
        // A pre-chat flow on the entry point takes the chat first (it routes
        // when it is done, or hands over if it fails); else the workflow
        // routes it. The chat is open whatever comes of either; a failure is
        // logged and the chat can be routed again through the API.
        let handled = match self.start_chat_flows(&conversation, &ep.name).await {
            Ok(started) => started,
            Err(e) => {
                tracing::warn!(conversation = %cid, error = %e, "pre-chat flow did not start");
                false
            }
        };
        let routed = if handled {
            true
        } else {
            match self.route_by_workflow(&conversation).await {
                Ok(task) => task.is_some(),
                Err(e) => {
                    tracing::warn!(conversation = %cid, error = %e, "chat could not be routed");
                    false
                }
            }
        };
        if routed {
            let after = events.last().map_or(0, |e| e.seq);
            events.extend(self.store.events(cid, EventRange::after(after, 16)).await?);
        }
        let conversation =
            self.store.conversation(cid).await?.ok_or_else(|| Error::internal("created conversation not found"))?;
        let participant =
            self.store.participant(pid).await?.ok_or_else(|| Error::internal("created participant not found"))?;
        Ok(StartedChat { conversation, participant, token, events })
    }

    /// An enabled entry point that a browser at `origin` (its `Origin`
    /// header, if any) may start chats through.
    pub(crate) async fn chat_entry_point(
        &self,
        entry: EntryPointId,
        origin: Option<&str>,
    ) -> Result<crate::model::EntryPoint> {
        let ep = self
            .store
            .entry_point(entry)
            .await?
            .filter(|e| e.enabled)
            .ok_or_else(|| Error::not_found("entry point"))?;
        if let Some(origin) = origin
            && !ep.allows_origin(origin)
        {
            return Err(Error::forbidden(format!("origin {origin} is not allowed by this entry point")));
        }
        Ok(ep)
    }

    /// Opens a conversation with no participants, on behalf of a workspace;
    /// with `continue_from`, as the continuation of an ended chat of the
    /// workspace (whose record id it keeps unless given another).
    pub async fn create_conversation(
        &self,
        caller: &Caller,
        attributes: Attributes,
        record_id: Option<String>,
        idle: IdleSettings,
        continue_from: Option<persistent::ContinueFrom>,
    ) -> Result<Conversation> {
        let workspace = admin_workspace(caller)?;
        self.check_attributes(&attributes)?;
        check_idle(&idle)?;
        let mut record_id = record_id.map(|r| self.check_record_id(r)).transpose()?;
        if let Some(from) = continue_from
            && record_id.is_none()
        {
            let source = self.store.conversation(from.conversation).await?;
            record_id = source.filter(|c| c.workspace_id == workspace).and_then(|c| c.record_id);
        }
        let conversation = NewConversation {
            id: ConversationId::new(),
            workspace_id: workspace,
            entry_point_id: None,
            attributes,
            record_id,
            continues: continue_from.map(|f| (f.conversation, f.rehydration)),
            idle,
            ends_at: None,
        };
        let id = conversation.id;
        self.store.apply(Command::Create { conversation, participants: Vec::new() }).await?;
        self.store.conversation(id).await?.ok_or_else(|| Error::internal("created conversation not found"))
    }

    /// The conversation, if the caller may see it.
    pub async fn conversation(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        let c = self.store.conversation(id).await?.ok_or_else(|| Error::not_found("conversation"))?;
        match caller {
            Caller::Admin { workspace } if *workspace == c.workspace_id => Ok(c),
            Caller::Admin { .. } => Err(Error::not_found("conversation")),
            Caller::Participant(p) if p.conversation_id == id => Ok(c),
            Caller::Participant(_) => Err(Error::forbidden("this token belongs to another conversation")),
            Caller::Agent(a) if a.workspace_id != c.workspace_id => Err(Error::not_found("conversation")),
            Caller::Agent(a) => {
                if let Err(e) = self.agent_participant(a, id).await {
                    // A message request picked up after the customer had gone:
                    // the agent never joined, but the chat is routed to it.
                    let task = match c.task_id {
                        Some(t) => self.store.task(t).await?,
                        None => None,
                    };
                    if task.is_none_or(|t| t.agent_id != Some(a.id)) {
                        return Err(e);
                    }
                }
                Ok(c)
            }
        }
    }

    /// What the caller must not see of a conversation's log: silent
    /// monitors are hidden from customers and agents (supervisors and
    /// workspace keys see everything).
    pub async fn screen_for(&self, caller: &Caller, id: ConversationId) -> Result<crate::event::Screen> {
        let sees_all = match caller {
            Caller::Admin { .. } => true,
            Caller::Participant(p) => matches!(p.role, Role::Supervisor | Role::Monitor),
            Caller::Agent(_) => false,
        };
        if sees_all {
            return Ok(crate::event::Screen::open());
        }
        let monitors = self.store.participants(id).await?.into_iter().filter(|p| p.role == Role::Monitor);
        let screen = crate::event::Screen::hiding(monitors.map(|p| p.id));
        match caller {
            Caller::Participant(p) if p.role == Role::Customer => Ok(screen.without_agent_forms()),
            _ => Ok(screen),
        }
    }

    /// The agent's participant in a conversation it was assigned (it may
    /// have left since); agents see only the chats routed to them.
    pub(crate) async fn agent_participant(&self, agent: &Agent, id: ConversationId) -> Result<Participant> {
        let mut mine: Vec<Participant> =
            self.store.participants(id).await?.into_iter().filter(|p| p.agent_id == Some(agent.id)).collect();
        // The active one if any, else the latest.
        mine.sort_by_key(|p| (p.is_active(), p.joined_at));
        mine.pop().ok_or_else(|| Error::forbidden("this conversation is not assigned to you"))
    }

    pub async fn conversations(&self, caller: &Caller, mut query: ConversationQuery) -> Result<Vec<Conversation>> {
        let workspace = admin_workspace(caller)?;
        query.limit = query.limit.clamp(1, self.limits.page_max);
        self.store.conversations(workspace, &query).await
    }

    pub async fn update_conversation(
        &self,
        caller: &Caller,
        id: ConversationId,
        patch: AttributePatch,
    ) -> Result<Event> {
        self.conversation(caller, id).await?;
        admin_workspace(caller)?;
        if let Some(a) = &patch.attributes {
            self.check_attributes(a)?;
        }
        let patch = AttributePatch {
            attributes: patch.attributes,
            record_id: patch.record_id.map(|r| r.map(|r| self.check_record_id(r)).transpose()).transpose()?,
        };
        let events = self.store.apply(Command::Update { conversation: id, patch }).await?;
        last(events)
    }

    /// Ends the conversation; a participant may end its own, a workspace any of its own.
    pub async fn end_conversation(&self, caller: &Caller, id: ConversationId) -> Result<Event> {
        self.conversation(caller, id).await?;
        let by = match caller {
            Caller::Admin { .. } => Author::System,
            Caller::Participant(p) => Author::Participant(p.id),
            Caller::Agent(a) => Author::Participant(self.agent_participant(a, id).await?.id),
        };
        let events = self.store.apply(Command::End { conversation: id, by }).await?;
        last(events)
    }

    pub async fn participants(&self, caller: &Caller, id: ConversationId) -> Result<Vec<Participant>> {
        self.conversation(caller, id).await?;
        self.store.participants(id).await
    }

    /// Adds a participant and issues its token (workspace keys only).
    pub async fn add_participant(
        &self,
        caller: &Caller,
        id: ConversationId,
        role: Role,
        display_name: Option<String>,
    ) -> Result<(Participant, Secret, Vec<Event>)> {
        self.conversation(caller, id).await?;
        admin_workspace(caller)?;
        let display_name = self.display_name(display_name, role_default_name(role))?;
        let token = Secret::generate(SecretKind::Participant);
        let np =
            NewParticipant { id: ParticipantId::new(), role, display_name, token: Some(token.hash()), agent_id: None };
        let pid = np.id;
        let events = self.store.apply(Command::Join { conversation: id, participant: np }).await?;
        let p = self.store.participant(pid).await?.ok_or_else(|| Error::internal("added participant not found"))?;
        Ok((p, token, events))
    }

    /// Removes a participant: a workspace key may remove anyone, a participant only itself.
    pub async fn remove_participant(
        &self,
        caller: &Caller,
        id: ConversationId,
        who: ParticipantId,
    ) -> Result<Vec<Event>> {
        self.conversation(caller, id).await?;
        let reason = match caller {
            Caller::Participant(p) if p.id == who => LeaveReason::Left,
            Caller::Participant(_) => {
                return Err(Error::forbidden("a participant can only remove itself"));
            }
            Caller::Agent(a) if self.agent_participant(a, id).await?.id == who => LeaveReason::Left,
            Caller::Agent(_) => return Err(Error::forbidden("an agent can only remove itself")),
            Caller::Admin { .. } => LeaveReason::Removed,
        };
        let events = self.store.apply(Command::Leave { conversation: id, participant: who, reason }).await?;
        Ok(events)
    }

    /// Sends a message; returns the committed event once it is durable.
    pub async fn send_message(&self, caller: &Caller, id: ConversationId, msg: SendMessage) -> Result<Event> {
        self.submit_message(caller, id, msg).await?.event().await
    }

    /// Checks a message and queues it for commit, returning as soon as it is
    /// queued: messages submitted one after another are logged in that order
    /// (a socket pipelines its sends this way).
    pub async fn submit_message(&self, caller: &Caller, id: ConversationId, msg: SendMessage) -> Result<PendingEvent> {
        if msg.content.is_empty() {
            return Err(Error::invalid("content", "must not be empty"));
        }
        if msg.content.len() > self.limits.message_bytes {
            return Err(Error::too_large("content", self.limits.message_bytes));
        }
        if msg.content_type == ContentType::ApplicationJson
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&msg.content)
        {
            return Err(Error::invalid("content", format!("is not JSON: {e}")));
        }
        let author = self.sender(caller, id, msg.as_participant).await?;
        let kind = EventKind::Message { content_type: msg.content_type, content: msg.content };
        self.submit_append(id, author, kind, msg.client_token).await
    }

    /// Records that the caller received or read a message.
    pub async fn send_receipt(
        &self,
        caller: &Caller,
        id: ConversationId,
        receipt: Receipt,
        message_id: EventId,
        client_token: Option<ClientToken>,
    ) -> Result<Event> {
        self.submit_receipt(caller, id, receipt, message_id, client_token).await?.event().await
    }

    /// Checks a receipt and queues it for commit (see [`Self::submit_message`]).
    pub async fn submit_receipt(
        &self,
        caller: &Caller,
        id: ConversationId,
        receipt: Receipt,
        message_id: EventId,
        client_token: Option<ClientToken>,
    ) -> Result<PendingEvent> {
        let author = self.sender(caller, id, None).await?;
        let target = self.store.event(id, message_id).await?;
        if !matches!(target, Some(Event { kind: EventKind::Message { .. }, .. })) {
            return Err(Error::invalid("message_id", "no message with this id in this conversation"));
        }
        let kind = match receipt {
            Receipt::Delivered => EventKind::Delivered { message_id },
            Receipt::Read => EventKind::Read { message_id },
        };
        self.submit_append(id, author, kind, client_token).await
    }

    /// A page of the log.
    pub async fn transcript(&self, caller: &Caller, id: ConversationId, mut range: EventRange) -> Result<Vec<Event>> {
        self.conversation(caller, id).await?;
        range.limit = range.limit.clamp(1, self.limits.page_max);
        self.store.events(id, range).await
    }

    /// Long-poll: events after `after`, waiting up to `wait` for the first one.
    /// Returns an empty list when nothing came in time.
    pub async fn poll(
        &self,
        caller: &Caller,
        id: ConversationId,
        after: i64,
        limit: u32,
        wait: Duration,
    ) -> Result<Vec<Event>> {
        self.conversation(caller, id).await?;
        let range = EventRange {
            after: Some(after),
            before: None,
            limit: limit.clamp(1, self.limits.page_max),
            order: Order::Ascending,
        };
        // Subscribe before reading, so an event committed in between is not missed.
        let mut sub = self.bus.subscribe(Topic::Conversation(id));
        let events = self.store.events(id, range).await?;
        if !events.is_empty() || wait.is_zero() {
            return Ok(events);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, sub.recv()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(Ok(Notice::Committed { last_seq, .. })) if last_seq > after => {
                    return self.store.events(id, range).await;
                }
                Ok(Ok(Notice::Erased { .. })) => return Err(Error::not_found("conversation")),
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    return self.store.events(id, range).await;
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    return Err(Error::unavailable("shutting down"));
                }
            }
        }
    }

    /// Notices on any topic (an agent's socket, supervisors). Check access first.
    pub fn bus_subscribe(&self, topic: Topic) -> Subscription {
        self.bus.subscribe(topic)
    }

    /// Notices about one conversation, for streaming readers. Check access first.
    pub fn subscribe(&self, id: ConversationId) -> Subscription {
        self.bus.subscribe(Topic::Conversation(id))
    }

    /// Issues a new token for a participant (workspace keys only).
    pub async fn issue_token(&self, caller: &Caller, id: ConversationId, who: ParticipantId) -> Result<Secret> {
        self.member_of(caller, id, who).await?;
        let token = Secret::generate(SecretKind::Participant);
        self.store.add_participant_token(who, &token.hash(), self.now()).await?;
        Ok(token)
    }

    /// Revokes every token of a participant (workspace keys only).
    pub async fn revoke_tokens(&self, caller: &Caller, id: ConversationId, who: ParticipantId) -> Result<u64> {
        self.member_of(caller, id, who).await?;
        self.store.revoke_participant_tokens(who, self.now()).await
    }

    async fn member_of(&self, caller: &Caller, id: ConversationId, who: ParticipantId) -> Result<Participant> {
        admin_workspace(caller)?;
        self.conversation(caller, id).await?;
        self.store
            .participant(who)
            .await?
            .filter(|p| p.conversation_id == id)
            .ok_or_else(|| Error::not_found("participant"))
    }

    async fn sender(
        &self,
        caller: &Caller,
        id: ConversationId,
        as_participant: Option<ParticipantId>,
    ) -> Result<Author> {
        match caller {
            Caller::Participant(p) => {
                if p.conversation_id != id {
                    return Err(Error::forbidden("this token belongs to another conversation"));
                }
                if as_participant.is_some_and(|a| a != p.id) {
                    return Err(Error::forbidden("a participant can only send as itself").with_field("as_participant"));
                }
                if let Err(wait) = self.sends.check(p.id, self.now()) {
                    return Err(Error::rate_limited(wait));
                }
                Ok(Author::Participant(p.id))
            }
            Caller::Admin { .. } => {
                self.conversation(caller, id).await?;
                Ok(as_participant.map_or(Author::System, Author::Participant))
            }
            Caller::Agent(a) => {
                let p = self.agent_participant(a, id).await?;
                if as_participant.is_some_and(|x| x != p.id) {
                    return Err(Error::forbidden("an agent can only send as itself").with_field("as_participant"));
                }
                if let Err(wait) = self.sends.check(p.id, self.now()) {
                    return Err(Error::rate_limited(wait));
                }
                Ok(Author::Participant(p.id))
            }
        }
    }

    async fn submit_append(
        &self,
        id: ConversationId,
        author: Author,
        kind: EventKind,
        client_token: Option<ClientToken>,
    ) -> Result<PendingEvent> {
        let command = Command::Append { conversation: id, author, kind, client_token };
        Ok(PendingEvent(self.store.submit(command).await?))
    }

    fn display_name(&self, name: Option<String>, default: &str) -> Result<String> {
        let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).unwrap_or_else(|| default.to_owned());
        if name.chars().count() > self.limits.display_name_chars {
            return Err(Error::invalid(
                "display_name",
                format!("at most {} characters", self.limits.display_name_chars),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid("display_name", "must not contain control characters"));
        }
        Ok(name)
    }

    fn check_attributes(&self, attributes: &Attributes) -> Result<()> {
        let size = serde_json::to_string(attributes).map(|s| s.len()).unwrap_or(usize::MAX);
        if size > self.limits.attributes_bytes {
            return Err(Error::too_large("attributes", self.limits.attributes_bytes));
        }
        Ok(())
    }

    fn check_record_id(&self, record: String) -> Result<String> {
        if record.is_empty() || record.len() > 255 || record.chars().any(char::is_control) {
            return Err(Error::invalid("record_id", "1 to 255 characters, no control characters"));
        }
        Ok(record)
    }
}

fn admin_workspace(caller: &Caller) -> Result<WorkspaceId> {
    match caller {
        Caller::Admin { workspace } => Ok(*workspace),
        Caller::Participant(_) | Caller::Agent(_) => Err(Error::forbidden("this needs a workspace API key")),
    }
}

fn role_default_name(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::Agent => "Agent",
        Role::System => "System",
        Role::Supervisor | Role::Monitor => "Supervisor",
    }
}

/// Idle settings must make sense together.
pub fn check_idle(idle: &IdleSettings) -> Result<()> {
    let invalid = |m: &str| Err(Error::invalid("idle", m));
    for secs in [idle.idle_after_secs, idle.disconnect_after_secs].into_iter().flatten() {
        if secs == 0 || secs > 7 * 24 * 3600 {
            return invalid("timeouts must be from 1 second to 7 days");
        }
    }
    if let (Some(n), Some(m)) = (idle.idle_after_secs, idle.disconnect_after_secs)
        && m <= n
    {
        return invalid("disconnect_after_secs must be greater than idle_after_secs");
    }
    Ok(())
}

fn last(events: Vec<Event>) -> Result<Event> {
    events.into_iter().last().ok_or_else(|| Error::new(ErrorCode::Internal, "command committed no event"))
}
