//! Planning a batch: from commands and the rows they read to the rows to write.
//!
//! This is where the log's rules live: seqs are taken from the conversation's
//! `last_seq` one by one in command order, a repeated client token returns the
//! first event, nothing is written to an ended conversation or by a departed
//! participant, customer activity moves the inactivity timer, and a chat
//! continues only an ended chat of its workspace that nothing continues yet
//! (persistent chat), and an erased chat is gone for the rest of the batch.
//! A command that breaks a rule fails alone; the rest of the batch goes on.

use std::collections::{HashMap, HashSet};

use crate::clock::Timestamp;
use crate::command::{AttributePatch, Author, Command, Committed, NewParticipant, Plan, Snapshot};
use crate::error::{Error, ErrorCode, Result};
use crate::event::{EndReason, Event, EventKind};
use crate::ids::{AgentId, ConversationId, EventId, OfferId, ParticipantId, QueueId, TaskId};
use crate::model::{Conversation, ConversationState, Participant, Role};
use crate::routing::model::{Agent, Offer, Queue, Task};
use crate::timer::{InactivityStage, Timer, TimerKind};

/// Plans `commands` against `snapshot` at time `now`. Returns the plan and one
/// outcome per command, in order.
pub fn plan(commands: &[Command], snapshot: Snapshot, now: Timestamp) -> (Plan, Vec<Result<Committed>>) {
    let mut p = Planner::new(snapshot, now);
    let outcomes = commands.iter().map(|c| p.apply(c)).collect();
    (p.finish(), outcomes)
}

struct Planner {
    now: Timestamp,
    conversations: HashMap<ConversationId, Conversation>,
    participants: HashMap<ParticipantId, Participant>,
    sent: HashMap<(ConversationId, String), Event>,
    timers: HashMap<crate::timer::TimerKey, Timer>,
    agents: HashMap<AgentId, Agent>,
    tasks: HashMap<TaskId, Task>,
    offers: HashMap<OfferId, Offer>,
    queues: HashMap<QueueId, Queue>,
    file_requests: HashMap<crate::ids::FileRequestId, crate::model::FileRequest>,
    attachments: HashMap<crate::ids::AttachmentId, crate::files::model::Attachment>,
    touched_attachments: HashSet<crate::ids::AttachmentId>,
    runs: HashMap<crate::ids::FlowRunId, crate::flows::run::Run>,
    flows: HashMap<crate::ids::FlowId, crate::flows::records::DeployedFlow>,
    forms: HashMap<crate::ids::FormId, crate::flows::records::FormRecord>,
    new_runs: HashSet<crate::ids::FlowRunId>,
    touched_runs: HashSet<crate::ids::FlowRunId>,
    touched_forms: HashSet<crate::ids::FormId>,
    workspace_hooks: HashMap<crate::ids::WorkspaceId, Vec<crate::flows::webhooks::Hook>>,
    new_conversations: HashSet<ConversationId>,
    new_participants: HashSet<ParticipantId>,
    new_tasks: HashSet<TaskId>,
    new_offers: HashSet<OfferId>,
    touched_conversations: HashSet<ConversationId>,
    touched_participants: HashSet<ParticipantId>,
    touched_agents: HashSet<AgentId>,
    touched_tasks: HashSet<TaskId>,
    touched_offers: HashSet<OfferId>,
    plan: Plan,
}

impl Planner {
    fn new(s: Snapshot, now: Timestamp) -> Self {
        Self {
            now,
            conversations: s.conversations,
            participants: s.participants,
            sent: s.sent,
            timers: s.timers,
            agents: s.agents,
            tasks: s.tasks,
            offers: s.offers,
            queues: s.queues,
            file_requests: s.file_requests,
            attachments: s.attachments,
            touched_attachments: HashSet::new(),
            runs: s.runs,
            flows: s.flows,
            forms: s.forms,
            new_runs: HashSet::new(),
            touched_runs: HashSet::new(),
            touched_forms: HashSet::new(),
            workspace_hooks: s.workspace_hooks,
            new_conversations: HashSet::new(),
            new_participants: HashSet::new(),
            new_tasks: HashSet::new(),
            new_offers: HashSet::new(),
            touched_conversations: HashSet::new(),
            touched_participants: HashSet::new(),
            touched_agents: HashSet::new(),
            touched_tasks: HashSet::new(),
            touched_offers: HashSet::new(),
            plan: Plan::default(),
        }
    }

    fn apply(&mut self, command: &Command) -> Result<Committed> {
        // Each command is checked before anything of it is planned, so a failed
        // command leaves no trace in the plan.
        match command {
            Command::Create { conversation, participants } => {
                if self.conversations.contains_key(&conversation.id) {
                    return Err(Error::new(ErrorCode::Conflict, "conversation already exists"));
                }
                if let Some((source, _)) = conversation.continues {
                    self.continuable(source, conversation.workspace_id)?;
                    self.conversation_mut(source).next_conversation_id = Some(conversation.id);
                }
                let c = Conversation {
                    id: conversation.id,
                    workspace_id: conversation.workspace_id,
                    entry_point_id: conversation.entry_point_id,
                    state: ConversationState::Open,
                    attributes: conversation.attributes.clone(),
                    record_id: conversation.record_id.clone(),
                    previous_conversation_id: conversation.continues.map(|(source, _)| source),
                    rehydration: conversation.continues.map(|(_, r)| r),
                    next_conversation_id: None,
                    idle: conversation.idle,
                    last_seq: 0,
                    active_participants: 0,
                    task_id: None,
                    runs: Vec::new(),
                    hooks: Vec::new(),
                    created_at: self.now,
                    ended_at: None,
                };
                self.conversations.insert(c.id, c);
                self.new_conversations.insert(conversation.id);
                if let Some(due_at) = conversation.ends_at {
                    self.set_timer(Timer {
                        conversation_id: conversation.id,
                        participant_id: None,
                        kind: TimerKind::ChatDeadline,
                        due_at,
                    });
                }
                let mut out = vec![self.emit(
                    conversation.id,
                    None,
                    EventKind::ConversationCreated { attributes: conversation.attributes.clone() },
                    None,
                )];
                for np in participants {
                    out.extend(self.join(conversation.id, np));
                }
                Ok(out)
            }
            Command::Append { conversation, author, kind, client_token } => {
                let token = client_token.as_ref().map(|t| t.as_str().to_owned());
                if let Some(t) = &token
                    && let Some(first) = self.sent.get(&(*conversation, t.clone()))
                {
                    return Ok(vec![first.clone()]);
                }
                self.writable(*conversation)?;
                let author_role = match author {
                    Author::Participant(p) => Some(self.active_member(*conversation, *p)?.role),
                    Author::System => None,
                };
                if author_role == Some(Role::Monitor) {
                    return Err(Error::forbidden("a monitoring supervisor sends nothing; barge in to take part"));
                }
                let mut out = Vec::new();
                if author_role == Some(Role::Customer) && matches!(kind, EventKind::Message { .. }) {
                    let pid = author.participant().expect("customer author is a participant");
                    out.extend(self.customer_active(*conversation, pid));
                }
                let e = self.emit(*conversation, author.participant(), kind.clone(), token.clone());
                if let Some(t) = token {
                    self.sent.insert((*conversation, t), e.clone());
                }
                out.push(e);
                if let (Some(role), Some(from), EventKind::Message { .. }) = (author_role, author.participant(), kind) {
                    self.heard(*conversation, from, role);
                }
                if author_role == Some(Role::Customer)
                    && let EventKind::Message { content, .. } = kind
                    && !self.conversations[conversation].runs.is_empty()
                {
                    out.extend(self.runs_hear(*conversation, content));
                }
                Ok(out)
            }
            Command::Join { conversation, participant } => {
                self.writable(*conversation)?;
                if self.participants.contains_key(&participant.id) {
                    return Err(Error::new(ErrorCode::Conflict, "participant already exists"));
                }
                Ok(self.join(*conversation, participant))
            }
            Command::Leave { conversation, participant, reason } => {
                self.writable(*conversation)?;
                self.active_member(*conversation, *participant)?;
                let kind = EventKind::ParticipantLeft { member_id: *participant, reason: *reason };
                Ok(self.leave(*conversation, *participant, kind, Author::Participant(*participant)))
            }
            Command::Update { conversation, patch } => {
                self.existing(*conversation)?;
                Ok(vec![self.update(*conversation, patch)])
            }
            Command::End { conversation, by } => {
                self.writable(*conversation)?;
                if let Author::Participant(p) = by
                    && self.active_member(*conversation, *p)?.role == Role::Monitor
                {
                    return Err(Error::forbidden("a monitoring supervisor cannot end the chat; barge in first"));
                }
                Ok(vec![self.end(*conversation, by.participant(), EndReason::Ended)])
            }
            Command::Fire { timer } => Ok(self.fire(timer)),
            Command::Enqueue { conversation, task, route, priority } => {
                self.enqueue(*conversation, *task, route, *priority)
            }
            Command::Offer { conversation, task, agent, offer, timeout_secs, why } => {
                self.offer(*conversation, *task, *agent, *offer, *timeout_secs, why.as_deref())
            }
            Command::Accept { conversation, offer, task, agent, participant } => {
                self.accept(*conversation, *offer, *task, *agent, participant)
            }
            Command::Decline { conversation, offer, task, agent } => self.decline(*conversation, *offer, *task, *agent),
            Command::Skip { conversation, task, step } => self.skip(*conversation, *task, *step),
            Command::PickUp { conversation, task, agent, participant } => {
                self.pick_up(*conversation, *task, *agent, participant)
            }
            Command::Transfer { conversation, task, to, by, agent_participant } => {
                self.transfer(*conversation, *task, to, *by, *agent_participant)
            }
            Command::SetActivity { agent, activity, if_unseen_since } => {
                self.set_activity(*agent, activity, *if_unseen_since)
            }
            Command::UpdateAgent { agent, patch } => self.update_agent(*agent, patch),
            Command::Seen { agents } => self.seen(agents),
            Command::RequestFile { conversation, request, by, record_id } => {
                self.request_file(*conversation, *request, *by, record_id.clone())
            }
            Command::CancelFileRequest { conversation, request, by } => {
                self.cancel_file_request(*conversation, *request, *by)
            }
            Command::DeclineFileRequest { conversation, request, by } => {
                self.decline_file_request(*conversation, *request, *by)
            }
            Command::StartUpload { attachment, by } => self.start_upload(attachment, *by),
            Command::Uploaded { conversation, attachment, stored } => self.uploaded(*conversation, *attachment, stored),
            Command::CompleteUpload { conversation, attachment, by, scan } => {
                self.complete_upload(*conversation, *attachment, *by, *scan)
            }
            Command::Scanned { conversation, attachment, verdict, outbox } => {
                self.scanned(*conversation, *attachment, verdict, *outbox)
            }
            Command::StartRun { run } => self.start_run(run),
            Command::Resume { conversation, run, wait_seq, input, outbox } => {
                self.resume_run(*conversation, *run, *wait_seq, input, *outbox)
            }
            Command::CancelRun { conversation, run } => self.cancel_run(*conversation, *run),
            Command::SubmitForm { conversation, form, by, values } => {
                self.submit_form(*conversation, *form, *by, values)
            }
            Command::Publish { event } => self.publish(event),
            Command::Hook { conversation, hook } => self.hook(*conversation, hook),
            Command::Unhook { conversation, webhook } => self.unhook(*conversation, *webhook),
            Command::FinishOutbox { id, state, error } => self.finish_outbox(*id, *state, error.clone()),
            Command::Erase { request, end } => self.erase(request, *end),
            Command::Purge { requests, ended_before } => Ok(self.purge(requests, *ended_before)),
        }
    }

    fn existing(&self, id: ConversationId) -> Result<&Conversation> {
        self.conversations.get(&id).ok_or_else(|| Error::not_found("conversation"))
    }

    /// Persistent chat: only an ended chat of the same workspace may be
    /// continued, and only once. The source row is locked with the batch
    /// (PostgreSQL) or written by this writer alone (SQLite), so two chats
    /// started at once from one source cannot both pass.
    fn continuable(&self, source: ConversationId, workspace: crate::ids::WorkspaceId) -> Result<()> {
        let field = "continue_from.conversation_id";
        let c = self
            .conversations
            .get(&source)
            .filter(|c| c.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("conversation to continue").with_field(field))?;
        if c.state != ConversationState::Ended {
            let message = format!("conversation {source} has not ended; only an ended chat can be continued");
            return Err(Error::new(ErrorCode::Conflict, message).with_field(field));
        }
        if let Some(next) = c.next_conversation_id {
            let message = format!("conversation {source} is already continued by conversation {next}");
            return Err(Error::new(ErrorCode::Conflict, message).with_field(field));
        }
        Ok(())
    }

    fn writable(&self, id: ConversationId) -> Result<&Conversation> {
        let c = self.existing(id)?;
        if c.state == ConversationState::Ended {
            return Err(Error::conversation_ended());
        }
        Ok(c)
    }

    fn active_member(&self, conversation: ConversationId, id: ParticipantId) -> Result<&Participant> {
        let p = self
            .participants
            .get(&id)
            .filter(|p| p.conversation_id == conversation)
            .ok_or_else(|| Error::forbidden("not a participant of this conversation"))?;
        if !p.is_active() {
            return Err(Error::new(ErrorCode::ParticipantLeft, "the participant has left the conversation"));
        }
        Ok(p)
    }

    fn conversation_mut(&mut self, id: ConversationId) -> &mut Conversation {
        if !self.new_conversations.contains(&id) {
            self.touched_conversations.insert(id);
        }
        self.conversations.get_mut(&id).expect("checked before planning")
    }

    fn participant_mut(&mut self, id: ParticipantId) -> &mut Participant {
        if !self.new_participants.contains(&id) {
            self.touched_participants.insert(id);
        }
        self.participants.get_mut(&id).expect("checked before planning")
    }

    /// Appends one event, taking the conversation's next seq.
    fn emit(
        &mut self,
        conversation: ConversationId,
        author: Option<ParticipantId>,
        kind: EventKind,
        client_token: Option<String>,
    ) -> Event {
        let now = self.now;
        let c = self.conversation_mut(conversation);
        c.last_seq += 1;
        let event = Event {
            conversation_id: conversation,
            seq: c.last_seq,
            id: EventId::new(),
            at: now,
            participant_id: author,
            kind,
            client_token,
        };
        self.plan.events.push(event.clone());
        event
    }

    fn join(&mut self, conversation: ConversationId, np: &NewParticipant) -> Vec<Event> {
        let p = Participant {
            id: np.id,
            conversation_id: conversation,
            role: np.role,
            display_name: np.display_name.clone(),
            joined_at: self.now,
            left_at: None,
            idle: false,
            agent_id: np.agent_id,
        };
        self.participants.insert(p.id, p.clone());
        self.new_participants.insert(p.id);
        self.plan.new_participants.push(p);
        if let Some(hash) = &np.token {
            self.plan.tokens.push((hash.clone(), np.id));
        }
        if np.role != Role::Monitor {
            self.conversation_mut(conversation).active_participants += 1;
        }
        if np.role == Role::Customer {
            self.arm_inactivity(conversation, np.id);
        }
        let kind =
            EventKind::ParticipantJoined { member_id: np.id, role: np.role, display_name: np.display_name.clone() };
        vec![self.emit(conversation, Some(np.id), kind, None)]
    }

    /// A participant goes; the conversation ends when nobody is left.
    fn leave(
        &mut self,
        conversation: ConversationId,
        who: ParticipantId,
        kind: EventKind,
        author: Author,
    ) -> Vec<Event> {
        let now = self.now;
        let requeued = self.agent_left(conversation, who);
        self.participant_mut(who).left_at = Some(now);
        self.disarm_inactivity(conversation, who);
        let counted = self.participants.get(&who).is_some_and(Participant::counts);
        let c = self.conversation_mut(conversation);
        if counted {
            c.active_participants -= 1;
        }
        let nobody_left = c.active_participants <= 0;
        let mut out = vec![self.emit(conversation, author.participant(), kind, None)];
        if let Some(queued) = requeued {
            out.push(self.emit(conversation, None, queued, None));
        }
        if nobody_left {
            out.push(self.end(conversation, None, EndReason::Abandoned));
        }
        out
    }

    fn end(&mut self, conversation: ConversationId, by: Option<ParticipantId>, reason: EndReason) -> Event {
        // Its flows stop first, closing their open forms in the log.
        if !self.conversations[&conversation].runs.is_empty() {
            self.runs_end(conversation);
        }
        let now = self.now;
        let c = self.conversation_mut(conversation);
        c.state = ConversationState::Ended;
        c.ended_at = Some(now);
        // Uploads in flight keep their sweep timers: their rows and bytes
        // must still go if they never complete.
        self.plan.clear_timers.push(conversation);
        self.timers.retain(|k, _| k.conversation_id != conversation || k.kind.starts_with(crate::timer::UPLOAD_PREFIX));
        self.plan
            .set_timers
            .retain(|t| t.conversation_id != conversation || matches!(t.kind, TimerKind::UploadExpiry { .. }));
        let e = self.emit(conversation, by, EventKind::ConversationEnded { reason }, None);
        self.conversation_ended(conversation);
        e
    }

    fn update(&mut self, conversation: ConversationId, patch: &AttributePatch) -> Event {
        let c = self.conversation_mut(conversation);
        if let Some(attrs) = &patch.attributes {
            for (k, v) in attrs {
                if v.is_null() {
                    c.attributes.remove(k);
                } else {
                    c.attributes.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(record) = &patch.record_id {
            c.record_id = record.clone();
        }
        let kind = EventKind::ConversationUpdated { attributes: c.attributes.clone(), record_id: c.record_id.clone() };
        self.emit(conversation, None, kind, None)
    }

    /// A customer message: an idle customer has returned, and the inactivity
    /// timer starts again.
    fn customer_active(&mut self, conversation: ConversationId, who: ParticipantId) -> Vec<Event> {
        let mut out = Vec::new();
        if self.participants.get(&who).is_some_and(|p| p.idle) {
            self.participant_mut(who).idle = false;
            out.push(self.emit(conversation, Some(who), EventKind::ParticipantReturned { member_id: who }, None));
        }
        self.arm_inactivity(conversation, who);
        out
    }

    fn arm_inactivity(&mut self, conversation: ConversationId, who: ParticipantId) {
        let idle = self.conversations[&conversation].idle;
        let stage = match (idle.idle_after_secs, idle.disconnect_after_secs) {
            (Some(n), _) => Some((InactivityStage::Idle, n)),
            (None, Some(m)) => Some((InactivityStage::Disconnect, m)),
            (None, None) => None,
        };
        if let Some((stage, after)) = stage {
            let since = self.now;
            self.set_timer(Timer {
                conversation_id: conversation,
                participant_id: Some(who),
                kind: TimerKind::Inactivity { since, stage },
                due_at: since.plus_secs(after),
            });
        }
    }

    fn disarm_inactivity(&mut self, conversation: ConversationId, who: ParticipantId) {
        let key = crate::timer::TimerKey {
            conversation_id: conversation,
            participant_id: Some(who),
            kind: "inactivity".into(),
        };
        self.timers.remove(&key);
        self.plan.set_timers.retain(|t| t.key() != key);
        self.plan.delete_timers.push(key);
    }

    fn set_timer(&mut self, timer: Timer) {
        let key = timer.key();
        self.plan.set_timers.retain(|t| t.key() != key);
        self.plan.delete_timers.retain(|k| *k != key);
        self.timers.insert(key, timer.clone());
        self.plan.set_timers.push(timer);
    }

    /// A due timer: acts only if it is still the timer stored under its key
    /// (activity may have moved it since it was claimed).
    fn fire(&mut self, timer: &Timer) -> Vec<Event> {
        if self.timers.get(&timer.key()) != Some(timer) {
            return Vec::new();
        }
        if matches!(timer.kind, TimerKind::FlowWait { .. }) {
            return self.fire_flow(timer);
        }
        if matches!(timer.kind, TimerKind::UploadExpiry { .. }) {
            return self.fire_upload(timer);
        }
        if matches!(timer.kind, TimerKind::ChatDeadline) {
            self.timers.remove(&timer.key());
            self.plan.delete_timers.push(timer.key());
            if self.writable(timer.conversation_id).is_err() {
                return Vec::new();
            }
            return vec![self.end(timer.conversation_id, None, EndReason::Expired)];
        }
        if !matches!(timer.kind, TimerKind::Inactivity { .. }) {
            return self.fire_routing(timer);
        }
        let (conversation, who) = (timer.conversation_id, timer.participant_id);
        let live =
            self.writable(conversation).is_ok() && who.is_some_and(|p| self.active_member(conversation, p).is_ok());
        let Some(who) = who.filter(|_| live) else {
            self.timers.remove(&timer.key());
            self.plan.delete_timers.push(timer.key());
            return Vec::new();
        };
        match timer.kind {
            TimerKind::Inactivity { since, stage: InactivityStage::Idle } => {
                self.participant_mut(who).idle = true;
                let e = self.emit(conversation, None, EventKind::ParticipantIdle { member_id: who }, None);
                match self.conversations[&conversation].idle.disconnect_after_secs {
                    Some(m) => self.set_timer(Timer {
                        conversation_id: conversation,
                        participant_id: Some(who),
                        kind: TimerKind::Inactivity { since, stage: InactivityStage::Disconnect },
                        due_at: since.plus_secs(m).max(self.now),
                    }),
                    None => self.disarm_inactivity(conversation, who),
                }
                vec![e]
            }
            TimerKind::Inactivity { stage: InactivityStage::Disconnect, .. } => {
                let kind = EventKind::ParticipantAutoDisconnected { member_id: who };
                self.leave(conversation, who, kind, Author::System)
            }
            TimerKind::OfferExpiry { .. }
            | TimerKind::TaskStep { .. }
            | TimerKind::WrapUp { .. }
            | TimerKind::ReplyDue { .. }
            | TimerKind::FlowWait { .. }
            | TimerKind::UploadExpiry { .. }
            | TimerKind::ChatDeadline => Vec::new(),
        }
    }

    fn finish(mut self) -> Plan {
        self.plan_deliveries();
        for id in &self.new_conversations {
            self.plan.new_conversations.push(self.conversations[id].clone());
        }
        self.plan.new_conversations.sort_by_key(|c| c.id);
        for id in &self.touched_conversations {
            self.plan.conversations.push(self.conversations[id].clone());
        }
        for p in &mut self.plan.new_participants {
            *p = self.participants[&p.id].clone();
        }
        for id in &self.touched_participants {
            self.plan.participants.push(self.participants[id].clone());
        }
        for id in &self.touched_agents {
            self.plan.agents.push(self.agents[id].clone());
        }
        for id in &self.new_tasks {
            self.plan.new_tasks.push(self.tasks[id].clone());
        }
        for id in &self.touched_tasks {
            self.plan.tasks.push(self.tasks[id].clone());
        }
        for id in &self.new_offers {
            self.plan.new_offers.push(self.offers[id].clone());
        }
        for id in &self.touched_offers {
            self.plan.offers.push(self.offers[id].clone());
        }
        for id in self.new_runs.iter().chain(&self.touched_runs) {
            self.plan.runs.push(self.runs[id].clone());
        }
        for id in &self.touched_attachments {
            self.plan.attachments.push(self.attachments[id].clone());
        }
        for id in &self.touched_forms {
            self.plan.forms.push(self.forms[id].clone());
        }
        // One routing wake-up per workspace is enough.
        let mut woken = HashSet::new();
        let mut worked = HashSet::new();
        let mut published = HashSet::new();
        self.plan.notices.retain(|n| match n {
            crate::bus::Notice::Routing { workspace } => woken.insert(*workspace),
            crate::bus::Notice::Work { workspace } => worked.insert(*workspace),
            crate::bus::Notice::Events { workspace } => published.insert(*workspace),
            _ => true,
        });
        // A timer set and later deleted in the same batch is only deleted.
        let deleted: HashSet<_> = self.plan.delete_timers.iter().cloned().collect();
        self.plan.set_timers.retain(|t| !deleted.contains(&t.key()));
        self.plan.delete_timers.sort_by_key(|k| (k.conversation_id, k.participant_id));
        self.plan.delete_timers.dedup();
        self.plan
    }
}

#[path = "plan_routing.rs"]
mod routing;

#[path = "plan_response.rs"]
mod response;

#[path = "plan_overflow.rs"]
mod overflow;

#[path = "plan_toolkit.rs"]
mod toolkit;

#[path = "plan_flows.rs"]
mod flows;

#[path = "plan_files.rs"]
mod files;

#[path = "plan_retention.rs"]
mod retention;

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
