//! Overflow to a message: a task that reaches its route's message step
//! becomes a "message us" request, and an agent picks it up later.

use super::Planner;
use super::routing::conflict;
use crate::bus::{AgentChange, Notice};
use crate::command::{Committed, NewParticipant};
use crate::error::{Error, Result};
use crate::event::EventKind;
use crate::ids::{AgentId, ConversationId, TaskId};
use crate::model::Role;
use crate::routing::model::TaskState;
use crate::timer::TimerKey;

impl Planner {
    /// The task reached its message step: nobody could take the chat (the
    /// queue was closed, nobody was there, it waited too long, or every
    /// agent it rang passed). It becomes a "message us" request: the
    /// customer is told, asked for contact details while still there, and
    /// may go on writing; an agent picks it up from the list later.
    pub(super) fn overflow(&mut self, task: TaskId) -> Vec<crate::event::Event> {
        let t = &self.tasks[&task];
        let (conversation, workspace) = (t.conversation_id, t.workspace_id);
        let Some(step) = t.current().filter(|s| s.message.is_some()).cloned() else { return Vec::new() };
        let step_key = TimerKey { conversation_id: conversation, participant_id: None, kind: "task_step".into() };
        self.delete_timer(step_key);
        let t = self.task_mut(task);
        t.state = TaskState::Message;
        t.passed.clear();
        self.history(task, "message", None);
        self.plan.notices.push(Notice::Routing { workspace });
        if self.writable(conversation).is_err() {
            return Vec::new();
        }
        let form = crate::flows::records::FormRecord {
            id: crate::ids::FormId::new(),
            conversation_id: conversation,
            run_id: None,
            to: crate::flows::model::Side::Customer,
            spec: contact_form(),
            state: crate::flows::records::FormState::Open,
            values: None,
            created_at: self.now,
            updated_at: self.now,
        };
        let (form_id, spec) = (form.id, form.spec.clone());
        self.put_form(form);
        let text = step.message.unwrap_or_default();
        let kind = EventKind::Overflowed { task_id: task, queue_id: step.queue, text, form_id: Some(form_id) };
        let overflowed = self.emit(conversation, None, kind, None);
        let to = crate::flows::model::Side::Customer;
        let asked = self.emit(conversation, None, EventKind::Form { form_id, to, form: spec }, None);
        vec![overflowed, asked]
    }

    /// An agent picks up a "message us" request. With the customer still
    /// there, the agent joins the chat and it is the agent's (it holds one
    /// of its slots); with the chat over, the request is done and the agent
    /// follows it up by the contact details it left.
    pub(super) fn pick_up(
        &mut self,
        conversation: ConversationId,
        task_id: TaskId,
        agent_id: AgentId,
        participant: &NewParticipant,
    ) -> Result<Committed> {
        let task = self.task_in(conversation, task_id)?;
        if task.state != TaskState::Message {
            return Err(conflict(format!("the chat is {}, not a message request", task.state.as_str())));
        }
        let workspace = task.workspace_id;
        let agent = self.agents.get(&agent_id).filter(|a| a.workspace_id == workspace);
        let agent = agent.ok_or_else(|| Error::not_found("agent"))?;
        if !agent.enabled {
            return Err(conflict("the agent is disabled"));
        }
        if self.writable(conversation).is_err() {
            let t = self.task_mut(task_id);
            t.agent_id = Some(agent_id);
            t.state = TaskState::Completed;
            self.history(task_id, "picked_up", Some(agent_id));
            self.plan.notices.push(Notice::Routing { workspace });
            return Ok(Vec::new());
        }
        if agent.load >= agent.capacity {
            return Err(conflict("the agent has no free slot"));
        }
        if self.participants.contains_key(&participant.id) {
            return Err(conflict("participant already exists"));
        }
        self.agent_mut(agent_id).load += 1;
        let t = self.task_mut(task_id);
        t.state = TaskState::Assigned;
        t.agent_id = Some(agent_id);
        t.member_id = Some(participant.id);
        if let Some(secs) = self.queue_of(task_id).and_then(|q| q.first_reply_secs) {
            self.arm_reply(task_id, secs, true);
        }
        self.history(task_id, "picked_up", Some(agent_id));
        self.plan.notices.push(Notice::Agent { agent: agent_id, change: AgentChange::Assigned { conversation } });
        self.plan.notices.push(Notice::Routing { workspace });
        let np = NewParticipant { role: Role::Agent, agent_id: Some(agent_id), ..participant.clone() };
        Ok(self.join(conversation, &np))
    }
}

/// The form a "message us" request asks the customer to fill in; its
/// answers become the conversation's `contact` attribute.
pub(crate) fn contact_form() -> crate::flows::form::FormSpec {
    use crate::flows::form::{Field, FieldKind, FormSpec};
    let field = |name: &str, label: &str, kind: FieldKind, required: bool| Field {
        name: name.into(),
        label: label.into(),
        kind,
        required,
    };
    FormSpec {
        name: CONTACT_FORM.into(),
        title: "Leave us a message".into(),
        description: Some("We will get back to you as soon as we can.".into()),
        fields: vec![
            field("name", "Your name", FieldKind::Text { pattern: None }, true),
            field("email", "Email", FieldKind::Email, true),
            field("phone", "Phone", FieldKind::Text { pattern: None }, false),
        ],
    }
}

/// The name of that form.
pub(crate) const CONTACT_FORM: &str = "contact";
