//! Wire shapes of a routing explanation (`GET …/task/explain`).

use std::collections::BTreeMap;

use serde::Serialize;
use switchboard_core::engine::explain::{EligibleAgent, LiveExplanation, SkippedAgent, TaskExplanation};
use switchboard_core::routing::explain::{Counts, Verdict, Win};
use switchboard_core::routing::model::Queue;
use utoipa::ToSchema;

use crate::wire_routing::{HistoryView, TaskView};

/// A chat's routing, explained.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainView {
    pub task: ExplainedTaskView,
    /// The queue of the current step: its ordering and expression.
    pub queue: Option<ExplainQueueView>,
    /// The task's history; each `offered` line's `detail` says why that agent.
    pub history: Vec<HistoryView>,
    /// For a waiting chat only: who could take it now and why not the
    /// others, from every agent of the workspace read now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<NowView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainedTaskView {
    #[serde(flatten)]
    pub task: TaskView,
    /// Seconds since the chat got in line, while it waits or is offered.
    pub waiting_secs: Option<u64>,
    /// Agents who declined the chat or let an offer lapse in this step.
    pub passed: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainQueueView {
    pub id: String,
    pub name: String,
    /// `longest_idle` or `least_busy`.
    pub ordering: String,
    /// Which agents serve it (CEL over `agent`); null: every agent.
    pub expression: Option<String>,
}

impl From<Queue> for ExplainQueueView {
    fn from(q: Queue) -> Self {
        Self { id: q.id.to_string(), name: q.name, ordering: q.ordering.as_str().into(), expression: q.expression }
    }
}

/// The classification of a waiting chat now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NowView {
    pub at: String,
    /// Its place in its queue's line (1: next); chats before it are offered
    /// first, so an eligible agent may go to one of them. Null beyond the
    /// first 2,000 waiting chats.
    pub position: Option<u32>,
    /// The workspace's agents, every one counted in `counts`.
    pub agents: u32,
    /// The best eligible agents, best first (at most five).
    pub eligible: Vec<EligibleView>,
    /// Why the first eligible agent would win; null when nobody is eligible.
    pub winner: Option<WinView>,
    /// The first ten skipped agents, those nearest to eligible first
    /// (`declined_before`, `at_capacity`, `expression_false`, …), then by id.
    pub skipped: Vec<SkippedView>,
    /// Every agent of the workspace by reason: `disabled`, `not_present`,
    /// `outside_hours`, `not_the_named_agent`, `expression_false`,
    /// `at_capacity`, `declined_before`, `eligible` (reasons with nobody are left out).
    pub counts: BTreeMap<String, u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EligibleView {
    /// 1 is offered next.
    pub rank: u32,
    pub agent_id: String,
    pub name: String,
    /// The longest-idle ranking key.
    pub idle_since: String,
    /// The least-busy ranking key (then `idle_since`).
    pub load: u32,
    pub capacity: u32,
}

/// Why an agent wins: `named_agent`, `preferred_agent`, `only_one_eligible`,
/// `longest_idle` (with `since`) or `least_busy` (with `load` and `capacity`).
#[derive(Debug, Serialize, ToSchema)]
pub struct WinView {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

/// A skipped agent: `reason` with what it rests on (`activity` for
/// `not_present`; `condition`, `queue` or `step`, for `expression_false`;
/// `load` and `capacity` for `at_capacity`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedView {
    pub agent_id: String,
    pub name: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
}

impl From<Win> for WinView {
    fn from(w: Win) -> Self {
        let reason = w.as_str().to_owned();
        match w {
            Win::LongestIdle { since } => Self { reason, since: Some(since.to_rfc3339()), load: None, capacity: None },
            Win::LeastBusy { load, capacity } => {
                Self { reason, since: None, load: Some(load), capacity: Some(capacity) }
            }
            _ => Self { reason, since: None, load: None, capacity: None },
        }
    }
}

impl From<SkippedAgent> for SkippedView {
    fn from(s: SkippedAgent) -> Self {
        let mut view = Self {
            agent_id: s.agent_id.to_string(),
            name: s.name,
            reason: s.verdict.reason().as_str().to_owned(),
            activity: None,
            condition: None,
            load: None,
            capacity: None,
        };
        match s.verdict {
            Verdict::NotPresent { activity } => view.activity = Some(activity),
            Verdict::ExpressionFalse { condition } => view.condition = Some(condition.as_str().to_owned()),
            Verdict::AtCapacity { load, capacity } => (view.load, view.capacity) = (Some(load), Some(capacity)),
            _ => {}
        }
        view
    }
}

impl From<EligibleAgent> for EligibleView {
    fn from(e: EligibleAgent) -> Self {
        Self {
            rank: e.rank,
            agent_id: e.keys.agent_id.to_string(),
            name: e.name,
            idle_since: e.keys.idle_since.to_rfc3339(),
            load: e.keys.load,
            capacity: e.keys.capacity,
        }
    }
}

fn counts(c: Counts) -> BTreeMap<String, u32> {
    c.into_iter().map(|(r, n)| (r.as_str().to_owned(), n)).collect()
}

impl From<LiveExplanation> for NowView {
    fn from(l: LiveExplanation) -> Self {
        Self {
            at: l.at.to_rfc3339(),
            position: l.position,
            agents: l.agents,
            eligible: l.eligible.into_iter().map(Into::into).collect(),
            winner: l.win.map(Into::into),
            skipped: l.skipped.into_iter().map(Into::into).collect(),
            counts: counts(l.counts),
        }
    }
}

impl ExplainView {
    pub fn new(e: TaskExplanation) -> Self {
        let waited = (e.at.millis() - e.task.enqueued_at.millis()).max(0) as u64 / 1000;
        let waiting_secs = e.task.state.is_open().then_some(waited);
        let passed = e.task.passed.iter().map(ToString::to_string).collect();
        Self {
            task: ExplainedTaskView { task: TaskView::new(e.task, None), waiting_secs, passed },
            queue: e.queue.map(Into::into),
            history: e.history.into_iter().map(Into::into).collect(),
            now: e.now.map(Into::into),
        }
    }
}
