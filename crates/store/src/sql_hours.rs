//! The SQL of hours of operation: schedules, and which queues and entry
//! points follow each one. Written once for both backends, like `sql.rs`.

use switchboard_core::Result;
use switchboard_core::ids::{ScheduleId, WorkspaceId};
use switchboard_core::routing::hours::{Hours, Schedule};

use crate::sql::{Cols, Stmt, corrupt, id, in_list, ts};

const SCHEDULE_COLS: &str = "id, workspace_id, name, time_zone, weekly, exceptions, created_at, updated_at";

pub(crate) fn schedule(r: &impl Cols) -> Result<Schedule> {
    let part =
        |col: &str| -> Result<serde_json::Value> { serde_json::from_str(&r.text(col)?).map_err(|e| corrupt(col, e)) };
    let hours = Hours::from_parts(&r.text("time_zone")?, &part("weekly")?, &part("exceptions")?)
        .map_err(|e| corrupt("schedules", e.message))?;
    Ok(Schedule {
        id: id(r, "id", ScheduleId::parse)?,
        workspace_id: id(r, "workspace_id", WorkspaceId::parse)?,
        name: r.text("name")?,
        hours,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

pub(crate) fn insert_schedule(s: &Schedule) -> Stmt {
    Stmt::new(format!("INSERT INTO schedules ({SCHEDULE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"))
        .bind(s.id.to_string())
        .bind(s.workspace_id.to_string())
        .bind(s.name.as_str())
        .bind(s.hours.time_zone.as_str())
        .bind(s.hours.weekly_json().to_string())
        .bind(s.hours.exceptions_json().to_string())
        .bind(s.created_at)
        .bind(s.updated_at)
}

pub(crate) fn update_schedule(s: &Schedule) -> Stmt {
    Stmt::new("UPDATE schedules SET name = ?, time_zone = ?, weekly = ?, exceptions = ?, updated_at = ? WHERE id = ?")
        .bind(s.name.as_str())
        .bind(s.hours.time_zone.as_str())
        .bind(s.hours.weekly_json().to_string())
        .bind(s.hours.exceptions_json().to_string())
        .bind(s.updated_at)
        .bind(s.id.to_string())
}

pub(crate) fn schedule_by_id(s: ScheduleId) -> Stmt {
    Stmt::new(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE id = ?")).bind(s.to_string())
}

pub(crate) fn schedules_of(w: WorkspaceId) -> Stmt {
    Stmt::new(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE workspace_id = ? ORDER BY name")).bind(w.to_string())
}

pub(crate) fn schedules_by_ids(ids: &[ScheduleId]) -> Stmt {
    let mut s = Stmt::new(format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE id IN "));
    in_list(&mut s, ids.iter().map(ToString::to_string));
    s
}

/// The names of the queues and entry points that follow a schedule, each
/// row a `kind` (`queue`, `entry point`) and a `name`.
pub(crate) fn schedule_users(s: ScheduleId) -> Stmt {
    Stmt::new(
        "SELECT 'queue' AS kind, name FROM queues WHERE schedule_id = ? \
         UNION ALL SELECT 'entry point' AS kind, name FROM entry_points WHERE schedule_id = ? ORDER BY kind DESC, name",
    )
    .bind(s.to_string())
    .bind(s.to_string())
}

/// Deletes the schedule unless something follows it (checked in the same statement).
pub(crate) fn delete_schedule(s: ScheduleId) -> Stmt {
    Stmt::new(
        "DELETE FROM schedules WHERE id = ? AND NOT EXISTS (SELECT 1 FROM queues WHERE schedule_id = ?) \
         AND NOT EXISTS (SELECT 1 FROM entry_points WHERE schedule_id = ?)",
    )
    .bind(s.to_string())
    .bind(s.to_string())
    .bind(s.to_string())
}
