//! Flows as operations: deploying definitions, launching runs against a
//! conversation or a record id, forms, custom events, and reading runs.
//! Runs change only through commands (see `plan_flows.rs`).

use super::{Caller, Engine, admin_workspace};
use crate::command::{Author, Command, NewRun};
use crate::error::{Error, ErrorCode, Result};
use crate::event::Event;
use crate::flows::events::{self, EventType};
use crate::flows::form::Values;
use crate::flows::parse::{self, Catalog};
use crate::flows::records::{CustomEvent, DeployedFlow, OutboxItem};
use crate::flows::run::{Launcher, Run, RunState};
use crate::flows::{model::Flow, model::Trigger, records::RunLogEntry};
use crate::ids::{ConversationId, CustomEventId, FlowId, FlowRunId, FormId, OutboxId, WorkspaceId};
use crate::model::{Conversation, ConversationState};
use crate::store::{OutboxQuery, RunQuery};

/// The most event types a workspace may declare.
const MAX_EVENT_TYPES: usize = 200;

/// Where a launch runs.
#[derive(Debug, Clone)]
pub enum LaunchTarget {
    Conversation(ConversationId),
    /// The open conversation linked to this record id (the newest, if several).
    Record(String),
}

impl Engine {
    /// What a flow in `workspace` may refer to, for the checks at deploy;
    /// `also` are flow names deployed together with it.
    async fn catalog(&self, workspace: WorkspaceId, also: &[String]) -> Result<Catalog> {
        let mut flows: Vec<String> = self.store.flows(workspace).await?.into_iter().map(|f| f.name).collect();
        flows.extend(also.iter().cloned());
        Ok(Catalog {
            event_types: Some(self.store.event_types(workspace).await?),
            flows: Some(flows),
            queues: Some(self.store.queues(workspace).await?.into_iter().map(|q| q.name).collect()),
        })
    }

    /// Checks a flow file as a deploy would, without storing it. `also`:
    /// names of flows about to be deployed with it (they may refer to each other).
    pub async fn validate_flow(&self, caller: &Caller, source: &str, also: &[String]) -> Result<Flow> {
        let workspace = admin_workspace(caller)?;
        let catalog = self.catalog(workspace, also).await?;
        parse_source(source, &catalog)
    }

    /// Stores a new version of a flow; runs already going stay on theirs.
    pub async fn deploy_flow(&self, caller: &Caller, source: &str, also: &[String]) -> Result<DeployedFlow> {
        let workspace = admin_workspace(caller)?;
        let flow = self.validate_flow(caller, source, also).await?;
        let deployed = DeployedFlow {
            id: FlowId::new(),
            workspace_id: workspace,
            name: flow.name.clone(),
            version: 0,
            source: source.to_owned(),
            flow: std::sync::Arc::new(flow),
            created_at: self.now(),
        };
        self.store.deploy_flow(&deployed).await
    }

    /// The latest version of each flow.
    pub async fn flows(&self, caller: &Caller) -> Result<Vec<DeployedFlow>> {
        self.store.flows(admin_workspace(caller)?).await
    }

    /// Every version of a flow, newest first.
    pub async fn flow_versions(&self, caller: &Caller, name: &str) -> Result<Vec<DeployedFlow>> {
        let versions = self.store.flow_versions(admin_workspace(caller)?, name).await?;
        if versions.is_empty() {
            return Err(Error::not_found("flow"));
        }
        Ok(versions)
    }

    /// Starts the latest version of flow `name` in a conversation. An agent
    /// launches into its own chats (and `as: agent` steps speak as it); a
    /// workspace key into any of its workspace's.
    pub async fn launch_flow(&self, caller: &Caller, name: &str, target: LaunchTarget, params: Values) -> Result<Run> {
        let workspace = match caller {
            Caller::Admin { workspace } => *workspace,
            Caller::Agent(a) => a.workspace_id,
            Caller::Participant(_) => return Err(Error::forbidden("flows are launched by agents and the API")),
        };
        let flow = self.latest(workspace, name).await?;
        let c = self.launch_conversation(caller, workspace, target).await?;
        let launcher = match caller {
            Caller::Agent(a) => {
                Some(Launcher { agent_id: a.id, participant_id: self.agent_participant(a, c.id).await?.id })
            }
            _ => None,
        };
        let trigger = serde_json::json!({ "launched_by": launcher.map(|l| l.agent_id.to_string()) });
        self.start_run(&c, &flow, params, trigger, launcher).await
    }

    async fn latest(&self, workspace: WorkspaceId, name: &str) -> Result<DeployedFlow> {
        let versions = self.store.flow_versions(workspace, name).await?;
        versions.into_iter().next().ok_or_else(|| Error::invalid("flow", format!("no flow `{name}` is deployed")))
    }

    /// The conversation a launch runs in; it must be open and the caller's.
    async fn launch_conversation(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        target: LaunchTarget,
    ) -> Result<Conversation> {
        let c = match target {
            LaunchTarget::Conversation(id) => self.conversation(caller, id).await?,
            LaunchTarget::Record(record) => {
                let mut found = None;
                for c in self.store.conversations_by_record(workspace, &record).await? {
                    if c.state == ConversationState::Open && self.conversation(caller, c.id).await.is_ok() {
                        found = Some(c);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    Error::new(
                        ErrorCode::NotFound,
                        format!("no open conversation of yours is linked to record {record}"),
                    )
                    .with_field("record_id")
                })?
            }
        };
        if c.state == ConversationState::Ended {
            return Err(Error::conversation_ended());
        }
        Ok(c)
    }

    pub(crate) async fn start_run(
        &self,
        c: &Conversation,
        flow: &DeployedFlow,
        params: Values,
        trigger: serde_json::Value,
        launcher: Option<Launcher>,
    ) -> Result<Run> {
        let run =
            NewRun { id: FlowRunId::new(), conversation: c.id, flow: flow.id, params, trigger, launcher, parent: None };
        let id = run.id;
        self.store.apply(Command::StartRun { run: Box::new(run) }).await?;
        self.store.run(id).await?.ok_or_else(|| Error::internal("started run not found"))
    }

    /// Starts the flows triggered by a chat starting on its entry point;
    /// returns whether one did (then the flow, not the workflow, routes it).
    pub(crate) async fn start_chat_flows(&self, c: &Conversation, entry_point_name: &str) -> Result<bool> {
        let names_it = |eps: &Vec<String>| {
            let id = c.entry_point_id.map(|i| i.to_string()).unwrap_or_default();
            eps.iter().any(|e| e == entry_point_name || *e == id)
        };
        let mut started = false;
        let triggered = self.store.triggered_flows(c.workspace_id).await?;
        for flow in &triggered {
            if matches!(&flow.flow.trigger, Some(Trigger::ChatStarted(eps)) if names_it(eps)) {
                let trigger = serde_json::json!({ "chat_started": entry_point_name });
                self.start_run(c, flow, Values::new(), trigger, None).await?;
                started = true;
            }
        }
        // A flow that answers messages on this entry point listens to the chat
        // through a webhook scoped to it, like one added through the API.
        for flow in &triggered {
            if matches!(&flow.flow.trigger, Some(Trigger::MessageAdded(eps)) if names_it(eps)) {
                let caller = Caller::Admin { workspace: c.workspace_id };
                let spec = super::webhooks::WebhookSpec {
                    target: crate::flows::webhooks::Target::Flow(flow.name.clone()),
                    kinds: vec!["message".to_owned()],
                    conversation: Some(c.id),
                };
                self.create_webhook(&caller, spec).await?;
            }
        }
        Ok(started)
    }

    pub async fn runs(&self, caller: &Caller, mut query: RunQuery) -> Result<Vec<Run>> {
        let workspace = admin_workspace(caller)?;
        query.limit = query.limit.clamp(1, self.limits.page_max);
        self.store.runs(workspace, &query).await
    }

    /// A run, for its workspace's key or the agent who launched it.
    pub async fn run(&self, caller: &Caller, id: FlowRunId) -> Result<Run> {
        let run = self.store.run(id).await?.ok_or_else(|| Error::not_found("flow run"))?;
        let allowed = match caller {
            Caller::Admin { workspace } => *workspace == run.workspace_id,
            Caller::Agent(a) => run.launcher.is_some_and(|l| l.agent_id == a.id),
            Caller::Participant(_) => false,
        };
        if !allowed {
            return Err(Error::not_found("flow run"));
        }
        Ok(run)
    }

    pub async fn run_log(&self, caller: &Caller, id: FlowRunId) -> Result<Vec<RunLogEntry>> {
        self.run(caller, id).await?;
        self.store.run_log(id).await
    }

    pub async fn cancel_run(&self, caller: &Caller, id: FlowRunId) -> Result<Run> {
        let run = self.run(caller, id).await?;
        if run.state != RunState::Waiting {
            return Err(Error::new(ErrorCode::Conflict, format!("the run is {}", run.state.as_str())));
        }
        self.store.apply(Command::CancelRun { conversation: run.conversation_id, run: id }).await?;
        self.store.run(id).await?.ok_or_else(|| Error::internal("cancelled run not found"))
    }

    /// Answers a form: the customer its own, an agent one addressed to agents.
    pub async fn submit_form(
        &self,
        caller: &Caller,
        id: ConversationId,
        form: FormId,
        values: Values,
    ) -> Result<Event> {
        self.conversation(caller, id).await?;
        let by = match caller {
            Caller::Admin { .. } => Author::System,
            Caller::Participant(p) => Author::Participant(p.id),
            Caller::Agent(a) => Author::Participant(self.agent_participant(a, id).await?.id),
        };
        let events = self.store.apply(Command::SubmitForm { conversation: id, form, by, values }).await?;
        events.into_iter().next().ok_or_else(|| Error::internal("form submission committed no event"))
    }

    // Custom events.

    pub async fn put_event_type(&self, caller: &Caller, event_type: EventType) -> Result<EventType> {
        let workspace = admin_workspace(caller)?;
        check_event_type(&event_type)?;
        let existing = self.store.event_types(workspace).await?;
        if existing.len() >= MAX_EVENT_TYPES && !existing.iter().any(|t| t.name == event_type.name) {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("a workspace may declare {MAX_EVENT_TYPES} event types"),
            ));
        }
        self.store.put_event_type(workspace, &event_type, self.now()).await?;
        Ok(event_type)
    }

    pub async fn event_types(&self, caller: &Caller) -> Result<Vec<EventType>> {
        self.store.event_types(admin_workspace(caller)?).await
    }

    /// Publishes a custom event of a declared type, checked against it.
    pub async fn publish_event(
        &self,
        caller: &Caller,
        event_type: &str,
        key: String,
        data: Values,
    ) -> Result<CustomEvent> {
        let workspace = admin_workspace(caller)?;
        let declared = self.store.event_types(workspace).await?;
        let Some(t) = declared.iter().find(|t| t.name == event_type) else {
            return Err(Error::invalid("type", format!("no event type `{event_type}` is declared")));
        };
        events::check_key(&key)?;
        let data = t.check(&data)?;
        let event = CustomEvent {
            id: CustomEventId::new(),
            workspace_id: workspace,
            event_type: event_type.to_owned(),
            key,
            data,
            conversation_id: None,
            run_id: None,
            replay_id: 0,
            published_at: self.now(),
        };
        let id = event.id;
        self.store.apply(Command::Publish { event: Box::new(event) }).await?;
        self.store.custom_event(id).await?.ok_or_else(|| Error::internal("published event not found"))
    }

    /// A workspace's custom events after a replay id, oldest first: for a
    /// workspace key, or an agent (of its workspace).
    pub async fn event_feed(
        &self,
        caller: &Caller,
        after: i64,
        event_type: Option<&str>,
        key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CustomEvent>> {
        let workspace = self.event_reader(caller)?;
        self.store.custom_events(workspace, after, event_type, key, limit.clamp(1, self.limits.page_max)).await
    }

    /// The workspace whose custom events the caller may follow.
    pub fn event_reader(&self, caller: &Caller) -> Result<WorkspaceId> {
        match caller {
            Caller::Admin { workspace } => Ok(*workspace),
            Caller::Agent(a) => Ok(a.workspace_id),
            Caller::Participant(_) => Err(Error::forbidden("custom events are for agents and workspace keys")),
        }
    }

    // The outbox.

    pub async fn outbox(&self, caller: &Caller, mut query: OutboxQuery) -> Result<Vec<OutboxItem>> {
        let workspace = admin_workspace(caller)?;
        query.limit = query.limit.clamp(1, self.limits.page_max);
        self.store.outbox(workspace, &query).await
    }

    /// Puts a dead item back in line.
    pub async fn replay_outbox(&self, caller: &Caller, id: OutboxId) -> Result<()> {
        let workspace = admin_workspace(caller)?;
        if !self.store.replay_outbox(workspace, id, self.now()).await? {
            return Err(Error::new(ErrorCode::NotFound, "no dead outbox item with this id"));
        }
        self.bus.publish(crate::bus::Notice::Work { workspace });
        Ok(())
    }
}

/// Parses a flow file, YAML or JSON, reporting every problem.
fn parse_source(source: &str, catalog: &Catalog) -> Result<Flow> {
    parse::parse_text(source, catalog).map_err(Error::several)
}

fn check_event_type(t: &EventType) -> Result<()> {
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 100
        && t.name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && t.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    if !name_ok {
        return Err(Error::invalid("name", "lowercase letters, digits, `_`, `.` and `-`, at most 100 characters"));
    }
    if t.fields.len() > crate::flows::form::MAX_FIELDS {
        return Err(Error::invalid("fields", format!("at most {} fields", crate::flows::form::MAX_FIELDS)));
    }
    for (i, f) in t.fields.iter().enumerate() {
        if f.name.is_empty() || f.name.len() > 100 || !f.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::invalid(format!("fields[{i}].name"), "letters, digits and `_`, at most 100 characters"));
        }
        if t.fields[..i].iter().any(|g| g.name == f.name) {
            return Err(Error::invalid(format!("fields[{i}].name"), format!("`{}` appears twice", f.name)));
        }
        if let crate::flows::form::FieldKind::Text { pattern: Some(p) } = &f.kind {
            crate::flows::form::compile_pattern(p).map_err(|m| Error::invalid(format!("fields[{i}].pattern"), m))?;
        }
    }
    if t.retention_days == 0 || t.retention_days > events::MAX_RETENTION_DAYS {
        return Err(Error::invalid("retention_days", format!("from 1 to {}", events::MAX_RETENTION_DAYS)));
    }
    Ok(())
}
