//! The SQL of erasure and retention: the audit row with its counts, the
//! deletion of a conversation's rows in every table that holds them, and
//! the reads that list erasures and find what retention must purge.
//! Written once for both backends.
//!
//! What goes with a conversation (everything keyed by it, directly or
//! through its participants, tasks or runs): its row, events, participants
//! and their tokens, timers, tasks with their offers and history, file
//! requests, attachments, flow runs with their logs, forms, custom events
//! published from it, its scoped webhooks, its outbox items, and the start
//! token that made it (the Connect dialect's `ClientToken`). Nothing
//! else holds a conversation's id but the audit row itself.

use switchboard_core::Result;
use switchboard_core::clock::Timestamp;
use switchboard_core::ids::{ConversationId, ErasureId, WorkspaceId};
use switchboard_core::retention::{ErasedBy, Erasure, ErasureCounts, PlannedErasure};
use switchboard_core::store::ErasureQuery;

use crate::sql::{Cols, Stmt, corrupt, id, in_list, newest_first, opt_ts, ts};

/// The counted kinds: audit column, and the count of them in a
/// conversation `c` (a row of `conversations`).
const COUNTS: [(&str, &str); 10] = [
    ("events", "SELECT COUNT(*) FROM events x WHERE x.log_key = c.log_key"),
    ("participants", "SELECT COUNT(*) FROM participants x WHERE x.conversation_id = c.id"),
    ("attachments", "SELECT COUNT(*) FROM attachments x WHERE x.conversation_id = c.id"),
    ("file_requests", "SELECT COUNT(*) FROM file_requests x WHERE x.conversation_id = c.id"),
    ("tasks", "SELECT COUNT(*) FROM tasks x WHERE x.conversation_id = c.id"),
    ("flow_runs", "SELECT COUNT(*) FROM flow_runs x WHERE x.conversation_id = c.id"),
    ("forms", "SELECT COUNT(*) FROM forms x WHERE x.conversation_id = c.id"),
    ("custom_events", "SELECT COUNT(*) FROM custom_events x WHERE x.conversation_id = c.id"),
    ("webhooks", "SELECT COUNT(*) FROM webhooks x WHERE x.conversation_id = c.id"),
    ("outbox_items", "SELECT COUNT(*) FROM outbox x WHERE x.conversation_id = c.id"),
];

/// A conversation's rows, table by table, children before what they hang
/// from and the conversation's own row last: `{ids}` stands for the list
/// of erased conversation ids.
const DELETES: [&str; 17] = [
    "DELETE FROM participant_tokens WHERE participant_id IN \
     (SELECT id FROM participants WHERE conversation_id IN {ids})",
    "DELETE FROM participants WHERE conversation_id IN {ids}",
    "DELETE FROM events WHERE log_key IN (SELECT log_key FROM conversations WHERE id IN {ids})",
    "DELETE FROM timers WHERE conversation_id IN {ids}",
    "DELETE FROM task_history WHERE task_id IN (SELECT id FROM tasks WHERE conversation_id IN {ids})",
    "DELETE FROM offers WHERE task_id IN (SELECT id FROM tasks WHERE conversation_id IN {ids})",
    "DELETE FROM tasks WHERE conversation_id IN {ids}",
    "DELETE FROM file_requests WHERE conversation_id IN {ids}",
    "DELETE FROM attachments WHERE conversation_id IN {ids}",
    "DELETE FROM flow_run_log WHERE run_id IN (SELECT id FROM flow_runs WHERE conversation_id IN {ids})",
    "DELETE FROM flow_runs WHERE conversation_id IN {ids}",
    "DELETE FROM forms WHERE conversation_id IN {ids}",
    "DELETE FROM custom_events WHERE conversation_id IN {ids}",
    "DELETE FROM webhooks WHERE conversation_id IN {ids}",
    "DELETE FROM outbox WHERE conversation_id IN {ids}",
    "DELETE FROM start_tokens WHERE conversation_id IN {ids}",
    "DELETE FROM conversations WHERE id IN {ids}",
];

/// The statements that erase `erasures` (at most [`crate::sql::CHUNK`]):
/// the audit rows, counted before anything goes, the deletion of the files
/// of those that have any, then the deletes.
pub(crate) fn erase(erasures: &[PlannedErasure], now: Timestamp) -> Vec<Stmt> {
    let files: Vec<_> = erasures.iter().map(|e| (&e.files, e.request.conversation)).collect();
    let mut out = vec![insert_erasures(erasures, now), crate::sql_flows::insert_outbox_if_files(&files)];
    for template in DELETES {
        let (head, tail) = template.split_once("{ids}").unwrap_or((template, ""));
        let mut s = Stmt::new(head);
        in_list(&mut s, erasures.iter().map(|e| e.request.conversation.to_string()));
        s.push(tail);
        out.push(s);
    }
    out
}

fn insert_erasures(erasures: &[PlannedErasure], now: Timestamp) -> Stmt {
    let counted: Vec<&str> = COUNTS.iter().map(|(col, _)| *col).collect();
    let counts: Vec<String> = COUNTS.iter().map(|(_, count)| format!("({count})")).collect();
    let mut s = Stmt::new(format!(
        "INSERT INTO erasures (id, workspace_id, conversation_id, erased_at, erased_by, reason, ended_at, {}) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, {} FROM (VALUES ",
        counted.join(", "),
        counts.join(", "),
    ));
    s.tuples(erasures, 7, |s, planned| {
        let e = &planned.request;
        s.arg(e.id.to_string())
            .arg(e.workspace.to_string())
            .arg(e.conversation.to_string())
            .arg(now)
            .arg(e.by.to_stored())
            .arg(e.reason.as_ref().map(|r| r.as_str().to_owned()))
            .arg(planned.ended_at);
    });
    s.push(") AS v JOIN conversations c ON c.id = v.column3");
    s
}

const ERASURE_COLS: &str = "id, workspace_id, conversation_id, erased_at, erased_by, reason, ended_at, events, \
     participants, attachments, file_requests, tasks, flow_runs, forms, custom_events, webhooks, outbox_items";

pub(crate) fn erasure(r: &impl Cols) -> Result<Erasure> {
    let by = r.text("erased_by")?;
    Ok(Erasure {
        id: id(r, "id", ErasureId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        conversation_id: id(r, "conversation_id", ConversationId::parse)?,
        erased_at: ts(r, "erased_at")?,
        by: ErasedBy::from_stored(&by).ok_or_else(|| corrupt("erased_by", &by))?,
        reason: r.opt_text("reason")?,
        ended_at: opt_ts(r, "ended_at")?,
        deleted: ErasureCounts {
            events: r.int("events")?,
            participants: r.int("participants")?,
            attachments: r.int("attachments")?,
            file_requests: r.int("file_requests")?,
            tasks: r.int("tasks")?,
            flow_runs: r.int("flow_runs")?,
            forms: r.int("forms")?,
            custom_events: r.int("custom_events")?,
            webhooks: r.int("webhooks")?,
            outbox_items: r.int("outbox_items")?,
        },
    })
}

pub(crate) fn erasure_of(w: WorkspaceId, c: ConversationId) -> Stmt {
    Stmt::new(format!(
        "SELECT {ERASURE_COLS} FROM erasures WHERE conversation_id = ? AND workspace_id = ? ORDER BY id LIMIT 1"
    ))
    .bind(c.to_string())
    .bind(w.to_string())
}

pub(crate) fn erasures_of(w: WorkspaceId, q: &ErasureQuery) -> Stmt {
    newest_first(&format!("SELECT {ERASURE_COLS} FROM erasures"), w, &[], q.before, q.limit)
}

pub(crate) fn erasures_by_ids(ids: &[ErasureId]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {ERASURE_COLS} FROM erasures WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s.push(" ORDER BY id");
    s
}

/// Through the `conversations_ended` index: a workspace's ended chats, the
/// longest ended first.
pub(crate) fn ended_before(w: WorkspaceId, before: Timestamp, limit: u32) -> Stmt {
    Stmt::new(
        "SELECT id, last_seq FROM conversations WHERE workspace_id = ? AND state = 'ended' AND ended_at < ? \
         ORDER BY ended_at LIMIT ?",
    )
    .bind(w.to_string())
    .bind(before)
    .bind(i64::from(limit))
}

pub(crate) fn ended_row(r: &impl Cols) -> Result<(ConversationId, i64)> {
    Ok((id(r, "id", ConversationId::parse)?, r.int("last_seq")?))
}

pub(crate) fn all_settings() -> Stmt {
    Stmt::new("SELECT workspace_id, settings FROM workspace_settings ORDER BY workspace_id")
}

pub(crate) fn settings_row(r: &impl Cols) -> Result<(WorkspaceId, String)> {
    Ok((id(r, "workspace_id", WorkspaceId::parse)?, r.text("settings")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::retention::EraseRequest;

    #[test]
    fn every_delete_names_the_erased_list_once_and_nothing_else_is_bound() {
        let c = ConversationId::new();
        let r = EraseRequest {
            id: ErasureId::new(),
            workspace: WorkspaceId::new(),
            conversation: c,
            by: ErasedBy::Retention,
            reason: None,
        };
        let other = EraseRequest { conversation: ConversationId::new(), ..r.clone() };
        let files = |r: &EraseRequest| switchboard_core::flows::records::OutboxItem {
            id: switchboard_core::ids::OutboxId::new(),
            workspace_id: r.workspace,
            conversation_id: None,
            lane: None,
            ord: 0,
            work: switchboard_core::flows::records::Work::DeleteFiles { prefix: "p/".into() },
            state: switchboard_core::flows::records::OutboxState::Pending,
            attempts: 0,
            next_attempt_at: Timestamp(1),
            last_error: None,
            created_at: Timestamp(1),
        };
        let planned = [r, other].map(|request| PlannedErasure { files: files(&request), request, ended_at: None });
        let stmts = erase(&planned, Timestamp(1));
        assert_eq!(stmts.len(), 19, "the audit row, the files' deletion and 17 deletes");
        assert!(stmts[0].sql.starts_with("INSERT INTO erasures"));
        assert_eq!(stmts[0].args.len(), 14);
        assert!(stmts[1].sql.starts_with("INSERT INTO outbox") && stmts[1].sql.contains("EXISTS"));
        for s in &stmts[2..] {
            assert!(s.sql.contains("IN (?, ?)"), "{}", s.sql);
            assert_eq!(s.args.len(), 2, "{}", s.sql);
            assert_eq!(s.sql.matches('(').count(), s.sql.matches(')').count(), "{}", s.sql);
        }
        assert!(stmts.last().unwrap().sql.starts_with("DELETE FROM conversations"), "the row goes last");
    }
}
