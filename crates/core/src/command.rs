//! The writes to conversation logs, as a closed set of commands.
//!
//! Every change to a conversation goes through one of these. The store's
//! group-commit writer collects commands from many callers, loads the rows they
//! touch ([`Snapshot`]), asks [`crate::plan::plan`] what to write, writes it in
//! one transaction and only then answers each caller. Planning is pure: no IO,
//! the clock passed in.

use std::collections::HashMap;

use crate::bus::Notice;
use crate::clock::Timestamp;
use crate::event::{Event, EventKind, LeaveReason};
use crate::files::model::{Attachment, StoredFile};
use crate::files::scan::Verdict;
use crate::flows::form::Values;
use crate::flows::records::{CustomEvent, DeployedFlow, FormRecord, OutboxItem, OutboxState, RunLogEntry};
use crate::flows::run::{Input, Launcher, Run};
use crate::flows::webhooks::Hook;
use crate::ids::{
    AgentId, AttachmentId, ConversationId, EntryPointId, FileRequestId, FlowId, FlowRunId, FormId, OfferId, OutboxId,
    ParticipantId, QueueId, TaskId, WebhookId, WorkspaceId,
};
use crate::model::{Attributes, Conversation, FileRequest, IdleSettings, Participant, Rehydration, Role};
use crate::retention::EraseRequest;
use crate::routing::explain::OfferWhy;
use crate::routing::model::{Activity, Agent, Offer, Queue, RouteStep, Task, TaskHistory};
use crate::timer::{Timer, TimerKey, TimerKind};
use crate::token::SecretHash;

/// Who causes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Participant(ParticipantId),
    /// The API with a workspace key, or the server itself (timers).
    System,
}

impl Author {
    pub fn participant(self) -> Option<ParticipantId> {
        match self {
            Self::Participant(p) => Some(p),
            Self::System => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub entry_point_id: Option<EntryPointId>,
    pub attributes: Attributes,
    pub record_id: Option<String>,
    /// The ended chat this one continues, and how much of its past it carries.
    pub continues: Option<(ConversationId, Rehydration)>,
    pub idle: IdleSettings,
    /// When the chat ends by itself if it is still open (a maximum
    /// duration; a stored timer, so a restart keeps it).
    pub ends_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewParticipant {
    pub id: ParticipantId,
    pub role: Role,
    pub display_name: String,
    /// The digest of the participant's first token, if one is issued.
    pub token: Option<SecretHash>,
    /// The agent this participant is (agents join through routing).
    pub agent_id: Option<AgentId>,
}

/// An idempotency token chosen by the sender: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientToken(String);

impl ClientToken {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, crate::Error> {
        let ok = !s.is_empty() && s.len() <= Self::MAX_LEN && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(crate::Error::invalid(
                "client_token",
                "must be 1 to 128 visible ASCII characters (a UUID is a good choice)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an attribute update applies.
#[derive(Debug, Clone, Default)]
pub struct AttributePatch {
    /// Keys to set; a `null` value removes the key.
    pub attributes: Option<Attributes>,
    /// `Some(None)` clears the record id.
    pub record_id: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Opens a conversation with its first participants.
    Create {
        conversation: NewConversation,
        participants: Vec<NewParticipant>,
    },
    /// Appends a message or receipt.
    Append {
        conversation: ConversationId,
        author: Author,
        kind: EventKind,
        client_token: Option<ClientToken>,
    },
    Join {
        conversation: ConversationId,
        participant: NewParticipant,
    },
    Leave {
        conversation: ConversationId,
        participant: ParticipantId,
        reason: LeaveReason,
    },
    Update {
        conversation: ConversationId,
        patch: AttributePatch,
    },
    End {
        conversation: ConversationId,
        by: Author,
    },
    /// A stored timer came due.
    Fire {
        timer: Timer,
    },
    /// Puts a chat in line for an agent, along `route`.
    Enqueue {
        conversation: ConversationId,
        task: TaskId,
        route: Vec<RouteStep>,
        priority: i32,
    },
    /// The router proposes to offer a waiting task to an agent; refused unless
    /// the task still waits and the agent still has a free slot. `why` goes
    /// into the task's history with the offer.
    Offer {
        conversation: ConversationId,
        task: TaskId,
        agent: AgentId,
        offer: OfferId,
        timeout_secs: u32,
        why: Option<Box<OfferWhy>>,
    },
    Accept {
        conversation: ConversationId,
        offer: OfferId,
        task: TaskId,
        agent: AgentId,
        /// How the agent appears in the conversation.
        participant: NewParticipant,
    },
    Decline {
        conversation: ConversationId,
        offer: OfferId,
        task: TaskId,
        agent: AgentId,
    },
    /// An agent picks up a "message us" request (a task in state `message`).
    PickUp {
        conversation: ConversationId,
        task: TaskId,
        agent: AgentId,
        /// How the agent appears in the conversation, if the customer is still there.
        participant: NewParticipant,
    },
    /// The router found nobody available for a step that says to skip then.
    Skip {
        conversation: ConversationId,
        task: TaskId,
        step: u32,
    },
    /// Moves a chat to another queue or agent, keeping its log; the agent who
    /// had it (if any) leaves and its slot is freed.
    Transfer {
        conversation: ConversationId,
        task: TaskId,
        to: RouteStep,
        by: Author,
        /// The assigned agent's participant, which leaves.
        agent_participant: Option<ParticipantId>,
    },
    /// An agent's presence. With `if_unseen_since`, applies only when the
    /// agent has had no open socket since then (the presence sweep).
    SetActivity {
        agent: AgentId,
        activity: Activity,
        if_unseen_since: Option<Timestamp>,
    },
    /// Changes an agent's profile (what routing reads of it).
    UpdateAgent {
        agent: AgentId,
        patch: AgentPatch,
    },
    /// Asks the customer for a file (`initFileTransfer`).
    RequestFile {
        conversation: ConversationId,
        request: FileRequestId,
        by: Author,
        record_id: Option<String>,
    },
    CancelFileRequest {
        conversation: ConversationId,
        request: FileRequestId,
        by: Author,
    },
    /// The customer will not send a file asked for.
    DeclineFileRequest {
        conversation: ConversationId,
        request: FileRequestId,
        by: Author,
    },
    /// Starts an upload: the attachment's row, and a timer that sweeps it
    /// unless it is complete in time.
    StartUpload {
        attachment: Box<Attachment>,
        by: Author,
    },
    /// The bytes are stored, as measured on the way in.
    Uploaded {
        conversation: ConversationId,
        attachment: AttachmentId,
        stored: StoredFile,
    },
    /// The uploader is done: the file enters the log, `scanning` when a scan
    /// hook must approve it first.
    CompleteUpload {
        conversation: ConversationId,
        attachment: AttachmentId,
        by: Author,
        scan: bool,
    },
    /// The scan hook's verdict on an attachment.
    Scanned {
        conversation: ConversationId,
        attachment: AttachmentId,
        verdict: Verdict,
        outbox: Option<OutboxId>,
    },
    /// Records that agents' sockets are open (presence heartbeat).
    Seen {
        agents: Vec<AgentId>,
    },
    /// Starts a flow run in a conversation. Starting a run id that exists
    /// changes nothing (an outbox launch may be repeated).
    StartRun {
        run: Box<NewRun>,
    },
    /// What a run's wait `wait_seq` was waiting for; ignored if the run has
    /// moved on. `outbox`: the item this answers, recorded done with it.
    Resume {
        conversation: ConversationId,
        run: FlowRunId,
        wait_seq: u32,
        input: Input,
        outbox: Option<OutboxId>,
    },
    /// An operator stops a run.
    CancelRun {
        conversation: ConversationId,
        run: FlowRunId,
    },
    /// Answers a form sent into the conversation.
    SubmitForm {
        conversation: ConversationId,
        form: FormId,
        by: Author,
        values: Values,
    },
    /// Publishes a custom event (checked against its type by the engine).
    Publish {
        event: Box<CustomEvent>,
    },
    /// Adds a webhook scoped to a conversation (its row is stored beside).
    Hook {
        conversation: ConversationId,
        hook: Hook,
    },
    /// Removes a conversation's scoped webhook.
    Unhook {
        conversation: ConversationId,
        webhook: WebhookId,
    },
    /// Records how outbox work not tied to a run's wait ended.
    FinishOutbox {
        id: OutboxId,
        state: OutboxState,
        error: Option<String>,
    },
    /// Erases a conversation with everything derived from it, leaving a
    /// content-free audit row (see [`crate::retention`]). An open one is
    /// refused unless `end`, which ends it first.
    Erase {
        request: Box<EraseRequest>,
        end: bool,
    },
    /// Retention: erases each requested conversation that is still there
    /// and ended before `ended_before`, and skips the others (another node
    /// may have erased them, or a chat may have been continued meanwhile).
    Purge {
        requests: Vec<EraseRequest>,
        ended_before: Timestamp,
    },
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: FlowRunId,
    pub conversation: ConversationId,
    pub flow: FlowId,
    pub params: Values,
    pub trigger: serde_json::Value,
    pub launcher: Option<Launcher>,
    /// The run that waits for this one (subflow), with its wait.
    pub parent: Option<(FlowRunId, u32)>,
}

/// Changes to an agent; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub attributes: Option<Attributes>,
    pub capacity: Option<u32>,
    pub enabled: Option<bool>,
}

impl Command {
    /// The conversation the command writes to, if it writes to one.
    pub fn conversation_id(&self) -> Option<ConversationId> {
        match self {
            Self::Create { conversation, .. } => Some(conversation.id),
            Self::Append { conversation, .. }
            | Self::Join { conversation, .. }
            | Self::Leave { conversation, .. }
            | Self::Update { conversation, .. }
            | Self::End { conversation, .. }
            | Self::Enqueue { conversation, .. }
            | Self::Offer { conversation, .. }
            | Self::Accept { conversation, .. }
            | Self::Decline { conversation, .. }
            | Self::PickUp { conversation, .. }
            | Self::Skip { conversation, .. }
            | Self::Transfer { conversation, .. }
            | Self::RequestFile { conversation, .. }
            | Self::CancelFileRequest { conversation, .. }
            | Self::DeclineFileRequest { conversation, .. }
            | Self::Uploaded { conversation, .. }
            | Self::CompleteUpload { conversation, .. }
            | Self::Scanned { conversation, .. }
            | Self::Resume { conversation, .. }
            | Self::CancelRun { conversation, .. }
            | Self::SubmitForm { conversation, .. }
            | Self::Hook { conversation, .. }
            | Self::Unhook { conversation, .. } => Some(*conversation),
            Self::StartRun { run } => Some(run.conversation),
            Self::Erase { request, .. } => Some(request.conversation),
            Self::StartUpload { attachment, .. } => Some(attachment.conversation_id),
            Self::Fire { timer } => Some(timer.conversation_id),
            Self::SetActivity { .. }
            | Self::UpdateAgent { .. }
            | Self::Seen { .. }
            | Self::Publish { .. }
            | Self::FinishOutbox { .. }
            | Self::Purge { .. } => None,
        }
    }
}

/// The rows a batch of commands reads, as they stand at the start of its transaction.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub conversations: HashMap<ConversationId, Conversation>,
    pub participants: HashMap<ParticipantId, Participant>,
    /// Events already stored under a client token, by (conversation, token).
    pub sent: HashMap<(ConversationId, String), Event>,
    pub timers: HashMap<TimerKey, Timer>,
    pub agents: HashMap<AgentId, Agent>,
    pub tasks: HashMap<TaskId, Task>,
    pub offers: HashMap<OfferId, Offer>,
    pub queues: HashMap<QueueId, Queue>,
    pub file_requests: HashMap<FileRequestId, FileRequest>,
    pub attachments: HashMap<AttachmentId, Attachment>,
    pub runs: HashMap<FlowRunId, Run>,
    pub flows: HashMap<FlowId, DeployedFlow>,
    pub forms: HashMap<FormId, FormRecord>,
    /// The workspace-wide webhooks of the workspaces in the batch (an entry,
    /// maybe empty, for every workspace loaded).
    pub workspace_hooks: HashMap<WorkspaceId, Vec<Hook>>,
}

/// What a batch needs loaded before it can be planned.
#[derive(Debug, Default)]
pub struct SnapshotKeys {
    pub conversations: Vec<ConversationId>,
    pub participants: Vec<ParticipantId>,
    pub client_tokens: Vec<(ConversationId, String)>,
    pub timers: Vec<TimerKey>,
    pub agents: Vec<AgentId>,
    pub tasks: Vec<TaskId>,
    pub offers: Vec<OfferId>,
    pub queues: Vec<QueueId>,
    pub file_requests: Vec<FileRequestId>,
    pub attachments: Vec<AttachmentId>,
    pub runs: Vec<FlowRunId>,
    pub flows: Vec<FlowId>,
    pub forms: Vec<FormId>,
    /// Workspaces whose webhooks to load.
    pub hook_workspaces: Vec<WorkspaceId>,
}

impl SnapshotKeys {
    pub fn of(commands: &[Command]) -> Self {
        let mut keys = Self::default();
        for c in commands {
            if !matches!(c, Command::Create { .. }) {
                keys.conversations.extend(c.conversation_id());
            }
            match c {
                Command::Create { conversation, .. } => {
                    keys.hook_workspaces.push(conversation.workspace_id);
                    // The chat it continues is checked and linked in the same transaction.
                    keys.conversations.extend(conversation.continues.map(|(source, _)| source));
                }
                Command::Publish { event } => keys.hook_workspaces.push(event.workspace_id),
                Command::Purge { requests, .. } => keys.conversations.extend(requests.iter().map(|r| r.conversation)),
                _ => {}
            }
            match c {
                Command::Append { conversation, author, client_token, .. } => {
                    keys.participants.extend(author.participant());
                    if let Some(t) = client_token {
                        keys.client_tokens.push((*conversation, t.as_str().to_owned()));
                    }
                }
                Command::Leave { participant, .. } => keys.participants.push(*participant),
                Command::End { by, .. } => keys.participants.extend(by.participant()),
                Command::Fire { timer } => {
                    keys.participants.extend(timer.participant_id);
                    keys.timers.push(timer.key());
                    match &timer.kind {
                        TimerKind::Inactivity { .. } | TimerKind::ChatDeadline => {}
                        TimerKind::OfferExpiry { offer, task, agent } => {
                            keys.offers.push(*offer);
                            keys.tasks.push(*task);
                            keys.agents.push(*agent);
                        }
                        TimerKind::TaskStep { task, .. } | TimerKind::WrapUp { task, .. } => keys.tasks.push(*task),
                        TimerKind::ReplyDue { task, agent, member, .. } => {
                            keys.tasks.push(*task);
                            keys.agents.push(*agent);
                            keys.participants.push(*member);
                        }
                        TimerKind::FlowWait { run, .. } => keys.runs.push(*run),
                        TimerKind::UploadExpiry { attachment } => keys.attachments.push(*attachment),
                    }
                }
                Command::Enqueue { .. } => {}
                Command::Offer { task, agent, .. } => {
                    keys.tasks.push(*task);
                    keys.agents.push(*agent);
                }
                Command::Accept { offer, task, agent, .. } | Command::Decline { offer, task, agent, .. } => {
                    keys.offers.push(*offer);
                    keys.tasks.push(*task);
                    keys.agents.push(*agent);
                }
                Command::Skip { task, .. } => keys.tasks.push(*task),
                Command::PickUp { task, agent, .. } => {
                    keys.tasks.push(*task);
                    keys.agents.push(*agent);
                }
                Command::Transfer { task, agent_participant, by, .. } => {
                    keys.tasks.push(*task);
                    keys.participants.extend(*agent_participant);
                    keys.participants.extend(by.participant());
                }
                Command::SetActivity { agent, .. } | Command::UpdateAgent { agent, .. } => keys.agents.push(*agent),
                Command::Seen { agents } => keys.agents.extend(agents),
                Command::RequestFile { by, .. } => keys.participants.extend(by.participant()),
                Command::CancelFileRequest { request, by, .. } | Command::DeclineFileRequest { request, by, .. } => {
                    keys.file_requests.push(*request);
                    keys.participants.extend(by.participant());
                }
                Command::StartUpload { attachment, by } => {
                    keys.attachments.push(attachment.id);
                    keys.file_requests.extend(attachment.request_id);
                    keys.participants.extend(by.participant());
                }
                Command::Uploaded { attachment, .. } | Command::Scanned { attachment, .. } => {
                    keys.attachments.push(*attachment)
                }
                Command::CompleteUpload { attachment, by, .. } => {
                    keys.attachments.push(*attachment);
                    keys.participants.extend(by.participant());
                }
                Command::StartRun { run } => {
                    keys.runs.push(run.id);
                    keys.flows.push(run.flow);
                    keys.participants.extend(run.launcher.map(|l| l.participant_id));
                }
                Command::Resume { run, .. } | Command::CancelRun { run, .. } => keys.runs.push(*run),
                Command::SubmitForm { form, by, .. } => {
                    keys.forms.push(*form);
                    keys.participants.extend(by.participant());
                }
                Command::Create { .. }
                | Command::Join { .. }
                | Command::Update { .. }
                | Command::Publish { .. }
                | Command::Hook { .. }
                | Command::Unhook { .. }
                | Command::FinishOutbox { .. }
                | Command::Erase { .. }
                | Command::Purge { .. } => {}
            }
        }
        keys.normalize();
        keys
    }

    /// Rows the loaded ones point to and that are not loaded yet: a
    /// conversation's task, a task's agent, offer and queue, and the chats
    /// linked to one being erased (their links are cleared). The writer loads
    /// these in a second round.
    pub fn derived(commands: &[Command], snapshot: &Snapshot) -> Self {
        let mut keys = Self::default();
        for c in commands {
            let erased: Vec<ConversationId> = match c {
                Command::Erase { request, .. } => vec![request.conversation],
                Command::Purge { requests, .. } => requests.iter().map(|r| r.conversation).collect(),
                _ => continue,
            };
            for id in erased {
                let Some(conversation) = snapshot.conversations.get(&id) else { continue };
                let linked = [conversation.previous_conversation_id, conversation.next_conversation_id];
                keys.conversations
                    .extend(linked.into_iter().flatten().filter(|l| !snapshot.conversations.contains_key(l)));
            }
        }
        for c in snapshot.conversations.values() {
            if let Some(t) = c.task_id.filter(|t| !snapshot.tasks.contains_key(t)) {
                keys.tasks.push(t);
            }
            keys.runs.extend(c.runs.iter().filter(|r| !snapshot.runs.contains_key(r)));
            if !snapshot.workspace_hooks.contains_key(&c.workspace_id) {
                keys.hook_workspaces.push(c.workspace_id);
            }
        }
        for r in snapshot.runs.values() {
            if !snapshot.flows.contains_key(&r.flow_id) {
                keys.flows.push(r.flow_id);
            }
            // What `as: agent` sends as, and asks for files as.
            if let Some(l) = r.launcher.filter(|l| !snapshot.participants.contains_key(&l.participant_id)) {
                keys.participants.push(l.participant_id);
            }
            match &r.wait {
                Some(crate::flows::run::Wait::Form { form_id }) if !snapshot.forms.contains_key(form_id) => {
                    keys.forms.push(*form_id)
                }
                // A timeout withdraws the request the run waits for.
                Some(crate::flows::run::Wait::File { request_id })
                    if !snapshot.file_requests.contains_key(request_id) =>
                {
                    keys.file_requests.push(*request_id)
                }
                _ => {}
            }
            if !snapshot.conversations.contains_key(&r.conversation_id) {
                keys.conversations.push(r.conversation_id);
            }
        }
        for a in snapshot.attachments.values() {
            keys.file_requests.extend(a.request_id.filter(|r| !snapshot.file_requests.contains_key(r)));
            if !snapshot.conversations.contains_key(&a.conversation_id) {
                keys.conversations.push(a.conversation_id);
            }
        }
        for f in snapshot.forms.values() {
            keys.runs.extend(f.run_id.filter(|r| !snapshot.runs.contains_key(r)));
            if !snapshot.conversations.contains_key(&f.conversation_id) {
                keys.conversations.push(f.conversation_id);
            }
        }
        for t in snapshot.tasks.values() {
            keys.agents.extend(t.agent_id.filter(|a| !snapshot.agents.contains_key(a)));
            keys.offers.extend(t.offer_id.filter(|o| !snapshot.offers.contains_key(o)));
            for step in &t.route {
                if !snapshot.queues.contains_key(&step.queue) {
                    keys.queues.push(step.queue);
                }
            }
            if !snapshot.conversations.contains_key(&t.conversation_id) {
                keys.conversations.push(t.conversation_id);
            }
        }
        keys.normalize();
        keys
    }

    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.participants.is_empty()
            && self.client_tokens.is_empty()
            && self.timers.is_empty()
            && self.agents.is_empty()
            && self.tasks.is_empty()
            && self.offers.is_empty()
            && self.queues.is_empty()
            && self.file_requests.is_empty()
            && self.attachments.is_empty()
            && self.runs.is_empty()
            && self.flows.is_empty()
            && self.forms.is_empty()
            && self.hook_workspaces.is_empty()
    }

    fn normalize(&mut self) {
        fn sort<T: Ord>(v: &mut Vec<T>) {
            v.sort_unstable();
            v.dedup();
        }
        sort(&mut self.conversations);
        sort(&mut self.participants);
        sort(&mut self.agents);
        sort(&mut self.tasks);
        sort(&mut self.offers);
        sort(&mut self.queues);
        sort(&mut self.file_requests);
        sort(&mut self.attachments);
        sort(&mut self.runs);
        sort(&mut self.flows);
        sort(&mut self.forms);
        sort(&mut self.hook_workspaces);
        self.client_tokens.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.client_tokens.dedup();
    }
}

/// Everything one transaction writes.
#[derive(Debug, Default)]
pub struct Plan {
    pub new_conversations: Vec<Conversation>,
    /// Existing conversations whose row changed (written whole).
    pub conversations: Vec<Conversation>,
    pub new_participants: Vec<Participant>,
    /// Existing participants whose row changed (written whole).
    pub participants: Vec<Participant>,
    pub tokens: Vec<(SecretHash, ParticipantId)>,
    pub events: Vec<Event>,
    pub set_timers: Vec<Timer>,
    pub delete_timers: Vec<TimerKey>,
    /// Conversations whose timers all go (ended).
    pub clear_timers: Vec<ConversationId>,
    /// Agents whose row changed (written whole).
    pub agents: Vec<Agent>,
    pub new_tasks: Vec<Task>,
    pub tasks: Vec<Task>,
    pub new_offers: Vec<Offer>,
    pub offers: Vec<Offer>,
    pub task_history: Vec<TaskHistory>,
    /// File requests created or changed (written whole).
    pub file_requests: Vec<FileRequest>,
    /// Attachments created or changed (written whole).
    pub attachments: Vec<Attachment>,
    /// Attachments swept before they were complete (their rows go).
    pub deleted_attachments: Vec<AttachmentId>,
    /// Flow runs created or changed (written whole).
    pub runs: Vec<Run>,
    pub run_log: Vec<RunLogEntry>,
    /// Forms created or changed (written whole).
    pub forms: Vec<FormRecord>,
    pub custom_events: Vec<CustomEvent>,
    pub outbox: Vec<OutboxItem>,
    /// Outbox items finished by this batch.
    pub outbox_done: Vec<(OutboxId, OutboxState, Option<String>)>,
    /// Conversations erased, with everything derived from them (written
    /// last, so rows the batch wrote for them go too).
    pub erasures: Vec<crate::retention::PlannedErasure>,
    /// What to tell agents and routers once committed.
    pub notices: Vec<Notice>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.new_conversations.is_empty()
            && self.conversations.is_empty()
            && self.new_participants.is_empty()
            && self.participants.is_empty()
            && self.tokens.is_empty()
            && self.events.is_empty()
            && self.set_timers.is_empty()
            && self.delete_timers.is_empty()
            && self.clear_timers.is_empty()
            && self.agents.is_empty()
            && self.new_tasks.is_empty()
            && self.tasks.is_empty()
            && self.new_offers.is_empty()
            && self.offers.is_empty()
            && self.file_requests.is_empty()
            && self.attachments.is_empty()
            && self.deleted_attachments.is_empty()
            && self.runs.is_empty()
            && self.run_log.is_empty()
            && self.forms.is_empty()
            && self.custom_events.is_empty()
            && self.outbox.is_empty()
            && self.outbox_done.is_empty()
            && self.erasures.is_empty()
    }
}

/// What one command committed: the events it appended, in order (for a
/// repeated client token, the event stored the first time).
pub type Committed = Vec<Event>;
