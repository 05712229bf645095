//! The SQL, written once for both backends.
//!
//! Statements are built as text with `?` placeholders and a list of
//! [`Val`]ues; each backend binds the values its own way (PostgreSQL's `$n`
//! placeholders are numbered just before execution). Rows are read through
//! the [`Cols`] trait, implemented for both backends' row types, so the
//! decoding below is shared too. The schema uses only TEXT, 64-bit integers
//! and booleans, which both backends map the same way.

use switchboard_core::clock::Timestamp;
use switchboard_core::command::{Plan, SnapshotKeys};
use switchboard_core::event::{Event, EventKind};
use switchboard_core::ids::{
    AgentId, ApiKeyId, ConversationId, EntryPointId, EventId, ParticipantId, ScheduleId, TaskId, WorkspaceId,
};
use switchboard_core::model::{
    ApiKey, Conversation, ConversationState, EntryPoint, IdleSettings, Participant, Rehydration, Role, Workspace,
};
use switchboard_core::store::{ConversationQuery, EventRange, Order};
use switchboard_core::timer::{Timer, TimerKey};
use switchboard_core::{Error, Result};

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_owned())
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::OptText(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::OptInt(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<Timestamp> for Val {
    fn from(v: Timestamp) -> Self {
        Val::Int(v.millis())
    }
}
impl From<Option<Timestamp>> for Val {
    fn from(v: Option<Timestamp>) -> Self {
        Val::OptInt(v.map(Timestamp::millis))
    }
}

/// A statement and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub sql: String,
    pub args: Vec<Val>,
    /// Whether the prepared statement is worth caching (not for the
    /// variable-length batch statements).
    pub persistent: bool,
}

impl Stmt {
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Vec::new(), persistent: true }
    }

    pub fn bind(mut self, v: impl Into<Val>) -> Self {
        self.args.push(v.into());
        self
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn arg(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        self
    }

    /// Appends `(?, ?), (?, ?), …`: one tuple of `width` per row.
    pub(crate) fn tuples<T>(&mut self, rows: &[T], width: usize, bind: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.rows(rows, &format!("({})", vec!["?"; width].join(", ")), bind)
    }

    /// Appends `tuple` once per row, comma-separated, binding each row's values.
    pub(crate) fn rows<T>(&mut self, rows: &[T], tuple: &str, mut bind: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.persistent = false;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push_str(tuple);
            bind(self, row);
        }
        self
    }

    /// `sql` with PostgreSQL's numbered placeholders. Our SQL has no `?` in literals.
    pub fn numbered(&self) -> String {
        let mut out = String::with_capacity(self.sql.len() + self.args.len() * 3);
        let mut n = 0;
        for c in self.sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// Rows are cut into chunks of this many so no statement passes the
/// backends' limits on bound parameters.
pub(crate) const CHUNK: usize = 400;

/// Reading columns, for both backends' row types.
pub(crate) trait Cols {
    fn text(&self, col: &str) -> Result<String>;
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn int(&self, col: &str) -> Result<i64>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn boolean(&self, col: &str) -> Result<bool>;
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} could not be read: {e}"))
}

pub(crate) fn id<T>(
    r: &impl Cols,
    col: &str,
    parse: fn(&str) -> Result<T, switchboard_core::ids::IdError>,
) -> Result<T> {
    parse(&r.text(col)?).map_err(|e| corrupt(col, e))
}

pub(crate) fn opt_id<T>(
    r: &impl Cols,
    col: &str,
    parse: fn(&str) -> Result<T, switchboard_core::ids::IdError>,
) -> Result<Option<T>> {
    match r.opt_text(col)? {
        Some(s) if !s.is_empty() => parse(&s).map(Some).map_err(|e| corrupt(col, e)),
        _ => Ok(None),
    }
}

pub(crate) fn ts(r: &impl Cols, col: &str) -> Result<Timestamp> {
    r.int(col).map(Timestamp)
}

pub(crate) fn opt_ts(r: &impl Cols, col: &str) -> Result<Option<Timestamp>> {
    Ok(r.opt_int(col)?.map(Timestamp))
}

fn secs(v: Option<i64>) -> Option<u32> {
    v.and_then(|s| u32::try_from(s).ok())
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(r: &impl Cols, col: &str) -> Result<T> {
    serde_json::from_str(&r.text(col)?).map_err(|e| corrupt(col, e))
}

// Workspaces and keys.

pub(crate) fn insert_workspace(w: &Workspace) -> Stmt {
    Stmt::new("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)")
        .bind(w.id.to_string())
        .bind(w.name.as_str())
        .bind(w.created_at)
}

pub(crate) fn first_workspace() -> Stmt {
    Stmt::new("SELECT id, name, created_at FROM workspaces ORDER BY created_at, id LIMIT 1")
}

pub(crate) fn workspace(r: &impl Cols) -> Result<Workspace> {
    Ok(Workspace { id: id(r, "id", WorkspaceId::parse)?, name: r.text("name")?, created_at: ts(r, "created_at")? })
}

pub(crate) fn insert_api_key(k: &ApiKey, hash: &str) -> Stmt {
    Stmt::new(
        "INSERT INTO api_keys (id, workspace_id, name, token_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(k.id.to_string())
    .bind(k.workspace_id.to_string())
    .bind(k.name.as_str())
    .bind(hash)
    .bind(k.created_at)
    .bind(k.revoked_at)
}

pub(crate) fn api_key_by_token(hash: &str) -> Stmt {
    Stmt::new(
        "SELECT id, workspace_id, name, created_at, revoked_at FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL",
    )
    .bind(hash)
}

pub(crate) fn api_key(r: &impl Cols) -> Result<ApiKey> {
    Ok(ApiKey {
        id: id(r, "id", ApiKeyId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        created_at: ts(r, "created_at")?,
        revoked_at: opt_ts(r, "revoked_at")?,
    })
}

pub(crate) fn workspace_ids() -> Stmt {
    Stmt::new("SELECT id FROM workspaces ORDER BY id")
}

// Entry points.

const ENTRY_POINT_COLS: &str = "id, workspace_id, name, allowed_origins, idle_after_secs, disconnect_after_secs, enabled, created_at, schedule_id, widget";

pub(crate) fn insert_entry_point(e: &EntryPoint) -> Stmt {
    Stmt::new(format!("INSERT INTO entry_points ({ENTRY_POINT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(e.id.to_string())
        .bind(e.workspace_id.to_string())
        .bind(e.name.as_str())
        .bind(serde_json::to_string(&e.allowed_origins).unwrap_or_else(|_| "[]".into()))
        .bind(e.idle.idle_after_secs.map(i64::from))
        .bind(e.idle.disconnect_after_secs.map(i64::from))
        .bind(e.enabled)
        .bind(e.created_at)
        .bind(e.schedule_id.map(|s| s.to_string()))
        .bind(serde_json::to_string(&e.widget).unwrap_or_else(|_| "{}".into()))
}

pub(crate) fn update_entry_point(e: &EntryPoint) -> Stmt {
    Stmt::new(
        "UPDATE entry_points SET name = ?, allowed_origins = ?, idle_after_secs = ?, disconnect_after_secs = ?, enabled = ?, \
         schedule_id = ?, widget = ? WHERE id = ?",
    )
    .bind(e.name.as_str())
    .bind(serde_json::to_string(&e.allowed_origins).unwrap_or_else(|_| "[]".into()))
    .bind(e.idle.idle_after_secs.map(i64::from))
    .bind(e.idle.disconnect_after_secs.map(i64::from))
    .bind(e.enabled)
    .bind(e.schedule_id.map(|s| s.to_string()))
    .bind(serde_json::to_string(&e.widget).unwrap_or_else(|_| "{}".into()))
    .bind(e.id.to_string())
}

pub(crate) fn entry_point_by_id(ep: EntryPointId) -> Stmt {
    Stmt::new(format!("SELECT {ENTRY_POINT_COLS} FROM entry_points WHERE id = ?")).bind(ep.to_string())
}

pub(crate) fn entry_points_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {ENTRY_POINT_COLS} FROM entry_points WHERE workspace_id = ? ORDER BY id"))
        .bind(w.to_string())
}

pub(crate) fn entry_point(r: &impl Cols) -> Result<EntryPoint> {
    Ok(EntryPoint {
        id: id(r, "id", EntryPointId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        allowed_origins: json(r, "allowed_origins")?,
        idle: IdleSettings {
            idle_after_secs: secs(r.opt_int("idle_after_secs")?),
            disconnect_after_secs: secs(r.opt_int("disconnect_after_secs")?),
        },
        enabled: r.boolean("enabled")?,
        schedule_id: opt_id(r, "schedule_id", ScheduleId::parse)?,
        widget: json(r, "widget")?,
        created_at: ts(r, "created_at")?,
    })
}

// Conversations.

const CONVERSATION_COLS: &str = "id, workspace_id, entry_point_id, state, attributes, record_id, \
     previous_conversation_id, idle_after_secs, disconnect_after_secs, last_seq, active_participants, created_at, ended_at, \
     task_id, runs, hooks, rehydration, next_conversation_id";

pub(crate) fn conversation_by_id(c: ConversationId) -> Stmt {
    Stmt::new(format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = ?")).bind(c.to_string())
}

/// A page of a workspace's conversations, newest id first. The creation
/// window is a filter on the rows the `(workspace_id, id)` index walks: paging
/// through a window reads the workspace's conversations once in all.
pub(crate) fn conversations_of(w: WorkspaceId, q: &ConversationQuery) -> Stmt {
    let filters = [("state", q.state.map(|s| s.as_str().to_owned()))];
    let mut s = workspace_rows(&format!("SELECT {CONVERSATION_COLS} FROM conversations"), w, &filters, q.before);
    if let Some(from) = q.created_from {
        s.push(" AND created_at >= ?").arg(from);
    }
    if let Some(to) = q.created_before {
        s.push(" AND created_at < ?").arg(to);
    }
    s.push(" ORDER BY id DESC LIMIT ?").arg(i64::from(q.limit));
    s
}

/// A page of a workspace's rows of one table, newest id first: `select`
/// (up to `FROM table`), each filter that is set (`column = value`), and
/// only ids below `before` (the next page).
pub(crate) fn newest_first(
    select: &str,
    w: WorkspaceId,
    filters: &[(&str, Option<String>)],
    before: Option<impl ToString>,
    limit: u32,
) -> Stmt {
    let mut s = workspace_rows(select, w, filters, before);
    s.push(" ORDER BY id DESC LIMIT ?").arg(i64::from(limit));
    s
}

/// `select` of a workspace's rows, with the filters that are set and below `before`; unordered.
fn workspace_rows(
    select: &str,
    w: WorkspaceId,
    filters: &[(&str, Option<String>)],
    before: Option<impl ToString>,
) -> Stmt {
    let mut s = Stmt::new(format!("{select} WHERE workspace_id = ?"));
    s.arg(w.to_string());
    for (column, value) in filters {
        if let Some(v) = value {
            s.push(&format!(" AND {column} = ?")).arg(v.clone());
        }
    }
    if let Some(before) = before {
        s.push(" AND id < ?").arg(before.to_string());
    }
    s
}

pub(crate) fn conversations_by_record(w: WorkspaceId, record: &str) -> Stmt {
    Stmt::new(format!(
        "SELECT {CONVERSATION_COLS} FROM conversations WHERE workspace_id = ? AND record_id = ? ORDER BY id DESC LIMIT 20"
    ))
    .bind(w.to_string())
    .bind(record)
}

/// The conversations a batch touches; `lock` adds `FOR UPDATE` (PostgreSQL),
/// taken in id order so two writers never wait on each other in a cycle.
pub(crate) fn conversations_by_ids(ids: &[ConversationId], lock: bool) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s.push(" ORDER BY id");
    if lock {
        s.push(" FOR UPDATE");
    }
    s
}

pub(crate) fn conversation(r: &impl Cols) -> Result<Conversation> {
    let state = r.text("state")?;
    Ok(Conversation {
        id: id(r, "id", ConversationId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        entry_point_id: opt_id(r, "entry_point_id", EntryPointId::parse)?,
        state: ConversationState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attributes: json(r, "attributes")?,
        record_id: r.opt_text("record_id")?,
        previous_conversation_id: opt_id(r, "previous_conversation_id", ConversationId::parse)?,
        rehydration: match r.opt_text("rehydration")? {
            Some(v) => Some(Rehydration::parse(&v).ok_or_else(|| corrupt("rehydration", &v))?),
            None => None,
        },
        next_conversation_id: opt_id(r, "next_conversation_id", ConversationId::parse)?,
        idle: IdleSettings {
            idle_after_secs: secs(r.opt_int("idle_after_secs")?),
            disconnect_after_secs: secs(r.opt_int("disconnect_after_secs")?),
        },
        last_seq: r.int("last_seq")?,
        active_participants: r.int("active_participants")?,
        created_at: ts(r, "created_at")?,
        ended_at: opt_ts(r, "ended_at")?,
        task_id: opt_id(r, "task_id", TaskId::parse)?,
        runs: json(r, "runs")?,
        hooks: json(r, "hooks")?,
    })
}

fn attributes_text(c: &Conversation) -> String {
    serde_json::to_string(&c.attributes).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn insert_conversations(rows: &[Conversation]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO conversations ({CONVERSATION_COLS}) VALUES "));
    s.tuples(rows, 18, |s, c| {
        s.arg(c.id.to_string())
            .arg(c.workspace_id.to_string())
            .arg(c.entry_point_id.map(|e| e.to_string()))
            .arg(c.state.as_str())
            .arg(attributes_text(c))
            .arg(c.record_id.clone())
            .arg(c.previous_conversation_id.map(|p| p.to_string()))
            .arg(c.idle.idle_after_secs.map(i64::from))
            .arg(c.idle.disconnect_after_secs.map(i64::from))
            .arg(c.last_seq)
            .arg(c.active_participants)
            .arg(c.created_at)
            .arg(c.ended_at)
            .arg(c.task_id.map(|t| t.to_string()))
            .arg(runs_text(c))
            .arg(hooks_text(c))
            .arg(c.rehydration.map(|r| r.as_str().to_owned()))
            .arg(c.next_conversation_id.map(|n| n.to_string()));
    });
    s
}

/// The active runs as stored: a JSON array, `[]` for none (most chats).
fn runs_text(c: &Conversation) -> String {
    if c.runs.is_empty() { "[]".to_owned() } else { serde_json::to_string(&c.runs).unwrap_or_else(|_| "[]".into()) }
}

fn hooks_text(c: &Conversation) -> String {
    if c.hooks.is_empty() { "[]".to_owned() } else { serde_json::to_string(&c.hooks).unwrap_or_else(|_| "[]".into()) }
}

/// Rewrites the changing columns of many conversations in one statement.
fn update_conversations(rows: &[Conversation]) -> Stmt {
    let mut s = Stmt::new(
        "UPDATE conversations SET state = v.column2, attributes = v.column3, record_id = v.column4, \
         last_seq = v.column5, active_participants = v.column6, ended_at = v.column7, task_id = v.column8, \
         runs = v.column9, hooks = v.column10, next_conversation_id = v.column11, \
         previous_conversation_id = v.column12, rehydration = v.column13 FROM (VALUES ",
    );
    s.tuples(rows, 13, |s, c| {
        s.arg(c.id.to_string())
            .arg(c.state.as_str())
            .arg(attributes_text(c))
            .arg(c.record_id.clone())
            .arg(c.last_seq)
            .arg(c.active_participants)
            .arg(c.ended_at)
            .arg(c.task_id.map(|t| t.to_string()))
            .arg(runs_text(c))
            .arg(hooks_text(c))
            .arg(c.next_conversation_id.map(|n| n.to_string()))
            .arg(c.previous_conversation_id.map(|p| p.to_string()))
            .arg(c.rehydration.map(|r| r.as_str().to_owned()));
    });
    s.push(") AS v WHERE conversations.id = v.column1");
    s
}

// Participants and their tokens.

const PARTICIPANT_COLS: &str = "id, conversation_id, role, display_name, joined_at, left_at, idle, agent_id";

pub(crate) fn participant_by_id(p: ParticipantId) -> Stmt {
    Stmt::new(format!("SELECT {PARTICIPANT_COLS} FROM participants WHERE id = ?")).bind(p.to_string())
}

pub(crate) fn participants_by_ids(ids: &[ParticipantId]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {PARTICIPANT_COLS} FROM participants WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s
}

pub(crate) fn participants_of(c: ConversationId) -> Stmt {
    Stmt::new(format!("SELECT {PARTICIPANT_COLS} FROM participants WHERE conversation_id = ? ORDER BY joined_at, id"))
        .bind(c.to_string())
}

pub(crate) fn participant_by_token(hash: &str) -> Stmt {
    Stmt::new(
        "SELECT p.id, p.conversation_id, p.role, p.display_name, p.joined_at, p.left_at, p.idle, p.agent_id \
         FROM participant_tokens t JOIN participants p ON p.id = t.participant_id \
         WHERE t.token_hash = ? AND t.revoked_at IS NULL",
    )
    .bind(hash)
}

pub(crate) fn participant_with_tokens(p: ParticipantId) -> Stmt {
    Stmt::new(
        "SELECT p.id, p.conversation_id, p.role, p.display_name, p.joined_at, p.left_at, p.idle, p.agent_id, t.token_hash \
         FROM participants p JOIN participant_tokens t ON t.participant_id = p.id \
         WHERE p.id = ? AND t.revoked_at IS NULL ORDER BY t.created_at",
    )
    .bind(p.to_string())
}

pub(crate) fn participant(r: &impl Cols) -> Result<Participant> {
    let role = r.text("role")?;
    Ok(Participant {
        id: id(r, "id", ParticipantId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        display_name: r.text("display_name")?,
        joined_at: ts(r, "joined_at")?,
        left_at: opt_ts(r, "left_at")?,
        idle: r.boolean("idle")?,
        agent_id: opt_id(r, "agent_id", AgentId::parse)?,
    })
}

pub(crate) fn insert_participants(rows: &[Participant]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO participants ({PARTICIPANT_COLS}) VALUES "));
    s.tuples(rows, 8, |s, p| {
        s.arg(p.id.to_string())
            .arg(p.conversation_id.to_string())
            .arg(p.role.as_str())
            .arg(p.display_name.as_str())
            .arg(p.joined_at)
            .arg(p.left_at)
            .arg(p.idle)
            .arg(p.agent_id.map(|a| a.to_string()));
    });
    s
}

fn update_participants(rows: &[Participant]) -> Stmt {
    let mut s = Stmt::new("UPDATE participants SET left_at = v.column2, idle = v.column3 FROM (VALUES ");
    s.tuples(rows, 3, |s, p| {
        s.arg(p.id.to_string()).arg(p.left_at).arg(p.idle);
    });
    s.push(") AS v WHERE participants.id = v.column1");
    s
}

pub(crate) fn insert_token(p: ParticipantId, hash: &str, at: Timestamp) -> Stmt {
    Stmt::new(
        "INSERT INTO participant_tokens (token_hash, participant_id, created_at, revoked_at) VALUES (?, ?, ?, NULL)",
    )
    .bind(hash)
    .bind(p.to_string())
    .bind(at)
}

fn insert_tokens(rows: &[(switchboard_core::token::SecretHash, ParticipantId)], at: Timestamp) -> Stmt {
    let mut s = Stmt::new("INSERT INTO participant_tokens (token_hash, participant_id, created_at) VALUES ");
    s.tuples(rows, 3, |s, (h, p)| {
        s.arg(h.as_str()).arg(p.to_string()).arg(at);
    });
    s
}

pub(crate) fn revoke_tokens(p: ParticipantId, at: Timestamp) -> Stmt {
    Stmt::new("UPDATE participant_tokens SET revoked_at = ? WHERE participant_id = ? AND revoked_at IS NULL")
        .bind(at)
        .bind(p.to_string())
}

// The log. Rows carry the conversation's integer `log_key` rather than its
// id (see migration 0003); reads join back to `conversations` for the id.

/// The columns of an event as read, from `events e JOIN conversations c`.
const EVENT_COLS: &str = "c.id AS conversation_id, e.seq, e.id, e.kind, e.participant_id, e.payload, \
                          e.client_token, e.created_at";

/// A page of one log. The conversation's `log_key` is looked up once, as a
/// scalar subquery, so that both backends walk the `(log_key, seq)` index in
/// order and stop at the page's end: joining on `c.id = ?` instead leaves
/// PostgreSQL's planner without the key, and it reads and sorts every event
/// of the window (all the rest of a long log, for each page).
pub(crate) fn events_of(c: ConversationId, range: EventRange) -> Stmt {
    let mut s = Stmt::new(format!(
        "SELECT {EVENT_COLS} FROM events e JOIN conversations c ON c.log_key = e.log_key \
         WHERE e.log_key = (SELECT log_key FROM conversations WHERE id = ?)"
    ));
    s.arg(c.to_string());
    if let Some(after) = range.after {
        s.push(" AND e.seq > ?").arg(after);
    }
    if let Some(before) = range.before {
        s.push(" AND e.seq < ?").arg(before);
    }
    s.push(match range.order {
        Order::Ascending => " ORDER BY e.seq ASC LIMIT ?",
        Order::Descending => " ORDER BY e.seq DESC LIMIT ?",
    });
    s.arg(i64::from(range.limit));
    s
}

pub(crate) fn event_by_id(c: ConversationId, e: EventId) -> Stmt {
    Stmt::new(format!(
        "SELECT {EVENT_COLS} FROM events e JOIN conversations c ON c.log_key = e.log_key WHERE e.id = ? AND c.id = ?"
    ))
    .bind(e.to_string())
    .bind(c.to_string())
}

/// Events already stored under the given (conversation, client token) pairs.
/// A join from the list (not a row-value `IN`, which SQLite answers with a
/// full scan of the table) so each pair is one probe of the token-hash index
/// on both backends; the token itself is compared in the join, so a hash
/// collision cannot match another send.
pub(crate) fn events_by_client_tokens(pairs: &[(ConversationId, String)]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {EVENT_COLS} FROM (VALUES "));
    s.tuples(pairs, 3, |s, (c, t)| {
        s.arg(c.to_string()).arg(t.as_str()).arg(token_hash(t));
    });
    s.push(
        ") AS v JOIN conversations c ON c.id = v.column1 \
         JOIN events e ON e.log_key = c.log_key AND e.token_hash = v.column3 AND e.client_token = v.column2",
    );
    s
}

/// The 64-bit hash the client-token index holds: the first eight bytes of
/// the token's SHA-256, so it is the same on every build and platform.
pub(crate) fn token_hash(token: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// `a, b` → `t.a, t.b`.
pub(crate) fn qualified(table: &str, cols: &str) -> String {
    cols.split(", ").map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn event(r: &impl Cols) -> Result<Event> {
    let kind = r.text("kind")?;
    let payload = r.text("payload")?;
    Ok(Event {
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        seq: r.int("seq")?,
        id: id(r, "id", EventId::parse)?,
        at: ts(r, "created_at")?,
        participant_id: opt_id(r, "participant_id", ParticipantId::parse)?,
        kind: EventKind::from_stored(&kind, &payload).map_err(Error::internal)?,
        client_token: r.opt_text("client_token")?,
    })
}

/// Appends to the log: the rows as a list joined to their conversations for
/// the key (one join, not a subquery per row, which PostgreSQL would plan
/// once per row), from pages the same transaction has just written.
pub(crate) fn insert_events(rows: &[Event]) -> Stmt {
    let mut s = Stmt::new(
        "INSERT INTO events (log_key, seq, id, kind, participant_id, payload, client_token, token_hash, created_at) \
         SELECT c.log_key, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9 \
         FROM (VALUES ",
    );
    s.tuples(rows, 9, |s, e| {
        let (kind, payload) = e.kind.to_stored();
        s.arg(e.conversation_id.to_string())
            .arg(e.seq)
            .arg(e.id.to_string())
            .arg(kind)
            .arg(e.participant_id.map(|p| p.to_string()))
            .arg(payload)
            .arg(e.client_token.clone())
            .arg(e.client_token.as_deref().map(token_hash))
            .arg(e.at);
    });
    s.push(") AS v JOIN conversations c ON c.id = v.column1");
    s
}

/// The upgrade that fills the token hashes of events copied by migration 0003.
pub(crate) const TOKEN_HASHES: &str = "event_token_hashes";

/// The migrations a database has applied, for a reader that cannot migrate.
pub(crate) fn applied_migrations() -> Stmt {
    Stmt::new("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
}

pub(crate) fn pending_upgrades() -> Stmt {
    Stmt::new("SELECT name FROM upgrades ORDER BY name")
}

pub(crate) fn upgrade_done(name: &str) -> Stmt {
    Stmt::new("DELETE FROM upgrades WHERE name = ?").bind(name)
}

pub(crate) fn last_log_key() -> Stmt {
    Stmt::new("SELECT MAX(log_key) AS last FROM conversations")
}

/// Events of the conversations with keys in `(after, upto]` whose token
/// hash is still to be filled.
pub(crate) fn unhashed_tokens(after: i64, upto: i64) -> Stmt {
    Stmt::new(
        "SELECT log_key, seq, client_token FROM events \
         WHERE log_key > ? AND log_key <= ? AND client_token IS NOT NULL AND token_hash IS NULL",
    )
    .bind(after)
    .bind(upto)
}

pub(crate) fn set_token_hash(log_key: i64, seq: i64, token: &str) -> Stmt {
    Stmt::new("UPDATE events SET token_hash = ? WHERE log_key = ? AND seq = ?")
        .bind(token_hash(token))
        .bind(log_key)
        .bind(seq)
}

// Timers.

const TIMER_COLS: &str = "conversation_id, participant_id, kind, due_at, data";

pub(crate) fn due_timers(now: Timestamp, limit: u32) -> Stmt {
    Stmt::new(format!("SELECT {TIMER_COLS} FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?"))
        .bind(now)
        .bind(i64::from(limit))
}

pub(crate) fn next_timer_due() -> Stmt {
    Stmt::new("SELECT MIN(due_at) AS due_at FROM timers")
}

pub(crate) fn timers_by_keys(keys: &[TimerKey]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {} FROM (VALUES ", qualified("t", TIMER_COLS)));
    s.tuples(keys, 3, |s, k| {
        s.arg(k.conversation_id.to_string()).arg(k.participant_text()).arg(k.kind.as_ref());
    });
    s.push(
        ") AS v JOIN timers t ON t.conversation_id = v.column1 AND t.participant_id = v.column2 AND t.kind = v.column3",
    );
    s
}

pub(crate) fn timer(r: &impl Cols) -> Result<Timer> {
    Timer::from_stored(
        id(r, "conversation_id", ConversationId::parse)?,
        opt_id(r, "participant_id", ParticipantId::parse)?,
        &r.text("data")?,
        ts(r, "due_at")?,
    )
    .map_err(|e| corrupt("timer", e))
}

fn upsert_timers(rows: &[Timer]) -> Stmt {
    let mut s = Stmt::new(format!("INSERT INTO timers ({TIMER_COLS}) VALUES "));
    s.tuples(rows, 5, |s, t| {
        let k = t.key();
        s.arg(k.conversation_id.to_string()).arg(k.participant_text()).arg(k.kind.as_ref()).arg(t.due_at).arg(t.data());
    });
    s.push(" ON CONFLICT (conversation_id, participant_id, kind) DO UPDATE SET due_at = excluded.due_at, data = excluded.data");
    s
}

/// An OR of keys, which both backends answer with one index probe per key.
fn delete_timers(keys: &[TimerKey]) -> Stmt {
    let mut s = Stmt::new("DELETE FROM timers WHERE ");
    s.persistent = false;
    for (i, k) in keys.iter().enumerate() {
        s.push(if i == 0 { "" } else { " OR " });
        s.push("(conversation_id = ? AND participant_id = ? AND kind = ?)");
        s.arg(k.conversation_id.to_string()).arg(k.participant_text()).arg(k.kind.as_ref());
    }
    s
}

/// An ended conversation's timers, but for its uploads' sweeps (an
/// upload never completed must still be swept).
fn clear_timers(ids: &[ConversationId]) -> Stmt {
    let mut s = Stmt::new("DELETE FROM timers WHERE conversation_id IN ");
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s.push(" AND kind NOT LIKE '").push(switchboard_core::timer::UPLOAD_PREFIX).push("%'");
    s
}

pub(crate) fn in_list(s: &mut Stmt, items: impl Iterator<Item = String>) {
    s.persistent = false;
    s.push("(");
    for (i, item) in items.enumerate() {
        s.push(if i == 0 { "?" } else { ", ?" }).arg(item);
    }
    s.push(")");
}

/// Which table a snapshot read loads, so the caller knows how to decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loads {
    Conversations,
    Participants,
    Sent,
    Timers,
    Tasks,
    Offers,
    Agents,
    Queues,
    FileRequests,
    Attachments,
    Runs,
    Flows,
    Forms,
    Hooks,
}

/// The reads that load a batch's snapshot. Locked rows (PostgreSQL) are
/// taken table by table in one order — conversations, tasks, offers, agents —
/// and by id within a table, so writers on several nodes do not deadlock.
pub(crate) fn snapshot_reads(keys: &SnapshotKeys, lock: bool) -> Vec<(Loads, Stmt)> {
    use crate::sql_flows as f;
    use crate::sql_routing as r;
    let mut out = Vec::new();
    let mut add = |loads: Loads, stmts: Vec<Stmt>| out.extend(stmts.into_iter().map(|s| (loads, s)));
    add(Loads::Conversations, keys.conversations.chunks(CHUNK).map(|c| conversations_by_ids(c, lock)).collect());
    add(Loads::Participants, keys.participants.chunks(CHUNK).map(participants_by_ids).collect());
    add(Loads::Sent, keys.client_tokens.chunks(CHUNK).map(events_by_client_tokens).collect());
    add(Loads::Timers, keys.timers.chunks(CHUNK).map(timers_by_keys).collect());
    add(Loads::Tasks, keys.tasks.chunks(CHUNK).map(|c| r::tasks_by_ids(c, lock)).collect());
    add(Loads::Offers, keys.offers.chunks(CHUNK).map(|c| r::offers_by_ids(c, lock)).collect());
    add(Loads::Agents, keys.agents.chunks(CHUNK).map(|c| r::agents_by_ids(c, lock)).collect());
    add(Loads::Queues, keys.queues.chunks(CHUNK).map(r::queues_by_ids).collect());
    add(Loads::FileRequests, keys.file_requests.chunks(CHUNK).map(|c| r::file_requests_by_ids(c, lock)).collect());
    add(
        Loads::Attachments,
        keys.attachments.chunks(CHUNK).map(|c| crate::sql_files::attachments_by_ids(c, lock)).collect(),
    );
    add(Loads::Runs, keys.runs.chunks(CHUNK).map(|c| f::runs_by_ids(c, lock)).collect());
    add(Loads::Flows, keys.flows.chunks(CHUNK).map(f::flows_by_ids).collect());
    add(Loads::Forms, keys.forms.chunks(CHUNK).map(|c| f::forms_by_ids(c, lock)).collect());
    add(Loads::Hooks, keys.hook_workspaces.chunks(CHUNK).map(f::hooks_of_workspaces).collect());
    out
}

/// The statements that write a plan, in an order that respects its
/// dependencies (timers are cleared before they are set again).
pub(crate) fn plan_writes(plan: &Plan, now: Timestamp) -> Vec<Stmt> {
    fn chunked<T>(rows: &[T], build: impl Fn(&[T]) -> Stmt) -> impl Iterator<Item = Stmt> {
        rows.chunks(CHUNK).map(build)
    }
    chunked(&plan.new_conversations, insert_conversations)
        .chain(chunked(&plan.conversations, update_conversations))
        .chain(chunked(&plan.new_participants, insert_participants))
        .chain(chunked(&plan.participants, update_participants))
        .chain(chunked(&plan.tokens, |c| insert_tokens(c, now)))
        .chain(chunked(&plan.events, insert_events))
        .chain(chunked(&plan.clear_timers, clear_timers))
        .chain(chunked(&plan.delete_timers, delete_timers))
        .chain(chunked(&plan.set_timers, upsert_timers))
        .chain(chunked(&plan.new_tasks, crate::sql_routing::upsert_tasks))
        .chain(chunked(&plan.tasks, crate::sql_routing::upsert_tasks))
        .chain(chunked(&plan.new_offers, crate::sql_routing::upsert_offers))
        .chain(chunked(&plan.offers, crate::sql_routing::upsert_offers))
        .chain(chunked(&plan.agents, crate::sql_routing::upsert_agents))
        .chain(chunked(&plan.task_history, crate::sql_routing::insert_history))
        .chain(chunked(&plan.file_requests, crate::sql_routing::upsert_file_requests))
        .chain(chunked(&plan.attachments, crate::sql_files::upsert_attachments))
        .chain(chunked(&plan.deleted_attachments, crate::sql_files::delete_attachments))
        .chain(chunked(&plan.runs, crate::sql_flows::upsert_runs))
        .chain(chunked(&plan.run_log, crate::sql_flows::insert_run_log))
        .chain(chunked(&plan.forms, crate::sql_flows::upsert_forms))
        .chain(chunked(&plan.custom_events, crate::sql_flows::insert_custom_events))
        .chain(chunked(&plan.outbox, crate::sql_flows::insert_outbox))
        .chain(
            plan.outbox_done
                .iter()
                .map(|(id, state, error)| crate::sql_flows::finish_outbox(*id, *state, error.as_deref(), now)),
        )
        // Last, so whatever the batch wrote for an erased chat goes too.
        .chain(plan.erasures.chunks(CHUNK).flat_map(|c| crate::sql_retention::erase(c, now)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_for_postgres() {
        let s = Stmt::new("SELECT ? WHERE a IN (?, ?)").bind(1).bind(2).bind(3);
        assert_eq!(s.numbered(), "SELECT $1 WHERE a IN ($2, $3)");
    }

    #[test]
    fn tuples_bind_in_row_order() {
        let mut s = Stmt::new("VALUES ");
        s.tuples(&[1i64, 2], 2, |s, v| {
            s.arg(*v).arg(*v * 10);
        });
        assert_eq!(s.sql, "VALUES (?, ?), (?, ?)");
        let ints: Vec<i64> = s.args.iter().map(|v| if let Val::Int(i) = v { *i } else { 0 }).collect();
        assert_eq!(ints, [1, 10, 2, 20]);
        assert!(!s.persistent);
    }
}
