//! The SQL of routing: agents, activities, queues, the workflow, tasks,
//! offers and task history. Written once for both backends, like `sql.rs`.
//!
//! Agents, tasks and offers that a batch changes are written whole with one
//! upsert per table (`INSERT … ON CONFLICT (id) DO UPDATE`), which both
//! backends run as one statement however many rows there are.

use switchboard_core::Result;
use switchboard_core::clock::Timestamp;
use switchboard_core::ids::{
    AgentId, ConversationId, FileRequestId, OfferId, ParticipantId, QueueId, ScheduleId, TaskId, WorkspaceId,
};
use switchboard_core::model::{FileRequest, FileRequestState};
use switchboard_core::routing::model::{
    Activity, Agent, Offer, OfferState, Ordering, Queue, ReplyTimeout, Task, TaskHistory, TaskState,
};

use crate::sql::{Cols, Stmt, corrupt, id, in_list, json, opt_id, opt_ts, ts};

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn lock_clause(s: &mut Stmt, lock: bool) {
    if lock {
        s.push(" FOR UPDATE");
    }
}

pub(crate) fn by_ids(cols: &str, table: &str, ids: impl Iterator<Item = String>, lock: bool) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {cols} FROM {table} WHERE id IN "));
    in_list(&mut s, ids);
    s.push(" ORDER BY id");
    lock_clause(&mut s, lock);
    s
}

fn count(r: &impl Cols, col: &str) -> Result<u32> {
    u32::try_from(r.int(col)?).map_err(|e| corrupt(col, e))
}

// Agents.

const AGENT_COLS: &str = "id, workspace_id, name, login, attributes, capacity, enabled, activity, available, \
     activity_at, load, offers, idle_since, last_seen_at, created_at, updated_at";

pub(crate) fn agent(r: &impl Cols) -> Result<Agent> {
    Ok(Agent {
        id: id(r, "id", AgentId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        login: r.opt_text("login")?,
        attributes: json(r, "attributes")?,
        capacity: count(r, "capacity")?,
        enabled: r.boolean("enabled")?,
        activity: r.text("activity")?,
        available: r.boolean("available")?,
        activity_at: ts(r, "activity_at")?,
        load: count(r, "load")?,
        offers: json(r, "offers")?,
        idle_since: ts(r, "idle_since")?,
        last_seen_at: opt_ts(r, "last_seen_at")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

fn agent_args(s: &mut Stmt, a: &Agent) {
    s.arg(a.id.to_string())
        .arg(a.workspace_id.to_string())
        .arg(a.name.as_str())
        .arg(a.login.clone())
        .arg(to_json(&a.attributes))
        .arg(i64::from(a.capacity))
        .arg(a.enabled)
        .arg(a.activity.as_str())
        .arg(a.available)
        .arg(a.activity_at)
        .arg(i64::from(a.load))
        .arg(to_json(&a.offers))
        .arg(a.idle_since)
        .arg(a.last_seen_at)
        .arg(a.created_at)
        .arg(a.updated_at);
}

pub(crate) fn insert_agent(a: &Agent, password_hash: Option<&str>) -> Stmt {
    let mut s = Stmt::new(format!(
        "INSERT INTO agents ({AGENT_COLS}, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ));
    agent_args(&mut s, a);
    s.arg(password_hash.map(str::to_owned));
    s
}

/// Writes the routing state and profile of agents a batch changed. The login
/// and password are not the writer's to change and are left alone.
pub(crate) fn upsert_agents(rows: &[Agent]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO agents ({AGENT_COLS}) VALUES "));
    s.tuples(rows, 16, agent_args);
    s.push(
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, attributes = excluded.attributes, \
         capacity = excluded.capacity, enabled = excluded.enabled, activity = excluded.activity, \
         available = excluded.available, activity_at = excluded.activity_at, load = excluded.load, \
         offers = excluded.offers, idle_since = excluded.idle_since, last_seen_at = excluded.last_seen_at, \
         updated_at = excluded.updated_at",
    );
    s
}

pub(crate) fn agents_by_ids(ids: &[AgentId], lock: bool) -> Stmt {
    by_ids(AGENT_COLS, "agents", ids.iter().map(ToString::to_string), lock)
}

pub(crate) fn agent_by_id(a: AgentId) -> Stmt {
    Stmt::new(format!("SELECT {AGENT_COLS} FROM agents WHERE id = ?")).bind(a.to_string())
}

pub(crate) fn agents_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {AGENT_COLS} FROM agents WHERE workspace_id = ? ORDER BY id")).bind(w.to_string())
}

pub(crate) fn agent_by_login(w: WorkspaceId, login: &str) -> Stmt {
    Stmt::new(format!("SELECT {AGENT_COLS}, password_hash FROM agents WHERE workspace_id = ? AND login = ?"))
        .bind(w.to_string())
        .bind(login)
}

pub(crate) fn set_agent_password(a: AgentId, hash: Option<&str>) -> Stmt {
    Stmt::new("UPDATE agents SET password_hash = ? WHERE id = ?").bind(hash.map(str::to_owned)).bind(a.to_string())
}

/// Agents who may be offered chats, in every workspace (the router's view),
/// longest idle first. With `free_only`, only those with a free slot, at most `limit`.
pub(crate) fn present_agents(free_only: Option<u32>) -> Stmt {
    match free_only {
        None => {
            Stmt::new(format!("SELECT {AGENT_COLS} FROM agents WHERE available AND enabled ORDER BY idle_since, id"))
        }
        Some(limit) => Stmt::new(format!(
            "SELECT {AGENT_COLS} FROM agents WHERE available AND enabled AND load < capacity \
             ORDER BY idle_since, id LIMIT ?"
        ))
        .bind(i64::from(limit)),
    }
}

/// Present agents no socket has vouched for since `before`.
pub(crate) fn unseen_agents(before: Timestamp) -> Stmt {
    Stmt::new(format!(
        "SELECT {AGENT_COLS} FROM agents WHERE available AND enabled AND (last_seen_at IS NULL OR last_seen_at < ?)"
    ))
    .bind(before)
}

pub(crate) fn insert_agent_token(a: AgentId, hash: &str, name: &str, at: Timestamp) -> Stmt {
    Stmt::new("INSERT INTO agent_tokens (token_hash, agent_id, name, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)")
        .bind(hash)
        .bind(a.to_string())
        .bind(name)
        .bind(at)
}

pub(crate) fn agent_by_token(hash: &str) -> Stmt {
    Stmt::new(format!(
        "SELECT {} FROM agent_tokens t JOIN agents a ON a.id = t.agent_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        crate::sql::qualified("a", AGENT_COLS)
    ))
    .bind(hash)
}

pub(crate) fn revoke_agent_tokens(a: AgentId, at: Timestamp) -> Stmt {
    Stmt::new("UPDATE agent_tokens SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL")
        .bind(at)
        .bind(a.to_string())
}

// Activities.

pub(crate) fn activities_of(w: WorkspaceId) -> Stmt {
    Stmt::new("SELECT name, available FROM activities WHERE workspace_id = ? ORDER BY name").bind(w.to_string())
}

pub(crate) fn activity(r: &impl Cols) -> Result<Activity> {
    Ok(Activity { name: r.text("name")?, available: r.boolean("available")? })
}

pub(crate) fn insert_activity(w: WorkspaceId, a: &Activity, at: Timestamp) -> Stmt {
    Stmt::new("INSERT INTO activities (workspace_id, name, available, created_at) VALUES (?, ?, ?, ?)")
        .bind(w.to_string())
        .bind(a.name.as_str())
        .bind(a.available)
        .bind(at)
}

pub(crate) fn delete_activity(w: WorkspaceId, name: &str) -> Stmt {
    Stmt::new("DELETE FROM activities WHERE workspace_id = ? AND name = ?").bind(w.to_string()).bind(name)
}

pub(crate) fn agents_in_activity(w: WorkspaceId, name: &str) -> Stmt {
    Stmt::new("SELECT COUNT(*) AS n FROM agents WHERE workspace_id = ? AND activity = ?").bind(w.to_string()).bind(name)
}

// Queues.

const QUEUE_COLS: &str = "id, workspace_id, name, expression, ordering, offer_timeout_secs, wrap_up_secs, created_at, updated_at, \
     prefer_previous_agent_secs, first_reply_secs, reply_secs, on_reply_timeout, reply_timeout_queue_id, schedule_id";

fn opt_secs(r: &impl Cols, column: &str) -> Result<Option<u32>> {
    r.opt_int(column)?.map(|n| u32::try_from(n).map_err(|e| corrupt(column, e))).transpose()
}

fn reply_timeout(r: &impl Cols) -> Result<ReplyTimeout> {
    let action = r.text("on_reply_timeout")?;
    Ok(match action.as_str() {
        "next_agent" => ReplyTimeout::NextAgent,
        "alert" => ReplyTimeout::Alert,
        "queue" => ReplyTimeout::Queue(
            opt_id(r, "reply_timeout_queue_id", QueueId::parse)?
                .ok_or_else(|| corrupt("reply_timeout_queue_id", "missing"))?,
        ),
        _ => return Err(corrupt("on_reply_timeout", &action)),
    })
}

fn reply_timeout_queue(q: &Queue) -> Option<String> {
    match q.on_reply_timeout {
        ReplyTimeout::Queue(id) => Some(id.to_string()),
        ReplyTimeout::NextAgent | ReplyTimeout::Alert => None,
    }
}

pub(crate) fn queue(r: &impl Cols) -> Result<Queue> {
    let ordering = r.text("ordering")?;
    Ok(Queue {
        id: id(r, "id", QueueId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        expression: r.opt_text("expression")?,
        ordering: Ordering::parse(&ordering).ok_or_else(|| corrupt("ordering", &ordering))?,
        offer_timeout_secs: count(r, "offer_timeout_secs")?,
        wrap_up_secs: count(r, "wrap_up_secs")?,
        prefer_previous_agent_secs: opt_secs(r, "prefer_previous_agent_secs")?,
        first_reply_secs: opt_secs(r, "first_reply_secs")?,
        reply_secs: opt_secs(r, "reply_secs")?,
        on_reply_timeout: reply_timeout(r)?,
        schedule_id: opt_id(r, "schedule_id", ScheduleId::parse)?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn insert_queue(q: &Queue) -> Stmt {
    Stmt::new(format!("INSERT INTO queues ({QUEUE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(q.id.to_string())
        .bind(q.workspace_id.to_string())
        .bind(q.name.as_str())
        .bind(q.expression.clone())
        .bind(q.ordering.as_str())
        .bind(i64::from(q.offer_timeout_secs))
        .bind(i64::from(q.wrap_up_secs))
        .bind(q.created_at)
        .bind(q.updated_at)
        .bind(q.prefer_previous_agent_secs.map(i64::from))
        .bind(q.first_reply_secs.map(i64::from))
        .bind(q.reply_secs.map(i64::from))
        .bind(q.on_reply_timeout.as_str())
        .bind(reply_timeout_queue(q))
        .bind(q.schedule_id.map(|s| s.to_string()))
}

pub(crate) fn update_queue(q: &Queue) -> Stmt {
    Stmt::new(
        "UPDATE queues SET name = ?, expression = ?, ordering = ?, offer_timeout_secs = ?, wrap_up_secs = ?, \
         prefer_previous_agent_secs = ?, first_reply_secs = ?, reply_secs = ?, on_reply_timeout = ?, \
         reply_timeout_queue_id = ?, schedule_id = ?, updated_at = ? WHERE id = ?",
    )
    .bind(q.name.as_str())
    .bind(q.expression.clone())
    .bind(q.ordering.as_str())
    .bind(i64::from(q.offer_timeout_secs))
    .bind(i64::from(q.wrap_up_secs))
    .bind(q.prefer_previous_agent_secs.map(i64::from))
    .bind(q.first_reply_secs.map(i64::from))
    .bind(q.reply_secs.map(i64::from))
    .bind(q.on_reply_timeout.as_str())
    .bind(reply_timeout_queue(q))
    .bind(q.schedule_id.map(|s| s.to_string()))
    .bind(q.updated_at)
    .bind(q.id.to_string())
}

pub(crate) fn queue_by_id(q: QueueId) -> Stmt {
    Stmt::new(format!("SELECT {QUEUE_COLS} FROM queues WHERE id = ?")).bind(q.to_string())
}

pub(crate) fn queues_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {QUEUE_COLS} FROM queues WHERE workspace_id = ? ORDER BY name")).bind(w.to_string())
}

pub(crate) fn all_queues() -> Stmt {
    Stmt::new(format!("SELECT {QUEUE_COLS} FROM queues"))
}

pub(crate) fn queues_by_ids(ids: &[QueueId]) -> Stmt {
    by_ids(QUEUE_COLS, "queues", ids.iter().map(ToString::to_string), false)
}

// The workflow.

pub(crate) fn workflow_of(w: WorkspaceId) -> Stmt {
    Stmt::new("SELECT source, document, version, updated_at FROM workflows WHERE workspace_id = ?").bind(w.to_string())
}

pub(crate) fn put_workflow(w: WorkspaceId, source: &str, document: &str, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO workflows (workspace_id, source, document, version, updated_at) VALUES (?, ?, ?, 1, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET source = excluded.source, document = excluded.document, \
         version = workflows.version + 1, updated_at = excluded.updated_at",
    )
    .bind(w.to_string())
    .bind(source)
    .bind(document)
    .bind(at)
}

// Tasks.

const TASK_COLS: &str = "id, workspace_id, conversation_id, state, route, step, priority, enqueued_at, step_at, \
     agent_id, offer_id, passed, created_at, updated_at, member_id, reply_due_at";

pub(crate) fn task(r: &impl Cols) -> Result<Task> {
    let state = r.text("state")?;
    Ok(Task {
        id: id(r, "id", TaskId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        state: TaskState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        route: json(r, "route")?,
        step: count(r, "step")?,
        priority: i32::try_from(r.int("priority")?).map_err(|e| corrupt("priority", e))?,
        enqueued_at: ts(r, "enqueued_at")?,
        step_at: ts(r, "step_at")?,
        agent_id: opt_id(r, "agent_id", AgentId::parse)?,
        offer_id: opt_id(r, "offer_id", OfferId::parse)?,
        passed: json(r, "passed")?,
        member_id: opt_id(r, "member_id", ParticipantId::parse)?,
        reply_due_at: opt_ts(r, "reply_due_at")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn upsert_tasks(rows: &[Task]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO tasks ({TASK_COLS}) VALUES "));
    s.tuples(rows, 16, |s, t| {
        s.arg(t.id.to_string())
            .arg(t.workspace_id.to_string())
            .arg(t.conversation_id.to_string())
            .arg(t.state.as_str())
            .arg(to_json(&t.route))
            .arg(i64::from(t.step))
            .arg(i64::from(t.priority))
            .arg(t.enqueued_at)
            .arg(t.step_at)
            .arg(t.agent_id.map(|a| a.to_string()))
            .arg(t.offer_id.map(|o| o.to_string()))
            .arg(to_json(&t.passed))
            .arg(t.created_at)
            .arg(t.updated_at)
            .arg(t.member_id.map(|p| p.to_string()))
            .arg(t.reply_due_at);
    });
    s.push(
        " ON CONFLICT (id) DO UPDATE SET state = excluded.state, route = excluded.route, step = excluded.step, \
         priority = excluded.priority, enqueued_at = excluded.enqueued_at, step_at = excluded.step_at, \
         agent_id = excluded.agent_id, offer_id = excluded.offer_id, passed = excluded.passed, \
         updated_at = excluded.updated_at, member_id = excluded.member_id, reply_due_at = excluded.reply_due_at",
    );
    s
}

pub(crate) fn tasks_by_ids(ids: &[TaskId], lock: bool) -> Stmt {
    by_ids(TASK_COLS, "tasks", ids.iter().map(ToString::to_string), lock)
}

pub(crate) fn task_by_id(t: TaskId) -> Stmt {
    Stmt::new(format!("SELECT {TASK_COLS} FROM tasks WHERE id = ?")).bind(t.to_string())
}

/// Waiting tasks in every workspace, best first.
pub(crate) fn waiting_tasks(limit: u32) -> Stmt {
    Stmt::new(format!(
        "SELECT {TASK_COLS} FROM tasks WHERE state = 'waiting' ORDER BY priority DESC, enqueued_at, id LIMIT ?"
    ))
    .bind(i64::from(limit))
}

/// A workspace's tasks that still need or hold an agent.
pub(crate) fn live_tasks_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!(
        "SELECT {TASK_COLS} FROM tasks WHERE workspace_id = ? AND state IN ('waiting', 'offered', 'assigned', 'wrap_up') \
         ORDER BY priority DESC, enqueued_at, id"
    ))
    .bind(w.to_string())
}

/// A workspace's "message us" requests, oldest first.
pub(crate) fn message_tasks_of(w: WorkspaceId, limit: u32) -> Stmt {
    Stmt::new(format!(
        "SELECT {TASK_COLS} FROM tasks WHERE workspace_id = ? AND state = 'message' ORDER BY step_at, id LIMIT ?"
    ))
    .bind(w.to_string())
    .bind(i64::from(limit))
}

/// The chats an agent has (assigned or in wrap-up).
pub(crate) fn tasks_of_agent(a: AgentId) -> Stmt {
    Stmt::new(format!(
        "SELECT {TASK_COLS} FROM tasks WHERE agent_id = ? AND state IN ('assigned', 'wrap_up') ORDER BY id"
    ))
    .bind(a.to_string())
}

// Offers.

const OFFER_COLS: &str =
    "id, task_id, conversation_id, workspace_id, agent_id, queue_id, state, created_at, expires_at, decided_at";

pub(crate) fn offer(r: &impl Cols) -> Result<Offer> {
    let state = r.text("state")?;
    Ok(Offer {
        id: id(r, "id", OfferId::parse)?,
        task_id: id(r, "task_id", TaskId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        agent_id: id(r, "agent_id", AgentId::parse)?,
        queue_id: id(r, "queue_id", QueueId::parse)?,
        state: OfferState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        created_at: ts(r, "created_at")?,
        expires_at: ts(r, "expires_at")?,
        decided_at: opt_ts(r, "decided_at")?,
    })
}

pub(crate) fn upsert_offers(rows: &[Offer]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO offers ({OFFER_COLS}) VALUES "));
    s.tuples(rows, 10, |s, o| {
        s.arg(o.id.to_string())
            .arg(o.task_id.to_string())
            .arg(o.conversation_id.to_string())
            .arg(o.workspace_id.to_string())
            .arg(o.agent_id.to_string())
            .arg(o.queue_id.to_string())
            .arg(o.state.as_str())
            .arg(o.created_at)
            .arg(o.expires_at)
            .arg(o.decided_at);
    });
    s.push(" ON CONFLICT (id) DO UPDATE SET state = excluded.state, decided_at = excluded.decided_at");
    s
}

pub(crate) fn offers_by_ids(ids: &[OfferId], lock: bool) -> Stmt {
    by_ids(OFFER_COLS, "offers", ids.iter().map(ToString::to_string), lock)
}

pub(crate) fn offer_by_id(o: OfferId) -> Stmt {
    Stmt::new(format!("SELECT {OFFER_COLS} FROM offers WHERE id = ?")).bind(o.to_string())
}

pub(crate) fn pending_offers_of_agent(a: AgentId) -> Stmt {
    Stmt::new(format!("SELECT {OFFER_COLS} FROM offers WHERE agent_id = ? AND state = 'pending' ORDER BY id"))
        .bind(a.to_string())
}

// History.

pub(crate) fn insert_history(rows: &[TaskHistory]) -> Stmt {
    let mut s = Stmt::new("INSERT INTO task_history (task_id, at, what, agent_id, queue_id, detail) VALUES ");
    s.tuples(rows, 6, |s, h| {
        s.arg(h.task_id.to_string())
            .arg(h.at)
            .arg(h.what.as_str())
            .arg(h.agent_id.map(|a| a.to_string()))
            .arg(h.queue_id.map(|q| q.to_string()))
            .arg(h.detail.as_ref().map(to_json));
    });
    s
}

pub(crate) fn history_of(t: TaskId) -> Stmt {
    Stmt::new("SELECT task_id, at, what, agent_id, queue_id, detail FROM task_history WHERE task_id = ? ORDER BY at")
        .bind(t.to_string())
}

pub(crate) fn history(r: &impl Cols) -> Result<TaskHistory> {
    let detail = r.opt_text("detail")?.map(|d| serde_json::from_str(&d).map_err(|e| corrupt("detail", e)));
    Ok(TaskHistory {
        task_id: id(r, "task_id", TaskId::parse)?,
        at: ts(r, "at")?,
        what: r.text("what")?,
        agent_id: opt_id(r, "agent_id", AgentId::parse)?,
        queue_id: opt_id(r, "queue_id", QueueId::parse)?,
        detail: detail.transpose()?,
    })
}

// File requests (the toolkit's `initFileTransfer`).

const FILE_REQUEST_COLS: &str =
    "id, conversation_id, requested_by, record_id, state, attachment_id, created_at, updated_at";

pub(crate) fn file_request(r: &impl Cols) -> Result<FileRequest> {
    let state = r.text("state")?;
    Ok(FileRequest {
        id: id(r, "id", FileRequestId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        requested_by: opt_id(r, "requested_by", ParticipantId::parse)?,
        record_id: r.opt_text("record_id")?,
        state: FileRequestState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attachment_id: opt_id(r, "attachment_id", switchboard_core::ids::AttachmentId::parse)?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn upsert_file_requests(rows: &[FileRequest]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO file_requests ({FILE_REQUEST_COLS}) VALUES "));
    s.tuples(rows, 8, |s, f| {
        s.arg(f.id.to_string())
            .arg(f.conversation_id.to_string())
            .arg(f.requested_by.map(|p| p.to_string()))
            .arg(f.record_id.clone())
            .arg(f.state.as_str())
            .arg(f.attachment_id.map(|a| a.to_string()))
            .arg(f.created_at)
            .arg(f.updated_at);
    });
    s.push(
        " ON CONFLICT (id) DO UPDATE SET state = excluded.state, attachment_id = excluded.attachment_id, \
         updated_at = excluded.updated_at",
    );
    s
}

pub(crate) fn file_requests_by_ids(ids: &[FileRequestId], lock: bool) -> Stmt {
    by_ids(FILE_REQUEST_COLS, "file_requests", ids.iter().map(ToString::to_string), lock)
}

pub(crate) fn file_requests_of(c: ConversationId) -> Stmt {
    Stmt::new(format!("SELECT {FILE_REQUEST_COLS} FROM file_requests WHERE conversation_id = ? ORDER BY id"))
        .bind(c.to_string())
}
