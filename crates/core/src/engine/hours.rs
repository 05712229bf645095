//! Hours of operation: the workspace's schedules, which queues and entry
//! points follow them, and an entry point's availability (open, closed, or
//! open with nobody to answer) for the widget.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Caller, Engine};
use crate::access::Action;
use crate::clock::Timestamp;
use crate::error::{Error, ErrorCode, Result};
use crate::ids::{EntryPointId, ScheduleId, WorkspaceId};
use crate::routing::hours::{self, Schedule, ScheduleDoc, Status};
use crate::routing::matcher;
use crate::routing::model::WhenClosed;
use crate::routing::workflow::{self, Workflow};

/// Whether customers can expect an answer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityState {
    Open,
    Closed,
    /// Open (or no schedule), but no agent who could take a new chat now.
    NoAgentAvailable,
}

/// An entry point's availability and the next change of its hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub state: AvailabilityState,
    /// When closed: when it opens next (`None`: not within a year).
    pub next_open_at: Option<Timestamp>,
    /// When open: when it closes (`None`: no schedule, or not within a year).
    pub closes_at: Option<Timestamp>,
}

/// A schedule spec: `Some(None)` takes the schedule off, `Some(Some(name))` sets it.
pub type ScheduleChoice = Option<Option<String>>;

impl Engine {
    /// Creates a schedule from its document (see [`hours::parse_yaml`]).
    pub async fn create_schedule(&self, caller: &Caller, doc: ScheduleDoc) -> Result<Schedule> {
        let workspace = self.permit(caller, Action::ManageQueues, None)?;
        self.insert_schedule(workspace, doc).await
    }

    /// Replaces a schedule's name and hours.
    pub async fn put_schedule(&self, caller: &Caller, id: ScheduleId, doc: ScheduleDoc) -> Result<Schedule> {
        let current = self.schedule(caller, id).await?;
        self.replace_schedule(current, doc).await
    }

    /// Creates a schedule from YAML, or replaces the one of the same name.
    /// Returns it and whether it is new.
    pub async fn apply_schedule(&self, caller: &Caller, source: &str) -> Result<(Schedule, bool)> {
        let workspace = self.permit(caller, Action::ManageQueues, None)?;
        let doc = hours::parse_yaml(source)?;
        let existing = self.store.schedules(workspace).await?.into_iter().find(|s| s.name == doc.name);
        match existing {
            Some(current) => Ok((self.replace_schedule(current, doc).await?, false)),
            None => Ok((self.insert_schedule(workspace, doc).await?, true)),
        }
    }

    pub async fn schedule(&self, caller: &Caller, id: ScheduleId) -> Result<Schedule> {
        let workspace = self.permit(caller, Action::ManageQueues, None)?;
        self.store
            .schedule(id)
            .await?
            .filter(|s| s.workspace_id == workspace)
            .ok_or_else(|| Error::not_found("schedule"))
    }

    pub async fn schedules(&self, caller: &Caller) -> Result<Vec<Schedule>> {
        self.store.schedules(self.permit(caller, Action::ManageQueues, None)?).await
    }

    /// Deletes a schedule that no queue, entry point or workflow condition uses.
    pub async fn delete_schedule(&self, caller: &Caller, id: ScheduleId) -> Result<()> {
        let schedule = self.schedule(caller, id).await?;
        self.unused_by_workflow(&schedule, "delete").await?;
        if !self.store.delete_schedule(schedule.id).await? {
            return Err(Error::not_found("schedule"));
        }
        Ok(())
    }

    async fn insert_schedule(&self, workspace: WorkspaceId, doc: ScheduleDoc) -> Result<Schedule> {
        let now = self.now();
        let s = Schedule {
            id: ScheduleId::new(),
            workspace_id: workspace,
            name: doc.name,
            hours: doc.hours,
            created_at: now,
            updated_at: now,
        };
        self.store.create_schedule(&s).await.map_err(schedule_name_taken)?;
        Ok(s)
    }

    async fn replace_schedule(&self, current: Schedule, doc: ScheduleDoc) -> Result<Schedule> {
        if doc.name != current.name {
            self.unused_by_workflow(&current, "rename").await?;
        }
        let s = Schedule { name: doc.name, hours: doc.hours, updated_at: self.now(), ..current };
        self.store.update_schedule(&s).await.map_err(schedule_name_taken)?;
        // Queues that follow it may have opened.
        self.wake_router(s.workspace_id);
        Ok(s)
    }

    /// Refuses to delete or rename a schedule that the workflow's conditions
    /// look up by name (`hours["name"]`): they would quietly read false.
    async fn unused_by_workflow(&self, s: &Schedule, action: &str) -> Result<()> {
        let Some(stored) = self.store.workflow(s.workspace_id).await? else { return Ok(()) };
        let wf = workflow::from_json(&serde_json::from_str(&stored.document).map_err(Error::internal)?)?;
        match wf.schedule_names().into_iter().find(|(_, name)| *name == s.name) {
            Some((field, name)) => Err(Error::new(
                ErrorCode::Conflict,
                format!("the workflow's {field} uses hours[\"{name}\"]; change the workflow before you {action} it"),
            )),
            None => Ok(()),
        }
    }

    /// The schedule a queue or entry point spec names, in the workspace:
    /// `Some(None)` to take it off, `None` when the spec does not say.
    pub(crate) async fn schedule_choice(
        &self,
        workspace: WorkspaceId,
        choice: ScheduleChoice,
    ) -> Result<Option<Option<ScheduleId>>> {
        let Some(choice) = choice else { return Ok(None) };
        let Some(name) = choice else { return Ok(Some(None)) };
        let found = self.store.schedules(workspace).await?.into_iter().find(|s| s.name == name);
        match found {
            Some(s) => Ok(Some(Some(s.id))),
            None => Err(Error::invalid("schedule", format!("no schedule named `{name}`; create it first"))),
        }
    }

    /// The name of a schedule, for showing it on a queue or entry point.
    pub async fn schedule_name(&self, id: Option<ScheduleId>) -> Result<Option<String>> {
        let Some(id) = id else { return Ok(None) };
        Ok(self.store.schedule(id).await?.map(|s| s.name))
    }

    /// What routing conditions see of the hours: `chat.open` (the chat's
    /// entry point's schedule is open now; true without one) and `hours`
    /// (each schedule of the workspace by name → open now). Read only when
    /// the workflow's conditions can use them.
    pub(crate) async fn hours_variables(
        &self,
        wf: &Workflow,
        workspace: WorkspaceId,
        entry_point: Option<EntryPointId>,
    ) -> Result<(bool, Value)> {
        if !wf.uses_hours() {
            return Ok((true, json!({})));
        }
        let now = self.now();
        let schedules = self.store.schedules(workspace).await?;
        let hours: serde_json::Map<String, Value> =
            schedules.iter().map(|s| (s.name.clone(), Value::Bool(s.hours.is_open(now)))).collect();
        let entry = match entry_point {
            Some(id) => self.store.entry_point(id).await?.and_then(|e| e.schedule_id),
            None => None,
        };
        let open = entry.and_then(|id| schedules.iter().find(|s| s.id == id)).is_none_or(|s| s.hours.is_open(now));
        Ok((open, Value::Object(hours)))
    }

    /// An entry point's availability, for whoever may start a chat through
    /// it: public, with the browser's `Origin` checked like a chat's start.
    pub async fn availability(&self, entry: EntryPointId, origin: Option<&str>) -> Result<Availability> {
        let ep = self.chat_entry_point(entry, origin).await?;
        let now = self.now();
        let status = match ep.schedule_id {
            Some(id) => self.store.schedule(id).await?.map(|s| s.hours.status(now)),
            None => None,
        };
        let closes_at = match status {
            Some(Status::Closed { next_open_at }) => {
                return Ok(Availability { state: AvailabilityState::Closed, next_open_at, closes_at: None });
            }
            Some(Status::Open { closes_at }) => closes_at,
            None => None,
        };
        let state = if self.anyone_for_new_chat(&ep).await? {
            AvailabilityState::Open
        } else {
            AvailabilityState::NoAgentAvailable
        };
        Ok(Availability { state, next_open_at: None, closes_at })
    }

    /// Whether an agent could be offered a chat from `ep` with no
    /// attributes now: enabled, in an available activity, with a free slot,
    /// and eligible for the queue (and step condition) of the first step the
    /// workflow would give it, if that queue is open. The route is followed
    /// as the router would at once: past a closed queue whose step says
    /// `when_closed: next`, and past a step that skips when nobody eligible
    /// is there; a message step means nobody. Without a route from the
    /// workflow, any such agent of the workspace counts.
    async fn anyone_for_new_chat(&self, ep: &crate::model::EntryPoint) -> Result<bool> {
        let workspace = ep.workspace_id;
        let agents = self.store.agents(workspace).await?;
        let mut free = agents.iter().filter(|a| a.can_take());
        let Some(stored) = self.store.workflow(workspace).await? else { return Ok(free.next().is_some()) };
        let wf = workflow::from_json(&serde_json::from_str(&stored.document).map_err(Error::internal)?)?;
        let (open, hours) = self.hours_variables(&wf, workspace, Some(ep.id)).await?;
        let chat = json!({"attributes": {}, "entry_point": ep.id.to_string(), "record_id": null, "open": open});
        let Some(route) = wf.route_in(&chat, &hours) else { return Ok(free.next().is_some()) };
        let queues = self.store.queues(workspace).await?;
        // A queue renamed or removed since the workflow was applied is skipped, as when routing.
        let steps: Vec<_> =
            route.steps.iter().filter_map(|s| queues.iter().find(|q| q.name == s.queue).map(|q| (s, q))).collect();
        let free: Vec<_> = free.collect();
        for (i, (step, queue)) in steps.iter().enumerate() {
            let last = i + 1 == steps.len();
            if step.message.is_some() {
                return Ok(false);
            }
            let closed = match queue.schedule_id {
                Some(id) => self.store.schedule(id).await?.is_some_and(|s| !s.hours.is_open(self.now())),
                None => false,
            };
            if closed {
                if step.when_closed == WhenClosed::Next && !last {
                    continue;
                }
                return Ok(false);
            }
            let condition = step.agents.as_ref().map(|e| e.source());
            if free.iter().any(|a| matcher::eligible(a, queue, condition)) {
                return Ok(true);
            }
            let present = agents.iter().any(|a| a.enabled && a.available && matcher::eligible(a, queue, condition));
            if !(step.skip_if_nobody_available && !present && !last) {
                return Ok(false);
            }
        }
        Ok(false)
    }
}

fn schedule_name_taken(e: Error) -> Error {
    match e.code {
        ErrorCode::Conflict => Error::new(ErrorCode::Conflict, "a schedule with this name exists").with_field("name"),
        _ => e,
    }
}
