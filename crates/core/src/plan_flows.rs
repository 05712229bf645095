//! Planning flow runs, forms and custom events.
//!
//! A run changes only inside the planner: it is created, woken by what it
//! waits for (a customer message, a form, an event, an outside action's
//! result, its timer) and advanced by the pure interpreter, whose effects
//! are applied here in the same transaction. Every effect is applied to the
//! run's own conversation; the only ways out of it are custom events (which
//! carry a key, not a conversation) and outbox work, whose results come back
//! as commands for the run that asked.

use super::Planner;
use crate::bus::{AgentChange, Notice};
use crate::command::{Author, Committed, NewRun};
use crate::error::{Error, ErrorCode, Result};
use crate::event::{ContentType, EndReason, Event, EventKind};
use crate::flows::form::Values;
use crate::flows::model::{Format, Sender, Side};
use crate::flows::records::{CustomEvent, FormRecord, FormState, OutboxItem, OutboxState, RunLogEntry, Work};
use crate::flows::run::{self, Effect, Input, Run, RunState, Wait};
use crate::flows::webhooks::{self, Hook};
use crate::ids::{ConversationId, CustomEventId, FileRequestId, FlowRunId, FormId, OutboxId, WebhookId};
use crate::model::{ConversationState, FileRequestState, Role};
use crate::timer::{Timer, TimerKey, TimerKind};

/// The most runs active at once in one conversation.
pub const MAX_RUNS_PER_CONVERSATION: usize = 10;
/// How deep subflows may nest.
const MAX_DEPTH: u32 = 8;

impl Planner {
    pub(super) fn start_run(&mut self, new: &NewRun) -> Result<Committed> {
        if self.runs.contains_key(&new.id) {
            return Ok(Vec::new());
        }
        let c = self.writable(new.conversation)?;
        if c.runs.len() >= MAX_RUNS_PER_CONVERSATION {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("{MAX_RUNS_PER_CONVERSATION} flows are already running in this conversation"),
            ));
        }
        let workspace = c.workspace_id;
        let deployed = self
            .flows
            .get(&new.flow)
            .filter(|f| f.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("flow"))?;
        let missing = run::missing_params(&deployed.flow, &new.params);
        if !missing.is_empty() {
            return Err(Error::invalid("params", format!("missing required parameters: {}", missing.join(", "))));
        }
        let (flow, version) = (deployed.flow.clone(), deployed.version);
        let r = run::new_run(
            new.id,
            workspace,
            new.conversation,
            new.flow,
            &flow,
            version,
            new.params.clone(),
            new.trigger.clone(),
            new.launcher,
            new.parent,
            self.now,
        );
        self.conversation_mut(new.conversation).runs.push(r.id);
        self.runs.insert(r.id, r);
        self.new_runs.insert(new.id);
        self.log_run(new.id, "started", None);
        Ok(self.drive(new.id, Input::Start, 0))
    }

    /// An outcome for a run's wait. Late or repeated ones change nothing,
    /// but the outbox item they answer is still recorded done.
    pub(super) fn resume_run(
        &mut self,
        conversation: ConversationId,
        id: FlowRunId,
        wait_seq: u32,
        input: &Input,
        outbox: Option<OutboxId>,
    ) -> Result<Committed> {
        self.existing(conversation)?;
        if let Some(item) = outbox {
            self.plan.outbox_done.push((item, OutboxState::Done, None));
        }
        let current = self
            .runs
            .get(&id)
            .filter(|r| r.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("flow run"))?;
        if !current.state.is_active() || current.wait_seq != wait_seq {
            return Ok(Vec::new());
        }
        Ok(self.drive(id, input.clone(), 0))
    }

    pub(super) fn cancel_run(&mut self, conversation: ConversationId, id: FlowRunId) -> Result<Committed> {
        self.existing(conversation)?;
        let r = self
            .runs
            .get(&id)
            .filter(|r| r.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("flow run"))?;
        if !r.state.is_active() {
            return Err(Error::new(ErrorCode::Conflict, format!("the run is {}", r.state.as_str())));
        }
        let mut r = r.clone();
        let effects = run::cancel(&mut r, "cancelled by an operator", self.now);
        self.put_run(r.clone());
        Ok(self.apply_effects(&r, effects, 0))
    }

    pub(super) fn submit_form(
        &mut self,
        conversation: ConversationId,
        id: FormId,
        by: Author,
        values: &Values,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        let form = self
            .forms
            .get(&id)
            .filter(|f| f.conversation_id == conversation)
            .ok_or_else(|| Error::not_found("form"))?;
        if let Author::Participant(p) = by {
            let role = self.active_member(conversation, p)?.role;
            let allowed = match form.to {
                Side::Customer => role == Role::Customer,
                Side::Agent => matches!(role, Role::Agent | Role::Supervisor),
            };
            if !allowed {
                return Err(Error::forbidden(format!("this form is for the {}", side_name(form.to))));
            }
        }
        if form.state != FormState::Open {
            return Err(Error::new(ErrorCode::Conflict, format!("the form is already {}", form.state.as_str())));
        }
        let checked = form.spec.check(values)?;
        let (run_id, to) = (form.run_id, form.to);
        let contact = run_id.is_none() && form.spec.name == super::overflow::CONTACT_FORM;
        let mut form = form.clone();
        form.state = FormState::Submitted;
        form.values = Some(checked.clone());
        form.updated_at = self.now;
        self.put_form(form);
        let kind = EventKind::FormSubmitted { form_id: id, to, values: checked.clone() };
        let mut out = vec![self.emit(conversation, by.participant(), kind, None)];
        if contact {
            // A "message us" request's contact details: the chat's `contact` attribute.
            let mut attributes = crate::model::Attributes::new();
            attributes.insert("contact".into(), serde_json::Value::Object(checked.clone()));
            let patch = crate::command::AttributePatch { attributes: Some(attributes), record_id: None };
            out.push(self.update(conversation, &patch));
        }
        let waiting = run_id
            .and_then(|r| self.runs.get(&r))
            .filter(|r| r.state.is_active() && r.wait == Some(Wait::Form { form_id: id }));
        if let Some(r) = waiting.map(|r| r.id) {
            out.extend(self.drive(r, Input::FormSubmitted { values: checked }, 0));
        }
        Ok(out)
    }

    /// A file request of this conversation was answered, declined or
    /// canceled: the runs waiting for it (`request_file` with `into`) go on.
    pub(super) fn file_settled(
        &mut self,
        conversation: ConversationId,
        request: FileRequestId,
        input: Input,
        depth: u32,
    ) -> Vec<Event> {
        let Some(c) = self.conversations.get(&conversation) else { return Vec::new() };
        let wait = Some(Wait::File { request_id: request });
        let waiting: Vec<FlowRunId> = c
            .runs
            .iter()
            .filter(|r| self.runs.get(r).is_some_and(|r| r.state.is_active() && r.wait == wait))
            .copied()
            .collect();
        let mut out = Vec::new();
        for id in waiting {
            if depth < MAX_DEPTH {
                out.extend(self.drive(id, input.clone(), depth + 1));
            }
        }
        out
    }

    /// A custom event from the API: stored, and handed to the runs waiting
    /// for it through the outbox.
    pub(super) fn publish(&mut self, event: &CustomEvent) -> Result<Committed> {
        self.store_event(event.clone());
        Ok(Vec::new())
    }

    pub(super) fn hook(&mut self, conversation: ConversationId, hook: &Hook) -> Result<Committed> {
        self.writable(conversation)?;
        let c = self.conversation_mut(conversation);
        if c.hooks.len() >= webhooks::MAX_PER_CONVERSATION && !c.hooks.iter().any(|h| h.id == hook.id) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("a conversation may have {} webhooks", webhooks::MAX_PER_CONVERSATION),
            ));
        }
        c.hooks.retain(|h| h.id != hook.id);
        c.hooks.push(hook.clone());
        Ok(Vec::new())
    }

    pub(super) fn unhook(&mut self, conversation: ConversationId, id: WebhookId) -> Result<Committed> {
        self.existing(conversation)?;
        if self.conversations[&conversation].hooks.iter().any(|h| h.id == id) {
            self.conversation_mut(conversation).hooks.retain(|h| h.id != id);
        }
        Ok(Vec::new())
    }

    /// Deliveries for what this batch committed: every log event and custom
    /// event a webhook of its workspace (or its conversation) asked for.
    /// Written with the batch, so nothing uncommitted is told and nothing
    /// committed is missed.
    pub(super) fn plan_deliveries(&mut self) {
        let mut out = Vec::new();
        for e in &self.plan.events {
            let Some(c) = self.conversations.get(&e.conversation_id) else { continue };
            let kind = e.kind.type_name();
            let hooks = self.workspace_hooks.get(&c.workspace_id).into_iter().flatten().chain(&c.hooks);
            // A flow hears what participants do, not what the system (its
            // own messages) does, or one message would start the next.
            let heard = |h: &&Hook| h.wants(kind) && (!h.flow || e.participant_id.is_some());
            for hook in hooks.filter(heard) {
                let payload = serde_json::json!({
                    "id": e.id.to_string(),
                    "type": kind,
                    "workspace_id": c.workspace_id.to_string(),
                    "conversation_id": c.id.to_string(),
                    "created_at": e.at.to_rfc3339(),
                    "data": e,
                });
                out.push((c.workspace_id, Some(c.id), hook.clone(), e.id.to_string(), kind.to_owned(), payload));
            }
        }
        for e in &self.plan.custom_events {
            let kind = format!("event:{}", e.event_type);
            let scoped = e.conversation_id.and_then(|c| self.conversations.get(&c)).map(|c| c.hooks.as_slice());
            let hooks =
                self.workspace_hooks.get(&e.workspace_id).into_iter().flatten().chain(scoped.unwrap_or_default());
            for hook in hooks.filter(|h| h.wants(&kind)) {
                let payload = serde_json::json!({
                    "id": e.id.to_string(),
                    "type": kind,
                    "workspace_id": e.workspace_id.to_string(),
                    "conversation_id": e.conversation_id.map(|c| c.to_string()),
                    "created_at": e.published_at.to_rfc3339(),
                    "data": e,
                });
                out.push((e.workspace_id, e.conversation_id, hook.clone(), e.id.to_string(), kind.clone(), payload));
            }
        }
        // Offers are routing rows, not log events: each change of state is
        // told once, its id the offer's and the state's.
        let mut offers: Vec<_> = self.new_offers.iter().map(|id| (*id, true)).collect();
        offers.extend(self.touched_offers.iter().map(|id| (*id, false)));
        for (id, new) in offers {
            let Some(o) = self.offers.get(&id) else { continue };
            let scoped = self.conversations.get(&o.conversation_id).map(|c| c.hooks.as_slice()).unwrap_or_default();
            let mut kinds = Vec::new();
            if new {
                kinds.push("offer.created".to_owned());
            }
            if o.state != crate::routing::model::OfferState::Pending {
                kinds.push(format!("offer.{}", o.state.as_str()));
            }
            for kind in kinds {
                let hooks = self.workspace_hooks.get(&o.workspace_id).into_iter().flatten().chain(scoped);
                for hook in hooks.filter(|h| h.wants(&kind) && !h.flow) {
                    let event_id = format!("{}:{}", o.id, kind.trim_start_matches("offer."));
                    let payload = serde_json::json!({
                        "id": event_id,
                        "type": kind,
                        "workspace_id": o.workspace_id.to_string(),
                        "conversation_id": o.conversation_id.to_string(),
                        "created_at": self.now.to_rfc3339(),
                        "data": o,
                    });
                    out.push((o.workspace_id, Some(o.conversation_id), hook.clone(), event_id, kind.clone(), payload));
                }
            }
        }
        for (workspace, conversation, hook, event_id, kind, payload) in out {
            let run_id = hook.flow.then(FlowRunId::new);
            let work = Work::Deliver { webhook: hook.id, event_id, kind, payload, run_id };
            self.queue_work(OutboxId::new(), workspace, conversation, work);
        }
    }

    pub(super) fn finish_outbox(
        &mut self,
        id: OutboxId,
        state: OutboxState,
        error: Option<String>,
    ) -> Result<Committed> {
        self.plan.outbox_done.push((id, state, error));
        Ok(Vec::new())
    }

    /// A customer's message reaches the runs waiting for an answer.
    pub(super) fn runs_hear(&mut self, conversation: ConversationId, text: &str) -> Vec<Event> {
        let waiting: Vec<FlowRunId> = self.conversations[&conversation]
            .runs
            .iter()
            .filter(|r| self.runs.get(r).is_some_and(|r| r.state.is_active() && r.wait == Some(Wait::Message)))
            .copied()
            .collect();
        let mut out = Vec::new();
        for id in waiting {
            out.extend(self.drive(id, Input::Message { text: text.to_owned() }, 0));
        }
        out
    }

    /// The conversation is ending: its runs stop, their open forms close
    /// (logged before the end).
    pub(super) fn runs_end(&mut self, conversation: ConversationId) {
        let active: Vec<FlowRunId> = self.conversations[&conversation].runs.clone();
        for id in active {
            let Some(mut r) = self.runs.get(&id).filter(|r| r.state.is_active()).cloned() else {
                continue;
            };
            let effects = run::cancel(&mut r, "the conversation ended", self.now);
            for e in &effects {
                if let Effect::CancelForm { form_id } = e
                    && self.close_form(*form_id)
                {
                    let to = self.forms.get(form_id).map_or(Side::Customer, |f| f.to);
                    self.emit(conversation, None, EventKind::FormCancelled { form_id: *form_id, to }, None);
                }
            }
            self.put_run(r.clone());
            self.run_over(&r);
        }
    }

    /// A run's timer: the wait it was set for times out.
    pub(super) fn fire_flow(&mut self, timer: &Timer) -> Committed {
        self.delete_timer(timer.key());
        let TimerKind::FlowWait { run, wait_seq } = timer.kind else {
            return Vec::new();
        };
        let waiting = self.runs.get(&run).is_some_and(|r| r.state.is_active() && r.wait_seq == wait_seq);
        if !waiting || self.writable(timer.conversation_id).is_err() {
            return Vec::new();
        }
        self.drive(run, Input::Timeout, 0)
    }

    /// Advances a run and applies what it asks for.
    fn drive(&mut self, id: FlowRunId, input: Input, depth: u32) -> Vec<Event> {
        let Some(mut r) = self.runs.get(&id).cloned() else {
            return Vec::new();
        };
        let Some(flow) = self.flows.get(&r.flow_id).map(|f| f.flow.clone()) else {
            // The definition is loaded with the run; its absence is a damaged store.
            tracing::error!(run = %id, flow = %r.flow_id, "flow definition missing; run left as it is");
            return Vec::new();
        };
        let Some(c) = self.conversations.get(&r.conversation_id) else {
            return Vec::new();
        };
        let chat = run::chat_value(c);
        self.delete_timer(run_timer_key(&r));
        let effects = run::advance(&flow, &mut r, input, &chat, self.now);
        self.put_run(r.clone());
        self.apply_effects(&r, effects, depth)
    }

    fn apply_effects(&mut self, r: &Run, effects: Vec<Effect>, depth: u32) -> Vec<Event> {
        let conversation = r.conversation_id;
        let mut out = Vec::new();
        for effect in effects {
            let open = self.conversations.get(&conversation).is_some_and(|c| c.state == ConversationState::Open);
            match effect {
                Effect::Entered { step } => self.log_run(r.id, "entered", Some(step)),
                Effect::Send { text, format, sender } if open => {
                    let content_type = match format {
                        Format::Plain => ContentType::TextPlain,
                        Format::Markdown => ContentType::TextMarkdown,
                    };
                    let author = match (sender, r.launcher) {
                        (Sender::Agent, Some(l)) if self.active_member(conversation, l.participant_id).is_ok() => {
                            Some(l.participant_id)
                        }
                        _ => None,
                    };
                    out.push(self.emit(conversation, author, EventKind::Message { content_type, content: text }, None));
                }
                Effect::ShowForm { form_id, form, to } if open => {
                    let record = FormRecord {
                        id: form_id,
                        conversation_id: conversation,
                        run_id: Some(r.id),
                        to,
                        spec: form.clone(),
                        state: FormState::Open,
                        values: None,
                        created_at: self.now,
                        updated_at: self.now,
                    };
                    self.put_form(record);
                    out.push(self.emit(conversation, None, EventKind::Form { form_id, to, form }, None));
                }
                Effect::CancelForm { form_id } => {
                    if self.close_form(form_id) && open {
                        let to = self.forms.get(&form_id).map_or(Side::Customer, |f| f.to);
                        out.push(self.emit(conversation, None, EventKind::FormCancelled { form_id, to }, None));
                    }
                }
                Effect::SetAttributes { attributes, record_id } if open => {
                    let patch = crate::command::AttributePatch {
                        attributes: Some(attributes),
                        record_id: record_id.map(|r| Some(r).filter(|r| !r.is_empty())),
                    };
                    out.push(self.update(conversation, &patch));
                }
                Effect::Publish { event_type, key, data } => {
                    let event = CustomEvent {
                        id: CustomEventId::new(),
                        workspace_id: r.workspace_id,
                        event_type,
                        key,
                        data,
                        conversation_id: Some(conversation),
                        run_id: Some(r.id),
                        replay_id: 0,
                        published_at: self.now,
                    };
                    out.extend(self.deliver_here(&event, depth));
                    self.store_event(event);
                }
                Effect::SetAgentInput { text } if open => {
                    let agent = r.launcher.map(|l| l.agent_id).or_else(|| self.assigned_agent(conversation));
                    if let Some(agent) = agent {
                        let change = AgentChange::Input { conversation, text };
                        self.plan.notices.push(Notice::Agent { agent, change });
                    }
                }
                Effect::RequestFile { request_id, record_id } if open => {
                    let by = r
                        .launcher
                        .map(|l| l.participant_id)
                        .filter(|p| self.active_member(conversation, *p).is_ok())
                        .map_or(Author::System, Author::Participant);
                    match self.request_file(conversation, request_id, by, record_id) {
                        Ok(events) => out.extend(events),
                        Err(e) => {
                            self.log_run(r.id, "request_file failed", Some(e.message.clone()));
                            let why = format!("the file could not be asked for: {}", e.message);
                            out.extend(self.file_settled(conversation, request_id, Input::FileRefused { why }, depth));
                        }
                    }
                }
                Effect::CancelFileRequest { request_id } if open => {
                    let kind = EventKind::FileRequestCanceled { request_id };
                    let closed = self.close_file_request(
                        conversation,
                        request_id,
                        Author::System,
                        FileRequestState::Canceled,
                        kind,
                    );
                    // Already answered or withdrawn: nothing to cancel.
                    out.extend(closed.unwrap_or_default());
                }
                Effect::EndChat if open => out.push(self.end(conversation, None, EndReason::Ended)),
                Effect::Launch { flow, run_id, params } => {
                    let work = Work::Launch { by: r.id, flow, run_id, params };
                    self.queue_work(OutboxId::new(), r.workspace_id, Some(conversation), work);
                }
                Effect::Outside { outbox_id, request } => {
                    let work = Work::Action { run_id: r.id, wait_seq: r.wait_seq, request };
                    self.queue_work(outbox_id, r.workspace_id, Some(conversation), work);
                }
                Effect::Timer { secs } => {
                    // Only if the run still waits where it asked for the timer
                    // (an event it published itself may have moved it on).
                    let current = self.runs.get(&r.id).is_some_and(|x| x.state.is_active() && x.wait_seq == r.wait_seq);
                    if open && current {
                        self.set_timer(Timer {
                            conversation_id: conversation,
                            participant_id: None,
                            kind: TimerKind::FlowWait { run: r.id, wait_seq: r.wait_seq },
                            due_at: self.now.plus_secs(secs),
                        });
                    }
                }
                Effect::Finished { state } => {
                    self.log_run(r.id, state.as_str(), r.error.clone());
                    self.run_over(r);
                    if state == RunState::Failed && r.side == Side::Customer && open && r.parent.is_none() {
                        self.hand_off(r);
                    }
                }
                Effect::NotifyParent { parent, wait_seq, input } => {
                    let waiting = self.runs.get(&parent).is_some_and(|p| p.state.is_active() && p.wait_seq == wait_seq);
                    if waiting && depth < MAX_DEPTH {
                        out.extend(self.drive(parent, input, depth + 1));
                    }
                }
                // Chat effects on an ended chat do nothing.
                Effect::Send { .. }
                | Effect::ShowForm { .. }
                | Effect::SetAttributes { .. }
                | Effect::SetAgentInput { .. }
                | Effect::RequestFile { .. }
                | Effect::CancelFileRequest { .. }
                | Effect::EndChat => {}
            }
        }
        if r.state.is_active() && self.runs.get(&r.id).is_some_and(|x| x.wait_seq == r.wait_seq) {
            if let Some(Wait::Event { event_type, key, .. }) = &r.wait {
                self.log_run(r.id, "waiting", Some(format!("event {event_type} with key {key}")));
            }
            self.tell_agent(r);
        } else if !r.state.is_active() {
            self.tell_agent(r);
        }
        out
    }

    /// Runs loaded in this batch that wait for `event` get it now; others
    /// (in other conversations) get it from the outbox dispatch.
    fn deliver_here(&mut self, event: &CustomEvent, depth: u32) -> Vec<Event> {
        let waiting: Vec<(FlowRunId, u32)> = self
            .runs
            .values()
            .filter(|r| r.state.is_active() && r.workspace_id == event.workspace_id && waits_for(r, event))
            .map(|r| (r.id, r.wait_seq))
            .collect();
        let mut out = Vec::new();
        for (id, _) in waiting {
            if depth < MAX_DEPTH {
                let data = serde_json::Value::Object(event.data.clone());
                out.extend(self.drive(id, Input::Event { data }, depth + 1));
            }
        }
        out
    }

    fn store_event(&mut self, event: CustomEvent) {
        self.plan.notices.push(Notice::Events { workspace: event.workspace_id });
        let work = Work::Dispatch { event_id: event.id };
        self.queue_work(OutboxId::new(), event.workspace_id, event.conversation_id, work);
        self.plan.custom_events.push(event);
    }

    pub(super) fn queue_work(
        &mut self,
        id: OutboxId,
        workspace: crate::ids::WorkspaceId,
        conversation: Option<ConversationId>,
        work: Work,
    ) {
        let item = self.outbox_item(id, workspace, conversation, work);
        self.plan.outbox.push(item);
    }

    /// An outbox item due now, and the wake-up that tells the outbox loop.
    pub(super) fn outbox_item(
        &mut self,
        id: OutboxId,
        workspace: crate::ids::WorkspaceId,
        conversation: Option<ConversationId>,
        work: Work,
    ) -> OutboxItem {
        self.plan.notices.push(Notice::Work { workspace });
        OutboxItem {
            id,
            workspace_id: workspace,
            conversation_id: conversation,
            lane: work.lane(),
            ord: self.now.millis().saturating_mul(10_000).saturating_add(self.plan.outbox.len() as i64),
            work,
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at: self.now,
            last_error: None,
            created_at: self.now,
        }
    }

    /// A customer-side flow failed: the chat goes to a human by the
    /// workflow, unless it already has an agent or waits for one.
    fn hand_off(&mut self, r: &Run) {
        let routed = self
            .conversations
            .get(&r.conversation_id)
            .and_then(|c| c.task_id)
            .and_then(|t| self.tasks.get(&t))
            .is_some_and(|t| t.state.is_open() || t.state == crate::routing::model::TaskState::Assigned);
        if !routed {
            self.queue_work(OutboxId::new(), r.workspace_id, Some(r.conversation_id), Work::Handoff { run_id: r.id });
        }
    }

    fn assigned_agent(&self, conversation: ConversationId) -> Option<crate::ids::AgentId> {
        let task = self.conversations.get(&conversation)?.task_id?;
        let t = self.tasks.get(&task)?;
        (t.state == crate::routing::model::TaskState::Assigned).then_some(t.agent_id).flatten()
    }

    /// An agent-side run launched by an agent: the agent's socket follows it.
    fn tell_agent(&mut self, r: &Run) {
        if let (Side::Agent, Some(l)) = (r.side, r.launcher) {
            let change = AgentChange::Flow(Box::new(crate::bus::FlowProgress {
                run: r.id,
                conversation: r.conversation_id,
                flow: r.flow_name.clone(),
                state: r.state.as_str().to_owned(),
                step: r.step.clone(),
                vars: r.vars.clone(),
            }));
            self.plan.notices.push(Notice::Agent { agent: l.agent_id, change });
        }
    }

    /// Marks a form closed; whether it was open.
    fn close_form(&mut self, id: FormId) -> bool {
        let Some(mut f) = self.forms.get(&id).filter(|f| f.state == FormState::Open).cloned() else {
            return false;
        };
        f.state = FormState::Cancelled;
        f.updated_at = self.now;
        self.put_form(f);
        true
    }

    /// A run is over: it leaves its conversation's active list.
    fn run_over(&mut self, r: &Run) {
        self.delete_timer(run_timer_key(r));
        if self.conversations.get(&r.conversation_id).is_some_and(|c| c.runs.contains(&r.id)) {
            self.conversation_mut(r.conversation_id).runs.retain(|x| *x != r.id);
        }
    }

    fn put_run(&mut self, r: Run) {
        if !self.new_runs.contains(&r.id) {
            self.touched_runs.insert(r.id);
        }
        self.runs.insert(r.id, r);
    }

    pub(super) fn put_form(&mut self, f: FormRecord) {
        self.touched_forms.insert(f.id);
        self.forms.insert(f.id, f);
    }

    fn log_run(&mut self, run: FlowRunId, what: &str, detail: Option<String>) {
        let step = self.runs.get(&run).map(|r| r.step.clone()).unwrap_or_default();
        self.plan.run_log.push(RunLogEntry { run_id: run, at: self.now, step, what: what.to_owned(), detail });
    }
}

fn run_timer_key(r: &Run) -> TimerKey {
    TimerKey {
        conversation_id: r.conversation_id,
        participant_id: None,
        kind: TimerKind::FlowWait { run: r.id, wait_seq: 0 }.name(),
    }
}

fn waits_for(r: &Run, event: &CustomEvent) -> bool {
    matches!(&r.wait, Some(Wait::Event { event_type, key, since })
        if *event_type == event.event_type && *key == event.key && *since <= event.published_at)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Customer => "customer",
        Side::Agent => "agent",
    }
}
