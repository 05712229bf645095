//! The SQL of flows: deployed versions, runs and their log, forms, custom
//! event types and events, and the outbox. Written once for both backends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use switchboard_core::Result;
use switchboard_core::clock::Timestamp;
use switchboard_core::flows::events::EventType;
use switchboard_core::flows::form::Values;
use switchboard_core::flows::model::{Flow, Side};
use switchboard_core::flows::records::{
    CustomEvent, DeployedFlow, FormRecord, FormState, OutboxItem, OutboxState, RunLogEntry, Work,
};
use switchboard_core::flows::run::{Launcher, Run, RunState, Wait};
use switchboard_core::flows::webhooks::Webhook;
use switchboard_core::ids::{
    ConversationId, CustomEventId, FlowId, FlowRunId, FormId, OutboxId, WebhookId, WorkspaceId,
};
use switchboard_core::store::{OutboxQuery, RunQuery};

use crate::sql::{Cols, Stmt, corrupt, id, in_list, json, newest_first, opt_id, opt_ts, ts};

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

// Deployed flows.

const FLOW_COLS: &str = "id, workspace_id, name, version, source, created_at";

/// Parsed definitions by id: a version never changes once deployed, so each
/// is parsed once per process (bounded; cleared when full).
fn parsed(id: FlowId, source: &str) -> Result<Arc<Flow>> {
    static CACHE: OnceLock<Mutex<HashMap<FlowId, Arc<Flow>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(f) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return Ok(f.clone());
    }
    let flow = switchboard_core::flows::parse::parse_stored(source).map_err(|errors| {
        let first = errors.first().map(ToString::to_string).unwrap_or_default();
        corrupt("flow definition", first)
    })?;
    let flow = Arc::new(flow);
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= 1_000 {
        map.clear();
    }
    map.insert(id, flow.clone());
    Ok(flow)
}

pub(crate) fn deployed_flow(r: &impl Cols) -> Result<DeployedFlow> {
    let flow_id = id(r, "id", FlowId::parse)?;
    let source = r.text("source")?;
    Ok(DeployedFlow {
        id: flow_id,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        version: r.int("version")?,
        flow: parsed(flow_id, &source)?,
        source,
        created_at: ts(r, "created_at")?,
    })
}

/// Inserts a version numbered one past the latest of that name, in one
/// statement, so two deploys at once cannot take the same number (the
/// unique index refuses the loser).
pub(crate) fn insert_flow(f: &DeployedFlow) -> Stmt {
    Stmt::new(format!(
        "INSERT INTO flows ({FLOW_COLS}, trigger_kind) \
         SELECT ?, ?, ?, COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM flows WHERE workspace_id = ? AND name = ?"
    ))
    .bind(f.id.to_string())
    .bind(f.workspace_id.to_string())
    .bind(f.name.as_str())
    .bind(f.source.as_str())
    .bind(f.created_at)
    .bind(trigger_kind(&f.flow))
    .bind(f.workspace_id.to_string())
    .bind(f.name.as_str())
}

fn trigger_kind(f: &Flow) -> Option<String> {
    use switchboard_core::flows::model::Trigger;
    f.trigger.as_ref().map(|t| {
        match t {
            Trigger::ChatStarted(_) => "chat_started",
            Trigger::MessageAdded(_) => "message_added",
            Trigger::Event(_) => "event",
        }
        .to_owned()
    })
}

pub(crate) fn flow_by_id(f: FlowId) -> Stmt {
    Stmt::new(format!("SELECT {FLOW_COLS} FROM flows WHERE id = ?")).bind(f.to_string())
}

pub(crate) fn flows_by_ids(ids: &[FlowId]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {FLOW_COLS} FROM flows WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s
}

pub(crate) fn flow_versions(w: WorkspaceId, name: &str) -> Stmt {
    Stmt::new(format!("SELECT {FLOW_COLS} FROM flows WHERE workspace_id = ? AND name = ? ORDER BY version DESC"))
        .bind(w.to_string())
        .bind(name)
}

/// The latest version of every flow of a workspace.
pub(crate) fn latest_flows(w: WorkspaceId) -> Stmt {
    Stmt::new(format!(
        "SELECT {FLOW_COLS} FROM flows f WHERE workspace_id = ? AND version = \
         (SELECT MAX(version) FROM flows g WHERE g.workspace_id = f.workspace_id AND g.name = f.name) ORDER BY name"
    ))
    .bind(w.to_string())
}

/// The latest versions of a workspace's flows that have a trigger.
pub(crate) fn triggered_flows(w: WorkspaceId) -> Stmt {
    Stmt::new(format!(
        "SELECT {FLOW_COLS} FROM flows f WHERE workspace_id = ? AND trigger_kind IS NOT NULL AND version = \
         (SELECT MAX(version) FROM flows g WHERE g.workspace_id = f.workspace_id AND g.name = f.name) ORDER BY name"
    ))
    .bind(w.to_string())
}

// Runs.

const RUN_COLS: &str = "id, workspace_id, conversation_id, flow_id, flow_name, state, data, created_at, updated_at";

/// The parts of a run without a column of their own.
#[derive(Serialize, Deserialize)]
struct RunData {
    flow_version: i64,
    side: Side,
    step: String,
    #[serde(default)]
    wait: Option<Wait>,
    wait_seq: u32,
    attempts: u32,
    steps_taken: u32,
    params: Values,
    vars: Values,
    trigger: serde_json::Value,
    #[serde(default)]
    launcher: Option<Launcher>,
    #[serde(default)]
    parent: Option<(FlowRunId, u32)>,
    #[serde(default)]
    error: Option<String>,
}

pub(crate) fn run(r: &impl Cols) -> Result<Run> {
    let state = r.text("state")?;
    let data: RunData = json(r, "data")?;
    Ok(Run {
        id: id(r, "id", FlowRunId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        flow_id: id(r, "flow_id", FlowId::parse)?,
        flow_name: r.text("flow_name")?,
        flow_version: data.flow_version,
        side: data.side,
        state: RunState::parse(&state).ok_or_else(|| corrupt("run state", &state))?,
        step: data.step,
        wait: data.wait,
        wait_seq: data.wait_seq,
        attempts: data.attempts,
        steps_taken: data.steps_taken,
        params: data.params,
        vars: data.vars,
        trigger: data.trigger,
        launcher: data.launcher,
        parent: data.parent,
        error: data.error,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

fn run_args(s: &mut Stmt, r: &Run) {
    let data = RunData {
        flow_version: r.flow_version,
        side: r.side,
        step: r.step.clone(),
        wait: r.wait.clone(),
        wait_seq: r.wait_seq,
        attempts: r.attempts,
        steps_taken: r.steps_taken,
        params: r.params.clone(),
        vars: r.vars.clone(),
        trigger: r.trigger.clone(),
        launcher: r.launcher,
        parent: r.parent,
        error: r.error.clone(),
    };
    let (event_type, key) = match &r.wait {
        Some(Wait::Event { event_type, key, .. }) if r.state.is_active() => {
            (Some(event_type.clone()), Some(key.clone()))
        }
        _ => (None, None),
    };
    s.arg(r.id.to_string())
        .arg(r.workspace_id.to_string())
        .arg(r.conversation_id.to_string())
        .arg(r.flow_id.to_string())
        .arg(r.flow_name.as_str())
        .arg(r.state.as_str())
        .arg(to_json(&data))
        .arg(r.created_at)
        .arg(r.updated_at)
        .arg(event_type)
        .arg(key);
}

pub(crate) fn upsert_runs(rows: &[Run]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO flow_runs ({RUN_COLS}, wait_event_type, wait_key) VALUES "));
    s.tuples(rows, 11, run_args);
    s.push(
        " ON CONFLICT (id) DO UPDATE SET state = excluded.state, data = excluded.data, \
         updated_at = excluded.updated_at, wait_event_type = excluded.wait_event_type, wait_key = excluded.wait_key",
    );
    s
}

pub(crate) fn runs_by_ids(ids: &[FlowRunId], lock: bool) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {RUN_COLS} FROM flow_runs WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s.push(" ORDER BY id");
    if lock {
        s.push(" FOR UPDATE");
    }
    s
}

pub(crate) fn run_by_id(r: FlowRunId) -> Stmt {
    Stmt::new(format!("SELECT {RUN_COLS} FROM flow_runs WHERE id = ?")).bind(r.to_string())
}

/// A workspace's runs, newest first, filtered.
pub(crate) fn runs_of(w: WorkspaceId, q: &RunQuery) -> Stmt {
    let filters = [
        ("flow_name", q.flow.clone()),
        ("conversation_id", q.conversation.map(|c| c.to_string())),
        ("state", q.state.map(|s| s.as_str().to_owned())),
    ];
    newest_first(&format!("SELECT {RUN_COLS} FROM flow_runs"), w, &filters, q.before, q.limit)
}

/// Runs waiting for a custom event of this type and key.
pub(crate) fn runs_waiting_for(w: WorkspaceId, event_type: &str, key: &str) -> Stmt {
    Stmt::new(format!(
        "SELECT {RUN_COLS} FROM flow_runs WHERE workspace_id = ? AND wait_event_type = ? AND wait_key = ? ORDER BY id"
    ))
    .bind(w.to_string())
    .bind(event_type)
    .bind(key)
}

pub(crate) fn insert_run_log(rows: &[RunLogEntry]) -> Stmt {
    let mut s = Stmt::new("INSERT INTO flow_run_log (run_id, at, step, what, detail) VALUES ");
    s.tuples(rows, 5, |s, e| {
        s.arg(e.run_id.to_string()).arg(e.at).arg(e.step.as_str()).arg(e.what.as_str()).arg(e.detail.clone());
    });
    s
}

pub(crate) fn run_log_of(r: FlowRunId) -> Stmt {
    Stmt::new("SELECT run_id, at, step, what, detail FROM flow_run_log WHERE run_id = ? ORDER BY n").bind(r.to_string())
}

pub(crate) fn run_log_entry(r: &impl Cols) -> Result<RunLogEntry> {
    Ok(RunLogEntry {
        run_id: id(r, "run_id", FlowRunId::parse)?,
        at: ts(r, "at")?,
        step: r.text("step")?,
        what: r.text("what")?,
        detail: r.opt_text("detail")?,
    })
}

// Forms.

const FORM_COLS: &str = "id, conversation_id, run_id, addressed_to, spec, state, submitted, created_at, updated_at";

pub(crate) fn form(r: &impl Cols) -> Result<FormRecord> {
    let state = r.text("state")?;
    let to = r.text("addressed_to")?;
    Ok(FormRecord {
        id: id(r, "id", FormId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        run_id: opt_id(r, "run_id", FlowRunId::parse)?,
        to: match to.as_str() {
            "agent" => Side::Agent,
            "customer" => Side::Customer,
            other => return Err(corrupt("form addressee", other)),
        },
        spec: json(r, "spec")?,
        state: FormState::parse(&state).ok_or_else(|| corrupt("form state", &state))?,
        values: r
            .opt_text("submitted")?
            .map(|v| serde_json::from_str(&v))
            .transpose()
            .map_err(|e| corrupt("form values", e))?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn upsert_forms(rows: &[FormRecord]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO forms ({FORM_COLS}) VALUES "));
    s.tuples(rows, 9, |s, f| {
        s.arg(f.id.to_string())
            .arg(f.conversation_id.to_string())
            .arg(f.run_id.map(|r| r.to_string()))
            .arg(match f.to {
                Side::Agent => "agent",
                Side::Customer => "customer",
            })
            .arg(to_json(&f.spec))
            .arg(f.state.as_str())
            .arg(f.values.as_ref().map(to_json))
            .arg(f.created_at)
            .arg(f.updated_at);
    });
    s.push(" ON CONFLICT (id) DO UPDATE SET state = excluded.state, submitted = excluded.submitted, updated_at = excluded.updated_at");
    s
}

pub(crate) fn forms_by_ids(ids: &[FormId], lock: bool) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {FORM_COLS} FROM forms WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s.push(" ORDER BY id");
    if lock {
        s.push(" FOR UPDATE");
    }
    s
}

pub(crate) fn form_by_id(f: FormId) -> Stmt {
    Stmt::new(format!("SELECT {FORM_COLS} FROM forms WHERE id = ?")).bind(f.to_string())
}

// Custom event types and events.

pub(crate) fn put_event_type(w: WorkspaceId, t: &EventType, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO event_types (workspace_id, name, definition, retention_days, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, name) DO UPDATE SET definition = excluded.definition, \
         retention_days = excluded.retention_days, updated_at = excluded.updated_at",
    )
    .bind(w.to_string())
    .bind(t.name.as_str())
    .bind(to_json(t))
    .bind(i64::from(t.retention_days))
    .bind(at)
    .bind(at)
}

pub(crate) fn event_types_of(w: WorkspaceId) -> Stmt {
    Stmt::new("SELECT definition FROM event_types WHERE workspace_id = ? ORDER BY name").bind(w.to_string())
}

pub(crate) fn event_type(r: &impl Cols) -> Result<EventType> {
    json(r, "definition")
}

const CUSTOM_EVENT_COLS: &str =
    "replay_id, id, workspace_id, event_type, event_key, data, conversation_id, run_id, published_at";

pub(crate) fn insert_custom_events(rows: &[CustomEvent]) -> Stmt {
    let mut s = Stmt::new(
        "INSERT INTO custom_events (id, workspace_id, event_type, event_key, data, conversation_id, run_id, published_at) VALUES ",
    );
    s.tuples(rows, 8, |s, e| {
        s.arg(e.id.to_string())
            .arg(e.workspace_id.to_string())
            .arg(e.event_type.as_str())
            .arg(e.key.as_str())
            .arg(to_json(&e.data))
            .arg(e.conversation_id.map(|c| c.to_string()))
            .arg(e.run_id.map(|r| r.to_string()))
            .arg(e.published_at);
    });
    s
}

pub(crate) fn custom_event(r: &impl Cols) -> Result<CustomEvent> {
    Ok(CustomEvent {
        id: id(r, "id", CustomEventId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        event_type: r.text("event_type")?,
        key: r.text("event_key")?,
        data: json(r, "data")?,
        conversation_id: opt_id(r, "conversation_id", ConversationId::parse)?,
        run_id: opt_id(r, "run_id", FlowRunId::parse)?,
        replay_id: r.int("replay_id")?,
        published_at: ts(r, "published_at")?,
    })
}

pub(crate) fn custom_event_by_id(e: CustomEventId) -> Stmt {
    Stmt::new(format!("SELECT {CUSTOM_EVENT_COLS} FROM custom_events WHERE id = ?")).bind(e.to_string())
}

/// A workspace's events after a replay id, oldest first, optionally of one
/// type and key.
pub(crate) fn custom_events_after(
    w: WorkspaceId,
    after: i64,
    event_type: Option<&str>,
    key: Option<&str>,
    limit: u32,
) -> Stmt {
    let mut s =
        Stmt::new(format!("SELECT {CUSTOM_EVENT_COLS} FROM custom_events WHERE workspace_id = ? AND replay_id > ?"));
    s.arg(w.to_string()).arg(after);
    if let Some(t) = event_type {
        s.push(" AND event_type = ?").arg(t);
    }
    if let Some(k) = key {
        s.push(" AND event_key = ?").arg(k);
    }
    s.push(" ORDER BY replay_id LIMIT ?").arg(i64::from(limit));
    s
}

/// Events past their type's retention (the default for a type since removed).
pub(crate) fn delete_expired_events(now: Timestamp) -> Stmt {
    Stmt::new(
        "DELETE FROM custom_events WHERE published_at < ? - 86400000 * COALESCE((SELECT t.retention_days \
         FROM event_types t WHERE t.workspace_id = custom_events.workspace_id AND t.name = custom_events.event_type), ?)",
    )
    .bind(now)
    .bind(i64::from(switchboard_core::flows::events::DEFAULT_RETENTION_DAYS))
}

// The outbox.

const OUTBOX_COLS: &str = "id, workspace_id, conversation_id, kind, work, state, attempts, next_attempt_at, last_error, created_at, lane, ord";

pub(crate) fn insert_outbox(rows: &[OutboxItem]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO outbox ({OUTBOX_COLS}, updated_at) VALUES "));
    s.tuples(rows, 13, |s, o| {
        s.arg(o.id.to_string())
            .arg(o.workspace_id.to_string())
            .arg(o.conversation_id.map(|c| c.to_string()))
            .arg(o.work.kind())
            .arg(to_json(&o.work))
            .arg(o.state.as_str())
            .arg(i64::from(o.attempts))
            .arg(o.next_attempt_at)
            .arg(o.last_error.clone())
            .arg(o.created_at)
            .arg(o.lane.clone())
            .arg(o.ord)
            .arg(o.created_at);
    });
    s
}

/// Items written only for the conversations of theirs that have
/// attachments (the item, and that conversation).
pub(crate) fn insert_outbox_if_files(rows: &[(&OutboxItem, ConversationId)]) -> Stmt {
    let cols: Vec<String> = (1..=13).map(|i| format!("v.column{i}")).collect();
    let mut s =
        Stmt::new(format!("INSERT INTO outbox ({OUTBOX_COLS}, updated_at) SELECT {} FROM (VALUES ", cols.join(", ")));
    s.tuples(rows, 14, |s, (o, conversation)| {
        s.arg(o.id.to_string())
            .arg(o.workspace_id.to_string())
            .arg(o.conversation_id.map(|c| c.to_string()))
            .arg(o.work.kind())
            .arg(to_json(&o.work))
            .arg(o.state.as_str())
            .arg(i64::from(o.attempts))
            .arg(o.next_attempt_at)
            .arg(o.last_error.clone())
            .arg(o.created_at)
            .arg(o.lane.clone())
            .arg(o.ord)
            .arg(o.created_at)
            .arg(conversation.to_string());
    });
    s.push(") AS v WHERE EXISTS (SELECT 1 FROM attachments a WHERE a.conversation_id = v.column14)");
    s
}

pub(crate) fn outbox_item(r: &impl Cols) -> Result<OutboxItem> {
    let state = r.text("state")?;
    let work: Work = json(r, "work")?;
    Ok(OutboxItem {
        id: id(r, "id", OutboxId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: opt_id(r, "conversation_id", ConversationId::parse)?,
        work,
        state: OutboxState::parse(&state).ok_or_else(|| corrupt("outbox state", &state))?,
        attempts: u32::try_from(r.int("attempts")?).map_err(|e| corrupt("attempts", e))?,
        next_attempt_at: ts(r, "next_attempt_at")?,
        last_error: r.opt_text("last_error")?,
        created_at: ts(r, "created_at")?,
        lane: r.opt_text("lane")?,
        ord: r.int("ord")?,
    })
}

/// Leases due pending items to this node until `lease_until`: a node that
/// dies mid-work leaves them to be taken again once the lease lapses. Of a
/// lane, only the oldest pending item is ever taken, so a webhook's
/// deliveries go out one at a time, in order.
pub(crate) fn claim_outbox(now: Timestamp, lease_until: Timestamp, limit: u32) -> Stmt {
    // The lease test is repeated outside the subquery: on PostgreSQL a row
    // another node leased meanwhile is re-checked there and skipped.
    Stmt::new(format!(
        "UPDATE outbox SET lease_until = ? WHERE id IN (SELECT o.id FROM outbox o WHERE o.state = 'pending' \
         AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?) \
         AND (o.lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.state = 'pending' \
         AND e.ord < o.ord)) ORDER BY o.next_attempt_at, o.ord LIMIT ?) AND state = 'pending' \
         AND (lease_until IS NULL OR lease_until <= ?) RETURNING {OUTBOX_COLS}"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(now)
    .bind(i64::from(limit))
    .bind(now)
}

/// Leases the next item of one lane, if it is due and free: how the node
/// that finished a lane's item goes on with that lane at once (an index
/// seek, where the general claim looks at every pending item).
pub(crate) fn claim_next_in_lane(lane: &str, now: Timestamp, lease_until: Timestamp) -> Stmt {
    Stmt::new(format!(
        "UPDATE outbox SET lease_until = ? WHERE id = (SELECT id FROM outbox WHERE lane = ? AND state = 'pending' \
         ORDER BY ord LIMIT 1) AND state = 'pending' AND next_attempt_at <= ? \
         AND (lease_until IS NULL OR lease_until <= ?) RETURNING {OUTBOX_COLS}"
    ))
    .bind(lease_until)
    .bind(lane)
    .bind(now)
    .bind(now)
}

/// When the next item can be taken: its next attempt, or when the lease on
/// it lapses; items behind another in their lane do not count.
pub(crate) fn next_outbox_due() -> Stmt {
    Stmt::new(
        "SELECT MIN(CASE WHEN o.lease_until IS NOT NULL AND o.lease_until > o.next_attempt_at \
         THEN o.lease_until ELSE o.next_attempt_at END) AS due FROM outbox o WHERE o.state = 'pending' \
         AND (o.lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.state = 'pending' \
         AND e.ord < o.ord))",
    )
}

/// A failed attempt: try again at `next`, or give up (`dead`).
pub(crate) fn retry_outbox(
    id: OutboxId,
    attempts: u32,
    next: Timestamp,
    error: &str,
    dead: bool,
    now: Timestamp,
) -> Stmt {
    Stmt::new(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, state = ?, lease_until = NULL, \
         updated_at = ? WHERE id = ? AND state = 'pending'",
    )
    .bind(i64::from(attempts))
    .bind(next)
    .bind(error)
    .bind(if dead { "dead" } else { "pending" })
    .bind(now)
    .bind(id.to_string())
}

pub(crate) fn finish_outbox(id: OutboxId, state: OutboxState, error: Option<&str>, now: Timestamp) -> Stmt {
    Stmt::new(
        "UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error), lease_until = NULL, updated_at = ? WHERE id = ?",
    )
    .bind(state.as_str())
    .bind(error.map(str::to_owned))
    .bind(now)
    .bind(id.to_string())
}

/// A dead item goes back to pending, due now.
pub(crate) fn replay_outbox(w: WorkspaceId, id: OutboxId, now: Timestamp) -> Stmt {
    Stmt::new(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL, updated_at = ? \
         WHERE id = ? AND workspace_id = ? AND state = 'dead'",
    )
    .bind(now)
    .bind(now)
    .bind(id.to_string())
    .bind(w.to_string())
}

pub(crate) fn outbox_of(w: WorkspaceId, q: &OutboxQuery) -> Stmt {
    let filters = [("state", q.state.map(|s| s.as_str().to_owned())), ("lane", q.lane.clone())];
    newest_first(&format!("SELECT {OUTBOX_COLS} FROM outbox"), w, &filters, q.before, q.limit)
}

/// Finished items older than `before` go.
pub(crate) fn delete_finished_outbox(before: Timestamp) -> Stmt {
    Stmt::new("DELETE FROM outbox WHERE state = 'done' AND updated_at < ?").bind(before)
}

pub(crate) fn opt_due(r: &impl Cols) -> Result<Option<Timestamp>> {
    opt_ts(r, "due")
}

// Webhooks.

const WEBHOOK_COLS: &str =
    "id, workspace_id, conversation_id, target, kinds, enabled, disabled_reason, created_at, updated_at";

pub(crate) fn insert_webhook(h: &Webhook) -> Stmt {
    Stmt::new(format!("INSERT INTO webhooks ({WEBHOOK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(h.id.to_string())
        .bind(h.workspace_id.to_string())
        .bind(h.conversation_id.map(|c| c.to_string()))
        .bind(to_json(&h.target))
        .bind(to_json(&h.kinds))
        .bind(h.enabled)
        .bind(h.disabled_reason.clone())
        .bind(h.created_at)
        .bind(h.updated_at)
}

pub(crate) fn webhook(r: &impl Cols) -> Result<Webhook> {
    Ok(Webhook {
        id: id(r, "id", WebhookId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: opt_id(r, "conversation_id", ConversationId::parse)?,
        target: json(r, "target")?,
        kinds: json(r, "kinds")?,
        enabled: r.boolean("enabled")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn webhook_by_id(h: WebhookId) -> Stmt {
    Stmt::new(format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE id = ?")).bind(h.to_string())
}

pub(crate) fn webhooks_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {WEBHOOK_COLS} FROM webhooks WHERE workspace_id = ? ORDER BY id")).bind(w.to_string())
}

/// The enabled workspace-wide webhooks of a batch's workspaces (the planner's view).
pub(crate) fn hooks_of_workspaces(ws: &[WorkspaceId]) -> Stmt {
    let mut s = Stmt::new(format!(
        "SELECT {WEBHOOK_COLS} FROM webhooks WHERE conversation_id IS NULL AND enabled AND workspace_id IN "
    ));
    in_list(&mut s, ws.iter().map(ToString::to_string));
    s
}

pub(crate) fn delete_webhook(h: WebhookId) -> Stmt {
    Stmt::new("DELETE FROM webhooks WHERE id = ?").bind(h.to_string())
}

pub(crate) fn set_webhook_enabled(h: WebhookId, enabled: bool, reason: Option<&str>, at: Timestamp) -> Stmt {
    Stmt::new("UPDATE webhooks SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?")
        .bind(enabled)
        .bind(reason.map(str::to_owned))
        .bind(at)
        .bind(h.to_string())
}

pub(crate) fn webhook_secret_of(w: WorkspaceId) -> Stmt {
    Stmt::new("SELECT secret FROM webhook_secrets WHERE workspace_id = ?").bind(w.to_string())
}

pub(crate) fn put_webhook_secret(w: WorkspaceId, secret: &str, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO webhook_secrets (workspace_id, secret, created_at) VALUES (?, ?, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at",
    )
    .bind(w.to_string())
    .bind(secret)
    .bind(at)
}
