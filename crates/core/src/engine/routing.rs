//! Routing operations: agents and their credentials and presence, queues,
//! activities, the workflow, putting chats in line, answering offers and
//! transfers. Every change to routing state is a command planned in the
//! writer (see `plan_routing.rs`); this file checks who may ask and turns
//! requests into typed values.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::permit::agent_of;
use super::{Caller, Engine};
use crate::access::Action;
use crate::bus::Notice;
use crate::command::{AgentPatch, Author, Command, NewParticipant};
use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::ids::{AgentId, ConversationId, OfferId, ParticipantId, QueueId, TaskId, WorkspaceId};
use crate::model::{Attributes, Conversation, ConversationState, Role};
use crate::routing::expr::Expr;
use crate::routing::matcher;
use crate::routing::model::{
    self as rm, Activity, Agent, Offer, Ordering, Queue, ReplyTimeout, RouteStep, Task, TaskHistory,
};
use crate::routing::workflow::{self, Workflow};
use crate::store::StoredWorkflow;
use crate::token::{Secret, SecretKind};

/// A new agent, or changes to one (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct AgentSpec {
    pub name: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    pub attributes: Option<Attributes>,
    pub capacity: Option<i64>,
    pub enabled: Option<bool>,
}

/// A new queue, or changes to one.
#[derive(Debug, Clone, Default)]
pub struct QueueSpec {
    pub name: Option<String>,
    /// `Some(None)` removes the expression (every agent serves the queue).
    pub expression: Option<Option<String>>,
    pub ordering: Option<String>,
    pub offer_timeout_secs: Option<i64>,
    pub wrap_up_secs: Option<i64>,
    /// `Some(None)` turns the preference for a continued chat's previous agent off.
    pub prefer_previous_agent_secs: Option<Option<i64>>,
    /// `Some(None)` turns the first-reply timer off.
    pub first_reply_secs: Option<Option<i64>>,
    /// `Some(None)` turns the reply timer off.
    pub reply_secs: Option<Option<i64>>,
    /// `next_agent`, `queue` (with `reply_timeout_queue`) or `alert`.
    pub on_reply_timeout: Option<String>,
    /// The queue (name or id) a missed reply moves the chat to.
    pub reply_timeout_queue: Option<String>,
    /// The schedule (by name) whose hours the queue keeps; `Some(None)` takes it off.
    pub schedule: super::hours::ScheduleChoice,
}

/// Where a chat is sent: a queue (by id or name), or a named agent.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub queue: Option<String>,
    pub agent: Option<AgentId>,
}

/// What the workflow made of a document.
#[derive(Debug, Clone)]
pub struct AppliedWorkflow {
    pub version: i64,
    pub workflow: Workflow,
}

const MAX_CAPACITY: i64 = 1000;
/// The most message requests one list shows.
const MAX_MESSAGE_REQUESTS: u32 = 500;

/// A "message us" request: the task (state `message`) and its chat, whose
/// `contact` attribute holds what the customer left in the form.
#[derive(Debug, Clone)]
pub struct MessageRequest {
    pub task: Task,
    pub conversation: Conversation,
}
const MAX_TIMEOUT_SECS: i64 = 24 * 3600;
/// Longest password accepted (argon2 would take longer ones, but nobody types them).
const MAX_PASSWORD: usize = 1024;

/// How an agent appears in a chat it joins.
fn as_member(agent: &Agent) -> NewParticipant {
    NewParticipant {
        id: ParticipantId::new(),
        role: Role::Agent,
        display_name: agent.name.clone(),
        token: None,
        agent_id: Some(agent.id),
    }
}

fn name_field(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(Error::invalid(field, format!("1 to {max} characters, no control characters")));
    }
    Ok(v.to_owned())
}

fn capacity(v: i64) -> Result<u32> {
    if !(1..=MAX_CAPACITY).contains(&v) {
        return Err(Error::invalid("capacity", format!("must be from 1 to {MAX_CAPACITY}")));
    }
    Ok(v as u32)
}

fn secs(field: &str, v: i64, min: i64) -> Result<u32> {
    if !(min..=MAX_TIMEOUT_SECS).contains(&v) {
        return Err(Error::invalid(field, format!("must be from {min} to {MAX_TIMEOUT_SECS} seconds")));
    }
    Ok(v as u32)
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    if password.chars().count() < 8 || password.len() > MAX_PASSWORD {
        return Err(Error::invalid("password", format!("8 to {MAX_PASSWORD} characters")));
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| Error::internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Engine {
    // Agents.

    pub async fn create_agent(&self, caller: &Caller, spec: AgentSpec) -> Result<Agent> {
        let workspace = self.permit(caller, Action::ManageAgents, None)?;
        let name = name_field("name", spec.name.as_deref().ok_or_else(|| Error::invalid("name", "is required"))?, 200)?;
        let login = spec.login.as_deref().map(|l| name_field("login", l, 200)).transpose()?;
        let hash = match &spec.password {
            Some(p) if login.is_none() => {
                let _ = p;
                return Err(Error::invalid("password", "a password needs a login"));
            }
            Some(p) => Some(hash_password(p)?),
            None => None,
        };
        let attributes = spec.attributes.unwrap_or_default();
        self.check_attributes(&attributes)?;
        let now = self.now();
        let agent = Agent {
            id: AgentId::new(),
            workspace_id: workspace,
            name,
            login,
            attributes,
            capacity: capacity(spec.capacity.unwrap_or(1))?,
            enabled: spec.enabled.unwrap_or(true),
            activity: rm::OFFLINE.into(),
            available: false,
            activity_at: now,
            load: 0,
            offers: Vec::new(),
            idle_since: now,
            last_seen_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_agent(&agent, hash.as_deref()).await.map_err(|e| match e.code {
            ErrorCode::Conflict => {
                Error::new(ErrorCode::Conflict, "an agent with this login exists").with_field("login")
            }
            _ => e,
        })?;
        Ok(agent)
    }

    /// An agent of the caller's workspace (an agent may read itself).
    pub async fn agent(&self, caller: &Caller, id: AgentId) -> Result<Agent> {
        let workspace = self.permit(caller, Action::ReadAgent, Some(id))?;
        let found = self.store.agent(id).await?;
        found.filter(|a| a.workspace_id == workspace).ok_or_else(|| Error::not_found("agent"))
    }

    pub async fn agents(&self, caller: &Caller) -> Result<Vec<Agent>> {
        self.store.agents(self.permit(caller, Action::ManageAgents, None)?).await
    }

    pub async fn update_agent(&self, caller: &Caller, id: AgentId, spec: AgentSpec) -> Result<Agent> {
        self.permit(caller, Action::ManageAgents, None)?;
        let current = self.agent(caller, id).await?;
        if spec.login.is_some() {
            return Err(Error::invalid("login", "a login cannot be changed; create another agent"));
        }
        let patch = AgentPatch {
            name: spec.name.as_deref().map(|n| name_field("name", n, 200)).transpose()?,
            attributes: spec.attributes,
            capacity: spec.capacity.map(capacity).transpose()?,
            enabled: spec.enabled,
        };
        if let Some(a) = &patch.attributes {
            self.check_attributes(a)?;
        }
        if let Some(p) = &spec.password {
            if current.login.is_none() {
                return Err(Error::invalid("password", "a password needs a login"));
            }
            self.store.set_agent_password(id, Some(&hash_password(p)?)).await?;
        }
        self.store.apply(Command::UpdateAgent { agent: id, patch }).await?;
        if spec.enabled == Some(false) {
            self.store.revoke_agent_tokens(id, self.now()).await?;
        }
        self.agent(caller, id).await
    }

    /// Issues an API token for an agent (workspace keys only).
    pub async fn issue_agent_token(&self, caller: &Caller, id: AgentId, name: Option<String>) -> Result<Secret> {
        self.permit(caller, Action::ManageAgents, None)?;
        self.agent(caller, id).await?;
        let name = name.as_deref().map(|n| name_field("name", n, 200)).transpose()?.unwrap_or_else(|| "api".into());
        let token = Secret::generate(SecretKind::Agent);
        self.store.add_agent_token(id, &token.hash(), &name, self.now()).await?;
        Ok(token)
    }

    pub async fn revoke_agent_tokens(&self, caller: &Caller, id: AgentId) -> Result<u64> {
        self.permit(caller, Action::ManageAgents, None)?;
        self.agent(caller, id).await?;
        let revoked = self.store.revoke_agent_tokens(id, self.now()).await?;
        // Sockets opened with those tokens close too.
        self.bus.publish(Notice::Agent { agent: id, change: crate::bus::AgentChange::SignedOut });
        Ok(revoked)
    }

    /// Console login: a login and password for a session token. Unknown
    /// logins and wrong passwords get the same answer.
    pub async fn agent_login(&self, login: &str, password: &str) -> Result<(Agent, Secret)> {
        let refused = || Error::unauthenticated("wrong login or password");
        let workspace = self.store.first_workspace().await?.ok_or_else(refused)?;
        let found = self.store.agent_by_login(workspace.id, login).await?;
        let Some((agent, Some(hash))) = found else {
            // Spend the same time as a real check, so timing does not tell
            // which logins exist.
            let _ = verify_password(password, dummy_hash());
            return Err(refused());
        };
        if password.len() > MAX_PASSWORD || !verify_password(password, &hash) || !agent.enabled {
            return Err(refused());
        }
        let token = Secret::generate(SecretKind::Agent);
        self.store.add_agent_token(agent.id, &token.hash(), "console", self.now()).await?;
        Ok((agent, token))
    }

    // Presence.

    /// Every activity the workspace offers: the built-in ones, then its own.
    pub async fn activities(&self, caller: &Caller) -> Result<Vec<Activity>> {
        let workspace = self.permit(caller, Action::ListActivities, None)?;
        let mut all: Vec<Activity> = Activity::builtin().into();
        all.extend(self.store.activities(workspace).await?);
        Ok(all)
    }

    pub async fn create_activity(&self, caller: &Caller, name: &str, available: bool) -> Result<Activity> {
        let workspace = self.permit(caller, Action::ManageActivities, None)?;
        let name = name_field("name", name, 64)?;
        if Activity::builtin().iter().any(|a| a.name == name) {
            return Err(Error::new(ErrorCode::Conflict, "a built-in activity has this name").with_field("name"));
        }
        let activity = Activity { name, available };
        self.store.create_activity(workspace, &activity, self.now()).await?;
        Ok(activity)
    }

    pub async fn delete_activity(&self, caller: &Caller, name: &str) -> Result<()> {
        let workspace = self.permit(caller, Action::ManageActivities, None)?;
        if Activity::builtin().iter().any(|a| a.name == name) {
            return Err(Error::new(ErrorCode::Conflict, "built-in activities cannot be deleted"));
        }
        if !self.store.delete_activity(workspace, name).await? {
            return Err(Error::not_found("activity"));
        }
        Ok(())
    }

    /// Sets an agent's activity: the agent itself, or a workspace key for any agent.
    pub async fn set_activity(&self, caller: &Caller, id: AgentId, name: &str) -> Result<Agent> {
        let workspace = self.permit(caller, Action::SetActivity, Some(id))?;
        let agent = self
            .store
            .agent(id)
            .await?
            .filter(|a| a.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("agent"))?;
        let activity = self
            .activities(caller)
            .await?
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::invalid("activity", format!("no activity named `{name}`")))?;
        if activity.available && !agent.enabled {
            return Err(Error::new(ErrorCode::Conflict, "the agent is disabled"));
        }
        self.store.apply(Command::SetActivity { agent: id, activity, if_unseen_since: None }).await?;
        self.store.agent(id).await?.ok_or_else(|| Error::not_found("agent"))
    }

    // Queues.

    pub async fn create_queue(&self, caller: &Caller, spec: QueueSpec) -> Result<Queue> {
        let workspace = self.permit(caller, Action::ManageQueues, None)?;
        if spec.name.is_none() {
            return Err(Error::invalid("name", "is required"));
        }
        let now = self.now();
        let mut q = Queue {
            id: QueueId::new(),
            workspace_id: workspace,
            name: String::new(),
            expression: None,
            ordering: Ordering::LongestIdle,
            offer_timeout_secs: 30,
            wrap_up_secs: 0,
            prefer_previous_agent_secs: None,
            first_reply_secs: None,
            reply_secs: None,
            on_reply_timeout: ReplyTimeout::NextAgent,
            schedule_id: None,
            created_at: now,
            updated_at: now,
        };
        let on_reply_timeout = self.reply_timeout(workspace, &spec, None).await?;
        let schedule = self.schedule_choice(workspace, spec.schedule.clone()).await?;
        apply_queue_spec(&mut q, spec, on_reply_timeout)?;
        if let Some(schedule) = schedule {
            q.schedule_id = schedule;
        }
        self.store.create_queue(&q).await.map_err(name_taken)?;
        Ok(q)
    }

    pub async fn update_queue(&self, caller: &Caller, id: QueueId, spec: QueueSpec) -> Result<Queue> {
        let mut q = self.queue(caller, id).await?;
        let on_reply_timeout = self.reply_timeout(q.workspace_id, &spec, Some(&q)).await?;
        let schedule = self.schedule_choice(q.workspace_id, spec.schedule.clone()).await?;
        apply_queue_spec(&mut q, spec, on_reply_timeout)?;
        if let Some(schedule) = schedule {
            q.schedule_id = schedule;
        }
        q.updated_at = self.now();
        self.store.update_queue(&q).await.map_err(name_taken)?;
        self.wake_router(q.workspace_id);
        Ok(q)
    }

    /// What a queue spec says a missed reply does, with its queue looked up
    /// (by id or name, in the workspace); `None` when it does not say.
    async fn reply_timeout(
        &self,
        workspace: WorkspaceId,
        spec: &QueueSpec,
        current: Option<&Queue>,
    ) -> Result<Option<ReplyTimeout>> {
        const FIELD: &str = "on_reply_timeout";
        let action = match (&spec.on_reply_timeout, &spec.reply_timeout_queue) {
            (None, None) => return Ok(None),
            (Some(a), _) => a.as_str(),
            (None, Some(_)) => match current.map(|q| q.on_reply_timeout) {
                Some(ReplyTimeout::Queue(_)) => "queue",
                _ => return Err(Error::invalid("reply_timeout_queue", "goes with \"on_reply_timeout\": \"queue\"")),
            },
        };
        match action {
            "next_agent" | "alert" if spec.reply_timeout_queue.is_some() => {
                Err(Error::invalid("reply_timeout_queue", "goes with \"on_reply_timeout\": \"queue\" only"))
            }
            "next_agent" => Ok(Some(ReplyTimeout::NextAgent)),
            "alert" => Ok(Some(ReplyTimeout::Alert)),
            "queue" => {
                let Some(name) = &spec.reply_timeout_queue else {
                    return Err(Error::invalid(
                        "reply_timeout_queue",
                        "name the queue a missed reply moves the chat to",
                    ));
                };
                let queues = self.store.queues(workspace).await?;
                let found = queues.iter().find(|q| q.name == *name || q.id.to_string() == *name);
                let q =
                    found.ok_or_else(|| Error::invalid("reply_timeout_queue", format!("no queue named `{name}`")))?;
                if current.is_some_and(|c| c.id == q.id) {
                    return Err(Error::invalid("reply_timeout_queue", "must be another queue than this one"));
                }
                Ok(Some(ReplyTimeout::Queue(q.id)))
            }
            other => Err(Error::invalid(FIELD, format!("`{other}`: must be next_agent, queue or alert"))),
        }
    }

    pub async fn queue(&self, caller: &Caller, id: QueueId) -> Result<Queue> {
        let workspace = self.permit(caller, Action::ManageQueues, None)?;
        self.store.queue(id).await?.filter(|q| q.workspace_id == workspace).ok_or_else(|| Error::not_found("queue"))
    }

    pub async fn queues(&self, caller: &Caller) -> Result<Vec<Queue>> {
        self.store.queues(self.permit(caller, Action::ManageQueues, None)?).await
    }

    /// A queue of the workspace by id or name.
    async fn find_queue(&self, workspace: crate::ids::WorkspaceId, key: &str, field: &str) -> Result<Queue> {
        let found = match QueueId::parse(key) {
            Ok(id) => self.store.queue(id).await?.filter(|q| q.workspace_id == workspace),
            Err(_) => self.store.queues(workspace).await?.into_iter().find(|q| q.name == key),
        };
        found.ok_or_else(|| Error::invalid(field, format!("no queue `{key}`")))
    }

    // The workflow.

    /// Replaces the workspace's workflow with a YAML (or JSON) document.
    /// Every queue it names must exist; new chats follow it at once.
    pub async fn apply_workflow(&self, caller: &Caller, source: &str) -> Result<AppliedWorkflow> {
        let workspace = self.permit(caller, Action::ManageWorkflow, None)?;
        let wf = workflow::parse_yaml(source)?;
        let queues = self.store.queues(workspace).await?;
        for (i, f) in wf.filters.iter().enumerate() {
            for (j, step) in f.steps.iter().enumerate() {
                if !queues.iter().any(|q| q.name == step.queue) {
                    return Err(unknown_queue(&format!("filters[{i}].steps[{j}].queue"), &step.queue, source));
                }
            }
        }
        if let Some(d) = &wf.default
            && !queues.iter().any(|q| q.name == d.queue)
        {
            return Err(unknown_queue("default.queue", &d.queue, source));
        }
        let names = wf.schedule_names();
        if !names.is_empty() {
            let schedules = self.store.schedules(workspace).await?;
            if let Some((field, name)) = names.iter().find(|(_, n)| !schedules.iter().any(|s| &s.name == n)) {
                let line = source
                    .lines()
                    .position(|l| l.contains("hours") && l.contains(name.as_str()))
                    .map(|n| format!("line {}, ", n + 1))
                    .unwrap_or_default();
                return Err(Error::invalid(field, format!("{line}no schedule named `{name}`; create it first")));
            }
        }
        let document = serde_json::to_string(&wf).map_err(Error::internal)?;
        let version = self.store.put_workflow(workspace, source, &document, self.now()).await?;
        Ok(AppliedWorkflow { version, workflow: wf })
    }

    pub async fn workflow(&self, caller: &Caller) -> Result<Option<StoredWorkflow>> {
        self.store.workflow(self.permit(caller, Action::ManageWorkflow, None)?).await
    }

    /// Routes a chat by its workspace's workflow, if it has one and a filter
    /// (or the default) matches. Returns the task when the chat was put in line.
    pub(crate) async fn route_by_workflow(&self, c: &Conversation) -> Result<Option<TaskId>> {
        let Some(stored) = self.store.workflow(c.workspace_id).await? else {
            return Ok(None);
        };
        let doc: Value = serde_json::from_str(&stored.document).map_err(Error::internal)?;
        let wf = workflow::from_json(&doc)?;
        let (open, hours) = self.hours_variables(&wf, c.workspace_id, c.entry_point_id).await?;
        let chat = json!({
            "attributes": c.attributes,
            "entry_point": c.entry_point_id.map(|e| e.to_string()),
            "record_id": c.record_id,
            "open": open,
        });
        let Some(route) = wf.route_in(&chat, &hours) else {
            return Ok(None);
        };
        let queues = self.store.queues(c.workspace_id).await?;
        let mut steps = Vec::new();
        for s in route.steps {
            // A queue renamed or removed since the workflow was applied is skipped.
            let Some(q) = queues.iter().find(|q| q.name == s.queue) else { continue };
            steps.push(RouteStep {
                queue: q.id,
                agents: s.agents.map(|e| e.source().to_owned()),
                timeout_secs: s.timeout_secs,
                skip_if_nobody_available: s.skip_if_nobody_available,
                agent: None,
                preferred: false,
                ring: s.ring,
                message: s.message,
                when_closed: s.when_closed,
            });
        }
        if steps.is_empty() {
            return Ok(None);
        }
        self.prefer_previous_agent(c, &mut steps).await?;
        let task = TaskId::new();
        self.store.apply(Command::Enqueue { conversation: c.id, task, route: steps, priority: route.priority }).await?;
        Ok(Some(task))
    }

    /// Puts a conversation in line for an agent: in the queue or for the
    /// agent named, or along the workflow when neither is.
    pub async fn route_conversation(
        &self,
        caller: &Caller,
        id: ConversationId,
        target: Target,
        priority: Option<i64>,
    ) -> Result<Task> {
        let workspace = self.permit(caller, Action::Route, None)?;
        let c = self.permit_chat(caller, Action::Route, id).await?;
        if c.state == ConversationState::Ended {
            return Err(Error::conversation_ended());
        }
        let priority = match priority {
            Some(p) if (-1000..=1000).contains(&p) => p as i32,
            Some(_) => return Err(Error::invalid("priority", "must be from -1000 to 1000")),
            None => 0,
        };
        let task = if target.queue.is_none() && target.agent.is_none() {
            self.route_by_workflow(&c)
                .await?
                .ok_or_else(|| Error::invalid("queue", "the workflow routes this chat nowhere; name a queue"))?
        } else {
            let mut route = vec![self.target_step(workspace, &target).await?];
            self.prefer_previous_agent(&c, &mut route).await?;
            let task = TaskId::new();
            self.store.apply(Command::Enqueue { conversation: id, task, route, priority }).await?;
            task
        };
        self.store.task(task).await?.ok_or_else(|| Error::internal("routed task not found"))
    }

    async fn target_step(&self, workspace: crate::ids::WorkspaceId, target: &Target) -> Result<RouteStep> {
        let agent = match target.agent {
            Some(id) => Some(
                self.store
                    .agent(id)
                    .await?
                    .filter(|a| a.workspace_id == workspace)
                    .ok_or_else(|| Error::invalid("agent", format!("no agent {id}")))?,
            ),
            None => None,
        };
        let queue = match (&target.queue, &agent) {
            (Some(q), _) => self.find_queue(workspace, q, "queue").await?,
            // A named agent with no queue: any queue with no expression
            // limits nothing; use the first queue the workspace has.
            (None, Some(_)) => self
                .store
                .queues(workspace)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| Error::invalid("queue", "the workspace has no queue"))?,
            (None, None) => return Err(Error::invalid("queue", "name a queue or an agent")),
        };
        Ok(RouteStep { agent: agent.map(|a| a.id), ..RouteStep::to_queue(queue.id) })
    }

    /// A conversation's current routing task, if it has one.
    pub async fn conversation_task(&self, caller: &Caller, id: ConversationId) -> Result<(Task, Vec<TaskHistory>)> {
        let c = self.permit_chat(caller, Action::ReadTask, id).await?;
        let task = self.task_of(&c).await?;
        let history = self.store.task_history(task.id).await?;
        Ok((task, history))
    }

    /// The chat's current task (no access check: the caller's was made).
    pub(crate) async fn task_of(&self, c: &Conversation) -> Result<Task> {
        let task = match c.task_id {
            Some(t) => self.store.task(t).await?,
            None => None,
        };
        task.ok_or_else(|| Error::not_found("task"))
    }

    // Offers.

    pub async fn pending_offers(&self, caller: &Caller) -> Result<Vec<Offer>> {
        self.permit(caller, Action::AnswerOffers, None)?;
        let agent = agent_of(caller)?;
        self.store.pending_offers(agent.id).await
    }

    /// The agent accepts an offer: it joins the conversation, which is now its.
    pub async fn accept_offer(&self, caller: &Caller, id: OfferId) -> Result<(Offer, Vec<Event>)> {
        self.permit(caller, Action::AnswerOffers, None)?;
        let agent = agent_of(caller)?;
        let offer = self.my_offer(agent, id).await?;
        let participant = as_member(agent);
        let command = Command::Accept {
            conversation: offer.conversation_id,
            offer: id,
            task: offer.task_id,
            agent: agent.id,
            participant,
        };
        let events = self.store.apply(command).await?;
        Ok((self.store.offer(id).await?.unwrap_or(offer), events))
    }

    pub async fn decline_offer(&self, caller: &Caller, id: OfferId) -> Result<Offer> {
        self.permit(caller, Action::AnswerOffers, None)?;
        let agent = agent_of(caller)?;
        let offer = self.my_offer(agent, id).await?;
        let command =
            Command::Decline { conversation: offer.conversation_id, offer: id, task: offer.task_id, agent: agent.id };
        self.store.apply(command).await?;
        Ok(self.store.offer(id).await?.unwrap_or(offer))
    }

    async fn my_offer(&self, agent: &Agent, id: OfferId) -> Result<Offer> {
        let offer = self.store.offer(id).await?.filter(|o| o.workspace_id == agent.workspace_id);
        let offer = offer.ok_or_else(|| Error::not_found("offer"))?;
        if offer.agent_id != agent.id {
            return Err(Error::forbidden("this offer was made to another agent"));
        }
        Ok(offer)
    }

    // "Message us" requests.

    /// The requests waiting for an agent, oldest first: for an agent, those
    /// of the queues it serves; for a key, all of them (or one queue's).
    pub async fn message_requests(&self, caller: &Caller, queue: Option<QueueId>) -> Result<Vec<MessageRequest>> {
        let workspace = self.permit(caller, Action::MessageRequests, None)?;
        let queues: HashMap<QueueId, Queue> =
            self.store.queues(workspace).await?.into_iter().map(|q| (q.id, q)).collect();
        let mut out = Vec::new();
        for task in self.store.message_tasks(workspace, MAX_MESSAGE_REQUESTS).await? {
            let Some(step) = task.current() else { continue };
            if queue.is_some_and(|q| q != step.queue) {
                continue;
            }
            if let Caller::Agent(a) = caller {
                let serves = queues.get(&step.queue).is_some_and(|q| matcher::eligible(a, q, step.agents.as_deref()));
                if !serves {
                    continue;
                }
            }
            let Some(conversation) = self.store.conversation(task.conversation_id).await? else { continue };
            out.push(MessageRequest { task, conversation });
        }
        Ok(out)
    }

    /// An agent picks up a request (an agent token for itself; a key names
    /// the agent). The agent must serve the request's queue. With the
    /// customer still there it joins the chat, which becomes its own.
    pub async fn pick_up(
        &self,
        caller: &Caller,
        id: ConversationId,
        agent: Option<AgentId>,
    ) -> Result<(MessageRequest, Vec<Event>)> {
        let workspace = self.permit(caller, Action::MessageRequests, agent)?;
        let agent = match (caller, agent) {
            (Caller::Agent(a), _) => a.clone(),
            (_, Some(id)) => self
                .store
                .agent(id)
                .await?
                .filter(|a| a.workspace_id == workspace)
                .ok_or_else(|| Error::invalid("agent_id", "no agent with this id in the workspace"))?,
            (_, None) => return Err(Error::invalid("agent_id", "name the agent who picks the request up")),
        };
        let c = self.store.conversation(id).await?.filter(|c| c.workspace_id == workspace);
        let c = c.ok_or_else(|| Error::not_found("conversation"))?;
        let task = self.task_of(&c).await?;
        if task.state != rm::TaskState::Message {
            let state = task.state.as_str();
            return Err(Error::new(ErrorCode::Conflict, format!("the chat is {state}, not a message request")));
        }
        let step = task.current().ok_or_else(|| Error::internal("a message request without its step"))?;
        let queue = self.store.queue(step.queue).await?.ok_or_else(|| Error::not_found("queue"))?;
        if !matcher::eligible(&agent, &queue, step.agents.as_deref()) {
            return Err(Error::forbidden(format!("the agent does not serve queue `{}`", queue.name)));
        }
        let participant = as_member(&agent);
        let command = Command::PickUp { conversation: id, task: task.id, agent: agent.id, participant };
        let events = self.store.apply(command).await?;
        let task = self.store.task(task.id).await?.unwrap_or(task);
        let conversation = self.store.conversation(id).await?.unwrap_or(c);
        Ok((MessageRequest { task, conversation }, events))
    }

    // Transfers.

    /// Moves a chat to another queue or agent. The assigned agent (or a
    /// workspace key) may transfer; the log keeps everything.
    pub async fn transfer(&self, caller: &Caller, id: ConversationId, target: Target) -> Result<Task> {
        let c = self.permit_chat(caller, Action::Transfer, id).await?;
        let task = self.task_of(&c).await?;
        let by = match caller {
            Caller::Admin { .. } => Author::System,
            Caller::Agent(a) => Author::Participant(self.agent_participant(a, id).await?.id),
            Caller::Participant(p) => Author::Participant(p.id),
        };
        let to = self.target_step(c.workspace_id, &target).await?;
        let agent_participant = match (task.state, task.agent_id) {
            (rm::TaskState::Assigned, Some(holder)) => self
                .store
                .participants(id)
                .await?
                .into_iter()
                .find(|p| p.agent_id == Some(holder) && p.is_active())
                .map(|p| p.id),
            _ => None,
        };
        self.store.apply(Command::Transfer { conversation: id, task: task.id, to, by, agent_participant }).await?;
        self.store.task(task.id).await?.ok_or_else(|| Error::internal("transferred task not found"))
    }

    /// Tells routers to look again (a queue changed).
    pub(crate) fn wake_router(&self, workspace: crate::ids::WorkspaceId) {
        self.bus.publish(Notice::Routing { workspace });
    }
}

/// An argon2 hash of a random password, to spend the same time on unknown
/// logins as on known ones. Computed once; it holds no state of anyone's.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&Secret::generate(SecretKind::Agent).expose()[4..]).unwrap_or_default())
}

fn name_taken(e: Error) -> Error {
    match e.code {
        ErrorCode::Conflict => Error::new(ErrorCode::Conflict, "a queue with this name exists").with_field("name"),
        _ => e,
    }
}

/// An unknown queue in a workflow, with the line it is on when it can be found.
fn unknown_queue(field: &str, name: &str, source: &str) -> Error {
    let line = source
        .lines()
        .position(|l| l.trim_start().trim_start_matches("- ").trim_start().starts_with("queue:") && l.contains(name))
        .map(|n| format!("line {}, ", n + 1))
        .unwrap_or_default();
    Error::invalid(field, format!("{line}no queue named `{name}`; create it first"))
}

fn apply_queue_spec(q: &mut Queue, spec: QueueSpec, on_reply_timeout: Option<ReplyTimeout>) -> Result<()> {
    if let Some(name) = spec.name {
        q.name = name_field("name", &name, 100)?;
    }
    if let Some(expression) = spec.expression {
        q.expression = match expression {
            Some(src) => Some(Expr::parse("expression", &src, &["agent"])?.source().to_owned()),
            None => None,
        };
    }
    if let Some(o) = spec.ordering {
        q.ordering =
            Ordering::parse(&o).ok_or_else(|| Error::invalid("ordering", "must be longest_idle or least_busy"))?;
    }
    if let Some(t) = spec.offer_timeout_secs {
        q.offer_timeout_secs = secs("offer_timeout_secs", t, 1)?;
    }
    if let Some(t) = spec.wrap_up_secs {
        q.wrap_up_secs = secs("wrap_up_secs", t, 0)?;
    }
    if let Some(t) = spec.prefer_previous_agent_secs {
        q.prefer_previous_agent_secs = t.map(|t| secs("prefer_previous_agent_secs", t, 1)).transpose()?;
    }
    if let Some(t) = spec.first_reply_secs {
        q.first_reply_secs = t.map(|t| secs("first_reply_secs", t, 1)).transpose()?;
    }
    if let Some(t) = spec.reply_secs {
        q.reply_secs = t.map(|t| secs("reply_secs", t, 1)).transpose()?;
    }
    if let Some(action) = on_reply_timeout {
        q.on_reply_timeout = action;
    }
    Ok(())
}
